import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSignedLatest, encodeSignedLatest } from './hash.js';
import { expectCode } from './test-support/conformance.js';
import { decodeTransition, encodeTransition, transitionHash, ZERO_HASH } from './transition.js';

// Fixed vectors (computed independently: sha256 over the 64 concatenated raw bytes) that
// packages/certs' transition hash must reproduce byte for byte.
const MANIFEST_1 = '05b3abf2579a5eb66403cd78be557fd860633a1fe2103c7642030defe32c657f'; // sha256("manifest")
const MANIFEST_2 = 'bedbe217a47cf0b6f225dd3e539a0a1115cff37fd2a84355b41d4db8f0962fdb'; // sha256("manifest 2")
const T1 = 'daca353b0137bfd625e5f14328fd0da64d748319cd2756e6d150288de30c3505';
const T2 = '0b72c3ba8b6f9dcf22775640871848c7fca7ebf201543f8a324935950df887d9';

describe('transitions', () => {
  it('hashes sha256(manifestHash || previousTransitionHash) over raw bytes', () => {
    expect(transitionHash({ manifestHash: MANIFEST_1, previousTransitionHash: ZERO_HASH })).toBe(T1);
    expect(transitionHash({ manifestHash: MANIFEST_2, previousTransitionHash: T1 })).toBe(T2);
    // Order matters: swapping the halves gives another hash.
    expect(transitionHash({ manifestHash: T1, previousTransitionHash: MANIFEST_2 })).not.toBe(T2);
  });

  it('round-trips the 64-byte stored form and refuses other lengths', async () => {
    const t = { manifestHash: MANIFEST_2, previousTransitionHash: T1 };
    const bytes = encodeTransition(t);
    expect(bytes).toHaveLength(64);
    expect(decodeTransition(bytes, 'f')).toEqual(t);
    await expectCode(
      Promise.resolve().then(() => decodeTransition(bytes.subarray(1), 'transition/x')),
      'validation-failed',
      'transition/x',
    );
    await expectCode(
      Promise.resolve().then(() =>
        encodeTransition({ manifestHash: 'ab', previousTransitionHash: ZERO_HASH }),
      ),
      'invalid-argument',
      'transition.manifestHash',
    );
  });
});

describe('transition and pointer encodings (property)', () => {
  const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));

  it('round-trips any transition and hashes its exact 64 bytes', () => {
    fc.assert(
      fc.property(hex32, hex32, (manifestHash, previousTransitionHash) => {
        const t = { manifestHash, previousTransitionHash };
        const bytes = encodeTransition(t);
        expect(decodeTransition(bytes, 'f')).toEqual(t);
        const expected = createHash('sha256')
          .update(Buffer.from(manifestHash + previousTransitionHash, 'hex'))
          .digest('hex');
        expect(transitionHash(t)).toBe(expected);
      }),
    );
  });

  it('round-trips any signed pointer in upstream form (hash || signature)', () => {
    fc.assert(
      fc.property(hex32, fc.uint8Array({ minLength: 1, maxLength: 200 }), (transitionHash, signature) => {
        const bytes = encodeSignedLatest({ transitionHash, signature });
        expect(Buffer.from(bytes.subarray(0, 32)).toString('hex')).toBe(transitionHash);
        expect(decodeSignedLatest(bytes, 'f')).toEqual({ transitionHash, signature });
      }),
    );
  });
});
