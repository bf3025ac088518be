import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  type EvidenceBundle,
  openEvidenceBundle,
  verifiersForReferenceValues,
  verifyEvidenceBundle,
} from '@contrast-cc/api';
import {
  type CollateralSources,
  createCollateralSources,
  DEFAULT_COLLATERAL_URLS,
} from '@contrast-cc/attestation';
import { verifySnpEvidenceFiles } from '@contrast-cc/attestation/snp';
import { verifyTdxQuoteFile } from '@contrast-cc/attestation/tdx';
import {
  ContrastError,
  fromHex,
  isContrastError,
  type PlatformRegistry,
  type Verifier,
} from '@contrast-cc/core';
import { parseManifest } from '@contrast-cc/manifest';
import type { Command } from '../command.js';
import { collateralTimeoutMs, httpUrlFlag, insecureConsent } from '../coordinator.js';
import { type CliIo, EXIT, type ExitCode } from '../io.js';
import { resolveIn } from '../util.js';
import { failureOf, verdictJson } from '../verdict.js';

const HELP = `contrast evidence verify — verify one piece of attestation evidence.

Checks an AMD SEV-SNP report or an Intel TDX quote completely: the signature, the certificate
chain to the embedded AMD or Intel root, revocation (with a CRL), the TCB (TDX: with collateral),
and, when given, the expected REPORT_DATA and reference values. An SNP report comes from
/dev/sev-guest or configfs-tsm in the VM (e.g. "snpguest report"), a TDX quote from configfs-tsm or
a quote generation service.

Offline (default) nothing is fetched: bring the certificates and collateral along. With --online,
what is missing is fetched as the Coordinator fetches it: for SNP the VCEK and ASK/ARK from AMD KDS
(/vcek/v1/<product>/<hwid>?blSPL..&ucodeSPL.., /vcek/v1/<product>/cert_chain) and the product's CRL
(/vcek/v1/<product>/crl, checked: a revoked VCEK or ASK is refused); for TDX the TCB info, QE
identity, PCK CRL and root CA CRL from Intel PCS v4 or a PCCS. A fetch that fails is a rejection
(collateral-unavailable, naming the URL and the HTTP status), exit 1.

Usage:
  contrast evidence verify --snp-report <file> [--cert <vcek>] [--cert-chain <pem>]
                           [--crl <file>] [flags]
  contrast evidence verify --tdx-quote <file> [--collateral <dir>] [flags]
  contrast evidence verify --bundle <file> [--at <time>] [--insecure] [--json]

Flags:
      --snp-report <file>        raw SEV-SNP attestation report (1184 bytes)
      --cert <file>              the VCEK or VLEK (DER or PEM; a PEM may carry ASK and ARK after it)
      --cert-chain <file>        ASK/ASVK and ARK (PEM, as AMD's KDS serves cert_chain)
      --crl <file>               AMD's CRL for the product (DER or PEM)
      --tdx-quote <file>         raw TDX quote (v4 or v5)
      --collateral <dir>         Intel collateral in PCS file form (tcb_info.json, qe_identity.json,
                                 *_issuer_chain.pem, pck_crl.der, root_ca_crl.der; any subset)
      --online                   fetch missing certificates/collateral (KDS for SNP, PCS for TDX)
      --kds-url <url>            AMD KDS base URL for --online (default https://kdsintf.amd.com)
      --pcs-url <url>            Intel PCS or PCCS base URL for --online
                                 (default https://api.trustedservices.intel.com)
      --no-crl-check             SNP --online: do not fetch or check the CRL (the result says so)
      --bundle <file>            an evidence bundle saved by "contrast verify --save-evidence":
                                 re-verifies everything the Coordinator proved then (evidence,
                                 binding of nonce, TLS key and state, history, the saved manifest)
                                 at the time it was saved (or --at), offline; a damaged bundle is
                                 refused naming the part
      --insecure                 (with --bundle) accept simulated platforms
      --reference-values <file>  JSON of one ReferenceValues entry of the manifest (snp or tdx form)
      --report-data <hex>        the 64 bytes the evidence must bind
      --at <time>                verify at this RFC 3339 time instead of now (old evidence)
      --json                     print the result as JSON
  -h, --help                     show this help

Examples:
  contrast evidence verify --snp-report report.bin --cert vcek.pem --at 2025-10-01T08:00:00Z
  contrast evidence verify --tdx-quote quote.bin --collateral collateral/ --json
  contrast evidence verify --snp-report report.bin --online
  contrast evidence verify --tdx-quote quote.bin --online --pcs-url https://pccs.example:8081
  contrast evidence verify --snp-report report.bin --cert vcek.der \\
    --reference-values snp-reference-values.json --report-data <128 hex digits>

Exit codes: 0 valid, 1 rejected (the reason is printed, with its code in --json), 2 bad usage or
unusable input (unreadable file, malformed evidence).

Environment: CONTRAST_COLLATERAL_TIMEOUT_MS (per-request timeout for --online, default 20000).
`;

