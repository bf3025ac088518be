import { ApiException, CoreV1Api, DiscoveryV1Api, type V1ConfigMap, Watch } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../test-support/conformance.js';
import { type FakeKubeApiServer, SERVICE_NAME_LABEL, startFakeKubeApiServer } from './index.js';

const NS = 'fake-test';

async function status(promise: Promise<unknown>): Promise<number | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    if (error instanceof ApiException) return error.code;
    throw error;
  }
}

const cm = (
  name: string,
  labels: Record<string, string> = {},
  data: Record<string, string> = {},
): V1ConfigMap => ({
  metadata: { name, labels },
  data,
});

describe('the loopback fake Kubernetes API (through @kubernetes/client-node)', () => {
  let fake: FakeKubeApiServer;
  let api: CoreV1Api;
  beforeAll(async () => {
    fake = await startFakeKubeApiServer();
    api = fake.kubeConfig().makeApiClient(CoreV1Api);
  });
  afterAll(async () => {
    await fake.close();
  });

  it('listens on loopback only', () => {
    expect(fake.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('creates, reads, replaces with resourceVersion CAS, and deletes', async () => {
    const created = await api.createNamespacedConfigMap({ namespace: NS, body: cm('crud', {}, { a: '1' }) });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    const rv1 = created.metadata!.resourceVersion!;
    expect(await status(api.createNamespacedConfigMap({ namespace: NS, body: cm('crud') }))).toBe(409);

    const read = await api.readNamespacedConfigMap({ name: 'crud', namespace: NS });
    expect(read.data).toEqual({ a: '1' });
    const updated = await api.replaceNamespacedConfigMap({
      name: 'crud',
      namespace: NS,
      body: { ...read, data: { a: '2' } },
    });
    const rv2 = updated.metadata!.resourceVersion!;
    expect(Number(rv2)).toBeGreaterThan(Number(rv1));
    expect(updated.metadata?.uid).toBe(created.metadata?.uid);
    // A write based on the old read loses.
    expect(
      await status(
        api.replaceNamespacedConfigMap({ name: 'crud', namespace: NS, body: { ...read, data: { a: '3' } } }),
      ),
    ).toBe(409);
    expect((await api.readNamespacedConfigMap({ name: 'crud', namespace: NS })).data).toEqual({ a: '2' });

    await api.deleteNamespacedConfigMap({ name: 'crud', namespace: NS });
    expect(await status(api.readNamespacedConfigMap({ name: 'crud', namespace: NS }))).toBe(404);
    expect(await status(api.deleteNamespacedConfigMap({ name: 'crud', namespace: NS }))).toBe(404);
    expect(
      await status(api.replaceNamespacedConfigMap({ name: 'crud', namespace: NS, body: cm('crud') })),
    ).toBe(404);
  });

  it('rejects invalid objects with 422', async () => {
    expect(await status(api.createNamespacedConfigMap({ namespace: NS, body: cm('Not_Valid') }))).toBe(422);
    expect(
      await status(
        api.createNamespacedConfigMap({
          namespace: NS,
          body: { metadata: { name: 'bin' }, binaryData: { k: '***' } },
        }),
      ),
    ).toBe(422);
    expect(
      await status(
        api.createNamespacedConfigMap({
          namespace: NS,
          body: { metadata: { name: 'dup' }, data: { k: 'x' }, binaryData: { k: 'eA==' } },
        }),
      ),
    ).toBe(422);
    const big = Buffer.alloc(1024 * 1024).toString('base64');
    expect(
      await status(
        api.createNamespacedConfigMap({
          namespace: NS,
          body: { metadata: { name: 'big' }, binaryData: { k: big } },
        }),
      ),
    ).toBe(422);
    await api.createNamespacedConfigMap({
      namespace: NS,
      body: { metadata: { name: 'frozen' }, data: { k: 'v' }, immutable: true },
    });
    const frozen = await api.readNamespacedConfigMap({ name: 'frozen', namespace: NS });
    expect(
      await status(
        api.replaceNamespacedConfigMap({
          name: 'frozen',
          namespace: NS,
          body: { ...frozen, data: { k: 'w' } },
        }),
      ),
    ).toBe(422);
  });

  it('lists with label and field selectors', async () => {
    await api.createNamespacedConfigMap({ namespace: NS, body: cm('sel-a', { app: 'x', tier: 'db' }) });
    await api.createNamespacedConfigMap({ namespace: NS, body: cm('sel-b', { app: 'x' }) });
    await api.createNamespacedConfigMap({ namespace: NS, body: cm('sel-c', { app: 'y' }) });
    await api.createNamespacedConfigMap({ namespace: 'other-ns', body: cm('sel-d', { app: 'x' }) });
    const names = async (labelSelector?: string, fieldSelector?: string) =>
      (await api.listNamespacedConfigMap({ namespace: NS, labelSelector, fieldSelector })).items.map(
        (i) => i.metadata?.name,
      );
    expect(await names('app=x')).toEqual(['sel-a', 'sel-b']);
    expect(await names('app=x,!tier')).toEqual(['sel-b']);
    expect(await names('app in (x, y),tier!=db')).toEqual(['sel-b', 'sel-c']);
    expect(await names('tier')).toEqual(['sel-a']);
    expect(await names('app', 'metadata.name=sel-c')).toEqual(['sel-c']);
    expect(await status(api.listNamespacedConfigMap({ namespace: NS, labelSelector: 'app=(' }))).toBe(400);
    expect(await status(api.listNamespacedConfigMap({ namespace: NS, fieldSelector: 'data.k=v' }))).toBe(400);
    const list = await api.listNamespacedConfigMap({ namespace: NS });
    expect(Number(list.metadata?.resourceVersion)).toBeGreaterThan(1000);
    await api.deleteCollectionNamespacedConfigMap({ namespace: NS, labelSelector: 'app=x' });
    expect(await names('app')).toEqual(['sel-c']);
    expect(fake.names('other-ns')).toContain('sel-d');
  });

  it('streams ADDED, MODIFIED and DELETED events, resumes from a resourceVersion, and says 410 when too old', async () => {
    const events: string[] = [];
    const watch = new Watch(fake.kubeConfig());
    const path = `/api/v1/namespaces/${NS}/configmaps`;
    const ctrl = await watch.watch(
      path,
      { labelSelector: 'w=1' },
      (type, obj) => events.push(`${type} ${obj.metadata.name}`),
      () => {},
    );
    const a = await api.createNamespacedConfigMap({ namespace: NS, body: cm('w-a', { w: '1' }) });
    await api.replaceNamespacedConfigMap({ name: 'w-a', namespace: NS, body: { ...a, data: { x: 'y' } } });
    await api.createNamespacedConfigMap({ namespace: NS, body: cm('w-ignored', { w: '2' }) });
    // Leaving the selector is a DELETED for this watch.
    const a2 = await api.readNamespacedConfigMap({ name: 'w-a', namespace: NS });
    await api.replaceNamespacedConfigMap({
      name: 'w-a',
      namespace: NS,
      body: { ...a2, metadata: { ...a2.metadata, labels: { w: '0' } } },
    });
    await eventually(() => events.length >= 3);
    expect(events).toEqual(['ADDED w-a', 'MODIFIED w-a', 'DELETED w-a']);
    ctrl.abort();

    // Resume after the first event: the later ones are replayed.
    const replay: string[] = [];
    const ctrl2 = await watch.watch(
      path,
      { labelSelector: 'w=1', resourceVersion: a.metadata!.resourceVersion! },
      (type, obj) => replay.push(`${type} ${obj.metadata.name}`),
      () => {},
    );
    await eventually(() => replay.length >= 2);
    expect(replay).toEqual(['MODIFIED w-a', 'DELETED w-a']);
    ctrl2.abort();
  });

  it('serves ?watch=1 as newline-delimited JSON to a plain HTTP client', async () => {
    await api.createNamespacedConfigMap({ namespace: NS, body: cm('raw-watch', {}, { k: 'v' }) });
    const ac = new AbortController();
    const res = await fetch(
      `${fake.url}/api/v1/namespaces/${NS}/configmaps?watch=1&fieldSelector=metadata.name%3Draw-watch`,
      { signal: ac.signal },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first.endsWith('\n')).toBe(true);
    const event = JSON.parse(first.trim()) as { type: string; object: V1ConfigMap };
    expect(event.type).toBe('ADDED');
    expect(event.object.kind).toBe('ConfigMap');
    expect(event.object.data).toEqual({ k: 'v' });
    ac.abort();
  });

  it('expires watches older than its event history with 410 Gone', async () => {
    const small = await startFakeKubeApiServer({ eventHistory: 2 });
    const api2 = small.kubeConfig().makeApiClient(CoreV1Api);
    const first = await api2.createNamespacedConfigMap({ namespace: NS, body: cm('e1') });
    for (const n of ['e2', 'e3', 'e4']) await api2.createNamespacedConfigMap({ namespace: NS, body: cm(n) });
    const got: { type: string; code?: number }[] = [];
    let ended = false;
    await new Watch(small.kubeConfig()).watch(
      `/api/v1/namespaces/${NS}/configmaps`,
      { resourceVersion: first.metadata!.resourceVersion! },
      (type, obj) => got.push({ type, code: obj.code }),
      () => {
        ended = true;
      },
    );
    await eventually(() => ended);
    expect(got).toEqual([{ type: 'ERROR', code: 410 }]);
    await small.close();
  });

  it('injects failures and records requests', async () => {
    fake.failNext({ count: 2, status: 503 });
    expect(await status(api.listNamespacedConfigMap({ namespace: NS }))).toBe(503);
    expect(await status(api.listNamespacedConfigMap({ namespace: NS }))).toBe(503);
    await api.listNamespacedConfigMap({ namespace: NS });
    expect(fake.requests.slice(-3).map((r) => r.status)).toEqual([503, 503, 200]);
  });

  it('can bind ::1 when the host has IPv6 loopback', async () => {
    let v6: FakeKubeApiServer;
    try {
      v6 = await startFakeKubeApiServer({ host: '::1' });
    } catch {
      console.warn('skipping the ::1 check: no IPv6 loopback here');
      return;
    }
    const api6 = v6.kubeConfig().makeApiClient(CoreV1Api);
    await api6.createNamespacedConfigMap({ namespace: NS, body: cm('v6') });
    expect(v6.names(NS)).toEqual(['v6']);
    await v6.close();
  });
});

describe('EndpointSlices in the fake (through @kubernetes/client-node)', () => {
  let fake: FakeKubeApiServer;
  let api: DiscoveryV1Api;
  beforeAll(async () => {
    fake = await startFakeKubeApiServer();
    api = fake.kubeConfig().makeApiClient(DiscoveryV1Api);
  });
  afterAll(async () => {
    await fake.close();
  });

  const slice = (name: string, service: string, ips: string[]) => ({
    metadata: { name, labels: { [SERVICE_NAME_LABEL]: service } },
    addressType: 'IPv4' as const,
    endpoints: ips.map((ip, i) => ({
      addresses: [ip],
      conditions: { ready: true },
      targetRef: { kind: 'Pod', name: `${service}-${i}` },
    })),
    ports: [{ name: 'api', port: 1314, protocol: 'TCP' }],
  });

  it('lists the slices of a service by label selector, gets one by name, 404 otherwise', async () => {
    const rv1 = fake.setEndpointSlice(NS, slice('coordinator-abc', 'coordinator', ['10.0.0.1', '10.0.0.2']));
    fake.setEndpointSlice(NS, slice('other-xyz', 'other', ['10.0.1.1']));
    fake.setEndpointSlice('elsewhere', slice('coordinator-def', 'coordinator', ['10.0.2.1']));
    const list = await api.listNamespacedEndpointSlice({
      namespace: NS,
      labelSelector: `${SERVICE_NAME_LABEL}=coordinator`,
    });
    expect(list.items.map((s) => s.metadata?.name)).toEqual(['coordinator-abc']);
    const only = list.items[0]!;
    expect(only.endpoints.map((e) => e.addresses[0])).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(only.endpoints[1]?.targetRef?.name).toBe('coordinator-1');
    expect(only.ports?.[0]).toMatchObject({ name: 'api', port: 1314 });
    expect(only.metadata?.resourceVersion).toBe(rv1);
    const got = await api.readNamespacedEndpointSlice({ name: 'coordinator-abc', namespace: NS });
    expect(got.endpoints).toHaveLength(2);
    expect(await status(api.readNamespacedEndpointSlice({ name: 'nope', namespace: NS }))).toBe(404);

    // Replaced when pods change; deleted when the service goes.
    const rv2 = fake.setEndpointSlice(NS, slice('coordinator-abc', 'coordinator', ['10.0.0.3']));
    expect(Number(rv2)).toBeGreaterThan(Number(rv1));
    const after = await api.listNamespacedEndpointSlice({
      namespace: NS,
      labelSelector: `${SERVICE_NAME_LABEL}=coordinator`,
    });
    expect(after.items[0]?.endpoints.map((e) => e.addresses[0])).toEqual(['10.0.0.3']);
    expect(fake.deleteEndpointSlice(NS, 'coordinator-abc')).toBe(true);
    expect(fake.deleteEndpointSlice(NS, 'coordinator-abc')).toBe(false);
    const none = await api.listNamespacedEndpointSlice({
      namespace: NS,
      labelSelector: `${SERVICE_NAME_LABEL}=coordinator`,
    });
    expect(none.items).toEqual([]);
  });

  it('refuses writes and honours injected failures', async () => {
    const res = await fetch(`${fake.url}/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(405);
    fake.failNext({ count: 1, status: 403 });
    expect(await status(api.listNamespacedEndpointSlice({ namespace: NS }))).toBe(403);
    expect((await api.listNamespacedEndpointSlice({ namespace: NS })).items).toBeDefined();
  });
});
