import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { ContrastError, toHex } from '@contrast-cc/core';

function publicKeyOf(pem: string | Uint8Array, what: string): KeyObject {
  try {
    // A private key PEM yields its public half; a PUBLIC KEY PEM is taken as is.
    return createPublicKey(typeof pem === 'string' ? pem : Buffer.from(pem));
  } catch (error) {
    // The message never quotes the input: it may be a private key.
    throw new ContrastError('invalid-argument', `${what}: not a PEM key`, { cause: error });
  }
}

/**
 * The manifest form of a workload owner key: hex of the PKIX (SubjectPublicKeyInfo) DER of its
 * public half. Accepts an EC private key or a PUBLIC KEY PEM; refuses non-ECDSA keys.
 * @public
 */
export function workloadOwnerKeyHex(pem: string | Uint8Array): string {
  const key = publicKeyOf(pem, 'workload owner key');
  if (key.asymmetricKeyType !== 'ec') {
    throw new ContrastError('invalid-argument', 'workload owner key: must be an ECDSA key');
  }
  return toHex(key.export({ format: 'der', type: 'spki' }));
}

/** The older manifest form: hex sha256 of the PKIX DER (`WorkloadOwnerKeyDigests`). @public */
export function workloadOwnerKeyDigest(pem: string | Uint8Array): string {
  const key = publicKeyOf(pem, 'workload owner key');
  return toHex(
    createHash('sha256')
      .update(key.export({ format: 'der', type: 'spki' }))
      .digest(),
  );
}

/**
 * The manifest form of a seed-share owner key: hex of the PKCS#1 DER of the RSA public key.
 * @public
 */
export function seedshareOwnerKeyHex(pem: string | Uint8Array): string {
  const key = publicKeyOf(pem, 'seed-share owner key');
  if (key.asymmetricKeyType !== 'rsa') {
    throw new ContrastError('invalid-argument', 'seed-share owner key: must be an RSA key');
  }
  return toHex(key.export({ format: 'der', type: 'pkcs1' }));
}
