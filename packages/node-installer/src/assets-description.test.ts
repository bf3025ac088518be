import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isContrastError } from '@contrast-cc/core';
import { afterAll, describe, expect, it } from 'vitest';
import { loadRuntimeAssets } from './assets-description.js';
import type { QemuTee } from './qemu-runtime.js';
import { DEBIAN_OVMF, readDebianOvmf } from './testing/index.js';

const debian = readDebianOvmf("runtime assets measured from Debian's OVMF");

const root = mkdtempSync(path.join(tmpdir(), 'runtime-assets-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const teeOf = (id: string): QemuTee | undefined =>
  id === 'Metal-QEMU-SNP' ? 'snp' : id === 'Metal-QEMU-TDX' ? 'tdx' : undefined;
const sha = (alg: string, s: string | Buffer) => createHash(alg).update(s).digest('hex');

let n = 0;
/** A description in its own directory; files get local sources (OVMF: Debian's firmware). */
function describeRuntime(tee: QemuTee, change: (d: Record<string, unknown>) => void = () => {}): string {
  const dir = path.join(root, `d${n++}`);
  mkdirSync(dir);
  const file = (p: string, content: string | Buffer) => {
    const name = p.replaceAll('/', '_');
    writeFileSync(path.join(dir, name), content);
    return { path: p, url: `https://downloads.invalid/${name}`, source: name };
  };
  const d: Record<string, unknown> = {
    platform: tee === 'snp' ? 'Metal-QEMU-SNP' : 'Metal-QEMU-TDX',
    release: 'test',
    installerImage: `registry.invalid/i@sha256:${sha('sha256', 'i')}`,
    snapshotterImage: `registry.invalid/s@sha256:${sha('sha256', 's')}`,
    kernelParams: 'console=ttyS0',
    vmMemoryMiB: 512,
    files: [
      { ...file('bin/containerd-shim-contrast-cc-v2', 'shim'), executable: true },
      file(`${tee}/share/OVMF.fd`, debian ?? 'not a firmware'),
      file('share/kata-kernel', 'kernel'),
    ],
    measure: { firmware: `${tee}/share/OVMF.fd` },
  };
  change(d);
  writeFileSync(path.join(dir, 'runtime-assets.json'), JSON.stringify(d));
  return dir;
}

async function failure(location: string): Promise<{ field: string | undefined; message: string }> {
  try {
    await loadRuntimeAssets(location, teeOf);
  } catch (error) {
    if (isContrastError(error)) return { field: error.field, message: error.message };
    throw error;
  }
  throw new Error('loaded');
}

describe.skipIf(!debian)("runtime assets measured from Debian's OVMF", () => {
  it('computes the 1-vCPU SNP launch digests for Milan and Genoa (sev-snp-measure values)', async () => {
    // sev-snp-measure v0.0.13 --mode snp --vcpus 1 --vcpu-type EPYC-Milan|EPYC-Genoa --ovmf <Debian's OVMF.fd>
    const loaded = await loadRuntimeAssets(describeRuntime('snp'), teeOf);
    expect(loaded.tee).toBe('snp');
    expect(loaded.assets.launchMeasurements).toEqual({
      Milan:
        '80479ca85a2b182c026f6a3a2f2b180ab968d84b17540dd30de39039e70b8c0c33ead2cae6d34e37750035fcff60bfc8',
      Genoa:
        '98988ff584a1d2b80cbac0c290d592aec2caf460ca58ec34f13c29d44b84dcc3141a8571bb1747aba84fe30c36b2c757',
    });
    const ovmf = loaded.assets.files.find((f) => f.path.endsWith('/snp/share/OVMF.fd'));
    expect(ovmf).toMatchObject({
      path: '/opt/edgeless/@@runtimeName@@/snp/share/OVMF.fd',
      integrity: `sha256-${Buffer.from(DEBIAN_OVMF.sha256, 'hex').toString('base64')}`,
      executable: false,
    });
  });

  it('refuses given launch measurements that differ from the computed ones', async () => {
    const dir = describeRuntime('snp', (d) => {
      d.launchMeasurements = { Milan: sha('sha384', 'x'), Genoa: sha('sha384', 'y') };
    });
    const f = await failure(dir);
    expect(f.field).toBe('launchMeasurements.Milan');
    expect(f.message).toContain('differs from 80479ca8');
  });

  it('computes MRTD for TDX and requires the RTMRs to be given', async () => {
    const f = await failure(describeRuntime('tdx'));
    expect(f.field).toBe('launchMeasurements.rtmrs');
    expect(f.message).toContain('not predicted from the files');
    const rtmrs = [0, 1, 2, 3].map((i) => sha('sha384', `r${i}`));
    const loaded = await loadRuntimeAssets(
      describeRuntime('tdx', (d) => {
        d.launchMeasurements = { rtmrs };
      }),
      teeOf,
    );
    expect(loaded.tee).toBe('tdx');
    expect(loaded.assets.launchMeasurements).toMatchObject({ rtmrs, rtmr0Alternatives: [] });
    expect((loaded.assets.launchMeasurements as { mrTd: string }).mrTd).toMatch(/^[0-9a-f]{96}$/);
  });
});

describe('runtime assets descriptions that are refused (file and field named)', () => {
  it.each([
    [
      'a source whose digest differs from sha256',
      (d: Record<string, unknown>) => {
        (d.files as { sha256?: string }[])[0]!.sha256 = sha('sha256', 'other');
      },
      'files.0.sha256',
    ],
    [
      'a file with neither sha256 nor source',
      (d: Record<string, unknown>) => {
        delete (d.files as { source?: string }[])[2]!.source;
      },
      'files.2',
    ],
    [
      'an all-zero measurement',
      (d: Record<string, unknown>) => {
        d.measure = undefined;
        d.launchMeasurements = { Milan: '0'.repeat(96), Genoa: sha('sha384', 'g') };
      },
      'launchMeasurements.Milan',
    ],
    [
      'no measurement at all',
      (d: Record<string, unknown>) => {
        d.measure = undefined;
      },
      'launchMeasurements',
    ],
    [
      'a kernel measured without its command line',
      (d: Record<string, unknown>) => {
        d.measure = { firmware: 'snp/share/OVMF.fd', kernel: 'share/kata-kernel' };
      },
      'measure.append',
    ],
    [
      'a path leaving the runtime directory',
      (d: Record<string, unknown>) => {
        (d.files as { path: string }[])[0]!.path = '../etc/passwd';
      },
      'files.0.path',
    ],
    [
      'a platform that installs no runtime',
      (d: Record<string, unknown>) => {
        d.platform = 'AKS-CLH-SNP';
      },
      'platform',
    ],
  ])('%s', async (_name, change, field) => {
    const dir = describeRuntime('snp', change);
    const f = await failure(dir);
    expect(f.field).toBe(field);
    expect(f.message.startsWith(`${path.join(dir, 'runtime-assets.json')}: ${field}: `)).toBe(true);
  });

  it('a missing location', async () => {
    const f = await failure(path.join(root, 'nowhere'));
    expect(f.message).toContain('no such file or directory');
  });
});
