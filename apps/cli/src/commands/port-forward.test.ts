// contrast port-forward against the loopback fake Kubernetes API (pods, Services, the pod
// port-forward endpoint over WebSocket), whose kubelet runs the real relay program of the
// port-forwarder image: in-process with an AbortSignal, and the built bin stopped with SIGINT.
// Every test checks that no forwarder pod is left.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  closedPort,
  type RelayKubelet,
  relayKubelet,
  roundTrip,
  startEcho,
} from '@contrast-cc/port-forward/testing';
import { type FakeKubeApiServer, startFakeKubeApiServer } from '@contrast-cc/store/testing';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../cli.js';
import { captureIo } from '../test-support/harness.js';

const IMAGE = `ghcr.io/contrast-cc/port-forwarder@sha256:${'cd'.repeat(32)}`;
const NS = 'shop';
const cliDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(cliDir, 'dist', 'bin.js');
const builtWithPortForward =
  existsSync(bin) &&
  readdirSync(path.dirname(bin))
    .filter((f) => f.endsWith('.js'))
    .some((f) => readFileSync(path.join(path.dirname(bin), f), 'utf8').includes('Leftover forwarder pods'));
if (!builtWithPortForward) {
  console.warn(
    '!!! SKIPPING the contrast port-forward bin test (SIGINT to the real process): apps/cli/dist has no port-forward (run: pnpm exec turbo run build --filter=@contrast-cc/cli...)',
  );
}

