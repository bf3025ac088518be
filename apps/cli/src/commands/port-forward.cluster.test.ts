// Opt-in: the built `contrast port-forward` against a real cluster (KUBECONFIG) with a pushed
// port-forwarder image (CONTRAST_PORT_FORWARDER_IMAGE; namespace CONTRAST_PORT_FORWARD_TEST_NAMESPACE,
// else the context's): bytes round-trip through the real process, SIGINT (Ctrl-C) stops it with
// exit 0 and the forwarder pod is gone; a Service without endpoints: exit 1, the pod gone.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadKubeConfig } from '@contrast-cc/port-forward';
import { type ClusterEcho, roundTrip, startClusterEcho } from '@contrast-cc/port-forward/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/bin.js');
const kubeconfig = process.env.KUBECONFIG;
const image = process.env.CONTRAST_PORT_FORWARDER_IMAGE;
const missing = [
  !kubeconfig && 'KUBECONFIG',
  !image && 'CONTRAST_PORT_FORWARDER_IMAGE',
  !existsSync(bin) && 'a built apps/cli/dist',
].filter(Boolean);

if (missing.length > 0 || !image) {
  console.warn(`!!! SKIPPING the real-cluster contrast port-forward test: needs ${missing.join(', ')}`);
  describe('contrast port-forward on a real cluster', () => {
    it.skip('needs KUBECONFIG, CONTRAST_PORT_FORWARDER_IMAGE and a build', () => {});
  });
} else {
  describe('contrast port-forward on a real cluster', () => {
    const { kubeConfig, namespace: contextNamespace } = loadKubeConfig({
      env: process.env,
      cwd: process.cwd(),
    });
    const namespace = process.env.CONTRAST_PORT_FORWARD_TEST_NAMESPACE ?? contextNamespace;
    let echo: ClusterEcho;
    beforeAll(async () => {
      echo = await startClusterEcho(kubeConfig, namespace, image);
    }, 240_000);
    afterAll(async () => {
      await echo?.delete();
    });

    const contrast = (args: string[]) => {
      const child = spawn(
        process.execPath,
        [bin, 'port-forward', '-n', namespace, ...args, '--image', image],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const out = { stdout: '', stderr: '' };
      child.stdout.on('data', (c) => {
        out.stdout += c;
      });
      child.stderr.on('data', (c) => {
        out.stderr += c;
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      return { child, out, exited };
    };
    const until = async (read: () => string, re: RegExp) => {
      for (;;) {
        const m = read().match(re);
        if (m) return m;
        await new Promise((r) => setTimeout(r, 100));
      }
    };

    it('SIGINT stops it (exit 0) and the forwarder pod is gone; bytes round-trip before', async () => {
      const run = contrast([`svc/${echo.name}`, ':1313']);
      const [, port, pod] = await until(
        () => run.out.stdout,
        /Forwarding 127\.0\.0\.1:(\d+) -> svc\/\S+:1313 \(via pod \S+\/(contrast-port-forward-[a-z0-9]+)\)/,
      );
      const { sent, received } = await roundTrip(Number(port), 1024 * 1024);
      expect(received.equals(sent)).toBe(true);
      run.child.kill('SIGINT');
      expect(await run.exited).toBe(0);
      expect(await echo.podStatus(pod!)).toBe(404);
    }, 300_000);

    it('a target that refuses: exit 1 after --timeout, the forwarder pod is gone', async () => {
      const run = contrast([`svc/${echo.deadService}`, '80', '--timeout', '45s']);
      expect(await run.exited).toBe(1);
      const pod = /Creating forwarder pod \S+\/(contrast-port-forward-[a-z0-9]+)/.exec(run.out.stderr)?.[1];
      expect(pod).toBeDefined();
      expect(run.out.stderr).toMatch(/not ready within 45 s/);
      expect(await echo.podStatus(pod!)).toBe(404);
    }, 300_000);
  });
}
