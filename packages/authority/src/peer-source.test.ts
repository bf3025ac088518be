import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoordinatorClient, verifiersForReferenceValues } from '@contrast-cc/api';
import { DirectoryHistoryStore } from '@contrast-cc/store';
import {
  type FakeEndpointSlice,
  type FakeKubeApiServer,
  SERVICE_NAME_LABEL,
  startFakeKubeApiServer,
} from '@contrast-cc/store/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubernetesPeers } from './peer-source.js';
import { type RunningCoordinator, startCoordinator } from './server/coordinator.js';
import { deployment, podIssuer, registry, waitFor } from './testing/index.js';

const NS = 'contrast-system';

describe('Kubernetes peers from the EndpointSlices of the coordinator Service', () => {
  let fake: FakeKubeApiServer;
  beforeAll(async () => {
    fake = await startFakeKubeApiServer();
  });
  afterAll(async () => {
    await fake.close();
  });

  const slice = (
    name: string,
    endpoints: FakeEndpointSlice['endpoints'],
    ports: FakeEndpointSlice['ports'] = [{ name: 'api', port: 1314, protocol: 'TCP' }],
    service = 'coordinator',
    addressType: FakeEndpointSlice['addressType'] = 'IPv4',
  ): FakeEndpointSlice => ({
    metadata: { name, labels: { [SERVICE_NAME_LABEL]: service } },
    addressType,
    endpoints,
    ports,
  });
  const pod = (
    ip: string,
    name: string,
    conditions: { ready?: boolean; terminating?: boolean } = { ready: true },
  ) => ({
    addresses: [ip],
    conditions,
    hostname: name,
    targetRef: { kind: 'Pod', name },
  });

  it('lists the other replicas: skips itself, terminating pods, other services and FQDN slices', async () => {
    fake.setEndpointSlice(
      NS,
      slice('coordinator-v4', [
        pod('10.0.0.10', 'coordinator-0'),
        pod('10.0.0.11', 'coordinator-1', { ready: false }),
        pod('10.0.0.12', 'coordinator-2', { terminating: true }),
        pod('10.0.0.13', 'coordinator-3'),
      ]),
    );
    fake.setEndpointSlice(
      NS,
      slice(
        'coordinator-v6',
        [pod('fd00::11', 'coordinator-1')],
        [{ name: 'api', port: 1314 }],
        'coordinator',
        'IPv6',
      ),
    );
    fake.setEndpointSlice(
      NS,
      slice('coordinator-fqdn', [pod('c.example', 'coordinator-4')], undefined, 'coordinator', 'FQDN'),
    );
    fake.setEndpointSlice(NS, slice('other-abc', [pod('10.0.9.9', 'other-0')], undefined, 'other'));
    fake.setEndpointSlice('elsewhere', slice('coordinator-xyz', [pod('10.1.0.1', 'coordinator-0')]));

    const source = kubernetesPeers({
      kubeConfig: fake.kubeConfig(),
      namespace: NS,
      selfPodName: 'coordinator-0',
      selfAddresses: ['10.0.0.13'],
    });
    expect(source.kind).toBe('kubernetes');
    // Not-ready replicas are listed (stale ones answer needs_recovery); ours and terminating are not.
    expect(await source.peers()).toEqual([
      { host: '10.0.0.11', port: 1314, name: 'coordinator-1' },
      { host: 'fd00::11', port: 1314, name: 'coordinator-1' },
    ]);
    const request = fake.requests.at(-1)!;
    expect(request.path).toBe(`/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`);
    expect(request.query.labelSelector).toBe(`${SERVICE_NAME_LABEL}=coordinator`);
    for (const n of ['coordinator-v4', 'coordinator-v6', 'coordinator-fqdn']) fake.deleteEndpointSlice(NS, n);
  });

  it('takes the named port, else the only port, else the default', async () => {
    fake.setEndpointSlice(
      NS,
      slice(
        'coordinator-a',
        [pod('10.0.0.20', 'coordinator-5')],
        [
          { name: 'metrics', port: 9102 },
          { name: 'api', port: 2000 },
        ],
      ),
    );
    fake.setEndpointSlice(
      NS,
      slice('coordinator-b', [pod('10.0.0.21', 'coordinator-6')], [{ name: 'http', port: 3000 }]),
    );
    fake.setEndpointSlice(NS, slice('coordinator-c', [pod('10.0.0.22', 'coordinator-7')], []));
    const peers = await kubernetesPeers({
      kubeConfig: fake.kubeConfig(),
      namespace: NS,
      defaultPort: 4000,
    }).peers();
    expect(peers.map((p) => `${p.host}:${p.port}`)).toEqual([
      '10.0.0.20:2000',
      '10.0.0.21:3000',
      '10.0.0.22:4000',
    ]);
    for (const n of ['coordinator-a', 'coordinator-b', 'coordinator-c']) fake.deleteEndpointSlice(NS, n);
  });

  it('reports a failing API (e.g. missing RBAC) as unavailable', async () => {
    fake.failNext({ count: 1, status: 403 });
    await expect(kubernetesPeers({ kubeConfig: fake.kubeConfig(), namespace: NS }).peers()).rejects.toThrow(
      expect.objectContaining({ code: 'unavailable', message: expect.stringMatching(/HTTP 403/) }),
    );
  });

  it('gives up on an API that does not answer (deadline) and when the caller aborts', async () => {
    // The delayed answer would arrive and list nothing: only the deadline or the abort gives unavailable.
    fake.failNext({ count: 1, delayMs: 3000 });
    const source = kubernetesPeers({ kubeConfig: fake.kubeConfig(), namespace: NS, requestTimeoutMs: 100 });
    await expect(source.peers()).rejects.toThrow(
      expect.objectContaining({ code: 'unavailable', message: expect.stringMatching(/no answer in 100 ms/) }),
    );
    fake.failNext({ count: 1, delayMs: 3000 });
    const halt = new AbortController();
    const listing = kubernetesPeers({ kubeConfig: fake.kubeConfig(), namespace: NS }).peers(halt.signal);
    halt.abort();
    await expect(listing).rejects.toThrow(
      expect.objectContaining({ code: 'unavailable', message: expect.stringMatching(/aborted/) }),
    );
  });

  describe('a stale Coordinator discovers its active peer through the fake API and recovers', () => {
    const d = deployment();
    const platforms = registry();
    const running: RunningCoordinator[] = [];
    const stores: DirectoryHistoryStore[] = [];
    afterAll(async () => {
      for (const c of running) await c.close();
      for (const s of stores) await s.close();
    });

    it('recovers from the endpoint published for the active replica', async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'peer-k8s-'));
      const open = async () => {
        const s = await DirectoryHistoryStore.open(dir, { pollIntervalMs: 50 });
        stores.push(s);
        return s;
      };
      const source = (self: string) =>
        kubernetesPeers({ kubeConfig: fake.kubeConfig(), namespace: 'ha', selfPodName: self });
      const common = { platforms, issuer: podIssuer(d.hashes.coordinator!), allowInsecure: true };
      const tuning = { minDelayMs: 40, maxDelayMs: 200, idleCheckMs: 40 };
      const a = await startCoordinator({
        ...common,
        store: await open(),
        peers: source('coordinator-0'),
        peerRecovery: tuning,
      });
      running.push(a);
      const client = await CoordinatorClient.connect({
        host: a.host,
        port: a.port,
        verifiers: verifiersForReferenceValues(platforms, d.manifestJson.ReferenceValues as never),
        coordinatorPolicyHashes: [d.hashes.coordinator!],
        allowInsecure: true,
      });
      await client.setManifest({ manifest: d.manifest, policies: d.policies });
      const b = await startCoordinator({
        ...common,
        store: await open(),
        peers: source('coordinator-1'),
        peerRecovery: tuning,
      });
      running.push(b);
      expect(b.authority.status).toBe('stale');
      // The EndpointSlice controller publishes both pods (one slice per port here: the test
      // replicas share 127.0.0.1 and differ in port).
      fake.setEndpointSlice(
        'ha',
        slice('coordinator-p0', [pod('127.0.0.1', 'coordinator-0')], [{ name: 'api', port: a.port }]),
      );
      fake.setEndpointSlice(
        'ha',
        slice('coordinator-p1', [pod('127.0.0.1', 'coordinator-1')], [{ name: 'api', port: b.port }]),
      );
      await waitFor(() => b.authority.status === 'active', 10_000);
      expect(
        Buffer.from(b.authority.stateBinding().rootCaDer!).equals(
          Buffer.from(a.authority.stateBinding().rootCaDer!),
        ),
      ).toBe(true);
    });
  });
});
