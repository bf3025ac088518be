// What set, verify and recover share: the manifest they act on, and an attested connection to
// the Coordinator built from that manifest's reference values.
import { CoordinatorClient, verifiersForReferenceValues } from '@contrast-cc/api';
import type { CollateralConfig } from '@contrast-cc/attestation';
import { ContrastError, delay, isContrastError, type PlatformRegistry } from '@contrast-cc/core';
import { type Manifest, parseManifest } from '@contrast-cc/manifest';
import type { CliIo } from './io.js';
import { readInput, usageError } from './util.js';

/** `host:port`, `[v6]:port`; the port is required. */
export function parseCoordinatorAddress(text: string | undefined): { host: string; port: number } {
  if (!text) throw usageError('--coordinator <host:port> is required');
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port < 1 || port > 65535)
    throw usageError(`--coordinator "${text}" is not host:port (e.g. 127.0.0.1:1314, [::1]:1314)`);
  return { host: (m[1] ?? m[2])!, port };
}

/** An http(s) URL flag, checked; undefined when not given. Bad input is a usage error naming the flag. */
export function httpUrlFlag(value: string | boolean | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw usageError(`${flag} "${String(value)}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw usageError(`${flag} "${String(value)}" must be an http(s) URL`);
  }
  return String(value);
}

/** CONTRAST_COLLATERAL_TIMEOUT_MS: the per-request timeout of collateral fetches, when set. */
export function collateralTimeoutMs(io: CliIo): number | undefined {
  const timeout = io.env['CONTRAST_COLLATERAL_TIMEOUT_MS'];
  if (timeout === undefined) return undefined;
  if (!/^[1-9]\d*$/.test(timeout)) {
    throw usageError(`CONTRAST_COLLATERAL_TIMEOUT_MS "${timeout}" is not a positive number of milliseconds`);
  }
  return Number(timeout);
}

/** The platforms again, with verifiers that fetch collateral from the given sources. */
export type RegistryFor = (collateral: CollateralConfig) => PlatformRegistry;

/** The platforms a command attests the Coordinator with, and how to rebuild them on other collateral sources. */
export interface CommandPlatforms {
  registry: PlatformRegistry;
  registryFor?: RegistryFor;
}

/** The flags of set, verify and recover that say where missing collateral is fetched. */
export const COLLATERAL_FLAGS = {
  'kds-url': { type: 'string' },
  'pcs-url': { type: 'string' },
} as const;

/** Their help lines, descriptions starting at `column` (as the command's other flags do). */
export function collateralFlagsHelp(column: number): string {
  const lines: [string, string[]][] = [
    [
      '--kds-url <url>',
      [
        "where SEV-SNP certificates and CRLs the Coordinator's evidence",
        'lacks are fetched: AMD KDS (default) or a mirror of its paths',
      ],
    ],
    [
      '--pcs-url <url>',
      ['where TDX collateral the evidence lacks is fetched: Intel PCS', '(default) or your PCCS'],
    ],
  ];
  return lines
    .map(([flag, text]) =>
      text.map((t, i) => `${(i === 0 ? `      ${flag}` : '').padEnd(column)}${t}\n`).join(''),
    )
    .join('');
}

/**
 * The registry a command attests the Coordinator with: `registry` as it is, or, with --kds-url or
 * --pcs-url, the platforms rebuilt by `registryFor` on those sources (the other one stays the
 * vendor's default; CONTRAST_COLLATERAL_TIMEOUT_MS bounds each request).
 */
export function registryWithCollateral(
  io: CliIo,
  values: { 'kds-url'?: string | undefined; 'pcs-url'?: string | undefined },
  { registry, registryFor }: CommandPlatforms,
): PlatformRegistry {
  const kdsUrl = httpUrlFlag(values['kds-url'], '--kds-url');
  const pcsUrl = httpUrlFlag(values['pcs-url'], '--pcs-url');
  if (kdsUrl === undefined && pcsUrl === undefined) return registry;
  if (!registryFor) throw usageError('--kds-url and --pcs-url are not available in this build');
  const timeoutMs = collateralTimeoutMs(io);
  return registryFor({
    ...(kdsUrl !== undefined ? { kdsUrl } : {}),
    ...(pcsUrl !== undefined ? { pcsUrl } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(io.logger ? { logger: io.logger } : {}),
  });
}

export interface LoadedManifest {
  file: string;
  bytes: Uint8Array;
  manifest: Manifest;
}

/** Reads and validates the manifest; warnings go to stderr, invalid fields fail with exit 2. */
export async function loadManifest(io: CliIo, file: string): Promise<LoadedManifest> {
  const bytes = await readInput(io, file, '--manifest');
  const parsed = parseManifest(bytes, { file });
  for (const w of parsed.warnings) io.stderr(`warning: ${file}: ${w.path}: ${w.message}\n`);
  return { file, bytes, manifest: parsed.manifest };
}

/** Whether the manifest trusts a simulated (insecure) platform. */
export function insecurePlatforms(manifest: Manifest, registry: PlatformRegistry): string[] {
  const ids = new Set<string>();
  for (const tee of ['snp', 'tdx'] as const) {
    for (const entry of manifest.ReferenceValues[tee] ?? []) {
      const p = entry.Platform ? registry.find(entry.Platform) : undefined;
      if (p?.insecure) ids.add(p.id);
    }
  }
  return [...ids];
}

/**
 * Simulated platforms in the manifest need `--insecure` (usage error otherwise), and then a loud
 * warning. Returns whether insecure evidence is to be accepted.
 */
export function insecureConsent(
  io: CliIo,
  manifest: Manifest,
  registry: PlatformRegistry,
  allowInsecure: boolean,
): boolean {
  const insecure = insecurePlatforms(manifest, registry);
  if (insecure.length === 0) return false;
  if (!allowInsecure) {
    throw usageError(
      `the manifest trusts simulated platforms (${insecure.join(', ')}): their evidence proves nothing; pass --insecure to go on anyway`,
    );
  }
  io.stderr(
    `WARNING: INSECURE: the manifest trusts simulated platforms (${insecure.join(', ')}); nothing here is protected by hardware\n`,
  );
  return true;
}

/**
 * Attests the Coordinator against the manifest (its reference values, its coordinator policies)
 * and returns a client pinned to the attested key. Simulated platforms need `allowInsecure`, and
 * then the CLI says loudly that nothing is proven.
 */
export async function connectCoordinator(
  io: CliIo,
  options: { address: string; loaded: LoadedManifest; registry: PlatformRegistry; allowInsecure: boolean },
): Promise<CoordinatorClient> {
  const { host, port } = parseCoordinatorAddress(options.address);
  const { manifest } = options.loaded;
  const insecure = insecureConsent(io, manifest, options.registry, options.allowInsecure);
  const verifiers = verifiersForReferenceValues(options.registry, manifest.ReferenceValues, io.logger);
  const coordinatorPolicyHashes = Object.entries(manifest.Policies)
    .filter(([, entry]) => entry.Role === 'coordinator')
    .map(([hash]) => hash);
  return CoordinatorClient.connect({
    host,
    port,
    verifiers,
    coordinatorPolicyHashes,
    allowInsecure: insecure,
    ...(io.logger ? { logger: io.logger } : {}),
  });
}

/** Time as the retry loop sees it; tests pass a virtual one. */
export interface RetryClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: RetryClock = {
  now: () => Date.now(),
  sleep: (ms) => delay(ms),
};

export { parseWait } from './util.js';

function formatDuration(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return s >= 60 ? `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}` : `${s}s`;
}

/**
 * connectCoordinator, retried while the Coordinator cannot be reached yet (right after
 * `kubectl apply` its pod is still starting and its Service has no endpoint): only `unavailable`
 * errors are retried — a failed attestation or a refusal is final at once. One progress line per
 * attempt on stderr; gives up after `waitMs` with the last reason.
 */
export async function connectCoordinatorWaiting(
  io: CliIo,
  options: Parameters<typeof connectCoordinator>[1] & { waitMs: number; clock?: RetryClock },
): Promise<CoordinatorClient> {
  const clock = options.clock ?? realClock;
  const deadline = clock.now() + options.waitMs;
  let delay = 1000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectCoordinator(io, options);
    } catch (e) {
      if (!isContrastError(e) || e.code !== 'unavailable') throw e;
      const left = deadline - clock.now();
      if (left <= 0) {
        throw options.waitMs > 0
          ? new ContrastError(
              'unavailable',
              `the Coordinator at ${options.address} was not reachable within ${formatDuration(options.waitMs)}: ${e.message}`,
              { cause: e },
            )
          : e;
      }
      io.stderr(
        `Waiting for the Coordinator at ${options.address} (attempt ${attempt}: ${e.message}); retrying for up to ${formatDuration(left)} ...\n`,
      );
      await clock.sleep(Math.min(delay, left));
      delay = Math.min(delay * 2, 5000);
    }
  }
}
