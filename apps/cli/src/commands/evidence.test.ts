import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { captureIo, sharedDir } from '../test-support/harness.js';
import { createEvidenceCommand } from './evidence.js';

const shared = sharedDir('evidence verify on real vectors');
const snpDir = shared && path.join(shared, 'testvectors/snp/oak-genoa-v5-vcek');
const tdxDir = shared && path.join(shared, 'testvectors/tdx/dcapqvl-v4-uptodate');
const tmp = mkdtempSync(path.join(tmpdir(), 'contrast-evidence-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function evidence(...args: string[]) {
  const c = captureIo();
  const code = await createEvidenceCommand().run(['verify', ...args], c.io);
  return { code, out: c.out(), err: c.err() };
}

function flipped(file: string, offset: number): string {
  const bytes = readFileSync(file);
  bytes[offset] = bytes[offset]! ^ 0x01;
  const out = path.join(tmp, `${path.basename(file)}.${offset}`);
  writeFileSync(out, bytes);
  return out;
}

describe('contrast evidence verify: usage', () => {
  it('needs exactly one kind of evidence', async () => {
    expect((await evidence()).code).toBe(2);
    expect((await evidence('--snp-report', 'a', '--tdx-quote', 'b')).err).toContain('exactly one');
  });

  it('refuses unknown subcommands, flags and misplaced flags with exit 2', async () => {
    const c = captureIo();
    expect(await createEvidenceCommand().run(['check'], c.io)).toBe(2);
    expect((await evidence('--snp-report', 'x', '--frobnicate')).code).toBe(2);
    expect((await evidence('--tdx-quote', 'x', '--cert', 'y')).err).toContain(
      '--cert goes with --snp-report',
    );
  });

  it('reports a missing file as bad input (exit 2) naming the flag', async () => {
    const r = await evidence('--snp-report', path.join(tmp, 'nope.bin'));
    expect(r.code).toBe(2);
    expect(r.err).toContain('snp-report');
    expect((await evidence('--tdx-quote', path.join(tmp, 'nope.bin'))).code).toBe(2);
  });

  it('reports bad --report-data and --reference-values as bad input', async () => {
    expect((await evidence('--snp-report', 'x', '--report-data', 'abcd')).err).toContain('--report-data');
    const bad = path.join(tmp, 'rv.json');
    writeFileSync(bad, '{ not json');
    expect((await evidence('--snp-report', 'x', '--reference-values', bad)).err).toContain('not JSON');
  });

  it('reports truncated and random input as bad input, never a crash', async () => {
    const junk = path.join(tmp, 'junk.bin');
    writeFileSync(junk, Buffer.alloc(100, 7));
    expect((await evidence('--snp-report', junk)).code).toBe(2);
    expect((await evidence('--tdx-quote', junk)).code).toBe(2);
  });
});

describe.skipIf(!shared)('contrast evidence verify: real vectors', () => {
  it('accepts a real Genoa SNP report at its time and prints its measurement', async () => {
    const r = await evidence(
      '--snp-report',
      `${snpDir}/report.bin`,
      '--cert',
      `${snpDir}/vcek.der`,
      '--at',
      '2025-10-01T08:00:00Z',
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('SNP report VALID');
    const expected = JSON.parse(readFileSync(`${snpDir}/expected.json`, 'utf8'));
    const measurement = JSON.stringify(expected).match(/"measurement"\s*:\s*"([0-9a-f]{96})"/)?.[1];
    expect(measurement).toBeDefined();
    expect(r.out).toContain(measurement!);
  });

  it('rejects the SNP report with one signed byte flipped (exit 1), and prints JSON on request', async () => {
    const r = await evidence(
      '--snp-report',
      flipped(`${snpDir}/report.bin`, 0x90),
      '--cert',
      `${snpDir}/vcek.der`,
      '--at',
      '2025-10-01T08:00:00Z',
      '--json',
    );
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ ok: false, reason: { code: 'signature-invalid' } });
  });

  it('accepts a real TDX quote with its collateral: TCB UpToDate', async () => {
    const r = await evidence(
      '--tdx-quote',
      `${tdxDir}/quote.bin`,
      '--collateral',
      tdxDir!,
      '--at',
      '2025-07-19T10:00:34Z',
      '--json',
    );
    expect(r.code, r.err).toBe(0);
    const json = JSON.parse(r.out);
    expect(json.ok).toBe(true);
    expect(JSON.stringify(json)).toContain('UpToDate');
  });

  it('rejects the TDX quote with a body byte flipped (exit 1)', async () => {
    const r = await evidence(
      '--tdx-quote',
      flipped(`${tdxDir}/quote.bin`, 200),
      '--collateral',
      tdxDir!,
      '--at',
      '2025-07-19T10:00:34Z',
    );
    expect(r.code).toBe(1);
    expect(r.err).toContain('REJECTED');
  });
});
