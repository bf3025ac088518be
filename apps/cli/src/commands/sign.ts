import { manifestHash, signTransitionAsOwner, transitionHash } from '@contrast-cc/certs';
import { fromHex, toHex } from '@contrast-cc/core';
import { writeFilesAtomic } from '@contrast-cc/core/fs';
import { parseManifest, workloadOwnerKeyHex } from '@contrast-cc/manifest';
import type { Command } from '../command.js';
import { type CliIo, EXIT, type ExitCode } from '../io.js';
import {
  parseFlags,
  readInput,
  readOptional,
  resolveIn,
  runCommand,
  usageError,
  workspaceFile,
} from '../util.js';

const HELP = `contrast sign — sign a manifest update as a workload owner, offline.

A manifest update is authorized by a workload owner's signature over the next transition hash,
sha256(sha256(manifest) || latest transition hash). This computes that hash and signs it with your
key, or with --prepare only writes the hash so that you can sign it elsewhere (the signature is
ECDSA with SHA-256 over the file's hex text, DER-encoded, as openssl makes it). Nothing is sent
anywhere: run "contrast verify" first so that verify/latest-transition is the Coordinator's
current state, and pass the signature to "contrast set --signature".

Usage:
  contrast sign --out <file> [flags]

Flags:
  -m, --manifest <file>             the manifest to set (default manifest.json)
      --workload-owner-key <file>   the owner's ECDSA private key, PEM (default workload-owner.pem)
      --latest-transition <hex>     the Coordinator's current transition hash (default: the file
                                    verify/latest-transition written by "contrast verify", else
                                    64 zeros for a Coordinator without manifest)
      --prepare                     write the transition hash (hex) instead of a signature
  -o, --out <file>                  where to write the signature (DER) or, with --prepare, the hash
                                    (required)
      --json                        print { transitionHash, out, prepared } as JSON
  -h, --help                        show this help

Examples:
  contrast verify -c 203.0.113.7:1314           (writes verify/latest-transition)
  contrast sign -o transition.sig               (with workload-owner.pem here)
  contrast set -c 203.0.113.7:1314 --signature transition.sig resources/

  # the key is elsewhere (an HSM, another person): prepare, sign there, then set
  contrast sign --prepare -o next-transition
  openssl dgst -sha256 -sign workload-owner.pem -out transition.sig next-transition

Exit codes: 0 written, 1 the output could not be written, 2 bad usage or bad input (missing
files, bad key, bad hash).
`;

async function run(args: string[], io: CliIo): Promise<ExitCode> {
  const { values } = parseFlags(args, {
    manifest: { type: 'string', short: 'm' },
    'workload-owner-key': { type: 'string' },
    'latest-transition': { type: 'string' },
    prepare: { type: 'boolean', default: false },
    out: { type: 'string', short: 'o' },
    json: { type: 'boolean', default: false },
  });
  if (!values.out) throw usageError('--out is required');
  const manifestFile = values.manifest ?? workspaceFile(io, 'manifest.json');
  const manifestBytes = await readInput(io, manifestFile, '--manifest');
  const { manifest } = parseManifest(manifestBytes, { file: manifestFile });

  let previous: Uint8Array;
  if (values['latest-transition'] !== undefined) {
    previous = fromHex(values['latest-transition'].trim(), { field: '--latest-transition', length: 32 });
  } else {
    const savedFile = workspaceFile(io, 'verify/latest-transition');
    const saved = await readOptional(io, savedFile, savedFile);
    previous = saved
      ? fromHex(new TextDecoder().decode(saved).trim(), { field: savedFile, length: 32 })
      : new Uint8Array(32);
  }
  const next = transitionHash(manifestHash(manifestBytes), previous);
  let data: Uint8Array;
  if (values.prepare) {
    data = new TextEncoder().encode(toHex(next));
  } else {
    const keyFile = values['workload-owner-key'] ?? workspaceFile(io, 'workload-owner.pem');
    const key = await readInput(io, keyFile, '--workload-owner-key');
    let ownerHex: string;
    try {
      ownerHex = workloadOwnerKeyHex(key);
    } catch {
      throw usageError(`--workload-owner-key ${keyFile}: not an ECDSA private key in PEM`);
    }
    const owners = manifest.WorkloadOwnerPubKeys ?? [];
    if (!owners.map((k: string) => k.toLowerCase()).includes(ownerHex)) {
      io.stderr(
        `warning: ${keyFile} is not one of the manifest's WorkloadOwnerPubKeys; the Coordinator will refuse this signature unless the current manifest lists it\n`,
      );
    }
    try {
      data = signTransitionAsOwner(next, new TextDecoder().decode(key));
    } catch {
      throw usageError(`--workload-owner-key ${keyFile}: cannot sign with this key`);
    }
  }
  const out = resolveIn(io, values.out);
  await writeFilesAtomic([{ path: out, data, mode: 0o644 }]);
  if (values.json)
    io.stdout(
      `${JSON.stringify({ transitionHash: toHex(next), out: values.out, prepared: values.prepare })}\n`,
    );
  else
    io.stdout(
      `${values.prepare ? 'transition hash' : 'signature over transition'} ${toHex(next)} written to ${values.out}\n`,
    );
  return EXIT.ok;
}

/** `contrast sign`: the workload owner's offline signature over the next transition. */
export function createSignCommand(): Command {
  return {
    name: 'sign',
    summary: 'sign a manifest update as a workload owner, offline (or --prepare the hash)',
    help: HELP,
    run: (args, io) => runCommand('sign', io, () => run(args, io)),
  };
}
