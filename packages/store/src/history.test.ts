import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createMemoryLogger } from '@contrast-cc/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { DirectoryHistoryStore } from './dir-store.js';
import { History } from './history.js';
import { expectCode, testSigner } from './test-support/conformance.js';
import { transitionHash, ZERO_HASH } from './transition.js';

const enc = (text: string) => new TextEncoder().encode(text);

describe('History', () => {
  const roots: string[] = [];
  const store = async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'contrast-history-'));
    roots.push(root);
    return DirectoryHistoryStore.open(root);
  };
  afterEach(async () => {
    for (const r of roots.splice(0)) await rm(r, { recursive: true, force: true });
  });

  it('signs exactly the raw transition hash it stores', async () => {
    const keys = testSigner();
    const signed: Uint8Array[] = [];
    const h = new History({
      store: await store(),
      sign: (hash) => {
        signed.push(hash);
        return keys.sign(hash);
      },
      verify: keys.verify,
    });
    const c = await h.commitManifest(enc('m'), [], null);
    expect(signed).toHaveLength(1);
    expect(Buffer.from(signed[0]!).toString('hex')).toBe(c.transitionHash);
    expect(c.transitionHash).toBe(
      transitionHash({ manifestHash: c.manifestHash, previousTransitionHash: ZERO_HASH }),
    );
  });

  it('refuses a pointer signed by another key and a verifier that throws', async () => {
    const keys = testSigner();
    const s = await store();
    await new History({ store: s, sign: keys.signWithOtherKey }).commitManifest(enc('m'), [], null);
    await expectCode(
      new History({ store: s, verify: keys.verify }).getLatest(),
      'permission-denied',
      'latest.signature',
    );
    const throwing = new History({
      store: s,
      verify: () => {
        throw new Error('bad key');
      },
    });
    await expectCode(throwing.getLatest(), 'permission-denied', 'latest.signature');
    const latest = await new History({ store: s }).getLatest({ verify: false });
    await expectCode(
      new History({ store: s, verify: keys.verify }).verifyLatest(latest!),
      'permission-denied',
    );
  });

  it('needs a signer to commit and a verifier for verified reads', async () => {
    const s = await store();
    await expectCode(new History({ store: s }).commitManifest(enc('m'), [], null), 'precondition-failed');
    await new History({ store: s, sign: testSigner().sign }).commitManifest(enc('m'), [], null);
    await expectCode(new History({ store: s }).getLatest(), 'precondition-failed');
  });

  it('names the bad field of a commit', async () => {
    const h = new History({ store: await store(), sign: testSigner().sign });
    await expectCode(
      h.commitManifest('m' as unknown as Uint8Array, [], null),
      'invalid-argument',
      'manifest',
    );
    await expectCode(
      h.commitManifest(enc('m'), [enc('a'), 'b' as unknown as Uint8Array], null),
      'invalid-argument',
      'policies[1]',
    );
    await expectCode(
      h.commitManifest(enc('m'), [], {
        value: { transitionHash: 'nope', signature: enc('s') },
        version: '1',
      }),
      'invalid-argument',
      'expected.value.transitionHash',
    );
    expect(await h.store.getLatest()).toBeNull();
  });

  it('never logs signatures or blob contents', async () => {
    const mem = createMemoryLogger();
    const keys = testSigner();
    const h = new History({ store: await store(), sign: keys.sign, verify: keys.verify, logger: mem.logger });
    await h.commitManifest(enc('secret-looking manifest body'), [enc('policy body')], null);
    const latest = await h.getLatest();
    expect(mem.records.length).toBeGreaterThan(0);
    expect(mem.text()).not.toContain(Buffer.from(latest!.signature).toString('hex'));
    expect(mem.text()).not.toContain('manifest body');
  });

  it('walks an empty history as empty', async () => {
    const h = new History({ store: await store() });
    expect(await h.transitions()).toEqual([]);
    expect(await h.manifests()).toEqual([]);
    expect(await h.isAncestor(ZERO_HASH, 'ab'.repeat(32))).toBe(true);
  });
});
