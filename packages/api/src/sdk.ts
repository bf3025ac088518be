// The vendor SDK call: what `contrast verify` does, as one function with a typed result.

import { fetchAttestation } from '@contrast-cc/atls';
import { type Logger, noopLogger, type PlatformRegistry } from '@contrast-cc/core';
import { parseManifest } from '@contrast-cc/manifest';
import {
  type CoordinatorAttestation,
  type CoordinatorVerdict,
  coordinatorPolicyHashesOf,
  verifyCoordinatorAttestation,
} from './coordinator-verify.js';
import { verifiersForReferenceValues } from './verifiers.js';

/** Options of {@link verifyCoordinator}. @public */
export interface VerifyCoordinatorOptions {
  /** The Coordinator's API address (port 1314 in a deployment). */
  host: string;
  port: number;
  /** The manifest you expect it to run, as bytes (its reference values and coordinator policies are used). */
  manifest: Uint8Array;
  /** The platforms you trust, e.g. `createPlatformRegistry([...])` from `@contrast-cc/core`. */
  registry: PlatformRegistry;
  /** Accept simulated (insecure) platforms: demos and tests only. Default false. */
  allowInsecure?: boolean;
  timeoutMs?: number;
  logger?: Logger;
}

/** The outcome of {@link verifyCoordinator}: the verdict and what it was reached from. @public */
export interface CoordinatorVerification {
  /** `ok: true` with the report (manifest history, policies, root CA), or the reason. */
  verdict: CoordinatorVerdict;
  /** What the Coordinator answered (nonce, TLS key, answer): store it to verify again later. */
  attestation: CoordinatorAttestation;
  /** When the answer was received (the time certificates and collateral were checked at). */
  at: Date;
}

/**
 * Does what `contrast verify` does, as a library call: attests the Coordinator at `host:port`
 * with a fresh nonce on a TLS connection, verifies its evidence against the reference values of
 * `manifest` (and its coordinator policy hashes), the binding of nonce, TLS key and state, the
 * manifest history and policies, and checks that the active manifest is `manifest` byte for
 * byte. Returns a typed verdict; throws only for bad input (`invalid-argument`, e.g. a manifest
 * that does not validate or names an unknown platform) and when the Coordinator cannot be reached
 * (`unavailable`).
 *
 * ```ts
 * const { verdict } = await verifyCoordinator({ host, port: 1314, manifest, registry });
 * if (!verdict.ok) throw new Error(`${verdict.reason.code}: ${verdict.reason.message}`);
 * console.log(verdict.report.rootCaFingerprint);
 * ```
 * @public
 */
export async function verifyCoordinator(options: VerifyCoordinatorOptions): Promise<CoordinatorVerification> {
  const logger = options.logger ?? noopLogger;
  const { manifest } = parseManifest(options.manifest);
  const verifiers = verifiersForReferenceValues(options.registry, manifest.ReferenceValues, logger);
  const fetched = await fetchAttestation({
    host: options.host,
    port: options.port,
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  });
  const at = new Date();
  const attestation: CoordinatorAttestation = {
    nonce: fetched.nonce,
    tlsSpki: fetched.spki,
    response: fetched.response,
  };
  const verdict = await verifyCoordinatorAttestation(attestation, {
    verifiers,
    manifest: options.manifest,
    coordinatorPolicyHashes: coordinatorPolicyHashesOf(options.manifest),
    allowInsecure: options.allowInsecure ?? false,
    now: at,
  });
  if (verdict.ok) {
    logger.info('coordinator verified', {
      manifestHash: verdict.report.manifestHash,
      insecure: verdict.report.insecure,
    });
  } else {
    logger.warn('coordinator not verified', { code: verdict.reason.code, field: verdict.reason.field });
  }
  return { verdict, attestation, at };
}
