import { createMemoryLogger } from '@contrast-cc/core/testing';
import type { HistoryStore } from '@contrast-cc/store';
import { afterEach, describe, expect, it } from 'vitest';
import { Authority } from './authority.js';
import { channelKey, deployment, ownerSignature, registry, tempStore, waitFor } from './testing/index.js';

// Rollback of the store (issue #21): an older, validly signed latest pointer written as a new
// version survived a restart, and recovery then went back to an older generation. An active
// replica now writes its own pointer back and reports it; `state()` serves the signature it
// verified and reads the history once per active state.

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** Polls the store until its latest pointer satisfies `ok` (the repair follows the report). */
async function storeEventually(
  store: HistoryStore,
  ok: (v: { transitionHash: string; signature: Uint8Array }) => boolean,
) {
  for (let i = 0; i < 400; i++) {
    const l = await store.getLatest();
    if (l && ok(l.value)) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

/** A store whose blob reads are counted. */
function counted(inner: HistoryStore) {
  const reads = { blobs: 0 };
  const store: HistoryStore = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (prop === 'getBlob' || prop === 'hasBlob') reads.blobs++;
        return v.apply(target, args);
      };
    },
  });
  return { store, reads };
}

/** An active authority at generation 3, and the store pointer of generation 1. */
async function threeGenerations() {
  const inner = await tempStore();
  cleanup.push(() => inner.close());
  const { store, reads } = counted(inner);
  const mem = createMemoryLogger();
  const rollbacks: { storeLatest: string; ours: string; generation: number }[] = [];
  const a = await Authority.open({
    store,
    platforms: registry(),
    channelKey: channelKey(),
    allowInsecure: true,
    logger: mem.logger,
    onRollback: (e) => rollbacks.push(e),
  });
  cleanup.push(() => a.close());
  let previous = '0'.repeat(64);
  let first: Awaited<ReturnType<HistoryStore['getLatest']>> = null;
  for (const tag of ['-1', '-2', '-3']) {
    const d = deployment(['web'], { tag });
    const set = await a.setManifest({
      manifest: d.manifest,
      policies: d.policies,
      ...(first ? { signature: ownerSignature(d.manifest, previous) } : {}),
    });
    previous = set.transitionHash;
    first ??= await inner.getLatest();
  }
  expect(a.generation).toBe(3);
  return { a, inner, reads, mem, rollbacks, first: first!, latest: previous };
}

describe('rollback of the latest pointer', () => {
  it('an active replica writes its pointer back over an older validly signed one and reports it', async () => {
    const { a, inner, mem, rollbacks, first, latest } = await threeGenerations();
    const now = (await inner.getLatest())!;
    // The attacker writes generation 1's pointer (validly signed) as a new version.
    await inner.setLatest(first.value, now.version);
    await waitFor(() => rollbacks.length > 0, 10_000);
    expect(mem.text()).toContain('writing ours back');
    expect(await storeEventually(inner, (v) => v.transitionHash === latest)).toBe(true);
    expect(a.status).toBe('active');
    expect(a.generation).toBe(3);
    expect(rollbacks[0]).toEqual({ storeLatest: first.value.transitionHash, ours: latest, generation: 3 });
  });

  it('a flipped signature byte in the store is neither served nor left there', async () => {
    const { a, inner, mem, rollbacks } = await threeGenerations();
    const good = (await inner.getLatest())!;
    const flipped = new Uint8Array(good.value.signature);
    flipped[10]! ^= 0x01;
    await inner.setLatest({ transitionHash: good.value.transitionHash, signature: flipped }, good.version);
    // Served at once: the signature verified when the state became active.
    expect(Buffer.from((await a.state()).signature!).equals(Buffer.from(good.value.signature))).toBe(true);
    await waitFor(() => mem.text().includes('writing ours back'), 10_000);
    await waitFor(() => rollbacks.length > 0, 10_000);
    const same = (sig: Uint8Array) => Buffer.from(sig).equals(Buffer.from(good.value.signature));
    expect(await storeEventually(inner, (v) => same(v.signature))).toBe(true);
  });
});

describe('state()', () => {
  it('reads the history once per active state', async () => {
    const { a, reads } = await threeGenerations();
    const first = await a.state();
    const before = reads.blobs;
    const second = await a.state();
    expect(reads.blobs).toBe(before);
    expect(second.manifests).toEqual(first.manifests);
    expect(second.policies).toEqual(first.policies);
    expect(first.manifests).toHaveLength(3);
  });
});
