import { createHash } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { fromBase64 } from '@contrast-cc/api';
import { bytesEqual, type PlatformRegistry } from '@contrast-cc/core';
import { type FileWrite, writeFilesAtomic } from '@contrast-cc/core/fs';
import { historyConfigMaps } from '@contrast-cc/store/history-file';
import { stringify } from 'yaml';
import type { Command } from '../command.js';
import { connectCoordinator, loadManifest } from '../coordinator.js';
import { type CliIo, EXIT, type ExitCode } from '../io.js';
import { operationFailed, parseFlags, resolveIn, runCommand, workspaceFile } from '../util.js';

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
      --insecure                  accept simulated platforms (demo and tests only)
      --json                      print { status, transitionHash, manifests, policies, matches }
                                  as JSON
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

async function run(args: string[], io: CliIo, registry: PlatformRegistry): Promise<ExitCode> {
  const { values } = parseFlags(args, {
    coordinator: { type: 'string', short: 'c' },
    manifest: { type: 'string', short: 'm' },
    insecure: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  });
  const manifestFile = values.manifest ?? workspaceFile(io, 'manifest.json');
  const loaded = await loadManifest(io, manifestFile);
  io.stderr(`Attesting the Coordinator at ${values.coordinator ?? '(none)'} ...\n`);
  const client = await connectCoordinator(io, {
    address: values.coordinator as string,
    loaded,
    registry,
    allowInsecure: values.insecure,
  });
  const state = await client.state();
  if (state.status === 'stale') {
    throw operationFailed(
      'the Coordinator is in recovery mode: run "contrast recover" with a seed-share owner key',
    );
  }
  if (!state.latest_transition || state.manifests.length === 0 || !state.root_ca || !state.mesh_ca) {
    throw operationFailed('the Coordinator has no manifest yet: run "contrast set" first');
  }
  const manifests = state.manifests.map(fromBase64);
  const policies = state.policies.map(fromBase64);
  const enc = new TextEncoder();
  const files: FileWrite[] = [
    { path: 'coordinator-root-ca.pem', data: enc.encode(state.root_ca) },
    { path: 'mesh-ca.pem', data: enc.encode(state.mesh_ca) },
    { path: 'latest-transition', data: enc.encode(`${state.latest_transition.transition_hash}\n`) },
    ...manifests.map((m, i) => ({ path: `manifest.${i}.json`, data: m })),
    ...policies.map((p) => ({ path: `policy.${createHash('sha256').update(p).digest('hex')}`, data: p })),
    { path: 'history.yml', data: enc.encode(historyFile(manifests, policies, state.latest_transition)) },
  ];
  // Replace verify/ as a whole: write a fresh folder beside it, then swap.
  const workspace = resolveIn(io, workspaceFile(io, '.'));
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
  // A CRLF checkout (Windows, git autocrlf) of the same manifest is the same JSON: raw line breaks
  // can only be whitespace in JSON, so compare with CRLFs as LFs on both sides.
  const matches = bytesEqual(withLfLineEndings(manifests.at(-1)!), withLfLineEndings(loaded.bytes));
  if (values.json) {
    io.stdout(
      `${JSON.stringify({ status: state.status, transitionHash: state.latest_transition.transition_hash, manifests: manifests.length, policies: policies.length, matches, insecure: client.claims.insecure })}\n`,
    );
  }
  if (!matches) {
    throw operationFailed(
      `the Coordinator's active manifest (verify/manifest.${manifests.length - 1}.json) differs from ${manifestFile}`,
    );
  }
  if (!values.json) {
    io.stdout(
      `Coordinator verified${client.claims.insecure ? ' (SIMULATED: insecure)' : ''}: it runs ${manifestFile} (transition ${state.latest_transition.transition_hash}).\n`,
    );
    io.stdout(
      `Wrote verify/ with ${manifests.length} manifest(s) and ${policies.length} polic${policies.length === 1 ? 'y' : 'ies'}. Please review the manifest history and the policies there.\n`,
    );
  }
  return EXIT.ok;
}

/** `contrast verify`, over the CLI's platform registry. */
export function createVerifyCommand({ registry }: { registry: PlatformRegistry }): Command {
  return {
    name: 'verify',
    summary: 'attest the Coordinator, fetch its history, check it runs your manifest',
    help: HELP,
    run: (args, io) => runCommand('verify', io, () => run(args, io, registry)),
  };
}

/** `bytes` with every CR LF pair as LF (the same bytes when there is none). */
function withLfLineEndings(bytes: Uint8Array): Uint8Array {
  if (!bytes.includes(0x0d)) return bytes;
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x0d && bytes[i + 1] === 0x0a) continue;
    out.push(bytes[i]!);
  }
  return Uint8Array.from(out);
}
