// installRuntime's https:// path and its refusals (the program and a real containerd are tested
// in apps/node-installer).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isContrastError } from '@contrast-cc/core';
import { afterAll, describe, expect, it } from 'vitest';
import { installRuntime, parseInstallerConfig } from './install.js';
import { createQemuRuntime } from './qemu-runtime.js';
import { fixtureAssets } from './testing/index.js';

const root = mkdtempSync(path.join(tmpdir(), 'install-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const content = (name: string) => Buffer.from(`content of ${name}\n`);
const sri = (data: Buffer) => `sha256-${createHash('sha256').update(data).digest('base64')}`;
// Every file downloaded over https, with the digest of its real content.
const base = fixtureAssets('tdx', null);
const assets = {
  ...base,
  files: base.files.map((f) => {
    const name = path.basename(f.path);
    return { ...f, url: `https://downloads.invalid/${name}`, integrity: sri(content(name)) };
  }),
};
const runtime = createQemuRuntime({
  platformId: 'Test-QEMU-TDX',
  tee: 'tdx',
  assets,
  podOverhead: { memory: '1Gi', cpu: '1' },
  nodeSelector: {},
});
const configDir = path.join(root, 'config');
mkdirSync(configDir);
for (const [name, text] of Object.entries(runtime.configFiles()))
  writeFileSync(path.join(configDir, name), text);
const config = parseInstallerConfig(
  runtime.configFiles()['contrast-node-install.json'] as string,
  'config.json',
);

describe('installRuntime', () => {
  it('downloads https:// files and checks them; a tampered download is refused, nothing installed', async () => {
    const requested: string[] = [];
    const host = path.join(root, 'host1');
    const result = await installRuntime({
      hostRoot: host,
      config,
      configDir,
      download: async (url) => {
        requested.push(url);
        return content(url.slice(url.lastIndexOf('/') + 1));
      },
    });
    expect(requested).toHaveLength(assets.files.length);
    expect(result).toMatchObject({
      filesChanged: true,
      containerdChanged: true,
      restartUnits: ['containerd'],
    });
    const qemu = path.join(host, `/opt/edgeless/${runtime.handler}/tdx/bin/qemu-system-x86_64`);
    expect(readFileSync(qemu)).toEqual(content('qemu-system-x86_64'));

    const host2 = path.join(root, 'host2');
    const tampered = installRuntime({
      hostRoot: host2,
      config,
      configDir,
      download: async (url) =>
        Buffer.concat([content(url.slice(url.lastIndexOf('/') + 1)), Buffer.from('!')]),
    });
    await expect(tampered).rejects.toThrow(/has digest .* not sha256-.*: refused, nothing installed/);
    expect(existsSync(host2)).toBe(false);
  });

  it('gets through a mirror that answers 503 for a while and one that stalls, with the default download', async () => {
    // A loopback mirror: every file's first request gets 503, the qemu binary's second stalls
    // mid-body; the installer's own download (no `download` given) retries both.
    const hits = new Map<string, number>();
    const mirror = createServer((req, res) => {
      const name = (req.url ?? '').slice(1);
      const n = (hits.get(name) ?? 0) + 1;
      hits.set(name, n);
      const body = content(name);
      if (n === 1) return void res.writeHead(503).end('busy');
      if (n === 2 && name === 'qemu-system-x86_64') {
        res.writeHead(200, { 'content-length': body.length }).write(body.subarray(0, 4));
        return;
      }
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    await new Promise<void>((resolve) => mirror.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(mirror.address() as AddressInfo).port}`;
      const local = {
        ...config,
        files: config.files.map((f) => ({ ...f, url: f.url.replace('https://downloads.invalid', url) })),
      };
      const host = path.join(root, 'host-mirror');
      const result = await installRuntime({
        hostRoot: host,
        config: local,
        configDir,
        downloadOptions: { retryDelayMs: 1, stallTimeoutMs: 1000 },
      });
      expect(result.filesChanged).toBe(true);
      expect(hits.get('qemu-system-x86_64')).toBe(3);
      expect([...hits.values()].every((n) => n >= 2)).toBe(true);
      const qemu = path.join(host, `/opt/edgeless/${runtime.handler}/tdx/bin/qemu-system-x86_64`);
      expect(readFileSync(qemu)).toEqual(content('qemu-system-x86_64'));
    } finally {
      mirror.closeAllConnections();
      await new Promise<void>((resolve) => mirror.close(() => resolve()));
    }
  });

  it('refuses configurations that place files outside the runtime directory or carry an all-zero digest', () => {
    const text = runtime.configFiles()['contrast-node-install.json'] as string;
    const doc = JSON.parse(text);
    const outside = structuredClone(doc);
    outside.files[0].path = '/etc/passwd';
    const zero = structuredClone(doc);
    zero.files[0].integrity = `sha256-${'A'.repeat(43)}=`;
    for (const [bad, field] of [
      [outside, 'files.0.path'],
      [zero, 'files.0.integrity'],
    ] as const) {
      try {
        parseInstallerConfig(JSON.stringify(bad), 'c.json');
        expect.unreachable();
      } catch (e) {
        expect(isContrastError(e) && e.field).toBe(field);
      }
    }
  });
});
