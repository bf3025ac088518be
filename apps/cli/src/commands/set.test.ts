import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { startFakePcs } from '@contrast-cc/attestation/testing';
import { describe, expect, it } from 'vitest';
import { unusedPort, useCoordinatorWorkspace } from '../test-support/coordinator.js';
import { createSetCommand } from './set.js';
import { createSignCommand } from './sign.js';
import { createVerifyCommand } from './verify.js';

const t = useCoordinatorWorkspace();

const set = (...args: string[]) => t.run(createSetCommand({ registry: t.d.registry }), args);
const verify = (...args: string[]) => t.run(createVerifyCommand({ registry: t.d.registry }), args);
const sign = (...args: string[]) => t.run(createSignCommand(), args);
const file = t.file;

/** Changes the manifest (a new workload owner key) so that setting it is an update. */
function editManifest(mutate?: (m: Record<string, unknown>) => void): void {
  const m = JSON.parse(readFileSync(file('manifest.json'), 'utf8')) as Record<string, unknown>;
  if (mutate) mutate(m);
  else {
    const extra = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .publicKey.export({ type: 'spki', format: 'der' })
      .toString('hex');
    (m.WorkloadOwnerPubKeys as string[]).push(extra);
  }
  writeFileSync(file('manifest.json'), JSON.stringify(m, null, 2));
}

const start = (policyHash?: string) => t.start(policyHash);

