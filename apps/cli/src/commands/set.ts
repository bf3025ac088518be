import path from 'node:path';
import { ApiError } from '@contrast-cc/api';
import { manifestHash, signTransitionAsOwner, transitionHash } from '@contrast-cc/certs';
import { fromHex, toHex } from '@contrast-cc/core';
import { type FileWrite, writeFilesAtomic } from '@contrast-cc/core/fs';
import { extractPolicyDocuments, loadResourceFiles } from '@contrast-cc/kube-resources';
import { workloadOwnerKeyHex } from '@contrast-cc/manifest';
import type { Command } from '../command.js';
import {
  COLLATERAL_FLAGS,
  type CommandPlatforms,
  collateralFlagsHelp,
  connectCoordinatorWaiting,
  loadManifest,
  parseWait,
  type RetryClock,
  registryWithCollateral,
} from '../coordinator.js';
import { type CliIo, EXIT, type ExitCode } from '../io.js';
import {
  operationFailed,
  parseFlags,
  readInput,
  readOptional,
  resolveIn,
  runCommand,
  usageError,
  workspaceFile,
} from '../util.js';

const HELP = `contrast set — attest the Coordinator, then give it the manifest.

Reads the manifest and the policies "contrast generate" wrote into your resources, attests the
Coordinator against the manifest's reference values (nothing is sent before that succeeds), and
sets the manifest. The first set returns the seed shares: keep seed-shares.json safe, it is what
recovers the Coordinator. An update of an existing manifest must be signed by a workload owner:
with your key (--workload-owner-key), or with a signature made by "contrast sign" (--signature).

Usage:
  contrast set -c <host:port> [flags] paths...

  paths...   the YAML files or directories "contrast generate" patched

Flags:
  -c, --coordinator <host:port>     the Coordinator's API, port 1314 (required; e.g. the
                                    external IP of its Service: kubectl get svc coordinator)
  -m, --manifest <file>             the manifest (default manifest.json)
      --workload-owner-key <file>   sign the update with this ECDSA key (default workload-owner.pem
                                    when it exists)
  -s, --signature <file>            a signature from "contrast sign" instead of the key
      --atomic                      only set if the Coordinator is still at the latest transition
                                    you know (--latest-transition, verify/latest-transition, or
                                    none)
      --latest-transition <hex>     the transition --atomic and the signature build on
      --workspace-dir <dir>         (global) where manifest.json, workload-owner.pem and
                                    verify/latest-transition are read and coordinator-root-ca.pem,
                                    mesh-ca.pem and seed-shares.json written (default .)
      --wait <duration>             while the Coordinator cannot be reached yet (its pod is still
                                    starting), retry with progress for this long (default 3m; 0:
                                    fail at once); a failed attestation is never retried
${collateralFlagsHelp(36)}      --insecure                    accept simulated platforms (demo and tests only)
      --json                        print { transitionHash, rootCa, meshCa, firstSet } as JSON
  -h, --help                        show this help

Writes (to --workspace-dir): coordinator-root-ca.pem (trust it in clients: it signs the whole
deployment), mesh-ca.pem, and on the first set seed-shares.json.

Examples:
  contrast set -c 203.0.113.7:1314 resources/
  # an update signed offline by another workload owner:
  contrast sign --prepare -o next-transition     (they sign it: see "contrast sign --help")
  contrast set -c 203.0.113.7:1314 --signature transition.sig resources/

Exit codes: 0 set, 1 refused or unreachable (attestation failed, permission denied, conflict),
2 bad usage or bad input (missing file, invalid manifest, bad address).
`;

