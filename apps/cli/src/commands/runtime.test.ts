import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ContrastError, createPlatformRegistry } from '@contrast-cc/core';
import { createFakePlatform } from '@contrast-cc/core/testing';
import { metalQemuSnp } from '@contrast-cc/platform-baremetal-snp';
import { metalQemuTdx } from '@contrast-cc/platform-baremetal-tdx';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { registryWithRuntimeAssets } from '../platforms.js';
import { captureIo } from '../test-support/harness.js';
import { writeRuntimeAssets } from '../test-support/runtime-assets.js';
import { createRuntimeCommand } from './runtime.js';

const secure = createFakePlatform({ id: 'Fake-Secure', aliases: ['secure'], insecure: false });
const simulated = createFakePlatform({ id: 'Fake-Sim', aliases: ['sim'] });
const provided = createFakePlatform({
  id: 'Fake-Provided',
  aliases: ['provided'],
  insecure: false,
  runtime: { ...createFakePlatform({ id: 'Fake-Provided' }).runtime, nodeInstaller: () => [] },
});
const broken = createFakePlatform({
  id: 'Fake-Broken',
  aliases: ['broken'],
  runtime: {
    ...createFakePlatform({ id: 'Fake-Broken' }).runtime,
    nodeInstaller: () => {
      throw new ContrastError('internal', 'installer data missing', { field: 'assets' });
    },
  },
});
const command = createRuntimeCommand({
  registry: createPlatformRegistry([secure, simulated, provided, broken]),
});

async function run(...args: string[]) {
  let out = '';
  let err = '';
  const code = await command.run(args, {
    stdout: (t) => {
      out += t;
    },
    stderr: (t) => {
      err += t;
    },
    cwd: process.cwd(),
    env: {},
  });
  return { code, out, err };
}

describe('contrast runtime', () => {
  it('prints the RuntimeClass name and applicable multi-document YAML', async () => {
    const r = await run('--platform', 'Fake-Secure');
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const name = secure.runtime.runtimeClassNames[0]!;
    expect(r.out).toContain(`# RuntimeClass: ${name}\n`);
    const docs = parseAllDocuments(r.out).map((d) => d.toJS());
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual([
      `RuntimeClass/${name}`,
      `DaemonSet/${name}-installer`,
    ]);
    expect(docs[1].metadata.namespace).toBe('contrast-system');
  });

  it('accepts aliases in any case, a namespace and an image override', async () => {
    const r = await run('-p', 'SECURE', '-n', 'ops', '--image', 'mirror.example/i@sha256:ab');
    expect(r.code).toBe(0);
    const ds = parseAllDocuments(r.out)[1]!.toJS();
    expect(ds.metadata.namespace).toBe('ops');
    expect(ds.spec.template.spec.containers[0].image).toBe('mirror.example/i@sha256:ab');
  });

  it('prints JSON for machines with --json', async () => {
    const r = await run('--platform', 'fake-secure', '--json', '--namespace', 'ops');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc).toMatchObject({
      platform: 'Fake-Secure',
      insecure: false,
      runtimeClassNames: secure.runtime.runtimeClassNames,
      namespace: 'ops',
    });
    expect(doc.objects.map((o: { kind: string }) => o.kind)).toEqual(['RuntimeClass', 'DaemonSet']);
  });

  it('warns loudly on stderr for a simulated platform, keeping stdout clean YAML', async () => {
    const r = await run('--platform', 'Fake-Sim');
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/WARNING: Fake-Sim is a SIMULATED platform/);
    expect(parseAllDocuments(r.out).every((d) => d.errors.length === 0)).toBe(true);
  });

  it('says so when the provider installs the runtime', async () => {
    const r = await run('--platform', 'Fake-Provided');
    expect(r.code).toBe(0);
    expect(r.out).toContain('# Node installer: none');
    expect(parseAllDocuments(r.out).map((d) => d.toJS().kind)).toEqual(['RuntimeClass']);
    expect(r.err).toContain('needs no node installer');
  });

  it('refuses an unknown platform with exit 2, listing the known ids', async () => {
    const r = await run('--platform', 'Metal-QEMU-XYZ');
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain('unknown platform "Metal-QEMU-XYZ"');
    expect(r.err).toContain('Fake-Secure, Fake-Sim, Fake-Provided, Fake-Broken');
  });

  it('refuses missing or malformed flags with exit 2', async () => {
    const missing = await run();
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('--platform is required; known platforms: Fake-Secure');
    const unknownFlag = await run('--platform', 'Fake-Secure', '--frobnicate');
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.err).toMatch(/frobnicate/);
    const positional = await run('Fake-Secure');
    expect(positional.code).toBe(2);
    const badNs = await run('--platform', 'Fake-Secure', '--namespace', 'Not_A_Namespace');
    expect(badNs.code).toBe(2);
    expect(badNs.err).toContain('--namespace "Not_A_Namespace" is not a valid namespace');
    const noValue = await run('--platform');
    expect(noValue.code).toBe(2);
    for (const r of [missing, unknownFlag, positional, badNs, noValue]) expect(r.out).toBe('');
  });

  it('exits 1 with the field when a platform fails to produce its resources', async () => {
    const r = await run('--platform', 'Fake-Broken');
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toContain(
      'platform Fake-Broken failed to produce its resources: assets: installer data missing',
    );
  });

  it('has help a newcomer understands, listing the platforms', () => {
    expect(command.help).toContain('contrast runtime --platform <id>');
    const platforms = command.help.split('Platforms:\n')[1]?.split('\n\n')[0] ?? '';
    for (const id of ['Fake-Secure', 'Fake-Sim', 'Fake-Provided', 'Fake-Broken'])
      expect(platforms).toMatch(new RegExp(`^  ${id} +\\S`, 'm'));
    expect(command.help).toContain('kubectl apply -f -');
    expect(command.help).toContain('Exit codes');
  });
});

