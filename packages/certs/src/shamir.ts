import { createHash, randomBytes } from 'node:crypto';
import { bytesEqual, ContrastError } from '@contrast-cc/core';

// Arithmetic in GF(2^8) with the AES reduction polynomial x^8 + x^4 + x^3 + x + 1 (0x11b),
// through log/antilog tables over the generator 3.
const EXP = new Uint8Array(510);
const LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    // x *= 3  (x*2 xor x, reduced)
    let x2 = x << 1;
    if (x2 & 0x100) x2 ^= 0x11b;
    x = x2 ^ x;
  }
  for (let i = 255; i < 510; i++) EXP[i] = EXP[i - 255]!;
}

function mul(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  return EXP[LOG[a]! + LOG[b]!]!;
}

function div(a: number, b: number): number {
  if (b === 0) throw new ContrastError('internal', 'division by zero in GF(256)');
  if (a === 0) return 0;
  return EXP[LOG[a]! + 255 - LOG[b]!]!;
}

/** Share format version byte. */
const SHARE_VERSION = 1;
/** Bytes of SHA-256(secret) appended to the secret before splitting, to detect wrong recombination. */
const CHECK_LENGTH = 16;
const HEADER_LENGTH = 3;

/**
 * One Shamir share, serialized as `version(1) || threshold(1) || x(1) || y(len(secret) + 16)`.
 * The shared value is `secret || SHA-256(secret)[0:16]`, so combining too few or mismatched
 * shares is detected instead of yielding a wrong secret.
 * @public
 */
export type ShamirShare = Uint8Array;

/**
 * Splits a secret into `shares` Shamir shares over GF(256), any `threshold` of which recover it.
 * Each byte position gets its own random polynomial of degree threshold-1; share i is its value
 * at x = i (1-based).
 * @public
 */
export function splitSecret(
  secret: Uint8Array,
  options: { threshold: number; shares: number },
): ShamirShare[] {
  const { threshold, shares } = options;
  if (!Number.isInteger(shares) || shares < 1 || shares > 255) {
    throw new ContrastError('invalid-argument', 'number of shares must be an integer in 1..255', {
      field: 'shares',
    });
  }
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > shares) {
    throw new ContrastError('invalid-argument', `threshold must be an integer in 1..${shares}`, {
      field: 'threshold',
    });
  }
  if (secret.length === 0) {
    throw new ContrastError('invalid-argument', 'secret must not be empty', { field: 'secret' });
  }
  const check = createHash('sha256').update(secret).digest().subarray(0, CHECK_LENGTH);
  const value = new Uint8Array(secret.length + CHECK_LENGTH);
  value.set(secret);
  value.set(check, secret.length);

  const out: ShamirShare[] = [];
  for (let i = 0; i < shares; i++) {
    const share = new Uint8Array(HEADER_LENGTH + value.length);
    share[0] = SHARE_VERSION;
    share[1] = threshold;
    share[2] = i + 1;
    out.push(share);
  }
  const coefficients = new Uint8Array(threshold);
  for (let pos = 0; pos < value.length; pos++) {
    coefficients[0] = value[pos]!;
    coefficients.set(randomBytes(threshold - 1), 1);
    for (let i = 0; i < shares; i++) {
      const x = i + 1;
      // Horner's rule, highest coefficient first.
      let y = 0;
      for (let c = threshold - 1; c >= 0; c--) y = mul(y, x) ^ coefficients[c]!;
      out[i]![HEADER_LENGTH + pos] = y;
    }
  }
  coefficients.fill(0);
  value.fill(0);
  return out;
}

/**
 * Recovers the secret from at least `threshold` shares (Lagrange interpolation at x = 0). Throws
 * `invalid-argument` for malformed or too few shares and `permission-denied` when the recombined
 * value fails its check (shares from different splits, tampered shares).
 * @public
 */
export function combineShares(shares: readonly ShamirShare[]): Uint8Array {
  if (shares.length === 0) {
    throw new ContrastError('invalid-argument', 'no shares given', { field: 'shares' });
  }
  const first = shares[0]!;
  if (first.length <= HEADER_LENGTH + CHECK_LENGTH) {
    throw new ContrastError('invalid-argument', 'share is too short', { field: 'shares[0]' });
  }
  const threshold = first[1]!;
  const seen = new Set<number>();
  shares.forEach((s, i) => {
    if (s.length !== first.length || s[0] !== SHARE_VERSION || s[1] !== threshold) {
      throw new ContrastError('invalid-argument', 'shares differ in version, threshold or length', {
        field: `shares[${i}]`,
      });
    }
    const x = s[2]!;
    if (x === 0 || seen.has(x)) {
      throw new ContrastError('invalid-argument', 'share index is zero or repeated', {
        field: `shares[${i}]`,
      });
    }
    seen.add(x);
  });
  if (shares.length < threshold) {
    throw new ContrastError(
      'invalid-argument',
      `need at least ${threshold} shares to recover the secret, got ${shares.length}`,
      { field: 'shares' },
    );
  }
  const used = shares.slice(0, threshold);
  const xs = used.map((s) => s[2]!);
  // Lagrange basis at 0: l_j = prod_{m != j} x_m / (x_m - x_j); subtraction is xor.
  const basis = xs.map((xj, j) => {
    let num = 1;
    let den = 1;
    xs.forEach((xm, m) => {
      if (m === j) return;
      num = mul(num, xm);
      den = mul(den, xm ^ xj);
    });
    return div(num, den);
  });
  const length = first.length - HEADER_LENGTH;
  const value = new Uint8Array(length);
  for (let pos = 0; pos < length; pos++) {
    let acc = 0;
    for (let j = 0; j < used.length; j++) acc ^= mul(basis[j]!, used[j]![HEADER_LENGTH + pos]!);
    value[pos] = acc;
  }
  const secret = value.slice(0, length - CHECK_LENGTH);
  const check = createHash('sha256').update(secret).digest().subarray(0, CHECK_LENGTH);
  const ok = bytesEqual(new Uint8Array(check), value.subarray(length - CHECK_LENGTH));
  value.fill(0);
  if (!ok) {
    secret.fill(0);
    throw new ContrastError(
      'permission-denied',
      'the shares do not recombine to a consistent secret (wrong, tampered or mixed shares)',
      { field: 'shares' },
    );
  }
  return secret;
}
