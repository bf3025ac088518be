import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli.js';
import { chainProblem, type DemoSummary } from '../demo/run.js';
import { captureIo } from '../test-support/harness.js';
import { createDemoCommand } from './demo.js';

const cliDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(cliDir, 'dist', 'bin.js');
// The demo runs the BUILT bin (it starts the Coordinator as `node dist/bin.js demo ...`): it needs
// a build that has the demo in it.
const built = existsSync(bin) && readdirSync(path.dirname(bin)).some((f) => f.endsWith('.js'));
const builtWithDemo =
  built &&
  readdirSync(path.dirname(bin))
    .filter((f) => f.endsWith('.js'))
    .some((f) => readFileSync(path.join(path.dirname(bin), f), 'utf8').includes('--internal-coordinator'));
if (!builtWithDemo) {
  console.warn(
    'skipping the contrast demo end-to-end tests: apps/cli/dist has no demo (run: pnpm exec turbo run build --filter=@contrast-cc/cli...)',
  );
}

const parent = mkdtempSync(path.join(tmpdir(), 'contrast-demo-cli-'));
afterAll(() => rmSync(parent, { recursive: true, force: true }));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('contrast demo: bad input', () => {
  it('refuses a workspace that is not empty (exit 2) and writes nothing there', async () => {
    const ws = path.join(parent, 'not-empty');
    mkdirSync(ws);
    writeFileSync(path.join(ws, 'keep.txt'), 'mine');
    const c = captureIo(parent);
    expect(await runCli(['demo', '--workspace', ws], c.io)).toBe(2);
    expect(c.err()).toContain('not empty');
    expect(readdirSync(ws)).toEqual(['keep.txt']);
  });

  it('refuses a workspace that is a file, unknown flags and stray arguments (exit 2)', async () => {
    const file = path.join(parent, 'a-file');
    writeFileSync(file, '');
    for (const args of [['--workspace', file], ['--nope'], ['extra']]) {
      const c = captureIo(parent);
      expect(await runCli(['demo', ...args], c.io), args.join(' ')).toBe(2);
    }
    expect(readFileSync(file, 'utf8')).toBe('');
  });
});

describe('contrast demo: a step fails', () => {
  it('stops the Coordinator process it started, reports the step, and exits 1', async () => {
    // A stand-in Coordinator process that announces a port nobody listens on: "contrast set" fails.
    const fake = path.join(parent, 'fake-coordinator.mjs');
    writeFileSync(
      fake,
      "process.stdout.write(JSON.stringify({ port: 1, pid: process.pid }) + '\\n'); setInterval(() => {}, 1000);\n",
    );
    const ws = path.join(parent, 'ws-fail');
    const c = captureIo(parent);
    const code = await createDemoCommand({ self: [process.execPath, fake] }).run(
      ['--workspace', ws, '--json'],
      c.io,
    );
    expect(code, c.err()).toBe(1);
    const summary = JSON.parse(c.out()) as DemoSummary;
    expect(summary.ok).toBe(false);
    expect(summary.error).toContain('contrast set exited 1');
    expect(c.err()).toContain('FAILED');
    expect(summary.coordinator.pids).toHaveLength(1);
    expect(alive(summary.coordinator.pids[0]!)).toBe(false);
    expect(summary.cleanup).toEqual({ stopped: 1, errors: [] });
    expect(summary.files).toContain('manifest.json');
    expect(summary.files).not.toContain('verify/mesh-ca.pem');
  }, 60_000);
});

describe('chainProblem (node:crypto chain check of the demo)', () => {
  it('accepts a chain to its root and names the break in a foreign one', async () => {
    const { createCaHierarchy, SeedEngine } = await import('@contrast-cc/certs');
    const { generateKeyPairSync } = await import('node:crypto');
    const ca = await createCaHierarchy(SeedEngine.generate());
    const other = await createCaHierarchy(SeedEngine.generate());
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const leaf = await ca.issueMeshCertificate({ publicKey, sans: ['web'] });
    expect(chainProblem(leaf.chainPem, ca.root.pem)).toBeUndefined();
    expect(chainProblem(leaf.chainPem, other.root.pem)).toMatch(/is not signed by/);
    expect(chainProblem('', ca.root.pem)).toMatch(/no certificate/);
    expect(chainProblem(leaf.chainPem, ca.root.pem, new Date('2000-01-01'))).toMatch(/not valid now/);
  });
});

