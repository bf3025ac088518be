import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveVectors, tdxVectorsDir, vectorFile } from '../testing/tdx-vectors.js';
import { verifyTdxQuoteFile } from './cli.js';

const V = 'dcapqvl-v4-uptodate';
const AT = '2025-07-19T10:00:34Z';

describe.skipIf(!haveVectors)('verifyTdxQuoteFile (for `contrast evidence verify --tdx-quote`)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tdx-cli-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  const quoteFile = () => path.join(tdxVectorsDir, V, 'quote.bin');

  it('exit 0 with a summary and JSON claims including tcbStatus and advisoryIds', async () => {
    const r = await verifyTdxQuoteFile({
      quoteFile: quoteFile(),
      collateralDir: path.join(tdxVectorsDir, V),
      at: AT,
    });
    expect(r.exitCode).toBe(0);
    expect(r.summary).toContain('TCB status: UpToDate');
    expect(r.summary).toContain('MRTD        91eb2b44d141d4ec');
    const claims = r.json['claims'] as Record<string, Record<string, unknown>>;
    expect(claims['details']!['tcbStatus']).toBe('UpToDate');
    expect(claims['details']!['advisoryIds']).toEqual([]);
    expect(JSON.parse(JSON.stringify(r.json))).toEqual(r.json);
  });

  it('exit 1 for a verification failure, exit 2 for unusable input', async () => {
    const expired = await verifyTdxQuoteFile({ quoteFile: quoteFile(), at: '2060-01-01T00:00:00Z' });
    expect(expired.exitCode).toBe(1);
    expect(expired.json['reason']).toMatchObject({ code: 'certificate-expired' });
    expect((await verifyTdxQuoteFile({ quoteFile: path.join(dir, 'missing') })).exitCode).toBe(2);
    expect((await verifyTdxQuoteFile({ quoteFile: quoteFile(), at: 'yesterday' })).exitCode).toBe(2);
    const badRv = await verifyTdxQuoteFile({
      quoteFile: quoteFile(),
      at: AT,
      referenceValues: { MrTd: 'zz' },
    });
    expect(badRv.exitCode).toBe(2);
    expect(badRv.json['reason']).toMatchObject({ field: 'ReferenceValues.tdx.MrTd' });
    const mismatch = await verifyTdxQuoteFile({
      quoteFile: quoteFile(),
      at: AT,
      referenceValues: { MrTd: '00'.repeat(48) },
    });
    expect(mismatch.exitCode).toBe(1);
    expect(mismatch.summary).toContain('measurement-mismatch [mrTd]');
    expect(
      (await verifyTdxQuoteFile({ quoteFile: quoteFile(), collateralDir: path.join(dir, 'nope') })).exitCode,
    ).toBe(2);
  });

  it('property: random and truncated files exit 2, never throw', async () => {
    const quote = vectorFile(V, 'quote.bin');
    const file = path.join(dir, 'q.bin');
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 3000 }),
          fc.integer({ min: 0, max: 4935 }).map((n) => quote.subarray(0, n)),
        ),
        async (bytes) => {
          await writeFile(file, bytes);
          const r = await verifyTdxQuoteFile({ quoteFile: file, at: AT });
          return r.exitCode === 2 && r.json['ok'] === false;
        },
      ),
      { numRuns: 100 },
    );
  });
});