async function run(
  args: string[],
  io: CliIo,
  platforms: CommandPlatforms,
  clock?: RetryClock,
): Promise<ExitCode> {
  const { values, positionals } = parseFlags(
    args,
    {
      ...COLLATERAL_FLAGS,
      coordinator: { type: 'string', short: 'c' },
      manifest: { type: 'string', short: 'm' },
      'workload-owner-key': { type: 'string' },
      signature: { type: 'string', short: 's' },
      atomic: { type: 'boolean', default: false },
      'latest-transition': { type: 'string' },
      insecure: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      wait: { type: 'string', default: '3m' },
    },
    true,
  );
  const waitMs = parseWait(values.wait, '--wait');
  const registry = registryWithCollateral(io, values, platforms);
  if (positionals.length === 0)
    throw usageError('give the resource files or directories that "contrast generate" patched');
  if (values.signature && values['workload-owner-key'])
    throw usageError('give --signature or --workload-owner-key, not both');
  const manifestFile = values.manifest ?? workspaceFile(io, 'manifest.json');
  const loaded = await loadManifest(io, manifestFile);

  // The policies must be exactly the manifest's: every hash present, nothing unknown.
  const docs = extractPolicyDocuments(await loadResourceFiles(positionals, io.cwd), registry);
  const byHash = new Map(docs.map((d) => [d.sha256, d]));
  const wanted = Object.keys(loaded.manifest.Policies).map((h) => h.toLowerCase());
  const missing = wanted.filter((h) => !byHash.has(h));
  if (missing.length > 0) {
    throw usageError(
      `${manifestFile}: Policies ${missing.join(', ')} match no workload in ${positionals.join(', ')}; run "contrast generate" again`,
    );
  }
  for (const d of docs) {
    if (!wanted.includes(d.sha256))
      throw usageError(
        `${d.file}: ${d.workload} has a policy the manifest does not list; run "contrast generate" again`,
      );
  }

  let latest: Uint8Array | undefined;
  if (values['latest-transition'] !== undefined) {
    latest = fromHex(values['latest-transition'].trim(), { field: '--latest-transition', length: 32 });
  } else if (values.atomic) {
    const savedFile = workspaceFile(io, 'verify/latest-transition');
    const saved = await readOptional(io, savedFile, savedFile);
    latest = saved
      ? fromHex(new TextDecoder().decode(saved).trim(), { field: savedFile, length: 32 })
      : new Uint8Array(32);
  }
  let signature = values.signature ? await readInput(io, values.signature, '--signature') : undefined;
  const ownerKeyFile = values['workload-owner-key'] ?? workspaceFile(io, 'workload-owner.pem');
  const ownerKey = values.signature
    ? undefined
    : values['workload-owner-key']
      ? await readInput(io, ownerKeyFile, '--workload-owner-key')
      : await readOptional(io, ownerKeyFile, '--workload-owner-key');
  if (ownerKey) {
    let hex: string;
    try {
      hex = workloadOwnerKeyHex(ownerKey);
    } catch {
      throw usageError(`--workload-owner-key ${ownerKeyFile}: not an ECDSA private key in PEM`);
    }
    if (!(loaded.manifest.WorkloadOwnerPubKeys ?? []).map((k) => k.toLowerCase()).includes(hex)) {
      io.stderr(
        `warning: ${ownerKeyFile} is not in the manifest's WorkloadOwnerPubKeys: you may lock yourself out of later updates\n`,
      );
    }
  }
  if ((loaded.manifest.WorkloadOwnerPubKeys ?? []).length === 0) {
    io.stderr('warning: the manifest has no workload owner keys: nobody can update it after this\n');
  }

  io.stderr(`Attesting the Coordinator at ${values.coordinator ?? '(none)'} ...\n`);
  const client = await connectCoordinatorWaiting(io, {
    address: values.coordinator as string,
    loaded,
    registry,
    allowInsecure: values.insecure,
    waitMs,
    ...(clock ? { clock } : {}),
  });
  const state = await client.state();
  const current = state.latest_transition
    ? fromHex(state.latest_transition.transition_hash)
    : new Uint8Array(32);
  if (values.atomic && latest && toHex(latest) !== toHex(current)) {
    throw operationFailed(
      `--atomic: the Coordinator is at transition ${toHex(current)}, not ${toHex(latest)}; run "contrast verify" and check what changed`,
    );
  }
  if (!signature && ownerKey && state.latest_transition) {
    signature = signTransitionAsOwner(
      transitionHash(manifestHash(loaded.bytes), latest ?? current),
      new TextDecoder().decode(ownerKey),
    );
  }
  io.stderr(
    `Coordinator attested (${client.claims.insecure ? 'SIMULATED, insecure' : client.claims.kind}); setting the manifest ...\n`,
  );
  let response: Awaited<ReturnType<typeof client.setManifest>>;
  try {
    response = await client.setManifest({
      manifest: loaded.bytes,
      policies: wanted.map((h) => byHash.get(h)!.document),
      ...(values.atomic ? { previousTransitionHash: toHex(latest ?? current) } : {}),
      ...(signature ? { signature } : {}),
    });
  } catch (e) {
    if (e instanceof ApiError && (e.apiCode === 'invalid_signature' || e.apiCode === 'permission_denied')) {
      throw operationFailed(
        `${e.message}\nhint: updates need a workload owner's signature: --workload-owner-key <pem> or --signature <file from "contrast sign">`,
      );
    }
    if (e instanceof ApiError)
      throw operationFailed(`the Coordinator refused the manifest (${e.apiCode}): ${e.message}`);
    throw e;
  }

  const dir = resolveIn(io, workspaceFile(io, '.'));
  const writes: FileWrite[] = [
    { path: path.join(dir, 'coordinator-root-ca.pem'), data: new TextEncoder().encode(response.root_ca) },
    { path: path.join(dir, 'mesh-ca.pem'), data: new TextEncoder().encode(response.mesh_ca) },
  ];
  if (response.seed_shares_doc) {
    writes.push({
      path: path.join(dir, 'seed-shares.json'),
      data: new TextEncoder().encode(`${JSON.stringify(response.seed_shares_doc, null, 2)}\n`),
      mode: 0o600,
    });
  }
  await writeFilesAtomic(writes);
  if (values.json) {
    io.stdout(
      `${JSON.stringify({ transitionHash: response.transition_hash, firstSet: Boolean(response.seed_shares_doc), rootCa: response.root_ca, meshCa: response.mesh_ca })}\n`,
    );
  } else {
    io.stdout(`Manifest set: transition ${response.transition_hash}\n`);
    const doc = response.seed_shares_doc;
    const k = doc?.Threshold ?? 1;
    const shares = doc
      ? k > 1
        ? [
            `seed-shares.json (split ${k}-of-${doc.SeedShares.length}: any ${k} owners together recover the Coordinator, each first runs "contrast recover --decrypt-share")`,
          ]
        : ['seed-shares.json (keep it safe: it recovers the Coordinator)']
      : [];
    io.stdout(`Wrote ${['coordinator-root-ca.pem', 'mesh-ca.pem', ...shares].join(', ')}\n`);
  }
  return EXIT.ok;
}

/**
 * `contrast set`, over the CLI's platform registry (`registryFor` rebuilds it on the collateral
 * sources of --kds-url / --pcs-url).
 */
export function createSetCommand({
  clock,
  ...platforms
}: CommandPlatforms & {
  /** Time for the wait-and-retry loop (tests pass a virtual clock). */
  clock?: RetryClock;
}): Command {
  return {
    name: 'set',
    summary: 'attest the Coordinator and set the manifest',
    help: HELP,
    run: (args, io) => runCommand('set', io, () => run(args, io, platforms, clock)),
  };
}
