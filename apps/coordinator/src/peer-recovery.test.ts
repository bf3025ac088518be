import { X509Certificate } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoordinatorClient, verifiersForReferenceValues } from '@contrast-cc/api';
import { deployment, keys, MEASUREMENT, registry } from '@contrast-cc/authority/testing';
import { openSeedShare, recoverSeed } from '@contrast-cc/certs';
import { afterAll, describe, expect, it } from 'vitest';
import { type Spawned, spawnTs } from './test-support/spawn.js';

const main = path.join(path.dirname(fileURLToPath(import.meta.url)), 'main.ts');
const d = deployment();
const running: Spawned[] = [];

afterAll(() => {
  for (const p of running) p.child.kill('SIGKILL');
});

/** A free loopback port (the replicas must know each other's port before they start). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function start(storeDir: string, port: number, peerPort: number) {
  const p = spawnTs(main, {
    CONTRAST_ISSUER: 'fake',
    CONTRAST_ALLOW_INSECURE_RUNTIMES: '1',
    CONTRAST_FAKE_POLICY_HASH: d.hashes.coordinator!,
    CONTRAST_FAKE_MEASUREMENT: MEASUREMENT,
    CONTRAST_STORE: 'dir',
    CONTRAST_STORE_DIR: storeDir,
    CONTRAST_LISTEN_ADDRESS: '127.0.0.1',
    CONTRAST_API_PORT: String(port),
    CONTRAST_METRICS_PORT: '0',
    CONTRAST_LOG_LEVEL: 'info',
    CONTRAST_PEERS: `127.0.0.1:${peerPort}`,
  });
  running.push(p);
  const line = await p.waitFor((l) => l.msg === 'listening');
  return { p, port, metricsPort: line.metricsPort as number };
}

const client = (port: number) =>
  CoordinatorClient.connect({
    host: '127.0.0.1',
    port,
    verifiers: verifiersForReferenceValues(registry(), d.manifestJson.ReferenceValues as never),
    coordinatorPolicyHashes: [d.hashes.coordinator!],
    allowInsecure: true,
  });

describe('Coordinator replicas (processes) with CONTRAST_PEERS', () => {
  it('a replica killed with SIGKILL and restarted recovers from its active peer without a human', async () => {
    const storeDir = await mkdtemp(path.join(tmpdir(), 'coordinator-ha-'));
    const [portA, portB] = [await freePort(), await freePort()];
    const a = await start(storeDir, portA, portB);
    const set = await (await client(portA)).setManifest({ manifest: d.manifest, policies: d.policies });

    const b = await start(storeDir, portB, portA);
    await b.p.waitFor((l) => l.msg === 'recovered from a peer Coordinator');
    expect((await (await client(portB)).state()).status).toBe('active');

    a.p.child.kill('SIGKILL');
    expect(await a.p.exited).toBe('SIGKILL');
    const a2 = await start(storeDir, portA, portB);
    await a2.p.waitFor((l) => l.msg === 'recovered from a peer Coordinator');
    const state = await (await client(portA)).state();
    expect(state.status).toBe('active');
    expect(state.latest_transition?.transition_hash).toBe(set.transition_hash);
    expect(new X509Certificate(state.root_ca!).raw.equals(new X509Certificate(set.root_ca).raw)).toBe(true);
    const metrics = await (await fetch(`http://127.0.0.1:${a2.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/contrast_peer_recoveries_total\{result="success"\} 1/);
    expect((await fetch(`http://127.0.0.1:${a2.metricsPort}/probe/readiness`)).status).toBe(200);

    // The seed never reached any replica's log.
    const doc = set.seed_shares_doc!;
    const seed = Buffer.from(recoverSeed(doc, [openSeedShare(doc, keys().seedOwnerPrivate)]).seed);
    for (const p of [a.p, b.p, a2.p]) {
      const log = JSON.stringify(p.lines);
      expect(log).not.toContain(seed.toString('hex'));
      expect(log).not.toContain(seed.toString('base64'));
    }
  }, 120_000);
});