describe.skipIf(!builtWithDemo)('contrast demo (built bin, end to end)', () => {
  it('runs the whole flow, leaves the workspace a user expects, and stops everything it started', async () => {
    const ws = path.join(parent, 'ws');
    const r = spawnSync(process.execPath, [bin, 'demo', '--workspace', ws, '--json'], {
      encoding: 'utf8',
      timeout: 170_000,
    });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const summary = JSON.parse(r.stdout) as DemoSummary;
    expect(summary.ok).toBe(true);
    expect(summary.workspace).toBe(ws);
    for (const f of [
      'manifest.json',
      'verify/coordinator-root-ca.pem',
      'verify/mesh-ca.pem',
      'seed-shares.json',
    ]) {
      expect(existsSync(path.join(ws, f)), f).toBe(true);
    }
    expect(summary.files).toEqual(
      expect.arrayContaining(['manifest.json', 'verify/coordinator-root-ca.pem', 'verify/mesh-ca.pem']),
    );
    expect(summary.pods.map((p) => p.name)).toEqual(['web', 'api', 'db', 'migrate']);
    expect(summary.pods.every((p) => p.chainVerified)).toBe(true);
    expect(summary.mesh?.answer).toBe('api answered "GET /orders" over the mesh');
    expect(summary.mesh?.refusedWithoutCertificate).toBeTruthy();
    expect(summary.recovery).toEqual({ staleAfterRestart: true, recovered: true, sameRootCa: true });
    expect(summary.transitionHash).toMatch(/^[0-9a-f]{64}$/);
    // Four Coordinator processes: before the crash, after it (replica A), replica B, and replica A
    // restarted after its SIGKILL.
    expect(summary.coordinator.pids).toHaveLength(4);
    const [, a, b, aRestarted] = summary.coordinator.ports.map((p) => `127.0.0.1:${p}`);
    const read = (f: string) => readFileSync(path.join(ws, f), 'utf8');
    // HA: B started stale next to A and recovered from A; the restarted A from B. No human.
    const ha = summary.ha!;
    expect(ha.replicas.map((r) => [r.name, r.address, r.peers, r.startedAs, r.recoveredFrom])).toEqual([
      ['B', b, [a], 'stale', a],
      ['A', aRestarted, [b], 'stale', b],
    ]);
    expect(ha.replicas.map((r) => r.pid)).toEqual(summary.coordinator.pids.slice(2));
    expect(ha.sameManifest).toBe(true);
    expect(ha.sameRootCa).toBe(true);
    expect(ha.meshCertificate).toEqual({
      pod: 'web',
      from: aRestarted,
      chainVerified: true,
      sameWorkloadSecret: true,
    });
    expect(read('ha/web/secrets/workload-secret-seed')).toBe(read('pods/web/secrets/workload-secret-seed'));
    // What the step left: B's verify/ equals A's (transition, root CA) and the new certificate chains.
    expect(read('ha/replica-b/verify/latest-transition')).toBe(read('verify/latest-transition'));
    expect(read('ha/replica-b/verify/coordinator-root-ca.pem')).toBe(read('verify/coordinator-root-ca.pem'));
    expect(read('ha/replica-b/verify/mesh-ca.pem')).toBe(read('verify/mesh-ca.pem'));
    expect(
      chainProblem(read('ha/web/tls-config/certChain.pem'), read('verify/coordinator-root-ca.pem')),
    ).toBeUndefined();
    expect(summary.files).toContain('ha');
    // No process survives: every pid in the summary is gone and every port closed.
    const pids = new Set([...summary.coordinator.pids, ...ha.replicas.map((r) => r.pid)]);
    for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false);
    for (const port of summary.coordinator.ports) expect(await accepts(port), `port ${port}`).toBe(false);
    expect(summary.cleanup.errors).toEqual([]);
    // The replicas' log lines are not shown without --verbose.
    expect(r.stderr).not.toContain('| info');
  }, 180_000);

  it("fails with a clear error when a replica does not recover from its peer, shows the replicas' logs and stops every process", async () => {
    // The built bin, except that the Coordinator processes never get their peers: peer recovery
    // stays off, so replica B stays stale.
    const noPeers = path.join(parent, 'no-peers.mjs');
    writeFileSync(
      noPeers,
      `const i = process.argv.indexOf('--peers');\nif (i >= 0) process.argv.splice(i, 2);\nawait import(${JSON.stringify(pathToFileURL(bin).href)});\n`,
    );
    const ws = path.join(parent, 'ws-ha-fail');
    const c = captureIo(parent);
    const code = await createDemoCommand({
      self: [process.execPath, noPeers],
      peerRecoveryTimeoutMs: 2000,
    }).run(['--workspace', ws, '--json'], c.io);
    expect(code, c.err()).toBe(1);
    const summary = JSON.parse(c.out()) as DemoSummary;
    expect(summary.ok).toBe(false);
    expect(summary.recovery?.recovered).toBe(true);
    expect(summary.ha).toBeUndefined();
    expect(summary.error).toMatch(
      /^replica B did not recover by itself: coordinator-3: no recovery from peer 127\.0\.0\.1:\d+ within 2 s$/,
    );
    // On failure the Coordinator processes' logs are shown: B opened the store stale.
    expect(c.err()).toMatch(/coordinator-3\| info opened .*"status":"stale"/);
    // ... and carry no secret: no pod's workload secret, no mesh private key.
    for (const pod of ['web', 'api', 'db', 'migrate']) {
      const secret = readFileSync(
        path.join(ws, 'pods', pod, 'secrets', 'workload-secret-seed'),
        'utf8',
      ).trim();
      expect(secret.length).toBeGreaterThan(16);
      expect(c.err() + c.out()).not.toContain(secret);
      const key = readFileSync(path.join(ws, 'pods', pod, 'tls-config', 'key.pem'), 'utf8');
      const body = key
        .split('\n')
        .filter((l) => l && !l.startsWith('-----'))
        .join('');
      expect(c.err() + c.out()).not.toContain(body.slice(0, 40));
    }
    expect(summary.coordinator.pids).toHaveLength(3);
    for (const pid of summary.coordinator.pids) expect(alive(pid), `pid ${pid}`).toBe(false);
    expect(summary.cleanup.errors).toEqual([]);
  }, 120_000);

  it('stops the Coordinator process on Ctrl-C (SIGINT) and exits 130', async () => {
    const ws = path.join(parent, 'ws-sigint');
    const child = spawn(process.execPath, [bin, 'demo', '--workspace', ws], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const pid = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no Coordinator pid in time:\n${out}`)), 120_000);
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /Coordinator pid (\d+), API on 127\.0\.0\.1:(\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
    });
    expect(out).toMatch(/\[2\/10\] /);
    expect(alive(pid)).toBe(true);
    const port = Number(/API on 127\.0\.0\.1:(\d+)/.exec(out)![1]);
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(130);
    expect(alive(pid)).toBe(false);
    expect(await accepts(port)).toBe(false);
  }, 180_000);
});
