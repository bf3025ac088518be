// A vendor's program that checks a Contrast deployment before it trusts it: what
// `contrast verify` does, through one library call (`verifyCoordinator` of @contrast-cc/api).
//
//   verify-coordinator <host:port> <manifest.json>
//
// Exit 0 and the facts to rely on (manifest hash, root CA fingerprint) when the Coordinator runs
// exactly that manifest on the hardware its reference values name; exit 1 and the reason
// otherwise; exit 2 for bad input.

import { readFile } from 'node:fs/promises';
import { type CoordinatorVerification, verifyCoordinator } from '@contrast-cc/api';
import { createPlatformRegistry, isContrastError, type Platform } from '@contrast-cc/core';
import { aksClhSnp } from '@contrast-cc/platform-aks';
import { metalQemuSnp } from '@contrast-cc/platform-baremetal-snp';
import { metalQemuTdx } from '@contrast-cc/platform-baremetal-tdx';

/** The platforms this vendor trusts: real hardware only. */
export const TRUSTED_PLATFORMS: readonly Platform[] = [metalQemuSnp, metalQemuTdx, aksClhSnp];

export interface Output {
  out(line: string): void;
  err(line: string): void;
}

/** Runs the program; returns the exit code. `platforms` and `allowInsecure` are for tests. */
export async function main(
  argv: readonly string[],
  output: Output,
  options: { platforms?: readonly Platform[]; allowInsecure?: boolean } = {},
): Promise<number> {
  const [address, manifestFile] = argv;
  const m = /^(.+):(\d{1,5})$/.exec(address ?? '');
  if (!m || !manifestFile) {
    output.err('usage: verify-coordinator <host:port> <manifest.json>');
    return 2;
  }
  let result: CoordinatorVerification;
  try {
    result = await verifyCoordinator({
      host: m[1]!.replace(/^\[|\]$/g, ''),
      port: Number(m[2]),
      manifest: new Uint8Array(await readFile(manifestFile)),
      registry: createPlatformRegistry([...(options.platforms ?? TRUSTED_PLATFORMS)]),
      allowInsecure: options.allowInsecure ?? false,
    });
  } catch (e) {
    // Bad input (an unreadable or invalid manifest) or an unreachable Coordinator.
    output.err(`cannot verify: ${isContrastError(e) ? e.describe() : (e as Error).message}`);
    return isContrastError(e) && e.code === 'unavailable' ? 1 : 2;
  }
  const { verdict } = result;
  if (!verdict.ok) {
    output.err(
      `NOT VALID: ${verdict.reason.code}${verdict.reason.field ? ` (${verdict.reason.field})` : ''}: ${verdict.reason.message}`,
    );
    return 1;
  }
  const r = verdict.report;
  output.out(`VALID${r.insecure ? ' (SIMULATED: insecure)' : ''}`);
  output.out(
    `manifest ${r.manifestHash} (${r.manifests.length} in the history, ${r.policies.length} policies)`,
  );
  output.out(`root CA sha256 ${r.rootCaFingerprint}`);
  return 0;
}
