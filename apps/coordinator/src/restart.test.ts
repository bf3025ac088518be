import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoordinatorClient, requestMeshCertificate, verifiersForReferenceValues } from '@contrast-cc/api';
import { deployment, keys, MEASUREMENT, podIssuer, registry } from '@contrast-cc/authority/testing';
import { openSeedShare, recoverSeed } from '@contrast-cc/certs';
import { afterAll, describe, expect, it } from 'vitest';
import { type Spawned, spawnTs } from './test-support/spawn.js';

const main = path.join(path.dirname(fileURLToPath(import.meta.url)), 'main.ts');
const d = deployment();
const running: Spawned[] = [];

afterAll(() => {
  for (const p of running) p.child.kill('SIGKILL');
});

async function start(storeDir: string) {
  const p = spawnTs(main, {
    CONTRAST_ISSUER: 'fake',
    CONTRAST_ALLOW_INSECURE_RUNTIMES: '1',
    CONTRAST_FAKE_POLICY_HASH: d.hashes.coordinator!,
    CONTRAST_FAKE_MEASUREMENT: MEASUREMENT,
    CONTRAST_STORE: 'dir',
    CONTRAST_STORE_DIR: storeDir,
    CONTRAST_LISTEN_ADDRESS: '127.0.0.1',
    CONTRAST_API_PORT: '0',
    CONTRAST_METRICS_PORT: '0',
    CONTRAST_LOG_LEVEL: 'info',
  });
  running.push(p);
  const line = await p.waitFor((l) => l.msg === 'listening');
  return { p, port: line.port as number, metricsPort: line.metricsPort as number };
}

const client = (port: number) =>
  CoordinatorClient.connect({
    host: '127.0.0.1',
    port,
    verifiers: verifiersForReferenceValues(registry(), d.manifestJson.ReferenceValues as never),
    coordinatorPolicyHashes: [d.hashes.coordinator!],
    allowInsecure: true,
  });

describe('Coordinator process', () => {
  it('killed with SIGKILL and restarted on the same store comes up stale; recover restores the root CA', async () => {
    const storeDir = await mkdtemp(path.join(tmpdir(), 'coordinator-store-'));
    const first = await start(storeDir);
    const set = await (await client(first.port)).setManifest({ manifest: d.manifest, policies: d.policies });
    first.p.child.kill('SIGKILL');
    expect(await first.p.exited).toBe('SIGKILL');

    const second = await start(storeDir);
    const c = await client(second.port);
    expect((await c.state()).status).toBe('stale');
    expect((await fetch(`http://127.0.0.1:${second.metricsPort}/probe/readiness`)).status).toBe(503);
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = new Uint8Array(key.publicKey.export({ type: 'spki', format: 'der' }));
    const refused = await requestMeshCertificate({
      host: '127.0.0.1',
      port: second.port,
      issuer: podIssuer(d.hashes.web!),
      publicKey: spki,
    }).catch((e) => e);
    expect(refused.apiCode).toBe('needs_recovery');

    const doc = set.seed_shares_doc!;
    const secret = recoverSeed(doc, [openSeedShare(doc, keys().seedOwnerPrivate)]);
    const recovered = await c.recover({ ...secret, ownerPrivateKey: keys().seedOwnerPrivate });
    expect(
      new X509Certificate(recovered.root_ca).publicKey.equals(new X509Certificate(set.root_ca).publicKey),
    ).toBe(true);
    const state = await c.state();
    expect(state.status).toBe('active');
    expect(state.latest_transition?.transition_hash).toBe(set.transition_hash);

    const cert = await requestMeshCertificate({
      host: '127.0.0.1',
      port: second.port,
      issuer: podIssuer(d.hashes.web!),
      publicKey: spki,
    });
    const chain = cert.cert_chain.split(/(?<=-----END CERTIFICATE-----\n)/);
    expect(new X509Certificate(chain[1]!).verify(new X509Certificate(set.root_ca).publicKey)).toBe(true);

    // Graceful stop on SIGTERM.
    second.p.child.kill('SIGTERM');
    expect(await second.p.exited).toBe(0);
    expect(second.p.lines.some((l) => l.msg === 'coordinator stopped')).toBe(true);
    // The seed never reached the log.
    const log = JSON.stringify(second.p.lines);
    expect(log).not.toContain(Buffer.from(secret.seed).toString('hex'));
    expect(log).not.toContain(Buffer.from(secret.seed).toString('base64'));
  }, 120_000);
});
