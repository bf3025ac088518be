import { X509Certificate } from 'node:crypto';
import { openSeedShare, recoverSeed } from '@contrast-cc/certs';
import { ConfigMapHistoryStore } from '@contrast-cc/store';
import { type FakeKubeApiServer, startFakeKubeApiServer } from '@contrast-cc/store/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authority } from './authority.js';
import {
  channelKey,
  deployment,
  keys,
  ownerSignature,
  recoverRequest,
  registry,
  waitFor,
} from './testing/index.js';

const NS = 'contrast-system';
let fake: FakeKubeApiServer;
const closers: (() => unknown)[] = [];

beforeAll(async () => {
  fake = await startFakeKubeApiServer();
});
afterAll(async () => {
  for (const c of closers.splice(0)) await c();
  await fake.close();
});

async function replica() {
  const store = new ConfigMapHistoryStore({ kubeConfig: fake.kubeConfig(), namespace: NS, watchRetryMs: 50 });
  const a = await Authority.open({
    store,
    platforms: registry(),
    channelKey: channelKey(),
    allowInsecure: true,
  });
  closers.push(
    () => a.close(),
    () => store.close(),
  );
  return a;
}

describe('Authority on the Kubernetes ConfigMap store (loopback fake API server)', () => {
  it('two replicas share the history: the second recovers, goes stale on the first one’s update', async () => {
    const a = await replica();
    const d1 = deployment();
    const set = await a.setManifest({ manifest: d1.manifest, policies: d1.policies });
    expect(fake.names(NS)).toContain('contrast-store-transitions-latest');
    expect(fake.names(NS).filter((n) => n.startsWith('contrast-store-policies-'))).toHaveLength(4);

    // A replica started later (or a restarted one) finds the history and is stale.
    const b = await replica();
    expect(b.status).toBe('stale');
    const doc = set.seedShareDocument!;
    const secret = recoverSeed(doc, [openSeedShare(doc, keys().seedOwnerPrivate)]);
    const rec = await b.recover(recoverRequest(b.createNonce(), b.channelSpki, secret));
    expect(
      new X509Certificate(rec.rootCaPem).publicKey.equals(new X509Certificate(set.rootCaPem).publicKey),
    ).toBe(true);

    const d2 = deployment(['web'], { tag: 'cm' });
    await a.setManifest({
      manifest: d2.manifest,
      policies: d2.policies,
      signature: ownerSignature(d2.manifest, set.transitionHash),
    });
    await waitFor(() => b.status === 'stale', 10_000);
    expect(a.status).toBe('active');
  });
});
