// The asynchronous crypto backend of the browser entry points: WebCrypto (globalThis.crypto.subtle),
// available in browsers and in Node >= 20 alike. Browser-safe: no node: imports.

import {
  type AsyncCryptoBackend,
  type CryptoRequest,
  type CryptoSteps,
  CURVE_BYTES,
  type PublicKeyInfo,
  runAsync,
} from './crypto.js';
import { DER_TAG, derChildren, derContent, expectTag, readDerExact } from './der.js';

function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  if (!s)
    throw new Error('WebCrypto (crypto.subtle) is not available: use a secure context (https or localhost)');
  return s;
}

const keys = new WeakMap<PublicKeyInfo, Map<string, Promise<CryptoKey | null>>>();

function importKey(
  info: PublicKeyInfo,
  algorithm: RsaHashedImportParams | EcKeyImportParams,
): Promise<CryptoKey | null> {
  let perAlg = keys.get(info);
  if (!perAlg) {
    perAlg = new Map();
    keys.set(info, perAlg);
  }
  const id = JSON.stringify(algorithm);
  let key = perAlg.get(id);
  if (!key) {
    key = subtle()
      .importKey('spki', info.spki as BufferSource, algorithm, false, ['verify'])
      .catch(() => null);
    perAlg.set(id, key);
  }
  return key;
}

/** A DER ECDSA-Sig-Value as r||s of `size` bytes each; undefined when it does not fit. */
export function derToRs(sig: Uint8Array, size: number): Uint8Array | undefined {
  try {
    const [r, s] = derChildren(expectTag(readDerExact(sig, 'signature'), DER_TAG.sequence, 'signature'));
    const out = new Uint8Array(2 * size);
    for (const [i, n] of [r, s].entries()) {
      let v = derContent(expectTag(n, DER_TAG.integer, 'signature'));
      while (v.length > 1 && v[0] === 0) v = v.subarray(1);
      if (v.length > size) return undefined;
      out.set(v, (i + 1) * size - v.length);
    }
    return out;
  } catch {
    return undefined;
  }
}

async function verifyRequest(r: Extract<CryptoRequest, { op: 'verify' }>): Promise<boolean> {
  try {
    const { scheme } = r;
    if (scheme.name === 'ecdsa') {
      if (r.key.type !== 'ec' || !r.key.curve) return false;
      const size = CURVE_BYTES[r.key.curve];
      const sig = scheme.encoding === 'der' ? derToRs(r.signature, size) : r.signature;
      if (!sig || sig.length !== 2 * size) return false;
      const key = await importKey(r.key, { name: 'ECDSA', namedCurve: r.key.curve });
      if (!key) return false;
      return await subtle().verify(
        { name: 'ECDSA', hash: scheme.hash },
        key,
        sig as BufferSource,
        r.data as BufferSource,
      );
    }
    if (r.key.type !== 'rsa') return false;
    if (scheme.name === 'rsa-pkcs1') {
      const key = await importKey(r.key, { name: 'RSASSA-PKCS1-v1_5', hash: scheme.hash });
      if (!key) return false;
      return await subtle().verify(
        'RSASSA-PKCS1-v1_5',
        key,
        r.signature as BufferSource,
        r.data as BufferSource,
      );
    }
    const key = await importKey(r.key, { name: 'RSA-PSS', hash: scheme.hash });
    if (!key) return false;
    return await subtle().verify(
      { name: 'RSA-PSS', saltLength: scheme.saltLength },
      key,
      r.signature as BufferSource,
      r.data as BufferSource,
    );
  } catch {
    return false;
  }
}

/** WebCrypto as an asynchronous backend. */
export const webCrypto: AsyncCryptoBackend = {
  verify: verifyRequest,
  digest: async (r) => new Uint8Array(await subtle().digest(r.hash, r.data as BufferSource)),
};

/** Runs verification steps with WebCrypto. */
export function runWeb<T>(steps: CryptoSteps<T>): Promise<T> {
  return runAsync(steps, webCrypto);
}
