import { describe, expect, it } from 'vitest';
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
