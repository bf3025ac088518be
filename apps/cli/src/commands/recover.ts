import { readFile } from 'node:fs/promises';
import {
  ApiError,
  type CoordinatorClient,
  fromBase64,
  ReleasedSeedShareSchema,
  type ReleasedSeedShareWire,
  SeedShareDocumentSchema,
} from '@contrast-cc/api';
import {
  checkReleasedShares,
  manifestHash,
  openSeedShare,
  type ReleasedSeedShare,
  recoverSeed,
  releaseSeedShare,
  type SeedShareDocument,
  SeedShareSetError,
  seedShareOwnerFingerprint,
  transitionHash,
} from '@contrast-cc/certs';
import { toHex } from '@contrast-cc/core';
import { writeFilesAtomic } from '@contrast-cc/core/fs';
import type { Command } from '../command.js';
import {
  COLLATERAL_FLAGS,
  type CommandPlatforms,
  collateralFlagsHelp,
  connectCoordinator,
  loadManifest,
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

const HELP = `contrast recover — bring a Coordinator that lost its state back, with the same root CA.

After a restart the Coordinator is in recovery mode ("contrast verify" says so) until seed-share
owners give it the seed back. The seed always travels sealed to the Coordinator's attested key,
never in clear. The Coordinator then serves the same root CA and the manifest history it had.

Usage:
  contrast recover -c <host:port> [flags]
  contrast recover --decrypt-share --seedshare-owner-key <key> -o <share file>
  contrast recover -c <host:port> --share <file> --share <file> ... [flags]

One owner (the manifest has no SeedshareThreshold: each owner holds the whole seed, as upstream):
the first form decrypts your share of seed-shares.json with your key, attests the Coordinator
and sends the seed.

k of n owners (the manifest has SeedshareThreshold k, "contrast generate --seedshare-threshold"):
no owner alone can recover, and the seed is put together only inside the attested Coordinator.
  1. Each of k owners, offline, with their own key (second form): writes the owner's share,
     signed by the owner, file mode 0600. It is secret: hand it only to the recovery, delete it
     afterwards.
  2. Anyone holding k share files (third form): checks them (owners of the manifest, owner
     signatures, one seed, no duplicates, at least k), attests the Coordinator, and sends them
     sealed to its attested key; the Coordinator checks them again and combines them.

Flags:
  -c, --coordinator <host:port>     the Coordinator's API, port 1314 (required, except with
                                    --decrypt-share)
  -m, --manifest <file>             the manifest whose reference values it must meet; its
                                    SeedshareOwnerPubKeys and SeedshareThreshold are what the
                                    shares are checked against (default manifest.json)
      --seedshare-owner-key <file>  your RSA private key, PEM (default seedshare-owner.pem, as
                                    "contrast generate" made it)
      --seed <file>                 the seed shares written by the first "contrast set"
                                    (default seed-shares.json)
      --decrypt-share               k of n: decrypt your share offline and write it to -o
  -o, --output <file>               with --decrypt-share: the share file to write (mode 0600)
      --share <file>                k of n: an owner's share file (repeat for k owners)
      --force                       recover even if the Coordinator reports peers that could
                                    recover it
${collateralFlagsHelp(36)}      --insecure                    accept simulated platforms (demo and tests only)
  -h, --help                        show this help

Examples:
  contrast recover -c 203.0.113.7:1314     (seed-shares.json, seedshare-owner.pem in this directory)
  contrast verify -c 203.0.113.7:1314      (the same root CA, the manifest history as before)
  # 2 of 3 owners: alice and carol, each on their own machine, then one of them
  contrast recover --decrypt-share --seedshare-owner-key alice.pem -o share-alice.json
  contrast recover --decrypt-share --seedshare-owner-key carol.pem -o share-carol.json
  contrast recover -c 203.0.113.7:1314 --share share-alice.json --share share-carol.json

Refusals of share files, each its own message naming the file: too few ("2 of 3 shares needed, 1
given"), a duplicate (the same owner twice), a foreign share (an owner not in the manifest, another
k, or another seed: another deployment or an earlier generation), a tampered share (the owner's
signature does not verify).

Rollback check: when the workspace has verify/latest-transition (from "contrast verify"), the
recovered history must contain that transition; an older history (the store was rolled back to
an older, validly signed latest pointer) is reported as ROLLBACK with exit code 1.

Exit codes: 0 recovered (or, with --decrypt-share, the share written), 1 refused or unreachable
(attestation failed, the shares are not for this Coordinator, it is not in recovery mode) or
recovered into an older history (ROLLBACK), 2 bad usage or bad input (missing file, a key that
cannot open a share, share files that are too few, duplicate, foreign or tampered).
`;

async function run(args: string[], io: CliIo, platforms: CommandPlatforms): Promise<ExitCode> {
  const { values } = parseFlags(args, {
    ...COLLATERAL_FLAGS,
    coordinator: { type: 'string', short: 'c' },
    manifest: { type: 'string', short: 'm' },
    'seedshare-owner-key': { type: 'string' },
    seed: { type: 'string' },
    'decrypt-share': { type: 'boolean', default: false },
    output: { type: 'string', short: 'o' },
    share: { type: 'string', multiple: true },
    force: { type: 'boolean', default: false },
    insecure: { type: 'boolean', default: false },
  });
  const registry = registryWithCollateral(io, values, platforms);
  const shareFiles = values.share ?? [];
  if (values['decrypt-share'] && shareFiles.length > 0) {
    throw usageError(
      '--decrypt-share (one owner, offline) and --share (k owners, online) exclude each other',
    );
  }
  if (values.output !== undefined && !values['decrypt-share'])
    throw usageError('-o/--output goes with --decrypt-share');
  values.manifest ??= workspaceFile(io, 'manifest.json');
  values['seedshare-owner-key'] ??= workspaceFile(io, 'seedshare-owner.pem');
  values.seed ??= workspaceFile(io, 'seed-shares.json');
  if (values['decrypt-share']) {
    return decryptShare(io, { seed: values.seed, key: values['seedshare-owner-key'], output: values.output });
  }
  const loaded = await loadManifest(io, values.manifest);
  const threshold = loaded.manifest.SeedshareThreshold ?? 1;
  let send: (client: CoordinatorClient) => Promise<unknown>;
  // Wipes the seed the one-owner form opened, whatever happens after.
  let wipe = () => {};
  if (shareFiles.length > 0) {
    if (threshold < 2) {
      throw usageError(
        `${values.manifest} has no SeedshareThreshold above 1: each owner recovers alone with --seedshare-owner-key (no --share)`,
      );
    }
    const shares = await readShares(io, shareFiles);
    // The salt of the workspace's seed-shares.json, when there is one: a share of another seed is foreign.
    const docBytes = await readOptional(io, values.seed, '--seed');
    const doc = docBytes ? parseSeedShareDocument(docBytes, values.seed) : undefined;
    try {
      const checked = checkReleasedShares(shares, {
        ownerKeys: loaded.manifest.SeedshareOwnerPubKeys ?? [],
        threshold,
        ...(doc ? { salt: new Uint8Array(Buffer.from(doc.salt, 'base64')) } : {}),
      });
      for (const s of checked.shares) s.fill(0);
    } catch (e) {
      if (e instanceof SeedShareSetError) throw usageError(namingFiles(e.message, shareFiles, values.seed));
      throw e;
    }
    io.stderr(`${shares.length} of ${threshold} needed shares checked.\n`);
    send = (client) => client.recoverWithShares({ shares, force: values.force });
  } else {
    const docBytes = await readInput(io, values.seed, '--seed');
    const doc = parseSeedShareDocument(docBytes, values.seed);
    if ((doc.Threshold ?? 1) > 1 || threshold > 1) {
      const k = Math.max(doc.Threshold ?? 1, threshold);
      throw usageError(
        `the seed is split ${k}-of-${doc.SeedShares.length} (${doc.Threshold ? values.seed : values.manifest}): no owner recovers alone. ` +
          'Each of k owners runs "contrast recover --decrypt-share --seedshare-owner-key <key> -o <share file>", ' +
          'then "contrast recover -c <host:port> --share <file> --share <file> ..." sends the k files',
      );
    }
    const keyPem = new TextDecoder().decode(
      await readInput(io, values['seedshare-owner-key'], '--seedshare-owner-key'),
    );
    let seed: Uint8Array;
    let salt: Uint8Array;
    try {
      ({ seed, salt } = recoverSeed(doc, [openSeedShare(doc, keyPem)]));
    } catch (e) {
      throw usageError(
        `${values['seedshare-owner-key']} cannot open a share of ${values.seed}: ${(e as Error).message}`,
      );
    }
    send = (client) => client.recover({ seed, salt, ownerPrivateKey: keyPem, force: values.force });
    wipe = () => seed.fill(0);
  }
  try {
    io.stderr(`Attesting the Coordinator at ${values.coordinator ?? '(none)'} ...\n`);
    const client = await connectCoordinator(io, {
      address: values.coordinator as string,
      loaded,
      registry,
      allowInsecure: values.insecure,
    });
    await send(client);
  } catch (e) {
    if (e instanceof ApiError) {
      const message = shareFiles.length > 0 ? namingFiles(e.message, shareFiles, values.seed) : e.message;
      throw operationFailed(`the Coordinator refused recovery (${e.apiCode}): ${message}`);
    }
    throw e;
  } finally {
    wipe();
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

/** Parses a seed-share document (upstream's seed-shares.json, plus our Threshold); bad input names file and field. */
function parseSeedShareDocument(bytes: Uint8Array, file: string): SeedShareDocument {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw usageError(`--seed ${file}: not JSON`);
  }
  const doc = SeedShareDocumentSchema.safeParse(json);
  if (!doc.success) {
    const issue = doc.error.issues[0];
    throw usageError(`--seed ${file}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  return doc.data;
}

/**
 * `--decrypt-share`: the owner side of k-of-n recovery, offline. Opens this owner's share of the
 * split seed-shares.json, signs it, and writes it to `-o` (mode 0600, never to stdout).
 */
async function decryptShare(
  io: CliIo,
  files: { seed: string; key: string; output: string | undefined },
): Promise<ExitCode> {
  if (files.output === undefined)
    throw usageError('--decrypt-share needs -o <file> for your share (it is secret)');
  const doc = parseSeedShareDocument(await readInput(io, files.seed, '--seed'), files.seed);
  if ((doc.Threshold ?? 1) < 2) {
    throw usageError(
      `--seed ${files.seed}: not split (no Threshold above 1): each owner holds the whole seed; recover with "contrast recover -c <host:port> --seedshare-owner-key ${files.key}"`,
    );
  }
  const keyPem = new TextDecoder().decode(await readInput(io, files.key, '--seedshare-owner-key'));
  let released: ReleasedSeedShare;
  try {
    released = releaseSeedShare(doc, keyPem);
  } catch (e) {
    throw usageError(`${files.key} cannot open a share of ${files.seed}: ${(e as Error).message}`);
  }
  await writeFilesAtomic([
    {
      path: resolveIn(io, files.output),
      data: new TextEncoder().encode(`${JSON.stringify(released, null, 2)}\n`),
      mode: 0o600,
    },
  ]);
  io.stdout(
    `Wrote your share (${seedShareOwnerFingerprint(released.owner)}, ${doc.Threshold} of ${doc.SeedShares.length} needed) to ${files.output}.\n`,
  );
  io.stderr(
    `${files.output} is secret: ${doc.Threshold} such files recover the seed. Hand it only to the recovery ("contrast recover -c <host:port> --share ${files.output} --share ..."), then delete it.\n`,
  );
  return EXIT.ok;
}

/** Reads `--share` files; each is checked against the wire schema, errors name the file and field. */
async function readShares(io: CliIo, files: readonly string[]): Promise<ReleasedSeedShareWire[]> {
  const out: ReleasedSeedShareWire[] = [];
  for (const file of files) {
    const bytes = await readInput(io, file, '--share');
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      throw usageError(
        `--share ${file}: not JSON (a share file written by "contrast recover --decrypt-share")`,
      );
    }
    const parsed = ReleasedSeedShareSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field =
        issue?.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue?.path.join('.') || '(root)';
      throw usageError(`--share ${file}: ${field}: ${issue?.message ?? 'invalid'}`);
    }
    out.push(parsed.data);
  }
  return out;
}

/** "share 2 (owner ...)" -> "share-bob.json (owner ...)": messages of a share check name the files. */
function namingFiles(message: string, files: readonly string[], seedFile: string): string {
  return message
    .replace(/\bshare (\d+)('s)?\b/g, (whole, n: string, s: string | undefined) => {
      const file = files[Number(n) - 1];
      return file ? `--share ${file}${s ?? ''}` : whole;
    })
    .replace("the seed-share document's", `${seedFile}'s`);
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

/**
 * `contrast recover`, over the CLI's platform registry (`registryFor` rebuilds it on the collateral
 * sources of --kds-url / --pcs-url).
 */
export function createRecoverCommand(platforms: CommandPlatforms): Command {
  return {
    name: 'recover',
    summary: 'give a restarted Coordinator its seed back (seed-share owner)',
    help: HELP,
    run: (args, io) => runCommand('recover', io, () => run(args, io, platforms)),
  };
}
