import { toHex } from '@contrast-cc/core';
import fc from 'fast-check';
import { combine as auditedCombine, split as auditedSplit } from 'shamir-secret-sharing';
import { describe, expect, it } from 'vitest';
import { combineShares, splitSecret } from './shamir.js';

// Our Shamir implementation against an independently audited one (`shamir-secret-sharing` of
// privy-io; the audits are listed in its README) as an oracle, in both directions: the same field
// (GF(2^8), polynomial 0x11b) and the same Lagrange interpolation at 0. Our share format is
// version || threshold || x || y (y covering secret || 16 check bytes); theirs is y || x.
const HEADER = 3;
const toTheirs = (share: Uint8Array) => Uint8Array.from([...share.subarray(HEADER), share[2]!]);
const toOurs = (share: Uint8Array, threshold: number) =>
  Uint8Array.from([1, threshold, share.at(-1)!, ...share.subarray(0, -1)]);

/** What our split shares (secret || check bytes) as the audited library sees them. */
async function auditedSplitOfOurValue(secret: Uint8Array, threshold: number, shares: number) {
  // Any k of our shares, combined by the audited code, give our shared value: secret || check.
  const ours = splitSecret(secret, { threshold, shares });
  return { ours, value: await auditedCombine(ours.slice(0, threshold).map(toTheirs)) };
}

describe('Shamir against the audited shamir-secret-sharing', () => {
  it('the audited combine recovers the secret from any k of our shares', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.integer({ min: 2, max: 8 }),
        fc.integer({ min: 0, max: 7 }),
        async (secret, n, kOffset) => {
          const k = 2 + (kOffset % (n - 1));
          const { ours, value } = await auditedSplitOfOurValue(secret, k, n);
          expect(toHex(value.subarray(0, secret.length))).toBe(toHex(secret));
          // Another subset (the last k) agrees.
          const other = await auditedCombine(ours.slice(-k).map(toTheirs));
          expect(toHex(other)).toBe(toHex(value));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('our combine recovers what the audited split shared (its x coordinates are random, not 1..n)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.integer({ min: 2, max: 8 }),
        async (secret, n) => {
          const k = Math.max(2, n - 1);
          // Their split shares our value form (secret || the 16 check bytes our split appends),
          // so that our combine can check what it recovers.
          const { value } = await auditedSplitOfOurValue(secret, k, n);
          const theirs = await auditedSplit(value, n, k);
          const back = combineShares(theirs.slice(0, k).map((s) => toOurs(s, k)));
          expect(toHex(back)).toBe(toHex(secret));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses to pass with a tampered share: the audited combine gives another value, ours refuses', async () => {
    const secret = new TextEncoder().encode('a 64-byte seed stand-in, long enough to matter here....!!');
    const ours = splitSecret(secret, { threshold: 3, shares: 5 });
    const tampered = ours.map((s) => new Uint8Array(s));
    tampered[1]![HEADER + 4]! ^= 0x01;
    const value = await auditedCombine(tampered.slice(0, 3).map(toTheirs));
    expect(toHex(value.subarray(0, secret.length))).not.toBe(toHex(secret));
    expect(() => combineShares(tampered.slice(0, 3))).toThrow(/do not recombine/);
  });
});
