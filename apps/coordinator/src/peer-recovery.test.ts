import { X509Certificate } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deployment, freeLoopbackPort, keys } from '@contrast-cc/authority/testing';
import { openSeedShare, recoverSeed } from '@contrast-cc/certs';
import { afterAll, describe, expect, it } from 'vitest';
import { coordinatorProcesses } from './test-support/coordinator-process.js';

const d = deployment();
const coordinators = coordinatorProcesses(d);
afterAll(() => coordinators.killAll());
const client = (port: number) => coordinators.client(port);

/** A replica on a fixed port that knows its peer's (both are chosen before either starts). */
const start = (storeDir: string, port: number, peerPort: number) =>
  coordinators.start(storeDir, {
    CONTRAST_API_PORT: String(port),
    CONTRAST_PEERS: `127.0.0.1:${peerPort}`,
  });

describe('Coordinator replicas (processes) with CONTRAST_PEERS', () => {
  it('a replica killed with SIGKILL and restarted recovers from its active peer without a human', async () => {
    const storeDir = await mkdtemp(path.join(tmpdir(), 'coordinator-ha-'));
    const [portA, portB] = [await freeLoopbackPort(), await freeLoopbackPort()];
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
    // B adopted A's mesh CA certificate and the restarted A adopted B's: still the one A issued.
    expect(state.mesh_ca).toBe(set.mesh_ca);
    expect((await (await client(portB)).state()).mesh_ca).toBe(set.mesh_ca);
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
  }, 300_000);
});
