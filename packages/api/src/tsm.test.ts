import * as fs from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isContrastError } from '@contrast-cc/core';
import { describe, expect, it } from 'vitest';
import { type ConfigfsOps, ConfigfsTsmIssuer, parseSnpCertTable } from './tsm.js';

function guidBytes(guid: string): Uint8Array {
  const h = guid.replace(/-/g, '');
  const b = Buffer.from(h, 'hex');
  // mixed endian: first three fields little-endian
  return Uint8Array.from([
    ...b.subarray(0, 4).reverse(),
    ...b.subarray(4, 6).reverse(),
    ...b.subarray(6, 8).reverse(),
    ...b.subarray(8),
  ]);
}

function certTable(entries: [string, Uint8Array][]): Uint8Array {
  const header = 24 * (entries.length + 1);
  const out = new Uint8Array(header + entries.reduce((n, [, c]) => n + c.length, 0));
  const view = new DataView(out.buffer);
  let at = header;
  entries.forEach(([guid, cert], i) => {
    out.set(guidBytes(guid), 24 * i);
    view.setUint32(24 * i + 16, at, true);
    view.setUint32(24 * i + 20, cert.length, true);
    out.set(cert, at);
    at += cert.length;
  });
  return out;
}

const VCEK = '63da758d-e664-4564-adc5-f4b93be8accd';
const ASK = '4ab7b379-bbac-4fe4-a02f-05aef327c782';
const ARK = 'c0b406a4-a803-4952-9743-3fb6014cd0ae';

/**
 * Emulates the kernel side of configfs-tsm on a temp directory: a new entry gets `provider`,
 * `privlevel_floor` and `generation`; writing `inblob` or `privlevel` bumps the generation, and
 * `inblob` produces `outblob` (a report carrying the REPORT_DATA at the SNP offset 0x50) and
 * `auxblob`. `raceOnce`: another writer bumps the generation while we read the outblob;
 * `interleaveOnce`: another writer writes its own inblob right after ours (before we look).
 */
function kernel(
  provider: string,
  options: { raceOnce?: boolean; interleaveOnce?: boolean; floor?: number } = {},
): ConfigfsOps & { entries: string[]; writes: string[] } {
  const entries: string[] = [];
  const writes: string[] = [];
  let race = options.raceOnce ?? false;
  let interleave = options.interleaveOnce ?? false;
  return {
    entries,
    writes,
    access: (f) => fs.access(f),
    mkdir: async (d) => {
      await fs.mkdir(d);
      entries.push(path.basename(d));
      await fs.writeFile(path.join(d, 'provider'), `${provider}\n`);
      await fs.writeFile(path.join(d, 'generation'), '0\n');
      await fs.writeFile(path.join(d, 'privlevel_floor'), `${options.floor ?? 0}\n`);
    },
    rmdir: (d) => fs.rm(d, { recursive: true }),
    writeFile: async function write(f, data): Promise<void> {
      await fs.writeFile(f, data);
      writes.push(path.basename(f));
      if (path.basename(f) !== 'inblob' && path.basename(f) !== 'privlevel') return;
      const dir = path.dirname(f);
      const gen = Number((await fs.readFile(path.join(dir, 'generation'), 'utf8')).trim()) + 1;
      await fs.writeFile(path.join(dir, 'generation'), `${gen}\n`);
      if (path.basename(f) !== 'inblob') return;
      if (interleave) {
        interleave = false;
        await write(f, new Uint8Array(64).fill(0xee)); // the other writer's REPORT_DATA
        return;
      }
      const report = new Uint8Array(0x4a0);
      report.set(data as Uint8Array, 0x50);
      await fs.writeFile(path.join(dir, 'outblob'), report);
      await fs.writeFile(
        path.join(dir, 'auxblob'),
        certTable([
          [VCEK, new Uint8Array([1, 2, 3])],
          [ASK, new Uint8Array([4, 5])],
          [ARK, new Uint8Array([6])],
        ]),
      );
    },
    readFile: async (f) => {
      const bytes = new Uint8Array(await fs.readFile(f));
      if (race && path.basename(f) === 'outblob') {
        race = false;
        await fs.writeFile(path.join(path.dirname(f), 'generation'), '99\n');
      }
      return bytes;
    },
  };
}

