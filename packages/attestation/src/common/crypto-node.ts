// The synchronous crypto backend of the Node entry points: node:crypto (OpenSSL).

import {
  createHash,
  createPublicKey,
  constants as cryptoConstants,
  type KeyObject,
  verify,
} from 'node:crypto';
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

/** r||s (each `half` bytes) as a DER ECDSA-Sig-Value: Node verifies DER a little faster than P1363. */
export function rsToDer(rs: Uint8Array): Uint8Array | undefined {
  const half = rs.length / 2;
  if (!Number.isInteger(half) || half === 0 || half > 66) return undefined;
  const parts: Uint8Array[] = [];
  for (const start of [0, half]) {
    let i = start;
    while (i < start + half - 1 && rs[i] === 0) i++;
    const pad = rs[i]! & 0x80 ? 1 : 0;
    const body = new Uint8Array(start + half - i + pad);
    body.set(rs.subarray(i, start + half), pad);
    parts.push(Uint8Array.of(0x02, body.length), body);
  }
  const len = parts.reduce((n, p) => n + p.length, 0);
  const head = len < 0x80 ? Uint8Array.of(0x30, len) : Uint8Array.of(0x30, 0x81, len);
  return Buffer.concat([head, ...parts]);
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
  digest: (r) => new Uint8Array(createHash(NODE_HASH[r.hash]).update(r.data).digest()),
};

/** Runs verification steps with node:crypto. */
export function runNode<T>(steps: CryptoSteps<T>): T {
  return runSync(steps, nodeCrypto);
}
