import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { issuerEnvShape, parseGuestEnv } from './guest-env.js';

const schema = z.object({ ...issuerEnvShape, CONTRAST_OUT_DIR: z.string().min(1).default('/contrast') });

describe('parseGuestEnv', () => {
  it('defaults to configfs-tsm, the only issuer that proves anything', () => {
    const c = parseGuestEnv(schema, {});
    expect([c.CONTRAST_ISSUER, c.CONTRAST_ALLOW_INSECURE_RUNTIMES, c.CONTRAST_OUT_DIR]).toEqual([
      'tsm',
      false,
      '/contrast',
    ]);
  });

  it('refuses every insecure issuer without the opt-in, and takes it with the opt-in', () => {
    for (const issuer of ['fake', 'simulated-snp', 'simulated-tdx']) {
      expect(() => parseGuestEnv(schema, { CONTRAST_ISSUER: issuer })).toThrow(
        `CONTRAST_ISSUER: "${issuer}" needs CONTRAST_ALLOW_INSECURE_RUNTIMES=1 (it proves nothing)`,
      );
      for (const optIn of ['0', 'false', '']) {
        expect(() =>
          parseGuestEnv(schema, { CONTRAST_ISSUER: issuer, CONTRAST_ALLOW_INSECURE_RUNTIMES: optIn }),
        ).toThrow(/^CONTRAST_ISSUER:/);
      }
      for (const optIn of ['1', 'true']) {
        const c = parseGuestEnv(schema, { CONTRAST_ISSUER: issuer, CONTRAST_ALLOW_INSECURE_RUNTIMES: optIn });
        expect(c.CONTRAST_ISSUER).toBe(issuer);
      }
    }
  });

  it('names the first bad variable, without its value', () => {
    const secretish = 'z'.repeat(64);
    const err = (() => {
      try {
        parseGuestEnv(schema, { CONTRAST_FAKE_POLICY_HASH: secretish });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).toMatch(/^CONTRAST_FAKE_POLICY_HASH: must be 64 lowercase hex digits$/);
    expect(() => parseGuestEnv(schema, { CONTRAST_ISSUER: 'sev' })).toThrow(/^CONTRAST_ISSUER: /);
    expect(() => parseGuestEnv(schema, { CONTRAST_OUT_DIR: '' })).toThrow(/^CONTRAST_OUT_DIR: /);
  });
});
