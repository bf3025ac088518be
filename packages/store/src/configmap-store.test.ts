import { createHash } from 'node:crypto';
import { createMemoryLogger } from '@contrast-cc/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigMapHistoryStore } from './configmap-store.js';
import { describeHistoryStoreConformance, eventually, expectCode } from './test-support/conformance.js';
import { type FakeKubeApiServer, startFakeKubeApiServer } from './testing/index.js';
import type { VersionedLatest } from './types.js';

const NS = 'contrast-test';
const enc = (text: string) => new TextEncoder().encode(text);
const sha = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

describeHistoryStoreConformance('Kubernetes ConfigMaps (loopback fake API server)', async () => {
  const fake = await startFakeKubeApiServer();
  const probe = new ConfigMapHistoryStore({ kubeConfig: fake.kubeConfig(), namespace: NS });
  return {
    open: async () => new ConfigMapHistoryStore({ kubeConfig: fake.kubeConfig(), namespace: NS }),
    corruptBlob: async (kind, hash) =>
      fake.edit(NS, probe.blobName(kind, hash), (cm) => {
        cm.binaryData = { [hash]: Buffer.from('corrupted bytes').toString('base64') };
      }),
    removeBlob: async (kind, hash) => {
      const res = await fetch(
        `${fake.url}/api/v1/namespaces/${NS}/configmaps/${probe.blobName(kind, hash)}`,
        {
          method: 'DELETE',
        },
      );
      expect(res.status).toBe(200);
    },
    cleanup: () => fake.close(),
  };
});

