import { ApiError, SeedShareDocumentSchema } from '@contrast-cc/api';
import { openSeedShare, recoverSeed } from '@contrast-cc/certs';
import type { PlatformRegistry } from '@contrast-cc/core';
import type { Command } from '../command.js';
import { connectCoordinator, loadManifest } from '../coordinator.js';
import { type CliIo, EXIT, type ExitCode } from '../io.js';
import { operationFailed, parseFlags, readInput, runCommand, usageError, workspaceFile } from '../util.js';

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

Exit codes: 0 recovered, 1 refused or unreachable (attestation failed, the share is not for this
Coordinator, it is not in recovery mode), 2 bad usage or bad input (missing file, a key that
cannot open a share).
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
  io.stdout('Successfully recovered the Coordinator.\n');
  return EXIT.ok;
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
