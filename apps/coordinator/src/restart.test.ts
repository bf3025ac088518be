import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { requestMeshCertificate } from '@contrast-cc/api';
import { deployment, keys, podIssuer } from '@contrast-cc/authority/testing';
import { openSeedShare, recoverSeed } from '@contrast-cc/certs';
import { afterAll, describe, expect, it } from 'vitest';
import { coordinatorProcesses } from './test-support/coordinator-process.js';

const d = deployment();
const coordinators = coordinatorProcesses(d);
afterAll(() => coordinators.killAll());
const start = (storeDir: string) => coordinators.start(storeDir);
const client = (port: number) => coordinators.client(port);

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
  }, 300_000);
});