describe('contrast set against an in-process Coordinator', () => {
  it('first set: attests, sets, writes coordinator-root-ca.pem, mesh-ca.pem and seed-shares.json (0600)', async () => {
    const c = await start();
    const r = await set('-c', c.address, '--insecure', 'deployment/');
    expect(r.err).not.toMatch(/contrast set:/);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Manifest set: transition [0-9a-f]{64}/);
    expect(r.err).toMatch(/INSECURE/);

    const state = await c.running.authority.state();
    expect(state.status).toBe('active');
    expect(readFileSync(file('coordinator-root-ca.pem'), 'utf8')).toBe(state.rootCaPem);
    expect(readFileSync(file('mesh-ca.pem'), 'utf8')).toBe(state.meshCaPem);
    // Owner-only on POSIX; Windows has no mode bits (the file gets its directory's ACL).
    if (process.platform !== 'win32') expect(statSync(file('seed-shares.json')).mode & 0o777).toBe(0o600);
    const shares = JSON.parse(readFileSync(file('seed-shares.json'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(shares).length).toBeGreaterThan(0);
    // The manifest the Coordinator holds is byte for byte the file.
    expect(Buffer.from(state.manifests.at(-1)!).equals(readFileSync(file('manifest.json')))).toBe(true);
  });

  it('an update is signed with the owner key (workload-owner.pem by default); without a key it is refused with the hint', async () => {
    const c = await start();
    expect((await set('-c', c.address, '--insecure', 'deployment/')).code).toBe(0);
    const first = await c.running.authority.state();

    editManifest();
    renameSync(file('workload-owner.pem'), file('owner-elsewhere.pem'));
    const unsigned = await set('-c', c.address, '--insecure', 'deployment/');
    expect(unsigned.code).toBe(1);
    expect(unsigned.err).toMatch(/hint: updates need a workload owner's signature/);
    expect((await c.running.authority.state()).transitionHash).toBe(first.transitionHash);

    const signed = await set(
      '-c',
      c.address,
      '--insecure',
      '--workload-owner-key',
      'owner-elsewhere.pem',
      'deployment/',
    );
    expect(signed.err).not.toMatch(/contrast set:/);
    expect(signed.code).toBe(0);
    const after = await c.running.authority.state();
    expect(after.manifests).toHaveLength(2);
    expect(after.transitionHash).not.toBe(first.transitionHash);
    // Not a first set: the root CA keeps its key and name (it comes from the seed).
    const before = new X509Certificate(first.rootCaPem!);
    const now = new X509Certificate(after.rootCaPem!);
    expect(now.subject).toBe(before.subject);
    expect(now.publicKey.equals(before.publicKey)).toBe(true);
  });

  it('--signature from "contrast sign" authorizes an update without the key at hand', async () => {
    const c = await start();
    expect((await set('-c', c.address, '--insecure', 'deployment/')).code).toBe(0);
    expect((await verify('-c', c.address, '--insecure')).code).toBe(0);
    editManifest();
    const s = await sign('--out', 'transition.sig');
    expect(s.code).toBe(0);
    rmSync(file('workload-owner.pem'));
    const r = await set('-c', c.address, '--insecure', '--signature', 'transition.sig', 'deployment/');
    expect(r.err).not.toMatch(/contrast set:/);
    expect(r.code).toBe(0);
    expect((await c.running.authority.state()).manifests).toHaveLength(2);

    // The same signature does not authorize yet another manifest.
    editManifest();
    const again = await set('-c', c.address, '--insecure', '--signature', 'transition.sig', 'deployment/');
    expect(again.code).toBe(1);
    expect((await c.running.authority.state()).manifests).toHaveLength(2);
  });

  it('--atomic refuses (exit 1) when the Coordinator moved on since verify/latest-transition', async () => {
    const c = await start();
    expect((await set('-c', c.address, '--insecure', 'deployment/')).code).toBe(0);
    expect((await verify('-c', c.address, '--insecure')).code).toBe(0);
    // Someone else updates in between.
    editManifest();
    expect((await set('-c', c.address, '--insecure', 'deployment/')).code).toBe(0);
    const moved = await c.running.authority.state();

    editManifest();
    const r = await set('-c', c.address, '--insecure', '--atomic', 'deployment/');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--atomic: the Coordinator is at transition/);
    expect((await c.running.authority.state()).transitionHash).toBe(moved.transitionHash);

    // verify shows what changed: it refreshes verify/ (history, latest-transition) and exits 1
    // because the active manifest is not the edited one; then the atomic update goes through.
    const v = await verify('-c', c.address, '--insecure');
    expect(v.code).toBe(1);
    expect(readFileSync(file('verify/latest-transition'), 'utf8').trim()).toBe(moved.transitionHash);
    const ok = await set('-c', c.address, '--insecure', '--atomic', 'deployment/');
    expect(ok.code).toBe(0);
    expect((await c.running.authority.state()).manifests).toHaveLength(3);
  });
});

describe('contrast set refuses bad input and untrusted Coordinators', () => {
  it('missing manifest, resources or key file: exit 2 naming the file', async () => {
    const c = await start();
    const noManifest = await set('-c', c.address, '--insecure', '-m', 'nope.json', 'deployment/');
    expect(noManifest.code).toBe(2);
    expect(noManifest.err).toMatch(/nope\.json: no such file/);

    const noResources = await set('-c', c.address, '--insecure', 'not-there/');
    expect(noResources.code).not.toBe(0);
    expect(noResources.err).toMatch(/not-there\/: no such file/);

    const noKey = await set(
      '-c',
      c.address,
      '--insecure',
      '--workload-owner-key',
      'missing.pem',
      'deployment/',
    );
    expect(noKey.code).toBe(2);
    expect(noKey.err).toMatch(/missing\.pem: no such file/);

    const noSig = await set('-c', c.address, '--insecure', '--signature', 'missing.sig', 'deployment/');
    expect(noSig.code).toBe(2);
    expect(noSig.err).toMatch(/missing\.sig: no such file/);
    expect((await c.running.authority.state()).status).toBe('uninitialized');
    expect(existsSync(file('seed-shares.json'))).toBe(false);
  });

  it('a missing resource path exits 2 (bad input)', async () => {
    const c = await start();
    expect((await set('-c', c.address, '--insecure', 'not-there/')).code).toBe(2);
  });

  it('nothing listening at the address: exit 1 with a clear message (--wait 0: at once)', async () => {
    const port = await unusedPort();
    const r = await set('-c', `127.0.0.1:${port}`, '--insecure', '--wait', '0', 'deployment/');
    expect(r.code).toBe(1);
    expect(r.err).not.toMatch(/Waiting for the Coordinator/);
    expect(r.err).toMatch(new RegExp(`contrast set: .*127\\.0\\.0\\.1:${port}`));
    expect(r.err).toMatch(/ECONNREFUSED|refused|unreachable|cannot connect/i);
    expect(existsSync(file('coordinator-root-ca.pem'))).toBe(false);
  });

  it('a Coordinator measured differently from the manifest is refused before anything is sent', async () => {
    const c = await start();
    editManifest((m) => {
      const tdx = (m.ReferenceValues as { tdx: { MrTd: string }[] }).tdx;
      for (const rv of tdx) rv.MrTd = 'ee'.repeat(48);
    });
    const r = await set('-c', c.address, '--insecure', 'deployment/');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/contrast set: /);
    expect(r.err).not.toMatch(/setting the manifest/);
    const state = await c.running.authority.state();
    expect(state.status).toBe('uninitialized');
    expect(state.manifests).toHaveLength(0);
    expect(existsSync(file('coordinator-root-ca.pem'))).toBe(false);
  });

  it("a Coordinator whose policy is not the manifest's coordinator policy is refused before anything is sent", async () => {
    const c = await start(t.d.workloadPolicy);
    const r = await set('-c', c.address, '--insecure', 'deployment/');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/polic/i);
    expect(r.err).not.toMatch(/setting the manifest/);
    const state = await c.running.authority.state();
    expect(state.status).toBe('uninitialized');
    expect(state.manifests).toHaveLength(0);
    expect(existsSync(file('seed-shares.json'))).toBe(false);
  });
});

