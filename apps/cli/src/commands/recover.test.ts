import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type TestCoordinator, unusedPort, useCoordinatorWorkspace } from '../test-support/coordinator.js';
import { createRecoverCommand } from './recover.js';
import { createSetCommand } from './set.js';
import { createVerifyCommand } from './verify.js';

const t = useCoordinatorWorkspace();

const set = (...args: string[]) => t.run(createSetCommand({ registry: t.d.registry }), args);
const verify = (...args: string[]) => t.run(createVerifyCommand({ registry: t.d.registry }), args);
const recover = (...args: string[]) => t.run(createRecoverCommand({ registry: t.d.registry }), args);
const file = t.file;

const start = (policyHash?: string) => t.start(policyHash);

/** Sets the manifest, then restarts the Coordinator on the same store: it comes up stale. */
async function setThenRestart(policyHash?: string): Promise<TestCoordinator> {
  const first = await start();
  expect((await set('-c', first.address, '--insecure', 'deployment/')).code).toBe(0);
  await t.stop();
  const c = await start(policyHash);
  expect(c.running.authority.status).toBe('stale');
  return c;
}

describe('contrast recover against an in-process Coordinator', () => {
  it('after a restart on the same store it brings the Coordinator back with the same root CA key', async () => {
    const c = await setThenRestart();
    const before = await verify('-c', c.address, '--insecure');
    expect(before.code).toBe(1);
    expect(before.err).toMatch(/recovery mode: run "contrast recover"/);

    const r = await recover('-c', c.address, '--insecure');
    expect(r.err).not.toMatch(/contrast recover:/);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Successfully recovered/);
    expect(r.out).toMatch(/Generation 1, latest transition [0-9a-f]{64}\./);

    const state = await c.running.authority.state();
    expect(state.status).toBe('active');
    const original = new X509Certificate(readFileSync(file('coordinator-root-ca.pem')));
    const recovered = new X509Certificate(state.rootCaPem!);
    expect(recovered.publicKey.equals(original.publicKey)).toBe(true);
    expect(recovered.subject).toBe(original.subject);
    // The history came back too: verify passes against the manifest that was set.
    expect((await verify('-c', c.address, '--insecure')).code).toBe(0);
  });

  it('ROLLBACK (exit 1) when it recovered into a history older than verify/latest-transition', async () => {
    const first = await start();
    expect((await set('-c', first.address, '--insecure', 'deployment/')).code).toBe(0);
    const generation1 = (await first.store.getLatest())!;
    // A second transition (the same manifest again, signed by workload-owner.pem), then verify
    // records it in verify/latest-transition.
    expect((await set('-c', first.address, '--insecure', 'deployment/')).code).toBe(0);
    expect((await verify('-c', first.address, '--insecure')).code).toBe(0);
    const known = readFileSync(file('verify/latest-transition'), 'utf8').trim();
    expect(known).not.toBe(generation1.value.transitionHash);
    await t.stop();
    // While every replica is down (this one restarts stale), the store gets generation 1's
    // pointer back: validly signed, so recovery alone cannot tell.
    const c = await start();
    expect(c.running.authority.status).toBe('stale');
    await c.store.setLatest(generation1.value, (await c.store.getLatest())!.version);
    const r = await recover('-c', c.address, '--insecure');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/ROLLBACK: the Coordinator recovered into a history of 1 transition/);
    expect(r.err).toContain(known);
  });

  it('a share the key cannot open: exit 2, the Coordinator stays stale', async () => {
    const c = await setThenRestart();
    writeFileSync(
      file('stranger.pem'),
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs1' }),
    );
    const r = await recover('-c', c.address, '--insecure', '--seedshare-owner-key', 'stranger.pem');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/stranger\.pem cannot open a share of seed-shares\.json/);
    expect(c.running.authority.status).toBe('stale');
  });
});

describe('contrast recover refuses bad input and untrusted Coordinators', () => {
  it('missing manifest, seed shares or key: exit 2 naming the file', async () => {
    const c = await setThenRestart();
    const noManifest = await recover('-c', c.address, '--insecure', '-m', 'gone.json');
    expect(noManifest.code).toBe(2);
    expect(noManifest.err).toMatch(/gone\.json: no such file/);
    const noSeed = await recover('-c', c.address, '--insecure', '--seed', 'no-shares.json');
    expect(noSeed.code).toBe(2);
    expect(noSeed.err).toMatch(/no-shares\.json: no such file/);
    const noKey = await recover('-c', c.address, '--insecure', '--seedshare-owner-key', 'no-key.pem');
    expect(noKey.code).toBe(2);
    expect(noKey.err).toMatch(/no-key\.pem: no such file/);
    writeFileSync(file('broken.json'), '{"not": "shares"');
    const broken = await recover('-c', c.address, '--insecure', '--seed', 'broken.json');
    expect(broken.code).toBe(2);
    expect(broken.err).toMatch(/broken\.json: not JSON/);
    expect(c.running.authority.status).toBe('stale');
  });

  it('nothing listening at the address: exit 1 with a clear message', async () => {
    await setThenRestart();
    const port = await unusedPort();
    const r = await recover('-c', `127.0.0.1:${port}`, '--insecure');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`contrast recover: .*127\\.0\\.0\\.1:${port}`));
  });

  it('a Coordinator with another measurement gets no seed: exit 1, still stale', async () => {
    const c = await setThenRestart();
    const m = JSON.parse(readFileSync(file('manifest.json'), 'utf8')) as {
      ReferenceValues: { tdx: { MrTd: string }[] };
    };
    for (const rv of m.ReferenceValues.tdx) rv.MrTd = 'ee'.repeat(48);
    writeFileSync(file('measured.json'), JSON.stringify(m));
    const r = await recover('-c', c.address, '--insecure', '-m', 'measured.json');
    expect(r.code).toBe(1);
    expect(c.running.authority.status).toBe('stale');
  });

  it("a Coordinator whose policy is not the manifest's coordinator policy gets no seed: exit 1, still stale", async () => {
    const c = await setThenRestart(t.d.workloadPolicy);
    const r = await recover('-c', c.address, '--insecure');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/polic/i);
    expect(c.running.authority.status).toBe('stale');
  });
});

