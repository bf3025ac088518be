import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TdxCollateral } from '../tdx/collateral.js';
import { loadCollateralDir } from '../tdx/collateral-dir.js';
import { parseTdxQuote } from '../tdx/quote.js';
import { hasShared, sharedPath } from './shared-dir.js';

// The shared-directory resolution lives in shared-dir.ts (one place).
export const tdxVectorsDir = sharedPath('testvectors', 'tdx');
export const intelRootsDir = sharedPath('testvectors', 'intel-roots');
export const haveVectors = hasShared('testvectors/tdx');

export function vectorFile(vector: string, file: string): Uint8Array {
  return new Uint8Array(readFileSync(path.join(tdxVectorsDir, vector, file)));
}

/**
 * A vector's quote exactly, as evidence carries it: the file cut to the quote's declared length
 * (several captures are padded buffers; the verifier refuses padding unless told otherwise).
 */
export function vectorQuote(vector: string, file = 'quote.bin'): Uint8Array {
  const bytes = vectorFile(vector, file);
  return bytes.subarray(0, parseTdxQuote(bytes).length);
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

/**
 * A vector's collateral as PCS would serve it (gotdx-emr-v5: its TCB info plus the QE identity and
 * CRLs composed from another capture of the same month, see its PROVENANCE.md).
 */
export async function vectorCollateral(name: string): Promise<TdxCollateral> {
  const dir = path.join(tdxVectorsDir, name);
  if (name !== 'gotdx-emr-v5') return loadCollateralDir(dir);
  const [own, composed] = await Promise.all([
    loadCollateralDir(dir),
    loadCollateralDir(path.join(dir, 'composed-collateral-2026-02')),
  ]);
  return { ...composed, ...own };
}
