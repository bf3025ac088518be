import { readFile } from 'node:fs/promises';
import { ApiError, fromBase64, SeedShareDocumentSchema } from '@contrast-cc/api';
import { manifestHash, openSeedShare, recoverSeed, transitionHash } from '@contrast-cc/certs';
import { type PlatformRegistry, toHex } from '@contrast-cc/core';
import type { Command } from '../command.js';
import { connectCoordinator, loadManifest } from '../coordinator.js';
import { type CliIo, EXIT, type ExitCode } from '../io.js';
import {
  operationFailed,
  parseFlags,
  readInput,
  resolveIn,
  runCommand,
  usageError,
  workspaceFile,
} from '../util.js';

const HELP = `contrast recover — bring a Coordinator that lost its state back, with the same root CA.

After a restart the Coordinator is in recovery mode ("contrast verify" says so) until a
seed-share owner gives it the seed back. This decrypts your share of seed-shares.json with your
key, attests the Coordinator, and sends the seed sealed to the Coordinator's attested key (it
never travels in clear). The Coordinator then serves the same root CA and the manifest history
it had.

Usage:
  contrast recover -c <host:port> [flags]

Flags:
  -c, --coordinator <host:port>     the Coordinator's API, port 1314 (required)
  -m, --manifest <file>             the manifest whose reference values it must meet
                                    (default manifest.json)
      --seedshare-owner-key <file>  your RSA private key, PEM (default seedshare-owner.pem, as
                                    "contrast generate" made it)
      --seed <file>                 the seed shares written by the first "contrast set"
                                    (default seed-shares.json)
      --force                       recover even if the Coordinator reports peers that could
                                    recover it
      --insecure                    accept simulated platforms (demo and tests only)
  -h, --help                        show this help

Example:
  contrast recover -c 203.0.113.7:1314     (seed-shares.json, seedshare-owner.pem in this directory)
  contrast verify -c 203.0.113.7:1314      (the same root CA, the manifest history as before)

Rollback check: when the workspace has verify/latest-transition (from "contrast verify"), the
recovered history must contain that transition; an older history (the store was rolled back to
an older, validly signed latest pointer) is reported as ROLLBACK with exit code 1.

Exit codes: 0 recovered, 1 refused or unreachable (attestation failed, the share is not for this
Coordinator, it is not in recovery mode) or recovered into an older history (ROLLBACK), 2 bad
usage or bad input (missing file, a key that cannot open a share).
`;

async function run(args: string[], io: CliIo, registry: PlatformRegistry): Promise<ExitCode> {
  const { values } = parseFlags(args, {
    coordinator: { type: 'string', short: 'c' },
    manifest: { type: 'string', short: 'm' },
    'seedshare-owner-key': { type: 'string' },
    seed: { type: 'string' },
    force: { type: 'boolean', default: false },
    insecure: { type: 'boolean', default: false },
  });
  values.manifest ??= workspaceFile(io, 'manifest.json');
  values['seedshare-owner-key'] ??= workspaceFile(io, 'seedshare-owner.pem');
  values.seed ??= workspaceFile(io, 'seed-shares.json');
  const loaded = await loadManifest(io, values.manifest);
  const docBytes = await readInput(io, values.seed, '--seed');
  let docJson: unknown;
  try {
    docJson = JSON.parse(new TextDecoder().decode(docBytes));
  } catch {
    throw usageError(`--seed ${values.seed}: not JSON`);
  }
  const doc = SeedShareDocumentSchema.safeParse(docJson);
  if (!doc.success) {
    const issue = doc.error.issues[0];
    throw usageError(
      `--seed ${values.seed}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const keyPem = new TextDecoder().decode(
    await readInput(io, values['seedshare-owner-key'], '--seedshare-owner-key'),
  );
  let seed: Uint8Array;
  let salt: Uint8Array;
  try {
    ({ seed, salt } = recoverSeed(doc.data, [openSeedShare(doc.data, keyPem)]));
  } catch (e) {
    throw usageError(
      `${values['seedshare-owner-key']} cannot open a share of ${values.seed}: ${(e as Error).message}`,
    );
  }
  io.stderr(`Attesting the Coordinator at ${values.coordinator ?? '(none)'} ...\n`);
  const client = await connectCoordinator(io, {
    address: values.coordinator as string,
    loaded,
    registry,
    allowInsecure: values.insecure,
  });
  try {
    await client.recover({ seed, salt, ownerPrivateKey: keyPem, force: values.force });
  } catch (e) {
    if (e instanceof ApiError)
      throw operationFailed(`the Coordinator refused recovery (${e.apiCode}): ${e.message}`);
    throw e;
  } finally {
    seed.fill(0);
  }
  // Rollback check: the history the Coordinator recovered into must reach the latest transition
  // this workspace last saw (verify/latest-transition, written by "contrast verify"). The store is
  // not trusted: an older, validly signed latest pointer recovers "successfully" into the past.
  const known = await knownLatestTransition(io);
  const after = await connectCoordinator(io, {
    address: values.coordinator as string,
    loaded,
    registry,
    allowInsecure: values.insecure,
  });
  const state = await after.state();
  const chain = transitionChain(state.manifests.map(fromBase64));
  const generation = chain.length;
  if (known && !chain.includes(known)) {
    throw operationFailed(
      `ROLLBACK: the Coordinator recovered into a history of ${generation} transition(s) that does not ` +
        `contain the latest transition this workspace last saw (${known}, verify/latest-transition). ` +
        'The store was rolled back or replaced: restore it (kubectl apply -f verify/history.yml), ' +
        'restart the Coordinator and recover again.',
    );
  }
  io.stdout('Successfully recovered the Coordinator.\n');
  io.stdout(
    `Generation ${generation}, latest transition ${state.latest_transition?.transition_hash ?? '(none)'}.\n`,
  );
  if (!known) {
    io.stderr('No verify/latest-transition in this workspace: run "contrast verify" to check the history.\n');
  } else if (chain.at(-1) !== known) {
    io.stderr(
      `The history went on after ${known}: ${generation - chain.indexOf(known) - 1} newer transition(s).\n`,
    );
  }
  return EXIT.ok;
}

/** The latest transition "contrast verify" recorded in this workspace, if any. */
async function knownLatestTransition(io: CliIo): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(resolveIn(io, workspaceFile(io, 'verify/latest-transition')), 'utf8');
  } catch {
    return undefined;
  }
  const hex = text.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw usageError('verify/latest-transition: not 64 hex digits');
  return hex;
}

/** The transition hashes of a manifest history (oldest first), chained from the zero hash. */
function transitionChain(manifests: Uint8Array[]): string[] {
  let previous: Uint8Array = new Uint8Array(32);
  return manifests.map((m) => {
    previous = transitionHash(manifestHash(m), previous);
    return toHex(previous);
  });
}

/** `contrast recover`, over the CLI's platform registry. */
export function createRecoverCommand({ registry }: { registry: PlatformRegistry }): Command {
  return {
    name: 'recover',
    summary: 'give a restarted Coordinator its seed back (seed-share owner)',
    help: HELP,
    run: (args, io) => runCommand('recover', io, () => run(args, io, registry)),
  };
}
