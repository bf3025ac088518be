// A real Debian `docker-registry` on 127.0.0.1 (free port, filesystem storage in a temp dir), for
// `bash tools/run images`, the image tests and the container end-to-end run.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const REGISTRY_BIN = process.env.DOCKER_REGISTRY_BIN ?? '/usr/bin/docker-registry';
export const HAS_REGISTRY = existsSync(REGISTRY_BIN);

const freePort = () =>
  new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });

/**
 * `dataDir`: keep the registry's blobs there across runs (a content-addressed cache: a push of a
 * blob the registry has is skipped); default a temp dir removed on stop.
 * @param {{ dataDir?: string }} [options]
 * @returns {Promise<{ host: string; pid: number; stop: () => Promise<void> }>} host = 127.0.0.1:PORT
 */
export async function startRegistry({ dataDir } = {}) {
  const root = mkdtempSync(path.join(os.tmpdir(), 'contrast-registry-'));
  const host = `127.0.0.1:${await freePort()}`;
  const config = path.join(root, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${dataDir ?? path.join(root, 'data')}\nhttp:\n  addr: ${host}\n`,
  );
  const proc = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => {
    stderr += d;
  });
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
    rmSync(root, { recursive: true, force: true });
  };
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`http://${host}/v2/`)).ok) return { host, pid: proc.pid, stop };
    } catch {
      // not up yet
    }
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`docker-registry did not start: ${stderr.trim()}`);
}
