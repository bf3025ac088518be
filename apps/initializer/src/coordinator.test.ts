import { noopLogger } from '@contrast-cc/core';
import { FakeIssuer } from '@contrast-cc/core/testing';
import { describe, expect, it } from 'vitest';
import { coordinatorExpectations } from './coordinator.js';

const POLICY = 'ab'.repeat(32);
const MEASUREMENT = 'cd'.repeat(48);
const expected = (snp: Record<string, unknown>[]) =>
  JSON.stringify({ policyHashes: [POLICY], referenceValues: { snp } });
const options = { allowInsecure: false, fakeIssuer: false, logger: noopLogger };

describe('CONTRAST_EXPECTED_COORDINATOR', () => {
  it('names the bad field', () => {
    expect(() => coordinatorExpectations('{', options)).toThrow(
      expect.objectContaining({ field: 'CONTRAST_EXPECTED_COORDINATOR' }),
    );
    expect(() =>
      coordinatorExpectations(JSON.stringify({ policyHashes: ['x'], referenceValues: {} }), options),
    ).toThrow(expect.objectContaining({ field: 'CONTRAST_EXPECTED_COORDINATOR.policyHashes.0' }));
    expect(() =>
      coordinatorExpectations(expected([{ Platform: 'Nope', TrustedMeasurement: MEASUREMENT }]), options),
    ).toThrow(/not known to this program/);
  });

  it('verifies the fake platform only with the insecure opt-in and the fake issuer', async () => {
    const rv = [
      { Platform: 'Fake-Platform', Insecure: true, ProductName: 'Genoa', TrustedMeasurement: MEASUREMENT },
    ];
    expect(() => coordinatorExpectations(expected(rv), options)).toThrow(/Fake-Platform/);
    const c = coordinatorExpectations(expected(rv), { ...options, allowInsecure: true, fakeIssuer: true });
    expect(c.policyHashes).toEqual([POLICY]);
    const reportData = new Uint8Array(64).fill(1);
    const good = await new FakeIssuer({ measurement: MEASUREMENT, policyDigest: POLICY }).issue(reportData);
    const bad = await new FakeIssuer({ measurement: 'ee'.repeat(48), policyDigest: POLICY }).issue(
      reportData,
    );
    expect((await c.verifiers[0]!.verify(good, { reportData })).ok).toBe(true);
    expect((await c.verifiers[0]!.verify(bad, { reportData })).ok).toBe(false);
  });
});