describe('ConfigMapHistoryStore against the loopback fake', () => {
  let fake: FakeKubeApiServer;
  beforeAll(async () => {
    fake = await startFakeKubeApiServer();
  });
  afterAll(async () => {
    await fake.close();
  });
  const make = (extra: Partial<ConstructorParameters<typeof ConfigMapHistoryStore>[0]> = {}) =>
    new ConfigMapHistoryStore({ kubeConfig: fake.kubeConfig(), namespace: NS, ...extra });

  it('uses upstream names, labels, binaryData keys and the owner reference', async () => {
    const owner = {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      name: 'coordinator',
      uid: '6f1c7d1e-0000-4000-8000-000000000001',
    };
    const store = make({ prefix: 'layout', ownerReference: owner });
    const bytes = enc('manifest bytes');
    const hash = await store.putBlob('manifest', bytes);
    const th = 'cd'.repeat(32);
    const version = await store.setLatest({ transitionHash: th, signature: new Uint8Array([9, 8]) }, null);

    const blob = fake.get(NS, `layout-manifests-${hash}`);
    expect(blob?.binaryData).toEqual({ [hash]: Buffer.from(bytes).toString('base64') });
    expect(blob?.metadata.labels).toEqual({
      'app.kubernetes.io/managed-by': 'contrast.edgeless.systems',
      'contrast.edgeless.systems/store': 'layout',
      'contrast.edgeless.systems/history-kind': 'manifests',
    });
    expect(blob?.metadata.ownerReferences).toEqual([owner]);
    const latest = fake.get(NS, 'layout-transitions-latest');
    expect(latest?.metadata.resourceVersion).toBe(version);
    expect(Buffer.from(latest!.binaryData!['latest']!, 'base64').toString('hex')).toBe(`${th}0908`);
    expect(fake.names(NS).filter((n) => n.startsWith('layout-'))).toEqual([
      `layout-manifests-${hash}`,
      'layout-transitions-latest',
    ]);
    // The store's selector finds exactly its ConfigMaps.
    const res = await fetch(
      `${fake.url}/api/v1/namespaces/${NS}/configmaps?labelSelector=${encodeURIComponent(store.labelSelector)}`,
    );
    const list = (await res.json()) as { items: { metadata: { name: string } }[] };
    expect(list.items.map((i) => i.metadata.name)).toEqual([
      `layout-manifests-${hash}`,
      'layout-transitions-latest',
    ]);
  });

  it('maps a lost resourceVersion race to conflict, and a deleted pointer too', async () => {
    const a = make({ prefix: 'race' });
    const b = make({ prefix: 'race' });
    const v1 = await a.setLatest({ transitionHash: sha('1'), signature: enc('s') }, null);
    await b.setLatest({ transitionHash: sha('2'), signature: enc('s') }, v1);
    await expectCode(
      a.setLatest({ transitionHash: sha('3'), signature: enc('s') }, v1),
      'conflict',
      'expectedVersion',
    );
    const put = fake.requests.filter(
      (r) => r.method === 'PUT' && r.path.endsWith('/race-transitions-latest'),
    );
    expect(put.map((r) => r.status)).toEqual([200, 409]);
    await fetch(`${fake.url}/api/v1/namespaces/${NS}/configmaps/race-transitions-latest`, {
      method: 'DELETE',
    });
    const current = (await b.getLatest()) as VersionedLatest | null;
    expect(current).toBeNull();
    await expectCode(a.setLatest({ transitionHash: sha('4'), signature: enc('s') }, v1), 'conflict');
  });

  it('turns API failures into typed errors', async () => {
    const store = make({ prefix: 'faults', retryDelayMs: 1 });
    // Every attempt (4) fails: the error reaches the caller.
    fake.failNext({ count: 4, status: 500, method: 'GET' });
    await expectCode(store.getLatest(), 'unavailable');
    expect(fake.requests.slice(-4).map((r) => `${r.method} ${r.status}`)).toEqual(Array(4).fill('GET 500'));
    fake.failNext({ count: 1, status: 403, method: 'POST' });
    await expectCode(store.putBlob('policy', enc('x')), 'permission-denied');
    // Nothing was half-written: the retry works.
    expect(await store.putBlob('policy', enc('x'))).toBe(sha('x'));
    const unreachable = new ConfigMapHistoryStore({
      kubeConfig: (() => {
        const kc = fake.kubeConfig();
        kc.clusters[0] = { ...kc.clusters[0]!, server: 'http://127.0.0.1:1' };
        return kc;
      })(),
      namespace: NS,
    });
    await expectCode(unreachable.getLatest(), 'unavailable');
    // A request without an answer in time fails instead of hanging the Coordinator. Without the
    // timeout the delayed answer would arrive and getLatest succeed, so the code alone proves it
    // (no elapsed-time bound: a loaded machine can be slow for reasons of its own).
    const impatient = make({ prefix: 'faults', requestTimeoutMs: 100 });
    fake.failNext({ count: 1, delayMs: 3000, method: 'GET' });
    await expectCode(impatient.getLatest(), 'unavailable');
  });

  describe('transient API failures', () => {
    const since = (n: number) => fake.requests.slice(n).map((r) => `${r.method} ${r.status}`);

    it('retries 429, 5xx and refused connections with backoff, and Retry-After when longer', async () => {
      const log = createMemoryLogger();
      const store = make({ prefix: 'transient', retryDelayMs: 1, logger: log.logger });
      const version = await store.setLatest({ transitionHash: sha('t1'), signature: enc('s') }, null);
      let n = fake.requests.length;
      fake.failNext({ count: 1, status: 503, method: 'GET' });
      fake.failNext({ count: 1, status: 429, method: 'GET', retryAfter: '1' });
      fake.failNext({ count: 1, status: 502, method: 'GET' });
      expect((await store.getLatest())?.version).toBe(version);
      expect(since(n)).toEqual(['GET 503', 'GET 429', 'GET 502', 'GET 200']);
      const retries = log.records.filter((r) => r.message === 'retrying a Kubernetes API request');
      expect(retries.map((r) => r.fields?.status)).toEqual([503, 429, 502]);
      // Retry-After: 1 (second) outweighs the 2 ms backoff of the second retry.
      expect(retries[1]?.fields?.delayMs).toBeGreaterThanOrEqual(1000);
      expect(retries[0]?.fields?.delayMs).toBeLessThan(1000);

      // A write gets the same: the blob lands after two failed attempts.
      n = fake.requests.length;
      fake.failNext({ count: 2, status: 500, method: 'POST' });
      expect(await store.putBlob('policy', enc('retried'))).toBe(sha('retried'));
      expect(since(n)).toEqual(['POST 500', 'POST 500', 'POST 201']);

      // Not retried: refusals that another attempt cannot change.
      n = fake.requests.length;
      fake.failNext({ count: 1, status: 403, method: 'GET' });
      await expectCode(store.getLatest(), 'permission-denied');
      expect(since(n)).toEqual(['GET 403']);

      // maxAttempts 1: no retries at all.
      const once = make({ prefix: 'transient', maxAttempts: 1 });
      n = fake.requests.length;
      fake.failNext({ count: 1, status: 503, method: 'GET' });
      await expectCode(once.getLatest(), 'unavailable');
      expect(since(n)).toEqual(['GET 503']);
    });

    it('retries a refused connection (an API server restarting)', async () => {
      const down = await startFakeKubeApiServer();
      const kubeConfig = down.kubeConfig();
      const port = Number(new URL(down.url).port);
      await down.close();
      const log = createMemoryLogger();
      const store = new ConfigMapHistoryStore({
        kubeConfig,
        namespace: NS,
        retryDelayMs: 1000,
        logger: log.logger,
      });
      // The first attempt is refused; the API server comes back on its port before the retry
      // (0.5 to 1 s later; two more follow within 3 s).
      const reading = store.getLatest();
      await eventually(() => log.records.some((r) => r.message === 'retrying a Kubernetes API request'));
      expect(log.records[0]?.fields?.status).toBe('no answer');
      const back = await startFakeKubeApiServer({ port });
      try {
        expect(await reading).toBeNull();
        expect(back.requests.map((r) => `${r.method} ${r.status}`)).toEqual(['GET 404']);
      } finally {
        await back.close();
      }
    });

    it('takes a lost acknowledgement of its own pointer write as done, and a rival one as a conflict', async () => {
      const store = make({ prefix: 'lostack', retryDelayMs: 1 });
      const v1 = await store.setLatest({ transitionHash: sha('l1'), signature: enc('s1') }, null);
      // The PUT is carried out but answered 500 (etcd timed out after the commit): the retry
      // meets 409, and the pointer holds exactly what was written, so the write succeeded.
      let n = fake.requests.length;
      fake.failNext({ count: 1, status: 500, method: 'PUT', afterApply: true });
      const v2 = await store.setLatest({ transitionHash: sha('l2'), signature: enc('s2') }, v1);
      expect(since(n)).toEqual(['PUT 500', 'PUT 409', 'GET 200']);
      const now = await store.getLatest();
      expect(now?.version).toBe(v2);
      expect(now?.value.transitionHash).toBe(sha('l2'));

      // The same for the pointer's creation (409 AlreadyExists on the retry).
      const fresh = make({ prefix: 'lostack-new', retryDelayMs: 1 });
      n = fake.requests.length;
      fake.failNext({ count: 1, status: 504, method: 'POST', afterApply: true });
      const created = await fresh.setLatest({ transitionHash: sha('n1'), signature: enc('s') }, null);
      expect(since(n)).toEqual(['POST 504', 'POST 409', 'GET 200']);
      expect((await fresh.getLatest())?.version).toBe(created);

      // Without a lost answer, a 409 stays a conflict even when the values match (no read).
      n = fake.requests.length;
      await expectCode(store.setLatest({ transitionHash: sha('l2'), signature: enc('s2') }, v1), 'conflict');
      expect(since(n)).toEqual(['PUT 409']);

      // A lost answer, but another writer's value is there: a conflict.
      const rival = make({ prefix: 'lostack' });
      fake.failNext({
        count: 1,
        status: 503,
        method: 'PUT',
        during: async () => {
          await rival.setLatest({ transitionHash: sha('l3'), signature: enc('rival') }, v2);
        },
      });
      await expectCode(
        store.setLatest({ transitionHash: sha('l3'), signature: enc('mine') }, v2),
        'conflict',
      );
      expect((await store.getLatest())?.value.signature).toEqual(enc('rival'));
    });

    it('gives up after maxAttempts with the last failure', async () => {
      const store = make({ prefix: 'giveup', retryDelayMs: 1, maxAttempts: 3 });
      const n = fake.requests.length;
      fake.failNext({ count: 5, status: 503, method: 'POST' });
      await expectCode(store.putBlob('policy', enc('never')), 'unavailable');
      expect(since(n)).toEqual(['POST 503', 'POST 503', 'POST 503']);
      // What the fake still holds for POST is used up by the next write's first two attempts.
      expect(await store.putBlob('policy', enc('later'))).toBe(sha('later'));
    });
  });

  it('refuses a blob over the 1 MiB ConfigMap limit with invalid-argument', async () => {
    const store = make({ prefix: 'big' });
    await expectCode(store.putBlob('manifest', new Uint8Array(1024 * 1024 + 1)), 'invalid-argument', 'bytes');
    const ok = new Uint8Array(900 * 1024).fill(7);
    const back = await store.getBlob('manifest', await store.putBlob('manifest', ok));
    expect(Buffer.from(back).equals(ok)).toBe(true);
  });

  it('detects a latest pointer edited into garbage', async () => {
    const store = make({ prefix: 'garbage' });
    await store.setLatest({ transitionHash: sha('x'), signature: enc('s') }, null);
    fake.edit(NS, 'garbage-transitions-latest', (cm) => {
      cm.binaryData = { latest: Buffer.from('short').toString('base64') };
    });
    await expectCode(store.getLatest(), 'validation-failed', 'ConfigMap garbage-transitions-latest');
  });

  it('re-establishes a dropped watch and still delivers later updates', async () => {
    const watcher = make({ prefix: 'rewatch', watchRetryMs: 20 });
    const writer = make({ prefix: 'rewatch' });
    const seen: (VersionedLatest | null)[] = [];
    const ac = new AbortController();
    await watcher.watchLatest((l) => seen.push(l), ac.signal);
    await eventually(() => seen.length === 1 && fake.openWatches > 0);
    expect(seen[0]).toBeNull();
    const v1 = await writer.setLatest({ transitionHash: sha('w1'), signature: enc('s') }, null);
    await eventually(() => seen.at(-1)?.version === v1);

    fake.dropWatches();
    // A change while disconnected is still seen after the reconnect.
    const v2 = await writer.setLatest({ transitionHash: sha('w2'), signature: enc('s') }, v1);
    await eventually(() => seen.at(-1)?.version === v2);
    await eventually(() => fake.openWatches > 0);
    const v3 = await writer.setLatest({ transitionHash: sha('w3'), signature: enc('s') }, v2);
    await eventually(() => seen.at(-1)?.version === v3);
    expect(seen.at(-1)?.value.transitionHash).toBe(sha('w3'));

    // The API server is down for a while: the watch keeps retrying with backoff and recovers.
    await eventually(() => fake.openWatches > 0);
    fake.failNext({ count: 4, status: 503, method: 'GET' });
    fake.dropWatches();
    await eventually(() => fake.requests.filter((r) => r.status === 503).length >= 4);
    const v4 = await writer.setLatest({ transitionHash: sha('w4'), signature: enc('s') }, v3);
    await eventually(() => seen.at(-1)?.version === v4);

    await fetch(`${fake.url}/api/v1/namespaces/${NS}/configmaps/rewatch-transitions-latest`, {
      method: 'DELETE',
    });
    await eventually(() => seen.at(-1) === null);
    ac.abort();
    await eventually(() => fake.openWatches === 0);
  });

  it('does not miss a deletion between the initial read and the start of the stream', async () => {
    const watcher = make({ prefix: 'gap' });
    const writer = make({ prefix: 'gap' });
    const v1 = await writer.setLatest({ transitionHash: sha('g1'), signature: enc('s') }, null);
    const seen: (VersionedLatest | null)[] = [];
    const ac = new AbortController();
    fake.failNext({ count: 1, delayMs: 300, watch: true });
    const watching = watcher.watchLatest((l) => seen.push(l), ac.signal);
    await eventually(() => seen.length === 1);
    expect(seen[0]?.version).toBe(v1);
    await fetch(`${fake.url}/api/v1/namespaces/${NS}/configmaps/gap-transitions-latest`, {
      method: 'DELETE',
    });
    await watching;
    await eventually(() => seen.at(-1) === null);
    ac.abort();
  });

  it('validates its options, naming the field', () => {
    expect(() => new ConfigMapHistoryStore({ kubeConfig: fake.kubeConfig(), namespace: 'Bad_NS' })).toThrow(
      expect.objectContaining({ code: 'invalid-argument', field: 'namespace' }),
    );
    expect(
      () => new ConfigMapHistoryStore({ kubeConfig: fake.kubeConfig(), namespace: NS, prefix: 'UPPER' }),
    ).toThrow(expect.objectContaining({ code: 'invalid-argument', field: 'prefix' }));
    for (const [field, value] of [
      ['maxAttempts', 0],
      ['maxAttempts', 2.5],
      ['retryDelayMs', -1],
      ['retryDelayMs', Number.NaN],
    ] as const) {
      expect(() => make({ [field]: value })).toThrow(
        expect.objectContaining({
          code: 'invalid-argument',
          field,
          message: `${field} must be a positive integer`,
        }),
      );
    }
  });
});
