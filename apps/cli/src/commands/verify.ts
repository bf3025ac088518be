import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  type CoordinatorReport,
  createEvidenceBundle,
  fromBase64,
  verifyCoordinator,
} from '@contrast-cc/api';
import { type FileWrite, writeFilesAtomic } from '@contrast-cc/core/fs';
import { historyConfigMaps } from '@contrast-cc/store/history-file';
import { stringify } from 'yaml';
import type { Command } from '../command.js';
import {
  COLLATERAL_FLAGS,
  type CommandPlatforms,
  collateralFlagsHelp,
  insecureConsent,
  loadManifest,
  parseCoordinatorAddress,
  registryWithCollateral,
} from '../coordinator.js';
import { type CliIo, EXIT, type ExitCode } from '../io.js';
import { parseFlags, resolveIn, runCommand, workspaceFile } from '../util.js';
import { failureOf, verdictJson } from '../verdict.js';

const HELP = `contrast verify — attest the Coordinator and check that it runs your manifest.

Attests the Coordinator against the manifest's reference values, fetches its manifest history and
policies, writes them to verify/ in the workspace, and checks that the active manifest is byte for
byte the one you have. Read the history and the policies in verify/: they are what the deployment
trusts. verify/coordinator-root-ca.pem is the one certificate clients need to trust the deployment.

Usage:
  contrast verify -c <host:port> [flags]

Flags:
  -c, --coordinator <host:port>   the Coordinator's API, port 1314 (required)
  -m, --manifest <file>           the manifest you expect (default manifest.json)
      --workspace-dir <dir>       (global) where manifest.json is read and verify/ written
                                  (default .)
${collateralFlagsHelp(34)}      --insecure                  accept simulated platforms (demo and tests only)
      --save-evidence <file>      store what the Coordinator proved (evidence, certificates and
                                  collateral it sent, nonce, TLS key, time, state, history) to
                                  verify again later, offline: contrast evidence verify --bundle
      --json                      print { ok, status, transitionHash, manifestHash, manifests,
                                  policies, rootCaFingerprint, matches, insecure, claims } as JSON
  -h, --help                      show this help

verify/ holds: coordinator-root-ca.pem, mesh-ca.pem, manifest.<i>.json (oldest first),
policy.<sha256> (one per policy document), latest-transition (hex), and history.yml: the whole
history as the ConfigMaps of the Coordinator's store. Keep it: after losing the store,
kubectl apply -n <namespace> -f verify/history.yml, restart the Coordinator, contrast recover.

Examples:
  contrast verify -c 203.0.113.7:1314
  # then a client trusts the deployment through its root CA, e.g.
  curl --cacert verify/coordinator-root-ca.pem https://web.shop.example/

Exit codes: 0 verified, 1 the Coordinator failed attestation, is in recovery, or runs another
manifest, 2 bad usage or bad input.
`;

/**
 * verify/history.yml: the whole history as the ConfigMaps of the Coordinator's store, so that
 * `kubectl apply -n <namespace> -f verify/history.yml` rebuilds a lost store (upstream's role of
 * this file); the Coordinator then starts stale and a seed-share owner recovers it. Building it
 * also checks that the manifests chain to the signed latest transition the Coordinator attested.
 */
function historyFile(
  manifests: Uint8Array[],
  policies: Uint8Array[],
  latest: { transition_hash: string; signature: string },
): string {
  const maps = historyConfigMaps({
    manifests,
    policies,
    latest: { transitionHash: latest.transition_hash, signature: fromBase64(latest.signature) },
  });
  const header =
    '# The Coordinator history (manifests, policies, transitions, signed latest pointer) as the\n' +
    '# ConfigMaps of its store. After losing the store: kubectl apply -n <namespace> -f history.yml,\n' +
    '# restart the Coordinator, then contrast recover.\n';
  return header + maps.map((m) => `---\n${stringify(m, { lineWidth: 0 })}`).join('');
}

