// A FakeKubelet that runs forwarder pods for real: the port-forwarder image's program
// (image/port-forwarder.mjs) as a child process with the pod's environment, except that it
// listens on free loopback ports and that the target (a Service DNS name or a pod IP, which only
// exist in a cluster) is mapped to a loopback endpoint by the test. The container ports of the
// pod spec (FORWARD_LISTEN_PORT, FORWARD_HEALTH_PORT) are mapped to where the process listens,
// so the fake's port-forward and readiness probe reach it as a kubelet would.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FakeEndpoint, FakeKubelet, FakePod, FakeRunningPod } from '@contrast-cc/store/testing';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The relay program (from src/testing/ or, built, from a dist/ chunk). */
export const RELAY_SCRIPT =
  ['../../image/port-forwarder.mjs', '../image/port-forwarder.mjs']
    .map((rel) => path.resolve(here, rel))
    .find((p) => existsSync(p)) ?? path.resolve(here, '../../image/port-forwarder.mjs');

export interface RelayKubelet extends FakeKubelet {
  /** The pods it started, with their process and the target it was given. */
  readonly started: { pod: FakePod; target: string; process: ChildProcess }[];
  /** Kills every process still running. */
  stopAll(): Promise<void>;
}

/**
 * @param resolve maps the pod's target (`host:port` as the CLI wrote it into the pod) to a
 *   loopback endpoint; undefined leaves it unmapped (the relay then tries the name as given).
 */
export function relayKubelet(resolve: (target: string) => FakeEndpoint | undefined): RelayKubelet {
  const started: RelayKubelet['started'] = [];
  const running = new Set<ChildProcess>();
  const kill = (child: ChildProcess) =>
    new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', () => done());
      child.kill('SIGTERM');
    });
  return {
    started,
    async stopAll() {
      await Promise.all([...running].map(kill));
    },
    run(pod: FakePod): Promise<FakeRunningPod> {
      const container = pod.spec.containers[0]!;
      const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? '']));
      const target = `${env.FORWARD_TARGET_HOST}:${env.FORWARD_TARGET_PORT}`;
      const mapped = resolve(target);
      const child = spawn(process.execPath, [RELAY_SCRIPT], {
        env: {
          PATH: process.env.PATH,
          FORWARD_TARGET_HOST: mapped?.host ?? env.FORWARD_TARGET_HOST,
          FORWARD_TARGET_PORT: String(mapped?.port ?? env.FORWARD_TARGET_PORT),
          FORWARD_LISTEN_HOST: '127.0.0.1',
          FORWARD_LISTEN_PORT: '0',
          FORWARD_HEALTH_HOST: '127.0.0.1',
          FORWARD_HEALTH_PORT: '0',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      running.add(child);
      started.push({ pod, target, process: child });
      const exited = new Promise<{ exitCode: number }>((done) =>
        child.once('exit', (code) => {
          running.delete(child);
          done({ exitCode: code ?? 137 });
        }),
      );
      let log = '';
      const ports: Record<number, FakeEndpoint> = {};
      return new Promise((resolveRun, rejectRun) => {
        let buffered = '';
        child.stdout!.setEncoding('utf8');
        child.stdout!.on('data', (chunk: string) => {
          log += chunk;
          buffered += chunk;
          let nl = buffered.indexOf('\n');
          while (nl >= 0) {
            const line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            nl = buffered.indexOf('\n');
            const entry = JSON.parse(line) as { msg: string; port?: number; healthPort?: number };
            if (entry.msg === 'listening') {
              ports[Number(env.FORWARD_LISTEN_PORT)] = { host: '127.0.0.1', port: entry.port! };
              resolveRun({ ports, log: () => log, exited, stop: () => kill(child) });
            } else if (entry.msg === 'ready') {
              ports[Number(env.FORWARD_HEALTH_PORT)] = { host: '127.0.0.1', port: entry.healthPort! };
            }
          }
        });
        void exited.then(({ exitCode }) => rejectRun(new Error(`the relay exited with ${exitCode}: ${log}`)));
      });
    },
  };
}