const dir = mkdtempSync(path.join(tmpdir(), 'contrast-pf-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fake: FakeKubeApiServer;
let echo: Awaited<ReturnType<typeof startEcho>>;
let kubelet: RelayKubelet;
let kubeconfig: string;

beforeEach(async () => {
  fake = await startFakeKubeApiServer({ probeIntervalMs: 50 });
  echo = await startEcho();
  const refused = await closedPort();
  kubelet = relayKubelet((target) =>
    target === `coordinator.${NS}.svc:1313`
      ? { host: '127.0.0.1', port: echo.port }
      : target === `broken.${NS}.svc:80`
        ? { host: '127.0.0.1', port: refused }
        : undefined,
  );
  fake.setKubelet(kubelet);
  fake.setService(NS, { metadata: { name: 'coordinator' }, spec: { ports: [{ port: 1313 }] } });
  fake.setService(NS, { metadata: { name: 'broken' }, spec: { ports: [{ port: 80 }] } });
  kubeconfig = path.join(dir, `kubeconfig-${fake.url.split(':').at(-1)}`);
  writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: fake\n  cluster:\n    server: ${fake.url}\n    insecure-skip-tls-verify: true`,
      'users:',
      '- name: fake\n  user:\n    token: fake-token',
      'contexts:',
      `- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: ${NS}`,
      'current-context: fake',
      '',
    ].join('\n'),
  );
});

afterEach(async () => {
  await kubelet.stopAll();
  await fake.close();
  await echo.close();
});

const forwarders = () => fake.podNames(NS).filter((n) => n.startsWith('contrast-port-forward-'));

/** Resolves with the first stdout line matching `re` (within the time the test allows). */
function waitFor(read: () => string, re: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve) => {
    const tick = () => {
      const m = read().match(re);
      if (m) resolve(m);
      else setTimeout(tick, 20);
    };
    tick();
  });
}

const FORWARDING =
  /^Forwarding 127\.0\.0\.1:(\d+) -> svc\/coordinator:1313 \(via pod shop\/(contrast-port-forward-[a-z0-9]+)\)$/m;

describe('contrast port-forward', () => {
  it('in-process: forwards bytes (several connections) and deletes the pod when stopped (exit 0)', async () => {
    const { io, out, err } = captureIo(dir);
    const controller = new AbortController();
    const exit = runCli(
      ['port-forward', 'svc/coordinator', ':1313', '--kubeconfig', kubeconfig, '--image', IMAGE],
      { ...io, signal: controller.signal },
    );
    const [, port, pod] = await waitFor(out, FORWARDING);
    expect(forwarders()).toEqual([pod]);
    const results = await Promise.all([1000, 2 * 1024 * 1024, 70_000].map((n) => roundTrip(Number(port), n)));
    for (const { sent, received } of results) expect(received.equals(sent)).toBe(true);
    controller.abort();
    expect(await exit).toBe(0);
    expect(forwarders()).toEqual([]);
    expect(err()).toContain(`Creating forwarder pod ${NS}/${pod}`);
    expect(err()).toContain(`Deleted forwarder pod ${NS}/${pod}`);
  }, 60_000);

  it.skipIf(!builtWithPortForward)(
    'the built bin: SIGINT (Ctrl-C) stops it, the pod is deleted, exit 0',
    async () => {
      const child: ChildProcess = spawn(
        process.execPath,
        [bin, 'port-forward', '-n', NS, 'svc/coordinator', '0:1313', '--image', IMAGE],
        { env: { ...process.env, KUBECONFIG: kubeconfig }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (c) => {
        stdout += c;
      });
      child.stderr!.on('data', (c) => {
        stderr += c;
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const [, port, pod] = await waitFor(() => stdout, FORWARDING);
      const { sent, received } = await roundTrip(Number(port), 512 * 1024);
      expect(received.equals(sent)).toBe(true);
      expect(forwarders()).toEqual([pod]);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(forwarders()).toEqual([]);
      expect(stderr).toContain(`Deleted forwarder pod ${NS}/${pod}`);
    },
    60_000,
  );

  it('an error (the target refuses, the pod never gets ready): exit 1, the reason, the pod deleted', async () => {
    const { io, out, err } = captureIo(dir);
    const code = await runCli(
      ['port-forward', 'svc/broken', '80', '--kubeconfig', kubeconfig, '--image', IMAGE, '--timeout', '3s'],
      io,
    );
    expect(code).toBe(1);
    expect(out()).toBe('');
    expect(err()).toMatch(
      /contrast port-forward: the forwarder pod was not ready within 3 s: .*ECONNREFUSED/,
    );
    expect(kubelet.started).toHaveLength(1);
    expect(forwarders()).toEqual([]);
  }, 60_000);

  it('bad input: exit 2 with a clear message, no pod created', async () => {
    const cases: [string[], RegExp][] = [
      [['svc/nope', '80'], /Service "nope" not found in namespace "shop"/],
      [['svc/coordinator', '1314'], /Service "coordinator" has no port 1314 \(its ports: 1313\)/],
      [['deployment/x', '80'], /"deployment\/x": expected pod\/<name> or svc\/<name>/],
      [['svc/coordinator', '99999'], /"99999" is not a valid remote port/],
      [['svc/coordinator'], /expected <pod\|svc>\/<name> and \[LOCAL:\]REMOTE/],
      [['svc/coordinator', '80', '--timeout', 'soon'], /--timeout "soon" is not a duration/],
    ];
    for (const [args, message] of cases) {
      const { io, out, err } = captureIo(dir);
      const code = await runCli(['port-forward', ...args, '--kubeconfig', kubeconfig, '--image', IMAGE], io);
      expect({ args, code, out: out() }).toEqual({ args, code: 2, out: '' });
      expect(err()).toMatch(message);
    }
    // No image given and none in this (unreleased) build: what to supply.
    const { io, err } = captureIo(dir);
    expect(await runCli(['port-forward', 'svc/coordinator', '1313', '--kubeconfig', kubeconfig], io)).toBe(2);
    expect(err()).toMatch(/names no port-forwarder image .*--image/);
    const missing = captureIo(dir);
    expect(
      await runCli(
        ['port-forward', 'svc/coordinator', '1313', '--kubeconfig', 'nope.yaml', '--image', IMAGE],
        missing.io,
      ),
    ).toBe(2);
    expect(missing.err()).toContain('--kubeconfig nope.yaml: no such file');
    expect(fake.podNames(NS)).toEqual([]);
  }, 60_000);
});