describe('verify/history.yml rebuilds a lost store', () => {
  it('kubectl-applied to an empty namespace, a Coordinator on it comes up stale, recovers, and verifies the same history', async () => {
    const { parseAllDocuments } = await import('yaml');
    const { ConfigMapHistoryStore } = await import('@contrast-cc/store');
    const { startFakeKubeApiServer } = await import('@contrast-cc/store/testing');
    const { startTestCoordinator } = await import('../test-support/coordinator.js');

    const first = await start();
    expect((await set('-c', first.address, '--insecure', 'deployment/')).code).toBe(0);
    expect((await verify('-c', first.address, '--insecure')).code).toBe(0);
    const before = await first.running.authority.state();
    await t.stop(); // the store is lost with it: the new Coordinator gets only what history.yml holds

    const docs = parseAllDocuments(readFileSync(file('verify/history.yml'), 'utf8'))
      .map((d) => d.toJS())
      .filter(Boolean);
    expect(docs.length).toBeGreaterThan(3);
    const fake = await startFakeKubeApiServer();
    let restored: TestCoordinator | undefined;
    try {
      // What kubectl apply does for a new object: POST it to the collection.
      for (const body of docs) {
        const res = await fetch(`${fake.url}/api/v1/namespaces/contrast/configmaps`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        expect(res.status).toBe(201);
      }
      restored = await startTestCoordinator(t.d, {
        storeDir: '/nonexistent',
        store: new ConfigMapHistoryStore({ kubeConfig: fake.kubeConfig(), namespace: 'contrast' }),
      });
      expect(restored.running.authority.status).toBe('stale');
      const r = await recover('-c', restored.address, '--insecure');
      expect(r.err).not.toMatch(/contrast recover:/);
      expect(r.code).toBe(0);
      const after = await restored.running.authority.state();
      expect(after.transitionHash).toBe(before.transitionHash);
      // The same root CA key (the seed reproduces it), as after any recovery.
      expect(
        new X509Certificate(after.rootCaPem!).publicKey.equals(
          new X509Certificate(before.rootCaPem!).publicKey,
        ),
      ).toBe(true);
      expect((await verify('-c', restored.address, '--insecure')).code).toBe(0);
    } finally {
      await restored?.close();
      await fake.close();
    }
  });

  it('a tampered history.yml (a manifest changed) does not restore: the chain check refuses it', async () => {
    const { parseAllDocuments } = await import('yaml');
    const { restoreHistory } = await import('@contrast-cc/store/history-file');
    const first = await start();
    expect((await set('-c', first.address, '--insecure', 'deployment/')).code).toBe(0);
    expect((await verify('-c', first.address, '--insecure')).code).toBe(0);
    const docs = parseAllDocuments(readFileSync(file('verify/history.yml'), 'utf8'))
      .map((d) => d.toJS() as { metadata: { name: string }; binaryData: Record<string, string> })
      .filter(Boolean);
    const latestDoc = docs.find((d) => d.metadata.name.endsWith('-transitions-latest'))!;
    const latest = Buffer.from(Object.values(latestDoc.binaryData)[0]!, 'base64');
    const manifests = docs
      .filter((d) => d.metadata.name.includes('-manifests-'))
      .map((d) => new Uint8Array(Buffer.from(Object.values(d.binaryData)[0]!, 'base64')));
    const m0 = manifests[0]!;
    m0[5] = (m0[5] ?? 0) ^ 1;
    const store = { getLatest: async () => null } as never;
    await expect(
      restoreHistory(store, {
        manifests,
        policies: [],
        latest: { transitionHash: latest.subarray(0, 32).toString('hex'), signature: latest.subarray(32) },
      }),
    ).rejects.toThrow(/chain to transition/);
  });
});

describe('contrast recover --kds-url / --pcs-url', () => {
  it('a bad URL is a usage error naming the flag (exit 2)', async () => {
    const r = await t.run(createRecoverCommand({ registry: t.d.registry, registryFor: t.d.registryFor }), [
      '-c',
      '127.0.0.1:1',
      '--insecure',
      '--pcs-url',
      'file:///etc/passwd',
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--pcs-url "file:\/\/\/etc\/passwd" must be an http\(s\) URL/);
  });
});