describe('contrast runtime on the bare-metal platforms', () => {
  const real = createRuntimeCommand({
    registry: createPlatformRegistry([metalQemuSnp, metalQemuTdx]),
    withAssets: registryWithRuntimeAssets,
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'runtime-assets-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const runReal = async (...args: string[]) => {
    const c = captureIo(dir);
    const code = await real.run(args, c.io);
    return { code, out: c.out(), err: c.err() };
  };

  it('exits 2 without assets, saying what to supply, and prints nothing', async () => {
    const r = await runReal('--platform', 'Metal-QEMU-SNP');
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain('the Metal-QEMU-SNP runtime has no pinned release');
    expect(r.err).toContain('--assets <file|dir>');
  });

  it.each(['Metal-QEMU-SNP', 'Metal-QEMU-TDX'] as const)(
    'with --assets (%s) prints resources whose digests are those of the files, none all-zero',
    async (platform) => {
      const sub = path.join(dir, platform);
      writeRuntimeAssets(sub, platform);
      const r = await runReal('--assets', sub);
      expect(r.code).toBe(0);
      const docs = parseAllDocuments(r.out).map((d) => d.toJS());
      expect(docs.map((d) => d.kind)).toContain('DaemonSet');
      const cm = docs.find((d) => d.kind === 'ConfigMap');
      const install = JSON.parse(cm.data['contrast-node-install.json']);
      const shim = readFileSync(path.join(sub, 'files', 'bin_containerd-shim-contrast-cc-v2'));
      expect(install.files[0].integrity).toBe(`sha256-${createHash('sha256').update(shim).digest('base64')}`);
      expect(r.out).not.toMatch(/sha256:0{64}|sha256-A{43}=/);
    },
  );

  it('refuses assets for another platform than --platform, and a bad description, with exit 2', async () => {
    const sub = path.join(dir, 'other');
    writeRuntimeAssets(sub, 'Metal-QEMU-TDX');
    const a = await runReal('--platform', 'metal-qemu-snp', '--assets', sub);
    expect(a.code).toBe(2);
    expect(a.err).toContain('--assets describes Metal-QEMU-TDX, not metal-qemu-snp');
    const bad = path.join(dir, 'bad');
    writeRuntimeAssets(bad, 'Metal-QEMU-SNP', (d) => {
      d.installerImage = `registry.invalid/x@sha256:${'0'.repeat(64)}`;
    });
    const b = await runReal('--assets', bad);
    expect(b.code).toBe(2);
    expect(b.err).toContain('runtime-assets.json: installerImage: has an all-zero digest');
    expect(b.out).toBe('');
  });
});