/** An http(s) URL flag, or undefined when absent; throws naming the flag. */
function usage(io: CliIo, message: string): ExitCode {
  io.stderr(`contrast evidence verify: ${message}\nRun "contrast evidence --help" for usage.\n`);
  return EXIT.usage;
}

async function readJson(io: CliIo, file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(resolveIn(io, file), 'utf8'));
  } catch (e) {
    throw new Error(
      `--reference-values ${file}: ${e instanceof SyntaxError ? `not JSON (${e.message})` : 'cannot be read'}`,
    );
  }
}

/** `--bundle`: a saved Coordinator attestation, verified again offline. */
async function verifyBundle(
  io: CliIo,
  registry: PlatformRegistry,
  file: string,
  atText: string | undefined,
  values: Record<string, string | boolean | undefined>,
): Promise<ExitCode> {
  let at: Date | undefined;
  if (atText !== undefined) {
    at = new Date(atText);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(atText) || Number.isNaN(at.getTime())) {
      return usage(io, `--at "${atText}" is not an RFC 3339 time`);
    }
  }
  let bundle: EvidenceBundle;
  let verifiers: Verifier[];
  let allowInsecure: boolean;
  try {
    const text = await readFile(resolveIn(io, file), 'utf8').catch((cause) => {
      throw new ContrastError('not-found', 'cannot read the bundle', { file, cause });
    });
    bundle = await openEvidenceBundle(text);
    const { manifest } = parseManifest(bundle.manifest, { file: `${file}: manifest` });
    allowInsecure = insecureConsent(io, manifest, registry, values.insecure === true);
    verifiers = verifiersForReferenceValues(registry, manifest.ReferenceValues, io.logger);
  } catch (e) {
    io.stderr(
      `contrast evidence verify: ${file}: ${isContrastError(e) ? e.message : (e as Error).message}\n`,
    );
    return EXIT.usage;
  }
  const verdict = await verifyEvidenceBundle(bundle, { verifiers, allowInsecure, ...(at ? { at } : {}) });
  if (values.json) io.stdout(`${JSON.stringify(verdictJson(verdict))}\n`);
  if (!verdict.ok) {
    try {
      failureOf(
        verdict,
        (r) => `the Coordinator ran manifest ${r.manifestHash}, not the one saved in the bundle`,
      );
    } catch (e) {
      io.stderr(`contrast evidence verify: ${file}: ${(e as Error).message}\n`);
      return EXIT.failed;
    }
  }
  if (!values.json && verdict.ok) {
    const r = verdict.report;
    io.stdout(
      `Bundle verified${r.insecure ? ' (SIMULATED: insecure)' : ''}: the Coordinator at ${bundle.coordinator} ran manifest ${r.manifestHash} (transition ${r.transitionHash}), checked at ${(at ?? bundle.savedAt).toISOString()}; root CA SHA-256 ${r.rootCaFingerprint}.\n`,
    );
  }
  return EXIT.ok;
}

