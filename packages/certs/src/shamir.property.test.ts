import { createHash } from 'node:crypto';
import { toHex } from '@contrast-cc/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { combineShares, splitSecret } from './shamir.js';
import { golden } from './test-support/golden.js';

describe('Shamir properties', () => {
  it('any k of n shares recover the secret; k-1 are refused', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 80 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 0, max: 7 }),
        fc.integer(),
        (secret, n, kOffset, seed) => {
          const k = 1 + (kOffset % n);
          const shares = splitSecret(secret, { threshold: k, shares: n });
          // a pseudo-random subset of size k, chosen from the seed
          const order = shares
            .map((s, i) => ({ s, r: (i * 2654435761 + seed) >>> 0 }))
            .sort((a, b) => a.r - b.r);
          const pick = order.slice(0, k).map((o) => o.s);
          expect(toHex(combineShares(pick))).toBe(toHex(secret));
          if (k > 1) expect(() => combineShares(pick.slice(1))).toThrow(/need at least/);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('Shamir golden shares', () => {
  it('committed shares still combine to the committed secret (GF(256) arithmetic and format are stable)', () => {
    const secret = new Uint8Array(createHash('sha512').update('shamir golden').digest());
    const fresh = splitSecret(secret, { threshold: 3, shares: 5 }).map(toHex);
    const g = golden('shamir.json', { secret: toHex(secret), threshold: 3, shares: fresh });
    const committed = g.shares.map((h) => Uint8Array.from(Buffer.from(h, 'hex')));
    expect(toHex(combineShares([committed[0]!, committed[2]!, committed[4]!]))).toBe(g.secret);
    expect(toHex(combineShares([committed[3]!, committed[1]!, committed[0]!]))).toBe(g.secret);
    expect(g.secret).toBe(toHex(secret));
  });
});
