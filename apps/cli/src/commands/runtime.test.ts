import { ContrastError, createPlatformRegistry } from '@contrast-cc/core';
import { createFakePlatform } from '@contrast-cc/core/testing';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
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
