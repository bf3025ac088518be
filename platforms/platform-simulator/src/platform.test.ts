import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSnpVerifier } from '@contrast-cc/attestation/snp';
import { createTdxVerifier } from '@contrast-cc/attestation/tdx';
import { type Evidence, isContrastError, noopLogger, type Platform, toHex } from '@contrast-cc/core';
import { describePlatformConformance } from '@contrast-cc/platform-testkit';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createSimulatedSnpPlatform,
  createSimulatedTdxPlatform,
  createSimulatorTrust,
  SIMULATED_MEASUREMENTS,
  type SimulatorTrust,
  simulatedSnpReferenceValues,
} from './index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'contrast-sim-test-'));
const otherDir = mkdtempSync(path.join(tmpdir(), 'contrast-sim-other-'));
const cacheDir = mkdtempSync(path.join(tmpdir(), 'contrast-sim-cache-'));
afterAll(() => {
  for (const d of [dir, otherDir, cacheDir]) rmSync(d, { recursive: true, force: true });
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

/** A trust directory that counts how often its roots are read (the verifiers' only file access). */
function countingTrust(trustDir: string): { trust: SimulatorTrust; reads: () => number } {
  const inner = createSimulatorTrust({ dir: trustDir });
  let reads = 0;
  const trust: SimulatorTrust = {
    dir: inner.dir,
    registerSnpRoot: (r) => inner.registerSnpRoot(r),
    registerTdxRoot: (p) => inner.registerTdxRoot(p),
    snpTrustAnchors: () => {
      reads++;
      return inner.snpTrustAnchors();
    },
    tdxTrustAnchors: () => {
      reads++;
      return inner.tdxTrustAnchors();
    },
  };
  return { trust, reads: () => reads };
}

/** A copy of the evidence with one byte of its signed REPORT_DATA flipped (SNP 0x50, TDX quote 568). */
function tampered(evidence: Evidence): Evidence {
  const data = new Uint8Array(evidence.data);
  const at = evidence.kind === 'snp-report' ? 0x50 : 48 + 520;
  data[at] = data[at]! ^ 0x01;
  return { ...evidence, data };
}

describe.each([
  ['Simulated-SNP', createSimulatedSnpPlatform],
  ['Simulated-TDX', createSimulatedTdxPlatform],
] as const)('%s verifier: the trust directory is read once', (id, create) => {
  it('reads the roots at the first verification only; re-reads when evidence names a root registered since', async () => {
    const shared = path.join(cacheDir, id);
    // The Coordinator's verifier exists before any initializer has registered its root.
    const coordinator = countingTrust(shared);
    const verifier = verifierOf(create({ trust: coordinator.trust }));
    const first = create({ trust: createSimulatorTrust({ dir: shared }) }); // an initializer process
    const issue = (p: Platform) => p.attestation.createIssuer!({ logger: noopLogger }).issue(reportData);
    const a = await Promise.all([issue(first), issue(first), issue(first)]);
    const verdicts = await Promise.all(a.map((e) => verifier.verify(e, { reportData })));
    expect(verdicts.map((r) => r.ok)).toEqual([true, true, true]);
    expect(coordinator.reads()).toBe(1); // concurrent first verifications share one read

    expect((await verifier.verify(a[0]!, { reportData })).ok).toBe(true);
    expect((await verifier.verify(await issue(first), { reportData })).ok).toBe(true);
    const bad = await verifier.verify(tampered(a[1]!), { reportData });
    expect(bad.ok ? 'accepted' : bad.reason.code).toBe('signature-invalid');
    expect(coordinator.reads()).toBe(1);

    // Another initializer process starts later and registers its own root in the same directory.
    const second = create({ trust: createSimulatorTrust({ dir: shared }) });
    const b = await issue(second);
    expect((await verifier.verify(b, { reportData })).ok).toBe(true);
    expect(coordinator.reads()).toBe(2);
    expect((await verifier.verify(b, { reportData })).ok).toBe(true);
    expect((await verifier.verify(a[2]!, { reportData })).ok).toBe(true);
    const badB = await verifier.verify(tampered(b), { reportData });
    expect(badB.ok ? 'accepted' : badB.reason.code).toBe('signature-invalid');
    expect(coordinator.reads()).toBe(2);

    // A root that is not in the directory stays refused (after one more read that finds nothing new).
    const stranger = create({ trust: createSimulatorTrust({ dir: otherDir }) });
    const foreign = await verifier.verify(await issue(stranger), { reportData });
    expect(foreign.ok ? 'accepted' : foreign.reason.code).toBe('chain-invalid');
    expect(coordinator.reads()).toBe(3);

    // A verifier created later (e.g. for the next manifest) reads the directory as it is then.
    const later = countingTrust(shared);
    const next = verifierOf(create({ trust: later.trust }));
    expect((await next.verify(a[0]!, { reportData })).ok).toBe(true);
    expect((await next.verify(b, { reportData })).ok).toBe(true);
    expect(later.reads()).toBe(1);
  }, 120_000);

  it('without a registered root refuses with chain-invalid and reads again next time', async () => {
    const empty = countingTrust(mkdtempSync(path.join(cacheDir, 'empty-')));
    const verifier = verifierOf(create({ trust: empty.trust }));
    const evidence = await create({ trust: createSimulatorTrust({ dir: otherDir }) }).attestation
      .createIssuer!({ logger: noopLogger }).issue(reportData);
    for (let i = 1; i <= 2; i++) {
      const r = await verifier.verify(evidence, { reportData });
      expect(r.ok ? 'accepted' : [r.reason.code, r.reason.field]).toEqual(['chain-invalid', 'trust']);
      expect(empty.reads()).toBe(i);
    }
  }, 120_000);
});
