import { describe, expect, it } from 'vitest';
import { Base64Schema, BODY_LIMITS, isBase64, SetManifestRequestSchema } from './schemas.js';

describe('Base64Schema', () => {
  it('accepts padded standard base64 and refuses anything else', () => {
    for (const ok of ['', 'AAAA', 'AA==', 'AAA=', 'ab+/', Buffer.from('hello world').toString('base64')]) {
      expect(isBase64(ok), ok).toBe(true);
    }
    for (const bad of ['A', 'AAA', 'A===', '====', 'AA=A', 'AA-_', 'AAAA\n', ' AAAA', 'AAAAA=', 'ÄAAA']) {
      expect(isBase64(bad), bad).toBe(false);
    }
  });

  it('checks a field as large as the manifest limit without overflowing the regex stack', () => {
    // The former grouped pattern threw "Maximum call stack size exceeded" from ~4.5 MiB on: a
    // large manifest could never be set (500 from the Coordinator).
    const big = Buffer.alloc((BODY_LIMITS.manifest / 4) * 3 - 3, 7).toString('base64');
    expect(big.length).toBeGreaterThan(15 * 1024 * 1024);
    expect(Base64Schema.safeParse(big).success).toBe(true);
    expect(SetManifestRequestSchema.safeParse({ manifest: big, policies: [] }).success).toBe(true);
    expect(Base64Schema.safeParse(`${big.slice(1)}`).success).toBe(false);
  });
});
