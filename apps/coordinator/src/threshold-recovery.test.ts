// k-of-n recovery against real Coordinator processes (this app's main.ts): three seed-share
// owners, SeedshareThreshold 2. After a SIGKILL, three replicas restarted on the same store come
// up stale; one owner's share alone is refused, and each of the three pairs of owners recovers
// one replica to the same root CA.
import { X509Certificate } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApiError } from '@contrast-cc/api';
import { deployment, seedShareOwners } from '@contrast-cc/authority/testing';
import { releaseSeedShare } from '@contrast-cc/certs';
import { afterAll, describe, expect, it } from 'vitest';
import { coordinatorProcesses } from './test-support/coordinator-process.js';

const owners = seedShareOwners(3);
const d = deployment(['web'], { seedOwners: owners.map((o) => o.hex), seedshareThreshold: 2 });
const coordinators = coordinatorProcesses(d);
afterAll(() => coordinators.killAll());

describe('Coordinator process, seed split 2 of 3', () => {
  it('any 2 owners recover it to the same root CA; 1 alone is refused; no share reaches the log', async () => {
    const storeDir = await mkdtemp(path.join(tmpdir(), 'coordinator-threshold-'));
    // Debug logs: not even they may hold a share.
    const start = () => coordinators.start(storeDir, { CONTRAST_LOG_LEVEL: 'debug' });
    const first = await start();
    const set = await (await coordinators.client(first.port)).setManifest({
      manifest: d.manifest,
      policies: d.policies,
    });
    const doc = set.seed_shares_doc!;
    expect(doc.Threshold).toBe(2);
    expect(doc.SeedShares).toHaveLength(3);
    first.p.child.kill('SIGKILL');
    await first.p.exited;
    const released = owners.map((o) => releaseSeedShare(doc, o.privateKey));
    const root = new X509Certificate(set.root_ca);

    // Three replicas restarted on the same store at once (started together: one start's wait),
    // each stale; each recovers with another pair of owners.
    const replicas = await Promise.all([start(), start(), start()]);
    const logs: string[] = [];
    for (const [i, pair] of [
      [0, 1],
      [0, 2],
      [2, 1],
    ].entries()) {
      const p = replicas[i]!;
      const c = await coordinators.client(p.port);
      expect((await c.state()).status).toBe('stale');
      if (i === 0) {
        const alone = await c.recoverWithShares({ shares: [released[0]!] }).catch((e: unknown) => e);
        expect(alone).toBeInstanceOf(ApiError);
        expect(alone).toMatchObject({
          apiCode: 'invalid_argument',
          message: '2 of 3 shares needed, 1 given',
        });
        expect((await c.state()).status).toBe('stale');
      }
      const recovered = await c.recoverWithShares({ shares: pair.map((j) => released[j]!) });
      expect(new X509Certificate(recovered.root_ca).publicKey.equals(root.publicKey)).toBe(true);
      const state = await c.state();
      expect(state.status).toBe('active');
      expect(state.latest_transition?.transition_hash).toBe(set.transition_hash);
    }
    for (const p of replicas) {
      p.p.child.kill('SIGTERM');
      expect(await p.p.exited).toBe(0);
      logs.push(JSON.stringify(p.p.lines), p.p.stderr.join(''));
    }
    const log = logs.join('\n');
    expect(log).toMatch(/recovered/);
    for (const r of released) {
      expect(log).not.toContain(r.share.slice(0, 16));
      expect(log).not.toContain(Buffer.from(r.share, 'base64').toString('hex').slice(0, 32));
    }
  }, 300_000);
});
