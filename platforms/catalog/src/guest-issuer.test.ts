import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isContrastError, noopLogger } from '@contrast-cc/core';
import { createMemoryLogger } from '@contrast-cc/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createPlatformCatalog } from './catalog.js';
import { issuerEnvShape, parseGuestEnv } from './guest-env.js';
import { openGuestIssuer } from './guest-issuer.js';

const schema = z.object(issuerEnvShape);
const POLICY = 'ab'.repeat(32);
const reportData = new Uint8Array(64).map((_, i) => i);
const dir = mkdtempSync(path.join(tmpdir(), 'contrast-guest-issuer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('openGuestIssuer', () => {
  it.each([
    ['simulated-snp', 'Simulated-SNP'],
    ['simulated-tdx', 'Simulated-TDX'],
  ])(
    '%s: the simulator platform issuer, binding the policy hash; verified by %s, not with another hash',
    async (name, id) => {
      const log = createMemoryLogger();
      const env = parseGuestEnv(schema, {
        CONTRAST_ISSUER: name,
        CONTRAST_ALLOW_INSECURE_RUNTIMES: '1',
        CONTRAST_FAKE_POLICY_HASH: POLICY,
      });
      const issuer = await openGuestIssuer(env, { logger: log.logger, subject: 'pod', simulatorDir: dir });
      expect(log.records.map((r) => [r.level, r.message])).toContainEqual([
        'warn',
        'INSECURE: using a simulated platform issuer; this pod proves nothing',
      ]);
      const evidence = await issuer.issue(reportData);
      // A verifier of the same trust directory (another process would build the same one).
      const platform = createPlatformCatalog({ simulatorDir: dir }).platforms.find((p) => p.id === id)!;
      const verifier = platform.attestation.createVerifier({
        referenceValues: platform.attestation.defaultReferenceValues()[0],
        logger: noopLogger,
      });
      const ok = await verifier.verify(evidence, { reportData });
      expect(ok.ok && ok.claims.policyDigest).toBe(POLICY);
      const other = await openGuestIssuer(
        parseGuestEnv(schema, { CONTRAST_ISSUER: name, CONTRAST_ALLOW_INSECURE_RUNTIMES: '1' }),
        { logger: noopLogger, subject: 'pod', simulatorDir: dir },
      );
      const unbound = await verifier.verify(await other.issue(reportData), { reportData });
      expect(unbound.ok && unbound.claims.policyDigest).not.toBe(POLICY);
      // Evidence for other REPORT_DATA is refused.
      const wrong = await verifier.verify(evidence, { reportData: new Uint8Array(64) });
      expect(wrong.ok).toBe(false);
    },
    60_000,
  );

  it('fake: the core fake issuer, announced as insecure', async () => {
    const log = createMemoryLogger();
    const env = parseGuestEnv(schema, {
      CONTRAST_ISSUER: 'fake',
      CONTRAST_ALLOW_INSECURE_RUNTIMES: 'true',
      CONTRAST_FAKE_POLICY_HASH: POLICY,
    });
    const issuer = await openGuestIssuer(env, { logger: log.logger, subject: 'Coordinator' });
    expect(log.records.map((r) => r.message)).toContain(
      'INSECURE: using the fake issuer; this Coordinator proves nothing',
    );
    const evidence = await issuer.issue(reportData);
    expect(evidence.kind).toBe(issuer.kind);
    expect(issuer.kind).not.toMatch(/snp|tdx/i);
  });

  it('tsm: configfs-tsm at CONTRAST_TSM_PATH; no interface there is refused naming the path', async () => {
    const missing = path.join(dir, 'no-tsm');
    const env = parseGuestEnv(schema, { CONTRAST_TSM_PATH: missing });
    const err = await openGuestIssuer(env, { logger: noopLogger, subject: 'pod', thimUrl: 'off' }).catch(
      (e: unknown) => e,
    );
    expect(isContrastError(err) && err.code).toBe('unavailable');
    expect((err as Error).message).toContain(missing);
  });
});
