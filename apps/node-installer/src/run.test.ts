// biome-ignore-all lint/suspicious/noExplicitAny: the tests walk parsed TOML documents
// The node installer on a node root in a temporary directory, and a real containerd (Debian's)
// started on the configuration it wrote: the runtime handler is registered with the CRI plugin.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { noopLogger } from '@contrast-cc/core';
import { bundledFile, createQemuRuntime, type QemuRuntime } from '@contrast-cc/node-installer';
import { parse as parseToml, stringify as toToml } from 'smol-toml';
import { afterAll, describe, expect, it } from 'vitest';
import { runNodeInstaller } from './run.js';

const root = mkdtempSync(path.join(tmpdir(), 'ni-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// The installer image: real files whose digests the assets pin.
const imageRoot = path.join(root, 'image');
const share = path.join(imageRoot, 'opt/contrast/share');
mkdirSync(share, { recursive: true });
const file = (p: string, name: string, executable = false) => {
  const content = Buffer.from(`#!/bin/sh\n# ${name}: test content\n`);
  writeFileSync(path.join(share, name), content);
  const integrity = `sha256-${createHash('sha256').update(content).digest('base64')}`;
  return bundledFile(p, name, { executable, integrity });
};
const runtime: QemuRuntime = createQemuRuntime({
  platformId: 'Metal-QEMU-SNP',
  tee: 'snp',
  assets: {
    release: 'test',
    installerImage: `registry.invalid/ni@sha256:${createHash('sha256').update('ni').digest('hex')}`,
    snapshotterImage: `registry.invalid/nydus@sha256:${createHash('sha256').update('nydus').digest('hex')}`,
    files: [
      file('bin/containerd-shim-contrast-cc-v2', 'containerd-shim-contrast-cc-v2', true),
      file('bin/nydus-overlayfs', 'nydus-overlayfs', true),
      file('snp/bin/qemu-system-x86_64', 'qemu-system-x86_64', true),
      file('snp/share/OVMF.fd', 'OVMF-snp.fd'),
      file('share/kata-kernel', 'kata-kernel'),
      file('share/kata-containers.img', 'kata-containers.img'),
    ],
    kernelParams: 'console=ttyS0',
    vmMemoryMiB: 512,
    launchMeasurements: null,
  },
  podOverhead: { memory: '1Gi', cpu: '100m' },
  nodeSelector: {},
});
const handler = runtime.handler;

// The ConfigMap as the DaemonSet mounts it.
const configDir = path.join(root, 'config');
mkdirSync(configDir);
for (const [name, content] of Object.entries(runtime.configFiles()))
  writeFileSync(path.join(configDir, name), content);
const configFile = path.join(configDir, 'contrast-node-install.json');

let n = 0;
/** A fresh node root, optionally with a containerd configuration at `configPath`. */
function nodeRoot(files: Record<string, string> = {}): string {
  const host = path.join(root, `host${n++}`);
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(host, p)), { recursive: true });
    writeFileSync(path.join(host, p), content);
  }
  mkdirSync(host, { recursive: true });
  return host;
}

/** Every file below `dir`: content hash, mode and mtime. */
function snapshot(dir: string, base = dir, out: Record<string, string> = {}): Record<string, string> {
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    const p = path.join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) snapshot(p, base, out);
    else
      out[path.relative(base, p)] =
        `${createHash('sha256').update(readFileSync(p)).digest('hex')} ${(st.mode & 0o777).toString(8)} ${st.mtimeMs}`;
  }
  return out;
}

async function install(host: string, ...extra: string[]) {
  let err = '';
  const code = await runNodeInstaller(
    ['Metal-QEMU-SNP', `-config=${configFile}`, `-host-root=${host}`, `-image-root=${imageRoot}`, ...extra],
    { logger: noopLogger, stderr: (t) => (err += t) },
  );
  return { code, err };
}

const V2_BASE = toToml({
  version: 2,
  plugins: {
    'io.containerd.grpc.v1.cri': {
      containerd: {
        default_runtime_name: 'runc',
        runtimes: { runc: { runtime_type: 'io.containerd.runc.v2' } },
      },
    },
  },
});

