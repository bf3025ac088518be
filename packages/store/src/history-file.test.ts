import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ContrastError } from '@contrast-cc/core';
import { CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigMapHistoryStore } from './configmap-store.js';
import { DirectoryHistoryStore } from './dir-store.js';
import { type HistorySnapshot, historyConfigMaps, restoreHistory } from './history-file.js';
import { type FakeKubeApiServer, startFakeKubeApiServer } from './testing/index.js';

const enc = new TextEncoder();
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest();
const NS = 'contrast-system';

/** The chain as upstream defines it: t_i = sha256(sha256(manifest_i) || t_{i-1}), t_0 = zeros. */
function snapshot(): HistorySnapshot {
  const manifests = [enc.encode('{"v":1}'), enc.encode('{"v":2}'), enc.encode('{"v":3}')];
  let t: Buffer = Buffer.alloc(32);
  for (const m of manifests) t = sha(Buffer.concat([sha(m), t]));
  return {
    manifests,
    policies: [enc.encode('policy a'), enc.encode('policy b'), enc.encode('policy a')],
    latest: { transitionHash: t.toString('hex'), signature: Uint8Array.of(0x30, 1, 2, 3) },
  };
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return e instanceof ContrastError ? e.code : String(e);
  }
}

describe('history file', () => {
  let fake: FakeKubeApiServer;
  beforeAll(async () => {
    fake = await startFakeKubeApiServer();
  });
  afterAll(async () => {
    await fake.close();
  });

  it('is the ConfigMaps the ConfigMap backend reads: applied to an empty namespace, the store serves the history', async () => {
    const snap = snapshot();
    const maps = historyConfigMaps(snap);
    // 3 manifests + 3 transitions + 2 distinct policies + the latest pointer.
    expect(maps).toHaveLength(9);
    expect(maps.every((m) => m.metadata.namespace === undefined)).toBe(true);
    const api = fake.kubeConfig().makeApiClient(CoreV1Api);
    for (const body of maps)
      await api.createNamespacedConfigMap({ namespace: NS, body: body as V1ConfigMap });

    const store = new ConfigMapHistoryStore({ kubeConfig: fake.kubeConfig(), namespace: NS });
    try {
      const latest = await store.getLatest();
      expect(latest?.value.transitionHash).toBe(snap.latest.transitionHash);
      expect(latest?.value.signature).toEqual(snap.latest.signature);
      for (const m of snap.manifests) {
        expect(await store.getBlob('manifest', sha(m).toString('hex'))).toEqual(m);
      }
      const t = await store.getBlob('transition', snap.latest.transitionHash);
      expect(Buffer.from(t.subarray(0, 32)).toString('hex')).toBe(sha(snap.manifests[2]!).toString('hex'));
      // The backend's own write of the same blob gives the same ConfigMap (name, labels, data).
      const viaStore = historyConfigMaps(snap, { namespace: NS }).find((m) =>
        m.metadata.name.includes('-policies-'),
      )!;
      const stored = fake.get(NS, viaStore.metadata.name)!;
      expect(stored.metadata.labels).toEqual(viaStore.metadata.labels);
      expect(stored.binaryData).toEqual(viaStore.binaryData);
    } finally {
      await store.close();
    }
  });

  it('restores into an empty directory store, and refuses a store that has a history', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'history-file-'));
    try {
      const store = await DirectoryHistoryStore.open(dir);
      const snap = snapshot();
      await restoreHistory(store, snap);
      expect((await store.getLatest())?.value.transitionHash).toBe(snap.latest.transitionHash);
      expect(await store.getBlob('policy', sha(enc.encode('policy b')).toString('hex'))).toEqual(
        enc.encode('policy b'),
      );
      expect(await codeOf(restoreHistory(store, snap))).toBe('conflict');
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a snapshot whose manifests do not chain to the latest pointer, or that has none', () => {
    const snap = snapshot();
    const swapped = { ...snap, manifests: [snap.manifests[1]!, snap.manifests[0]!, snap.manifests[2]!] };
    expect(() => historyConfigMaps(swapped)).toThrow(/chain to transition .* but the latest pointer names/);
    const changed = { ...snap, manifests: [...snap.manifests.slice(0, 2), enc.encode('{"v":4}')] };
    expect(() => historyConfigMaps(changed)).toThrow(ContrastError);
    expect(() => historyConfigMaps({ ...snap, manifests: [] })).toThrow(/at least one manifest/);
    expect(() =>
      historyConfigMaps({ ...snap, latest: { ...snap.latest, signature: new Uint8Array() } }),
    ).toThrow(/must be signed/);
  });
});
