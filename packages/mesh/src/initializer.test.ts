import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import type { Server } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FakeIssuer } from '@contrast-cc/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type InitializerOptions, runInitializer } from './initializer.js';
import { fakeCoordinator, POLICY } from './test-support/fake-coordinator.js';

/** Waits up to `ms` for the server to have no open connection; returns how many are left. */
async function drained(fake: { open: () => Promise<number> }, ms: number): Promise<number> {
  const until = Date.now() + ms;
  let n = await fake.open();
  while (n > 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 10));
    n = await fake.open();
  }
  return n;
}

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A fake Coordinator closed after the test. */
async function coordinator(notReady: number, closeIdle?: boolean) {
  const fake = await fakeCoordinator({ notReady, ...(closeIdle ? { closeIdle } : {}) });
  servers.push(fake.server);
  return fake;
}

/** runInitializer against `fake` with the test defaults (issuer of POLICY, fresh outDir, 20 ms). */
async function initialize(fake: { port: number }, options: Partial<InitializerOptions> = {}) {
  const outDir = await mkdtemp(path.join(tmpdir(), 'contrast-'));
  const run = runInitializer({
    host: '127.0.0.1',
    port: fake.port,
    issuer: new FakeIssuer({ policyDigest: POLICY }),
    outDir,
    initialDelayMs: 20,
    ...options,
  });
  return { outDir, run };
}

describe('runInitializer', () => {
  it('retries while the Coordinator has no manifest, then writes all files atomically', async () => {
    const fake = await coordinator(2);
    const { outDir, run } = await initialize(fake);
    const result = await run;
    expect(result.attempts).toBe(3);
    // Two refusals, the challenge and the certificate request: all on one kept-alive connection,
    // closed by the initializer when it is done (the server would keep it open for a minute).
    expect(fake.calls()).toBe(4);
    expect(fake.connections()).toBe(1);
    expect(await drained(fake, 2000)).toBe(0);
    expect(result.files).toContain('tls-config/certChain.pem');
    const keyPem = await readFile(path.join(outDir, 'tls-config/key.pem'), 'utf8');
    const spki = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
    expect(Buffer.from(fake.issued[0]!).equals(spki)).toBe(true);
    expect((await stat(path.join(outDir, 'tls-config/key.pem'))).mode & 0o777).toBe(0o600);
    expect(await readFile(path.join(outDir, 'secrets/workload-secret-seed'), 'utf8')).toBe('ab'.repeat(64));
    // readable by a workload that runs as its image's (non-root) user
    expect((await stat(path.join(outDir, 'secrets/workload-secret-seed'))).mode & 0o777).toBe(0o644);
    for (const f of ['mesh-ca.pem', 'coordinator-root-ca.pem', 'certChain.pem']) {
      expect(await readFile(path.join(outDir, 'tls-config', f), 'utf8')).toContain('BEGIN CERTIFICATE');
    }
  });

  it('gives up at the deadline (closing its connection) and refuses evidence the Coordinator rejects', async () => {
    const fake = await coordinator(1000);
    // Real requests, virtual backoff time: only the sleeps move the clock, so the number of
    // attempts before the 300 ms deadline does not depend on how long a handshake takes here.
    let t = 0;
    const clock = {
      now: () => t,
      sleep: async (ms: number) => {
        t += ms;
      },
    };
    const err = await (await initialize(fake, { deadlineMs: 300, clock })).run.catch((e) => e);
    expect(err.code).toBe('unavailable');
    expect(err.message).toContain('no_manifest');
    expect(fake.calls()).toBeGreaterThan(2);
    expect(t).toBeLessThanOrEqual(300);
    expect(fake.connections()).toBe(1);
    expect(await drained(fake, 2000)).toBe(0);

    const strict = await coordinator(0);
    const issuer = new FakeIssuer({ policyDigest: 'bb'.repeat(32) });
    const wrong = await (await initialize(strict, { issuer, deadlineMs: 300, clock })).run.catch((e) => e);
    expect(wrong.message).toContain('attestation_failed');
    expect(strict.issued).toHaveLength(0);
  });

  it('opens a new connection (full handshake) when the Coordinator closed the idle one between retries', async () => {
    const fake = await coordinator(2, true);
    const result = await (await initialize(fake, { initialDelayMs: 200 })).run;
    // 3, or one more if a stalled machine ran the retry before it saw the close (a failed attempt
    // on the dead connection, then a new one): either way, each try after a close is a new handshake.
    expect(result.attempts).toBeGreaterThanOrEqual(3);
    // Each retry came after the server had closed the idle connection. A resumed session would
    // present no certificate, so the Coordinator's key could not be bound: full handshakes only.
    expect(fake.connections()).toBeGreaterThanOrEqual(3);
    expect(fake.resumed()).toBe(0);
    expect(fake.issued).toHaveLength(1);
    expect(await drained(fake, 2000)).toBe(0);
  });
});