describe('node-installer', () => {
  it('installs files, Kata configuration and the containerd v2 runtime; a second run changes nothing', async () => {
    const host = nodeRoot({ 'etc/containerd/config.toml': V2_BASE });
    expect(await install(host)).toEqual({ code: 0, err: '' });
    const dir = path.join(host, 'opt/edgeless', handler);
    expect(readFileSync(path.join(dir, 'bin/containerd-shim-contrast-cc-v2'), 'utf8')).toContain(
      'test content',
    );
    expect(statSync(path.join(dir, 'bin/containerd-shim-contrast-cc-v2')).mode & 0o777).toBe(0o755);
    expect(statSync(path.join(dir, 'share/kata-kernel')).mode & 0o777).toBe(0o644);
    expect(readFileSync(path.join(dir, 'etc/configuration-qemu-snp.toml'), 'utf8')).toBe(
      runtime.kataConfiguration(),
    );
    const cfg = parseToml(readFileSync(path.join(host, 'etc/containerd/config.toml'), 'utf8')) as any;
    const runtimes = cfg.plugins['io.containerd.grpc.v1.cri'].containerd.runtimes;
    expect(Object.keys(runtimes).sort()).toEqual([handler, 'runc'].sort());
    expect(runtimes[handler].options.ConfigPath).toBe(
      `/opt/edgeless/${handler}/etc/configuration-qemu-snp.toml`,
    );
    expect(cfg.proxy_plugins[`nydus-${handler}`].type).toBe('snapshot');

    const before = snapshot(host);
    expect(await install(host)).toEqual({ code: 0, err: '' });
    expect(snapshot(host)).toEqual(before);
  });

  it('refuses a corrupted asset naming the file, and installs nothing', async () => {
    const host = nodeRoot({ 'etc/containerd/config.toml': V2_BASE });
    const before = snapshot(host);
    const kernel = path.join(share, 'kata-kernel');
    const good = readFileSync(kernel);
    writeFileSync(kernel, Buffer.concat([good, Buffer.from('x')]));
    try {
      const r = await install(host);
      expect(r.code).toBe(1);
      expect(r.err).toContain(
        `/opt/edgeless/${handler}/share/kata-kernel: file:///opt/contrast/share/kata-kernel has digest`,
      );
      expect(r.err).toContain('nothing installed');
      expect(snapshot(host)).toEqual(before);
    } finally {
      writeFileSync(kernel, good);
    }
  });

  it('merges the v3 patch into a containerd 2.x configuration', async () => {
    const host = nodeRoot({ 'etc/containerd/config.toml': 'version = 3\n' });
    expect((await install(host)).code).toBe(0);
    const cfg = parseToml(readFileSync(path.join(host, 'etc/containerd/config.toml'), 'utf8')) as any;
    expect(cfg.version).toBe(3);
    expect(cfg.plugins['io.containerd.cri.v1.runtime'].containerd.runtimes[handler].runtime_type).toBe(
      'io.containerd.contrast-cc.v2',
    );
    expect(cfg.plugins['io.containerd.cri.v1.images'].discard_unpacked_layers).toBe(false);
  });

  it('writes the K3s template from the rendered configuration, idempotently; refuses a version 1 config', async () => {
    const dir = 'var/lib/rancher/k3s/agent/etc/containerd';
    const host = nodeRoot({ [`${dir}/config.toml`]: V2_BASE });
    expect((await install(host, '-target=k3s')).code).toBe(0);
    const tmpl = parseToml(readFileSync(path.join(host, dir, 'config.toml.tmpl'), 'utf8')) as any;
    expect(Object.keys(tmpl.plugins['io.containerd.grpc.v1.cri'].containerd.runtimes).sort()).toEqual(
      [handler, 'runc'].sort(),
    );
    const before = snapshot(host);
    expect((await install(host, '-target=k3s')).code).toBe(0);
    expect(snapshot(host)).toEqual(before);

    const old = nodeRoot({ 'etc/containerd/config.toml': '[plugins.cri]\n' });
    const r = await install(old);
    expect(r.code).toBe(2);
    expect(r.err).toContain('containerd config version 1 is not supported');
  });

  it('uninstalls (runtime directory and containerd entries), and a second uninstall changes nothing', async () => {
    const host = nodeRoot({ 'etc/containerd/config.toml': V2_BASE });
    expect((await install(host)).code).toBe(0);
    expect((await install(host, '-uninstall')).code).toBe(0);
    expect(existsSync(path.join(host, 'opt/edgeless', handler))).toBe(false);
    const cfg = parseToml(readFileSync(path.join(host, 'etc/containerd/config.toml'), 'utf8')) as any;
    expect(Object.keys(cfg.plugins['io.containerd.grpc.v1.cri'].containerd.runtimes)).toEqual(['runc']);
    expect(cfg.proxy_plugins ?? {}).toEqual({});
    const before = snapshot(host);
    expect((await install(host, '-uninstall')).code).toBe(0);
    expect(snapshot(host)).toEqual(before);
  });

  it('restarts the first existing systemd unit only when the configuration changed', async () => {
    const host = nodeRoot({ 'etc/containerd/config.toml': V2_BASE });
    const calls: string[] = [];
    const exec = async (file: string, args: string[]) => {
      calls.push([file, ...args].join(' '));
      return {
        stdout: args.includes('--value') && args.at(-1) === 'containerd' ? 'loaded\n' : 'not-found\n',
      };
    };
    const run = () =>
      runNodeInstaller(
        [
          'Metal-QEMU-SNP',
          `-config=${configFile}`,
          `-host-root=${host}`,
          `-image-root=${imageRoot}`,
          '-restart=true',
        ],
        { logger: noopLogger, exec, stderr: () => {} },
      );
    expect(await run()).toBe(0);
    expect(calls).toEqual([
      'nsenter --target 1 --mount -- systemctl show --property=LoadState --value containerd',
      'nsenter --target 1 --mount -- systemctl restart containerd',
    ]);
    calls.length = 0;
    expect(await run()).toBe(0);
    expect(calls).toEqual([]);
  });

  it('refuses bad usage and a configuration for another platform (exit 2)', async () => {
    const host = nodeRoot();
    let err = '';
    const code = await runNodeInstaller(['Metal-QEMU-TDX', `-config=${configFile}`, `-host-root=${host}`], {
      logger: noopLogger,
      stderr: (t) => (err += t),
    });
    expect(code).toBe(2);
    expect(err).toContain('platform: the configuration is for Metal-QEMU-SNP, not Metal-QEMU-TDX');
    expect(await runNodeInstaller(['-frobnicate'], { logger: noopLogger, stderr: () => {} })).toBe(2);
  });
});

