// Test-only: the SNP vectors of ../shared/testvectors/snp, read in place.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { hasShared, sharedPath } from './shared-dir.js';

export const hasSnpVectors = hasShared('testvectors/snp');

export interface SnpVector {
  name: string;
  dir: string;
  // biome-ignore lint/suspicious/noExplicitAny: free-form fixture JSON, read field by field in tests
  expected: Record<string, any>;
  report?: Uint8Array;
  /** The VCEK/VLEK (DER, or a PEM whose first block is the leaf). */
  leaf: Uint8Array;
  certChain: Uint8Array;
  /** The time to verify at, from expected.json's verify_at text. */
  verifyAt: Date;
}

/** Picks the time from the free-text verify_at: "Use e.g. X" wins, else the first timestamp. */
export function verifyTime(text: string): Date {
  const useEg = /Use e\.g\. (\d{4}-\d{2}-\d{2}T[\d:]+Z)/.exec(text);
  const first = /(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?Z)/.exec(text);
  const pick = useEg?.[1] ?? first?.[1];
  if (!pick) throw new Error(`no time in verify_at "${text}"`);
  // "any time in [notBefore, ...]": step one day inside the window.
  const t = new Date(pick);
  return text.startsWith('any time') ? new Date(t.getTime() + 86_400_000) : t;
}

export function snpVectors(): SnpVector[] {
  if (!hasSnpVectors) return [];
  const root = sharedPath('testvectors/snp');
  return readdirSync(root)
    .sort()
    .map((name) => {
      const dir = path.join(root, name);
      const expected = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8'));
      const leafFile = expected.leaf_cert.file as string;
      const reportPath = path.join(dir, 'report.bin');
      const v: SnpVector = {
        name,
        dir,
        expected,
        leaf: new Uint8Array(readFileSync(path.join(dir, leafFile))),
        certChain: new Uint8Array(readFileSync(path.join(dir, 'cert_chain.pem'))),
        verifyAt: verifyTime(expected.verify_at),
      };
      if (existsSync(reportPath)) v.report = new Uint8Array(readFileSync(reportPath));
      return v;
    });
}
