import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSnpVerifier } from '@contrast-cc/attestation/snp';
import { createTdxVerifier } from '@contrast-cc/attestation/tdx';
import { isContrastError, noopLogger, type Platform, toHex } from '@contrast-cc/core';
import { describePlatformConformance } from '@contrast-cc/platform-testkit';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createSimulatedSnpPlatform,
  createSimulatedTdxPlatform,
  createSimulatorTrust,
  SIMULATED_MEASUREMENTS,
  simulatedSnpReferenceValues,
} from './index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'contrast-sim-test-'));
const otherDir = mkdtempSync(path.join(tmpdir(), 'contrast-sim-other-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(otherDir, { recursive: true, force: true });
});

const trust = createSimulatorTrust({ dir });
const snp = createSimulatedSnpPlatform({ trust });
const tdx = createSimulatedTdxPlatform({ trust });
const reportData = new Uint8Array(64).map((_, i) => (i * 7 + 3) & 0xff);
const hostData = new Uint8Array(32).map((_, i) => 0xa0 + i);

for (const platform of [snp, tdx]) {
  describePlatformConformance(platform, {
    goldenDir: path.join(here, '__golden__', platform.id),
    goldenEvidence: async () => ({
      evidence: await platform.attestation.createIssuer!({ logger: noopLogger, hostData }).issue(reportData),
      reportData,
    }),
  });
}

const verifierOf = (p: Platform) =>
  p.attestation.createVerifier({
    referenceValues: p.attestation.defaultReferenceValues()[0],
    logger: noopLogger,
  });

describe.each([
  ['Simulated-SNP', snp, createSimulatedSnpPlatform],
  ['Simulated-TDX', tdx, createSimulatedTdxPlatform],
] as const)('%s', (id, platform, create) => {
  it('is marked insecure, installs nothing, and names its RuntimeClass after its measurements', () => {
    expect(platform.insecure).toBe(true);
    expect(platform.runtime.nodeInstaller({ namespace: 'x' })).toEqual([]);
    expect(platform.runtime.runtimeClassNames[0]).toMatch(
      new RegExp(`^contrast-cc-${id.toLowerCase()}-[0-9a-f]{8}$`),
    );
    const values = platform.attestation.defaultReferenceValues() as Record<string, unknown>[];
    expect(values[0]).toMatchObject({ Platform: id, Insecure: true });
  });

  it('binds the policy digest the host sets (HOST_DATA / MRCONFIGID[0:32])', async () => {
    const evidence = await platform.attestation.createIssuer!({ logger: noopLogger, hostData }).issue(
      reportData,
    );
    const r = await verifierOf(platform).verify(evidence, { reportData });
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.claims.policyDigest).toBe(toHex(hostData));
      expect(r.claims.insecure).toBe(true);
    }
  });

  it('lets another process sharing the trust directory verify, and nobody else', async () => {
    // A second platform instance over the same directory stands for another process.
    const evidence = await platform.attestation.createIssuer!({ logger: noopLogger }).issue(reportData);
    const sameDir = create({ trust: createSimulatorTrust({ dir }) });
    expect((await verifierOf(sameDir).verify(evidence, { reportData })).ok).toBe(true);
    const elsewhere = create({ trust: createSimulatorTrust({ dir: otherDir }) });
    const r = await verifierOf(elsewhere).verify(evidence, { reportData });
    expect(r.ok ? 'accepted' : r.reason.code).toBe('chain-invalid');
  });

  it('refuses a host-data of the wrong length', () => {
    try {
      platform.attestation.createIssuer!({ logger: noopLogger, hostData: new Uint8Array(31) });
      expect.unreachable();
    } catch (e) {
      expect(isContrastError(e) && e.field).toBe('hostData');
    }
  });
});

describe('simulated evidence never passes as real', () => {
  it('the real verifiers with the vendors roots refuse it', async () => {
    const se = await snp.attestation.createIssuer!({ logger: noopLogger }).issue(reportData);
    const rs = await createSnpVerifier({ referenceValues: {} }).verify(se, { reportData });
    expect(rs.ok ? 'accepted' : rs.reason.code).toBe('chain-invalid');
    const te = await tdx.attestation.createIssuer!({ logger: noopLogger }).issue(reportData);
    const rt = await createTdxVerifier({}).verify(te, { reportData });
    expect(rt.ok ? 'accepted' : rt.reason.code).toBe('chain-invalid');
  });

  it('a measurement other than the simulated one is refused', async () => {
    const se = await snp.attestation.createIssuer!({ logger: noopLogger }).issue(reportData);
    const v = snp.attestation.createVerifier({
      referenceValues: { ...simulatedSnpReferenceValues(), TrustedMeasurement: 'ab'.repeat(48) },
      logger: noopLogger,
    });
    const r = await v.verify(se, { reportData });
    expect(r.ok ? 'accepted' : r.reason.code).toBe('measurement-mismatch');
    expect(SIMULATED_MEASUREMENTS.snp.measurement).toMatch(/^[0-9a-f]{96}$/);
  });
});