describe('ConfigfsTsmIssuer', () => {
  it('reads an SNP report through the entry protocol and removes the entry', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'tsm-'));
    const ops = kernel('sev_guest');
    const issuer = await ConfigfsTsmIssuer.open({ root, ops });
    expect(issuer.kind).toBe('snp-report');
    const rd = new Uint8Array(64).map((_, i) => i);
    const ev = await issuer.issue(rd);
    expect(ev.kind).toBe('snp-report');
    expect(Buffer.from(ev.data.subarray(0x50, 0x90)).equals(Buffer.from(rd))).toBe(true);
    expect(Array.from(ev.extras!.vcek!)).toEqual([1, 2, 3]);
    expect(new TextDecoder().decode(ev.extras!['cert-chain'])).toContain('BEGIN CERTIFICATE');
    expect(await fs.readdir(root)).toEqual([]);
  });

  it('retries when the generation changed while reading; TDX has no auxblob', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'tsm-'));
    const ops = kernel('tdx_guest', { raceOnce: true });
    const issuer = await ConfigfsTsmIssuer.open({ root, ops });
    expect(issuer.kind).toBe('tdx-quote');
    const ev = await issuer.issue(new Uint8Array(64).fill(7));
    expect(ev.extras).toBeUndefined();
    expect(ops.entries.length).toBe(3); // probe, raced entry, good entry
  });

  it('detects another writer between our inblob write and our read (generation grew by more than our writes)', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'tsm-'));
    const ops = kernel('sev_guest', { interleaveOnce: true });
    const issuer = await ConfigfsTsmIssuer.open({ root, ops, privlevel: 0 });
    const rd = new Uint8Array(64).fill(3);
    const ev = await issuer.issue(rd);
    expect(Buffer.from(ev.data.subarray(0x50, 0x90)).equals(Buffer.from(rd))).toBe(true);
    expect(ops.entries.length).toBe(3); // probe, raced entry, good entry
    expect(ops.writes.filter((w) => w === 'privlevel').length).toBe(2);
  });

  it('without auxblob certificates, takes the VCEK and chain from the fallback (THIM on AKS); a failing fallback leaves them out', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'tsm-'));
    const bareKernel = kernel('sev_guest');
    const ops: ConfigfsOps = {
      ...bareKernel,
      readFile: async (f) => (path.basename(f) === 'auxblob' ? new Uint8Array(0) : bareKernel.readFile(f)),
    };
    const seen: Uint8Array[] = [];
    const issuer = await ConfigfsTsmIssuer.open({
      root,
      ops,
      snpCertificates: async (report) => {
        seen.push(report);
        return { vcek: new Uint8Array([7, 7]), certChain: 'ASK+ARK PEM' };
      },
    });
    const rd = new Uint8Array(64).fill(5);
    const ev = await issuer.issue(rd);
    expect(Array.from(ev.extras!.vcek!)).toEqual([7, 7]);
    expect(new TextDecoder().decode(ev.extras!['cert-chain'])).toBe('ASK+ARK PEM');
    expect(Buffer.from(seen[0]!.subarray(0x50, 0x90)).equals(Buffer.from(rd))).toBe(true);
    const failing = await ConfigfsTsmIssuer.open({
      root,
      ops,
      snpCertificates: async () => {
        throw new Error('THIM unreachable');
      },
    });
    expect((await failing.issue(rd)).extras).toBeUndefined();
  });

  it('refuses a privlevel below the guest privlevel_floor, naming the field', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'tsm-'));
    const issuer = await ConfigfsTsmIssuer.open({
      root,
      ops: kernel('sev_guest', { floor: 2 }),
      privlevel: 1,
    });
    await expect(issuer.issue(new Uint8Array(64))).rejects.toMatchObject({ field: 'privlevel' });
    expect(await fs.readdir(root)).toEqual([]);
  });

  it('refuses a missing interface, unknown providers and wrong report data sizes', async () => {
    const missing = await ConfigfsTsmIssuer.open({ root: '/nonexistent/tsm' }).catch((e) => e);
    expect(isContrastError(missing) && missing.code).toBe('unavailable');
    const root = await mkdtemp(path.join(tmpdir(), 'tsm-'));
    const unknown = await ConfigfsTsmIssuer.open({ root, ops: kernel('foo_guest') }).catch((e) => e);
    expect(unknown.field).toBe('provider');
    const issuer = await ConfigfsTsmIssuer.open({ root, ops: kernel('sev_guest') });
    await expect(issuer.issue(new Uint8Array(32))).rejects.toMatchObject({ field: 'reportData' });
  });

  it('parses certificate tables and rejects malformed ones', () => {
    const table = certTable([[VCEK, new Uint8Array([9, 9])]]);
    expect(Array.from(parseSnpCertTable(table).vcek!)).toEqual([9, 9]);
    expect(() => parseSnpCertTable(table.subarray(0, 30))).toThrow(/auxblob|terminated|outside/);
    const bad = table.slice();
    new DataView(bad.buffer).setUint32(20, 1000, true);
    expect(() => parseSnpCertTable(bad)).toThrow(/outside/);
  });
});
