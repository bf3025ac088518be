import { createHash } from 'node:crypto';
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
    const store = make({ prefix: 'faults' });
    fake.failNext({ count: 1, status: 500, method: 'GET' });
    await expectCode(store.getLatest(), 'unavailable');
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
  });
});