// A real containerd, started as root on the configuration the installer wrote, with its own root,
// state, socket and opt directories in the temporary node root. The machine's own containerd and
// its configuration are never touched.
const containerdBin = spawnSync('containerd', ['--version']).status === 0;
const isRoot = process.getuid?.() === 0;
if (!containerdBin || !isRoot) {
  console.warn(
    `skipping the real containerd test: ${!containerdBin ? 'containerd not found (apt-get install containerd)' : 'not root'}`,
  );
}
describe.skipIf(!containerdBin || !isRoot)('node-installer with a real containerd', () => {
  let daemon: ChildProcess | undefined;
  afterAll(() => {
    if (daemon?.pid && daemon.exitCode === null) daemon.kill('SIGTERM');
  });

  it('containerd loads the patched configuration and its CRI plugin registers the handler', async () => {
    const host = nodeRoot();
    const d = path.join(host, 'containerd');
    // The node's configuration: containerd's own defaults, with every directory inside the test root.
    const base = parseToml(
      spawnSync('containerd', ['config', 'default'], { encoding: 'utf8' }).stdout,
    ) as any;
    base.root = path.join(d, 'root');
    base.state = path.join(d, 'state');
    base.grpc.address = path.join(d, 'c.sock');
    base.ttrpc = { ...(base.ttrpc ?? {}), address: path.join(d, 't.sock') };
    base.plugins['io.containerd.internal.v1.opt'] = { path: path.join(d, 'opt') };
    mkdirSync(path.join(host, 'etc/containerd'), { recursive: true });
    writeFileSync(path.join(host, 'etc/containerd/config.toml'), toToml(base));
    expect(await install(host)).toEqual({ code: 0, err: '' });
    const config = path.join(host, 'etc/containerd/config.toml');

    const dump = spawnSync('containerd', ['--config', config, 'config', 'dump'], { encoding: 'utf8' });
    expect(dump.status).toBe(0);
    expect(dump.stdout).toContain(`[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.${handler}]`);
    expect(dump.stdout).toContain(`[proxy_plugins.nydus-${handler}]`);

    let log = '';
    daemon = spawn('containerd', ['--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    daemon.stdout?.on('data', (b) => (log += b));
    daemon.stderr?.on('data', (b) => (log += b));
    // Wait (generously, no timing assertion) until the CRI plugin has started.
    for (let i = 0; i < 300 && !/serving\.\.\.|containerd successfully booted/.test(log); i++) {
      if (daemon.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const plugins = spawnSync('ctr', ['--address', path.join(d, 'c.sock'), 'plugins', 'ls'], {
      encoding: 'utf8',
    });
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon?.once('exit', r));
    expect(plugins.stdout).toMatch(/io\.containerd\.grpc\.v1\s+cri\s+\S+\s+ok/);
    expect(plugins.stdout).toMatch(
      new RegExp(`io\\.containerd\\.snapshotter\\.v1\\s+nydus-${handler}\\s+-\\s+ok`),
    );
    // The CRI plugin's own view of its runtimes (its start-up configuration line).
    const runtimes = /Runtimes:map\[(.*?)\] NoPivot/.exec(log)?.[1] ?? log;
    expect(runtimes).toContain(`${handler}:{Type:io.containerd.contrast-cc.v2`);
    expect(runtimes).toContain(`ConfigPath:/opt/edgeless/${handler}/etc/configuration-qemu-snp.toml`);
  });
});
