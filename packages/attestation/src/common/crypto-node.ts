// The synchronous crypto backend of the Node entry points: node:crypto (OpenSSL).

import { createPublicKey, constants as cryptoConstants, hash, type KeyObject, verify } from 'node:crypto';
import {
  type CryptoRequest,
  type CryptoSteps,
  CURVE_BYTES,
  type HashName,
  type PublicKeyInfo,
  runSync,
  type SyncCryptoBackend,
} from './crypto.js';

const NODE_HASH: Record<HashName, string> = {
  'SHA-1': 'sha1',
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
};

const keys = new WeakMap<PublicKeyInfo, KeyObject | null>();

function keyObject(info: PublicKeyInfo): KeyObject | null {
  let key = keys.get(info);
  if (key === undefined) {
    try {
      key = createPublicKey({ key: Buffer.from(info.spki), format: 'der', type: 'spki' });
    } catch {
      key = null;
    }
    keys.set(info, key);
  }
  return key;
}

/** r||s (each half of it) as a DER ECDSA-Sig-Value: Node verifies DER a little faster than P1363. */
export function rsToDer(rs: Uint8Array): Uint8Array | undefined {
  const half = rs.length / 2;
  if (!Number.isInteger(half) || half === 0 || half > 66) return undefined;
  // The body goes from offset 3; the header (2 or 3 bytes) right before it.
  const out = Buffer.allocUnsafe(rs.length + 9);
  let at = 3;
  for (const start of [0, half]) {
    let i = start;
    while (i < start + half - 1 && rs[i] === 0) i++;
    const pad = rs[i]! & 0x80 ? 1 : 0;
    out[at++] = 0x02;
    out[at++] = start + half - i + pad;
    if (pad) out[at++] = 0;
    out.set(rs.subarray(i, start + half), at);
    at += start + half - i;
  }
  const len = at - 3;
  if (len < 0x80) {
    out[1] = 0x30;
    out[2] = len;
    return out.subarray(1, at);
  }
  out[0] = 0x30;
  out[1] = 0x81;
  out[2] = len;
  return out.subarray(0, at);
}

function verifyRequest(r: Extract<CryptoRequest, { op: 'verify' }>): boolean {
  const key = keyObject(r.key);
  if (!key) return false;
  const hash = NODE_HASH[r.scheme.hash];
  try {
    switch (r.scheme.name) {
      case 'ecdsa': {
        if (r.scheme.encoding === 'der') return verify(hash, r.data, key, r.signature);
        const size = r.key.curve ? CURVE_BYTES[r.key.curve] : undefined;
        if (size === undefined || r.signature.length !== 2 * size) return false;
        const der = rsToDer(r.signature);
        return der !== undefined && verify(hash, r.data, key, der);
      }
      case 'rsa-pkcs1':
        return verify(hash, r.data, key, r.signature);
      case 'rsa-pss':
        return verify(
          hash,
          r.data,
          { key, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: r.scheme.saltLength },
          r.signature,
        );
    }
  } catch {
    return false;
  }
}

/** node:crypto as a synchronous backend. */
export const nodeCrypto: SyncCryptoBackend = {
  verify: verifyRequest,
  digest: (r) => new Uint8Array(hash(NODE_HASH[r.hash], r.data, 'buffer')),
};

/** Runs verification steps with node:crypto. */
export function runNode<T>(steps: CryptoSteps<T>): T {
  return runSync(steps, nodeCrypto);
}