/** Writes verify/ in `workspace` from a verified report, replacing it as a whole. */
async function writeVerifyDir(workspace: string, report: CoordinatorReport): Promise<void> {
  const enc = new TextEncoder();
  const manifests = report.manifests.map((m) => m.bytes);
  const policies = report.policies.map((p) => p.bytes);
  const latest = { transition_hash: report.transitionHash, signature: report.latestSignature };
  const files: FileWrite[] = [
    { path: 'coordinator-root-ca.pem', data: enc.encode(report.rootCaPem) },
    { path: 'mesh-ca.pem', data: enc.encode(report.meshCaPem) },
    { path: 'latest-transition', data: enc.encode(`${report.transitionHash}\n`) },
    ...manifests.map((m, i) => ({ path: `manifest.${i}.json`, data: m })),
    ...report.policies.map((p) => ({ path: `policy.${p.hash}`, data: p.bytes })),
    { path: 'history.yml', data: enc.encode(historyFile(manifests, policies, latest)) },
  ];
  // Replace verify/ as a whole: write a fresh folder beside it, then swap.
  const target = path.join(workspace, 'verify');
  const staging = path.join(workspace, `.verify.${process.pid}.${Date.now()}`);
  await mkdir(staging, { recursive: true });
  try {
    await writeFilesAtomic(files.map((f) => ({ ...f, path: path.join(staging, f.path) })));
    await rm(target, { recursive: true, force: true });
    await rename(staging, target);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function run(args: string[], io: CliIo, platforms: CommandPlatforms): Promise<ExitCode> {
  const { values } = parseFlags(args, {
    ...COLLATERAL_FLAGS,
    coordinator: { type: 'string', short: 'c' },
    manifest: { type: 'string', short: 'm' },
    insecure: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    'save-evidence': { type: 'string' },
  });
  const registry = registryWithCollateral(io, values, platforms);
  const manifestFile = values.manifest ?? workspaceFile(io, 'manifest.json');
  const loaded = await loadManifest(io, manifestFile);
  const allowInsecure = insecureConsent(io, loaded.manifest, registry, values.insecure);
  const { host, port } = parseCoordinatorAddress(values.coordinator);
  io.stderr(`Attesting the Coordinator at ${values.coordinator} ...\n`);
  const { verdict, attestation, at } = await verifyCoordinator({
    host,
    port,
    manifest: loaded.bytes,
    registry,
    allowInsecure,
    ...(io.logger ? { logger: io.logger } : {}),
  });
  const evidenceFile = values['save-evidence'];
  if (evidenceFile !== undefined) {
    const text = await createEvidenceBundle({
      savedAt: at,
      coordinator: `${host}:${port}`,
      attestation,
      manifest: loaded.bytes,
    });
    await writeFilesAtomic([{ path: resolveIn(io, evidenceFile), data: new TextEncoder().encode(text) }]);
    io.stderr(
      `Saved the evidence to ${evidenceFile} (check it later: contrast evidence verify --bundle ${evidenceFile}).\n`,
    );
  }
  const report = verdict.ok ? verdict.report : verdict.report;
  if (report) await writeVerifyDir(resolveIn(io, workspaceFile(io, '.')), report);
  if (values.json) io.stdout(`${JSON.stringify(verdictJson(verdict))}\n`);
  if (!verdict.ok) {
    failureOf(
      verdict,
      (r) =>
        `the Coordinator's active manifest (verify/manifest.${r.manifests.length - 1}.json) differs from ${manifestFile}`,
    );
  }
  if (!values.json) {
    const r = verdict.report;
    io.stdout(
      `Coordinator verified${r.insecure ? ' (SIMULATED: insecure)' : ''}: it runs ${manifestFile} (transition ${r.transitionHash}).\n`,
    );
    io.stdout(
      `Wrote verify/ with ${r.manifests.length} manifest(s) and ${r.policies.length} polic${r.policies.length === 1 ? 'y' : 'ies'}. Please review the manifest history and the policies there.\n`,
    );
  }
  return EXIT.ok;
}

/**
 * `contrast verify`, over the CLI's platform registry (`registryFor` rebuilds it on the collateral
 * sources of --kds-url / --pcs-url).
 */
export function createVerifyCommand(platforms: CommandPlatforms): Command {
  return {
    name: 'verify',
    summary: 'attest the Coordinator, fetch its history, check it runs your manifest',
    help: HELP,
    run: (args, io) => runCommand('verify', io, () => run(args, io, platforms)),
  };
}