async function run(argv: string[], io: CliIo, registry?: PlatformRegistry): Promise<ExitCode> {
  const [sub, ...rest] = argv;
  if (sub !== 'verify') return usage(io, sub ? `unknown subcommand "${sub}"` : 'missing subcommand "verify"');
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: rest,
      strict: true,
      allowPositionals: false,
      options: {
        'snp-report': { type: 'string' },
        cert: { type: 'string' },
        'cert-chain': { type: 'string' },
        crl: { type: 'string' },
        'tdx-quote': { type: 'string' },
        collateral: { type: 'string' },
        online: { type: 'boolean' },
        'kds-url': { type: 'string' },
        'pcs-url': { type: 'string' },
        'no-crl-check': { type: 'boolean' },
        'reference-values': { type: 'string' },
        'report-data': { type: 'string' },
        at: { type: 'string' },
        json: { type: 'boolean' },
        bundle: { type: 'string' },
        insecure: { type: 'boolean' },
      },
    }));
  } catch (e) {
    return usage(io, (e as Error).message);
  }
  if (values.bundle !== undefined) {
    const others = Object.keys(values).filter((k) => !['bundle', 'at', 'json', 'insecure'].includes(k));
    if (others.length > 0)
      return usage(io, `--bundle goes only with --at, --insecure and --json (not --${others[0]})`);
    if (!registry) return usage(io, '--bundle needs the platform registry of the contrast program');
    return verifyBundle(io, registry, values.bundle as string, values.at as string | undefined, values);
  }
  if (values.insecure !== undefined) return usage(io, '--insecure goes with --bundle');
  const snp = values['snp-report'] as string | undefined;
  const tdx = values['tdx-quote'] as string | undefined;
  if ((snp === undefined) === (tdx === undefined))
    return usage(io, 'give exactly one of --snp-report and --tdx-quote');
  for (const [flag, only] of [
    ['cert', 'snp'],
    ['cert-chain', 'snp'],
    ['crl', 'snp'],
    ['collateral', 'tdx'],
    ['kds-url', 'snp'],
    ['no-crl-check', 'snp'],
    ['pcs-url', 'tdx'],
  ] as const) {
    if (values[flag] !== undefined && (only === 'snp' ? snp === undefined : tdx === undefined)) {
      return usage(io, `--${flag} goes with --${only === 'snp' ? 'snp-report' : 'tdx-quote'}`);
    }
  }
  const online = values.online === true;
  for (const flag of ['kds-url', 'pcs-url', 'no-crl-check'] as const) {
    if (values[flag] !== undefined && !online) return usage(io, `--${flag} needs --online`);
  }
  let sources: CollateralSources | undefined;
  if (online) {
    try {
      const timeoutMs = collateralTimeoutMs(io);
      sources = createCollateralSources({
        kdsUrl: httpUrlFlag(values['kds-url'], '--kds-url') ?? DEFAULT_COLLATERAL_URLS.kdsUrl,
        pcsUrl: httpUrlFlag(values['pcs-url'], '--pcs-url') ?? DEFAULT_COLLATERAL_URLS.pcsUrl,
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      });
    } catch (e) {
      return usage(io, (e as Error).message);
    }
  }
  let referenceValues: unknown;
  let reportData: Uint8Array | undefined;
  try {
    if (values['reference-values'] !== undefined)
      referenceValues = await readJson(io, values['reference-values'] as string);
    if (values['report-data'] !== undefined) {
      reportData = fromHex(values['report-data'] as string, { field: '--report-data', length: 64 });
    }
  } catch (e) {
    return usage(io, isContrastError(e) ? e.describe() : (e as Error).message);
  }
  const at = values.at as string | undefined;
  // Paths are relative to the caller's working directory (io.cwd), as in every other command.
  const file = (flag: string): string | undefined =>
    values[flag] === undefined ? undefined : resolveIn(io, values[flag] as string);
  const outcome = snp
    ? await verifySnpEvidenceFiles({
        reportFile: file('snp-report')!,
        ...(values.cert ? { certFile: file('cert')! } : {}),
        ...(values['cert-chain'] ? { certChainFile: file('cert-chain')! } : {}),
        ...(values.crl ? { crlFile: file('crl')! } : {}),
        ...(sources?.snp ? { kds: sources.snp, checkRevocation: values['no-crl-check'] !== true } : {}),
        ...(at ? { at } : {}),
        ...(referenceValues ? { referenceValues: referenceValues as never } : {}),
        ...(reportData ? { reportData } : {}),
      })
    : await verifyTdxQuoteFile({
        quoteFile: file('tdx-quote')!,
        ...(values.collateral ? { collateralDir: file('collateral')! } : {}),
        ...(sources?.tdx ? { collateralSource: sources.tdx } : {}),
        ...(at ? { at } : {}),
        ...(referenceValues ? { referenceValues: referenceValues as never } : {}),
        ...(values['report-data'] ? { reportData: values['report-data'] as string } : {}),
      });
  if (values.json) io.stdout(`${JSON.stringify(outcome.json, null, 2)}\n`);
  else if (outcome.exitCode === 0) io.stdout(`${outcome.summary}\n`);
  else io.stderr(`${outcome.summary}\n`);
  return outcome.exitCode;
}

/** `contrast evidence verify`: offline verification of one SNP report or TDX quote. */
export function createEvidenceCommand(options: { registry?: PlatformRegistry } = {}): Command {
  return {
    name: 'evidence',
    summary: 'verify an SEV-SNP report or a TDX quote offline (evidence verify)',
    help: HELP,
    run: (argv, io) => run(argv, io, options.registry),
  };
}