describe('contrast set waits for a Coordinator that is not up yet', () => {
  // A virtual clock: every sleep advances it by what was asked, so 20 s of waiting take no time.
  function virtualClock(onTime: (now: number) => Promise<unknown> | undefined) {
    let now = 0;
    return {
      now: () => now,
      sleep: async (ms: number) => {
        now += ms;
        await onTime(now);
      },
    };
  }

  it('retries with progress and succeeds when the Coordinator starts 20 s later', async () => {
    const port = await unusedPort();
    let started: Promise<unknown> | undefined;
    const clock = virtualClock((now) => {
      if (now >= 20_000) started ??= t.start(undefined, port);
      return started;
    });
    const r = await t.run(createSetCommand({ registry: t.d.registry, clock }), [
      '-c',
      `127.0.0.1:${port}`,
      '--insecure',
      'deployment/',
    ]);
    expect(r.err).not.toMatch(/contrast set:/);
    expect(r.code).toBe(0);
    const waits =
      r.err.match(
        /^Waiting for the Coordinator at 127\.0\.0\.1:\d+ \(attempt \d+: .*\); retrying for up to \S+ \.\.\.$/gm,
      ) ?? [];
    expect(waits.length).toBeGreaterThanOrEqual(4);
    expect(waits[0]).toMatch(/attempt 1: .*retrying for up to 3m/);
    expect(existsSync(file('seed-shares.json'))).toBe(true);
  });

  it('gives up after --wait with the last reason (exit 1), and never retries a failed attestation', async () => {
    const port = await unusedPort();
    const clock = virtualClock(() => undefined);
    const r = await t.run(createSetCommand({ registry: t.d.registry, clock }), [
      '-c',
      `127.0.0.1:${port}`,
      '--insecure',
      '--wait',
      '45s',
      'deployment/',
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/was not reachable within 45s/);
    expect(clock.now()).toBe(45_000);

    const c = await start();
    editManifest((m) => {
      const tdx = (m.ReferenceValues as { tdx: { MrTd: string }[] }).tdx;
      for (const rv of tdx) rv.MrTd = 'ee'.repeat(48);
    });
    const refused = await t.run(
      createSetCommand({ registry: t.d.registry, clock: virtualClock(() => undefined) }),
      ['-c', c.address, '--insecure', 'deployment/'],
    );
    expect(refused.code).toBe(1);
    expect(refused.err).not.toMatch(/Waiting for the Coordinator/);
  });

  it('refuses a malformed --wait (exit 2, naming the flag)', async () => {
    const r = await set('-c', '127.0.0.1:1', '--insecure', '--wait', 'soon', 'deployment/');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--wait "soon" is not a duration/);
  });
});

describe('contrast set --pcs-url', () => {
  it('attests with collateral from the given PCS: one that has none for the platform stops the set (exit 1), nothing sent', async () => {
    const c = await t.start();
    const pcs = await startFakePcs([]);
    try {
      const r = await t.run(createSetCommand({ registry: t.d.registry, registryFor: t.d.registryFor }), [
        '-c',
        c.address,
        '--insecure',
        '--wait',
        '0',
        '--pcs-url',
        pcs.url,
        'deployment/',
      ]);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/collateral/i);
      expect(pcs.requests.some((q) => q.startsWith('/tdx/certification/v4/tcb?fmspc='))).toBe(true);
      expect((await c.running.authority.state()).status).toBe('uninitialized');
    } finally {
      await pcs.close();
    }
  });
});
