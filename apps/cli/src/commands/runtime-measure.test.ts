// `contrast runtime measure` on Debian's OVMF (the digests are sev-snp-measure's; how they were
// obtained is written in packages/node-installer/src/measure/snp.test.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEBIAN_OVMF, readDebianOvmf } from '@contrast-cc/node-installer/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { captureIo } from '../test-support/harness.js';
import { createRuntimeMeasureCommand } from './runtime-measure.js';

const OVMF = DEBIAN_OVMF.path;
const debian = readDebianOvmf("contrast runtime measure on Debian's OVMF");

const command = createRuntimeMeasureCommand();
const dir = mkdtempSync(path.join(tmpdir(), 'measure-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(...args: string[]) {
  const c = captureIo(dir);
  const code = await command.run(args, c.io);
  return { code, out: c.out(), err: c.err() };
}

describe.skipIf(!debian)('contrast runtime measure', () => {
  it('prints the SNP launch digest sev-snp-measure prints (64 vCPUs, EPYC-Genoa)', async () => {
    const r = await run('--snp', '--firmware', OVMF, '--vcpus', '64', '--vcpu-type', 'EPYC-Genoa');
    expect(r).toEqual({
      code: 0,
      out: '116782ea268c53bb35d0aaa22ac8a9dcb6b554455ef409b4ff7a86f96aca2bb919e91c4421a6ceab27fa0de1296e242e\n',
      err: '',
    });
  });

  it('prints JSON with --json (2 vCPUs, EPYC-Milan)', async () => {
    const r = await run('--snp', '--firmware', OVMF, '--vcpus', '2', '--vcpu-type', 'EPYC-Milan', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({
      tee: 'snp',
      vcpus: 2,
      vcpuType: 'EPYC-Milan',
      vmmType: 'QEMU',
      guestFeatures: '0x1',
      launchDigest:
        'a175292a4a09fcfb760c5bd80c93ed667dbaafce6247d0f21fc06638658b3ebf2804d3019e2abed05cb6a9efe0a7464e',
    });
  });

  it('prints MRTD for --tdx and differs by page-add order', async () => {
    const one = await run('--tdx', '--firmware', OVMF);
    const two = await run('--tdx', '--firmware', OVMF, '--two-pass');
    expect(one.code).toBe(0);
    expect(one.out).toMatch(/^[0-9a-f]{96}\n$/);
    expect(two.out).toMatch(/^[0-9a-f]{96}\n$/);
    expect(two.out).not.toBe(one.out);
  });

  it('refuses a kernel for a firmware without kernel hashes (exit 2, names the firmware)', async () => {
    writeFileSync(path.join(dir, 'vmlinuz'), 'kernel');
    const r = await run(
      '--snp',
      '--firmware',
      OVMF,
      '--vcpus',
      '1',
      '--vcpu-type',
      'EPYC',
      '--kernel',
      'vmlinuz',
    );
    expect(r.code).toBe(2);
    expect(r.err).toContain(OVMF);
    expect(r.err).toContain('SNP_KERNEL_HASHES');
    expect(r.out).toBe('');
  });
});

describe('contrast runtime measure: usage', () => {
  it.each([
    [['--firmware', 'x'], 'exactly one of --snp or --tdx'],
    [['--snp'], '--firmware is required'],
    [
      ['--snp', '--firmware', 'missing.fd', '--vcpus', '1', '--vcpu-type', 'EPYC'],
      'missing.fd: no such file',
    ],
  ])('%j exits 2', async (args, message) => {
    const r = await run(...args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(r.out).toBe('');
  });

  it.skipIf(!debian)('names the unknown vCPU type and the missing --vcpus', async () => {
    const a = await run('--snp', '--firmware', OVMF, '--vcpus', '1', '--vcpu-type', 'EPYC-Zen9');
    expect(a.code).toBe(2);
    expect(a.err).toContain('unknown vCPU type "EPYC-Zen9"');
    const b = await run('--snp', '--firmware', OVMF, '--vcpu-type', 'EPYC');
    expect(b.code).toBe(2);
    expect(b.err).toContain('--vcpus is required');
    const c = await run('--tdx', '--firmware', OVMF, '--vcpus', '2');
    expect(c.code).toBe(2);
    expect(c.err).toContain('--vcpus is an SEV-SNP input');
  });
});
