import { generateKeyPairSync } from 'node:crypto';
import { ManifestValidationError } from '@contrast-cc/manifest';
import { describe, expect, it } from 'vitest';
import { ResourceInputError } from './errors.js';
import { assembleManifest } from './manifest.js';
import type { PatchedWorkload } from './pipeline.js';
import { testPlatform } from './test-support/index.js';

const snp = testPlatform('snp');
const tdx = testPlatform('tdx');

function workload(name: string, hash: string, role: '' | 'coordinator' = ''): PatchedWorkload {
  return {
    file: `${name}.yml`,
    location: 'documents[0]',
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    name,
    namespace: 'default',
    platform: snp,
    role,
    policyHash: hash,
    sans: [name, '*'],
    workloadSecretId: `apps/v1/Deployment/default/${name}`,
    initializer: role === '',
    serviceMesh: false,
  };
}

const coord = workload('coordinator', 'c0'.repeat(32), 'coordinator');

describe('assembleManifest', () => {
  it('builds policies, reference values with the Platform marker, and sorted-free owner key lists', () => {
    const { manifest, missing } = assembleManifest({
      workloads: [coord, workload('web', 'aa'.repeat(32))],
      platforms: [snp, tdx],
    });
    expect(manifest.Policies['aa'.repeat(32)]).toEqual({
      SANs: ['web', '*'],
      WorkloadSecretID: 'apps/v1/Deployment/default/web',
    });
    expect(manifest.Policies['c0'.repeat(32)]?.Role).toBe('coordinator');
    expect(manifest.ReferenceValues.snp?.[0]?.Platform).toBe('Test-SNP');
    expect(manifest.ReferenceValues.tdx?.[0]?.Platform).toBe('Test-TDX');
    expect(missing.map((m) => m.path)).toContain('ReferenceValues.tdx[0].MrSeam');
  });

  it('refuses two different workloads with one policy hash, naming both', () => {
    try {
      assembleManifest({
        workloads: [coord, workload('a', 'ab'.repeat(32)), workload('b', 'ab'.repeat(32))],
        platforms: [snp],
      });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ResourceInputError);
      const text = (error as ResourceInputError).describe();
      expect(text).toContain('b.yml: documents[0]: policy hash');
      expect(text).toContain('Deployment default/a (a.yml)');
    }
  });

  it('keeps user-filled values of matching entries and entries of other platforms; merges owner keys', () => {
    const existing = {
      Policies: {},
      ReferenceValues: {
        snp: [
          {
            Platform: 'Test-SNP',
            ProductName: 'Genoa',
            TrustedMeasurement: '00'.repeat(48),
            MinimumTCB: { BootloaderVersion: 1, TEEVersion: 2, SNPVersion: 3, MicrocodeVersion: 4 },
          },
          { Platform: 'Other-SNP', ProductName: 'Milan', TrustedMeasurement: '11'.repeat(48) },
        ],
      },
      WorkloadOwnerPubKeys: ['ab'],
      SeedshareOwnerPubKeys: ['cd'],
    };
    // Owner keys here are not real keys: the final validation must catch that.
    expect(() =>
      assembleManifest({ existing, workloads: [coord], platforms: [snp], workloadOwnerKeys: ['ab', 'AB'] }),
    ).toThrow(ManifestValidationError);
    existing.WorkloadOwnerPubKeys = [];
    existing.SeedshareOwnerPubKeys = [];
    const { manifest, missing } = assembleManifest({ existing, workloads: [coord], platforms: [snp] });
    const snpValues = manifest.ReferenceValues.snp!;
    expect(snpValues.map((v) => v.Platform)).toEqual(['Other-SNP', 'Test-SNP']);
    // fresh measurement from the platform, user's TCB kept
    expect(snpValues[1]?.TrustedMeasurement).toBe('5a'.repeat(48));
    expect(snpValues[1]?.MinimumTCB?.MicrocodeVersion).toBe(4);
    expect(missing.filter((m) => m.path.startsWith('ReferenceValues.snp[1]'))).toEqual([]);
  });

  it('--seedshare-threshold: written for k > 1, kept from the existing manifest, 1 leaves no field, k > n refused', () => {
    const rsa = () =>
      generateKeyPairSync('rsa', { modulusLength: 2048 })
        .publicKey.export({ format: 'der', type: 'pkcs1' })
        .toString('hex');
    const owners = [rsa(), rsa(), rsa()];
    const base = { workloads: [coord], platforms: [snp], seedshareOwnerKeys: owners };
    const two = assembleManifest({ ...base, seedshareThreshold: 2 }).manifest;
    expect(two.SeedshareThreshold).toBe(2);
    expect(assembleManifest({ ...base, existing: two }).manifest.SeedshareThreshold).toBe(2);
    expect(
      'SeedshareThreshold' in assembleManifest({ ...base, existing: two, seedshareThreshold: 1 }).manifest,
    ).toBe(false);
    expect('SeedshareThreshold' in assembleManifest(base).manifest).toBe(false);
    try {
      assembleManifest({ ...base, seedshareThreshold: 4, file: 'deploy/manifest.json' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ManifestValidationError);
      expect((error as ManifestValidationError).describe()).toBe(
        'deploy/manifest.json: SeedshareThreshold: 4 exceeds the 3 seed-share owners in SeedshareOwnerPubKeys: k of n needs k <= n',
      );
    }
  });

  it('--disable-updates empties the owner keys, also the older digests', () => {
    const { manifest } = assembleManifest({
      existing: { Policies: {}, ReferenceValues: {}, WorkloadOwnerKeyDigests: ['ee'.repeat(32)] },
      workloads: [coord],
      platforms: [snp],
      disableUpdates: true,
    });
    expect(manifest.WorkloadOwnerPubKeys).toEqual([]);
    expect(manifest.WorkloadOwnerKeyDigests).toBeUndefined();
  });

  it('names the platform when its default reference values break the schema', () => {
    const broken = testPlatform('snp', {
      id: 'Broken-SNP',
      attestation: { ...snp.attestation, defaultReferenceValues: () => [{ measurement: '00' }] },
    });
    expect(() => assembleManifest({ workloads: [coord], platforms: [broken] })).toThrow(
      /^platform Broken-SNP: ReferenceValues\.snp\[0\]\.measurement: default reference values: unknown field/,
    );
  });

  // A platform whose runtime provides no launch measurement (e.g. no runtime assets).
  const unmeasured = testPlatform('snp', {
    id: 'Unmeasured-SNP',
    attestation: {
      ...snp.attestation,
      defaultReferenceValues: () =>
        snp.attestation.defaultReferenceValues().map((v) => {
          const { TrustedMeasurement: _m, ...rest } = v as Record<string, unknown>;
          return rest;
        }),
    },
  });

  it('without a measurement from platform or manifest: names platform and field and says how to supply it', () => {
    try {
      assembleManifest({ workloads: [coord], platforms: [unmeasured] });
      expect.unreachable();
    } catch (error) {
      const text = (error as ResourceInputError).describe();
      expect(
        text.startsWith('platform Unmeasured-SNP: ReferenceValues.snp[0].TrustedMeasurement: unknown'),
      ).toBe(true);
      expect(text).toContain('contrast generate --assets <file|dir>');
      expect(text).toContain('or fill it into manifest.json');
      expect(text).not.toMatch(/^manifest\.json:/m);
    }
  });

  it("keeps a measurement the user filled in while the platform provides none; the platform's own wins", () => {
    const filled = '7e'.repeat(48);
    const existing = {
      Policies: {},
      ReferenceValues: {
        snp: unmeasured.attestation
          .defaultReferenceValues()
          .map((v) => ({ ...(v as object), Platform: 'Unmeasured-SNP', TrustedMeasurement: filled })),
      },
      WorkloadOwnerPubKeys: [],
      SeedshareOwnerPubKeys: [],
    };
    const kept = assembleManifest({ existing, workloads: [coord], platforms: [unmeasured] });
    expect(kept.manifest.ReferenceValues.snp?.every((v) => v.TrustedMeasurement === filled)).toBe(true);
    const withOwn = assembleManifest({
      existing: {
        ...existing,
        ReferenceValues: { snp: existing.ReferenceValues.snp.map((v) => ({ ...v, Platform: 'Test-SNP' })) },
      },
      workloads: [coord],
      platforms: [snp],
    });
    expect(withOwn.manifest.ReferenceValues.snp?.[0]?.TrustedMeasurement).toBe('5a'.repeat(48));
  });
});
