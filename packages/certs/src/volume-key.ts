import { hkdfSync } from 'node:crypto';
import { ContrastError } from '@contrast-cc/core';

/**
 * The HKDF `info` label of the secure-PV volume key. Part of the on-disk format of every
 * encrypted volume (the LUKS2 key slot is opened with the key it derives): never change it, or
 * existing volumes no longer open.
 * @public
 */
export const VOLUME_KEY_LABEL = 'CONTRAST SECURE PV KEY v1';

/** Length of the volume key in bytes. @public */
export const VOLUME_KEY_LENGTH = 32;

/**
 * The key that opens a workload's encrypted persistent volumes:
 * `HKDF-SHA256(ikm = workload secret, salt = empty, info = "CONTRAST SECURE PV KEY v1")`, 32
 * bytes. The workload secret is derived from the Coordinator's seed and the WorkloadSecretID, so
 * the volume key is the same after manifest updates and Coordinator recovery, for every pod with
 * that WorkloadSecretID. The caller owns the returned bytes: pass them to cryptsetup on stdin and
 * zero them (`fill(0)`) when done; never write them to a file or a log.
 * @public
 */
export function deriveVolumeKey(workloadSecret: Uint8Array): Uint8Array {
  if (!(workloadSecret instanceof Uint8Array) || workloadSecret.length < 32) {
    throw new ContrastError('invalid-argument', 'workload secret must be at least 32 bytes', {
      field: 'workloadSecret',
    });
  }
  return new Uint8Array(
    hkdfSync('sha256', workloadSecret, new Uint8Array(0), VOLUME_KEY_LABEL, VOLUME_KEY_LENGTH),
  );
}
