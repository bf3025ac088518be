import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../..');

/** The team's shared directory (test vectors), outside the repository. */
export const sharedDir = process.env['CONTRAST_SHARED_DIR'] ?? path.resolve(repoRoot, '../shared');
export const tdxVectorsDir = path.join(sharedDir, 'testvectors', 'tdx');
export const intelRootsDir = path.join(sharedDir, 'testvectors', 'intel-roots');
export const haveVectors = existsSync(tdxVectorsDir);

if (!haveVectors) {
  // biome-ignore lint/suspicious/noConsole: a visible notice that real-vector tests are skipped
  console.warn(`skipping TDX real-vector tests: ${tdxVectorsDir} not found`);
}

export function vectorFile(vector: string, file: string): Uint8Array {
  return new Uint8Array(readFileSync(path.join(tdxVectorsDir, vector, file)));
}

export function vectorJson<T = Record<string, unknown>>(vector: string, file = 'expected.json'): T {
  return JSON.parse(readFileSync(path.join(tdxVectorsDir, vector, file), 'utf8')) as T;
}

/**
 * Every TDX vector with the quote file, a time at which its quote (and, where given, its
 * collateral) is valid, the collateral directory (relative to the vector) and the expected
 * TCB status with that collateral. Times come from each vector's PROVENANCE.md.
 */
export const TDX_VECTORS: {
  name: string;
  quote: string;
  at: string;
  collateralDir?: string;
  expectedTcb?: string;
}[] = [
  { name: 'azure-tdx-v4-quoteonly', quote: 'quote.bin', at: '2026-11-27T00:00:00Z' },
  {
    name: 'dcapqvl-v4-uptodate',
    quote: 'quote.bin',
    at: '2025-07-19T10:00:34Z',
    collateralDir: '.',
    expectedTcb: 'UpToDate',
  },
  {
    name: 'dcapqvl-v5-no-tcb-match',
    quote: 'quote.bin',
    at: '2026-03-20T10:41:14Z',
    collateralDir: '.',
    expectedTcb: 'no-matching-tcb-level',
  },
  { name: 'gotdx-emr-v5', quote: 'quote.bin', at: '2026-02-20T00:00:00Z', expectedTcb: 'UpToDate' },
  { name: 'gotdx-gcp-cos113-v4-ccel', quote: 'quote.bin', at: '2026-11-27T00:00:00Z' },
  {
    name: 'gotdx-spr-v4-fullcollateral',
    quote: 'quote.bin',
    at: '2023-07-01T01:00:00Z',
    collateralDir: '.',
    expectedTcb: 'no-matching-tcb-level',
  },
  { name: 'oak-gcp-v4', quote: 'quote_8000B_zero_padded.bin', at: '2028-09-24T00:00:00Z' },
  { name: 'trustee-emr-v5-quoteonly', quote: 'quote.bin', at: '2026-11-27T00:00:00Z' },
  {
    name: 'trustee-gnr-v4-tcbinfo',
    quote: 'quote.bin',
    at: '2025-11-01T00:00:00Z',
    collateralDir: '.',
    expectedTcb: 'OutOfDate',
  },
  { name: 'trustee-spr-v4-quoteonly', quote: 'quote.bin', at: '2026-11-27T00:00:00Z' },
];
