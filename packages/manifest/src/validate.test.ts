import { generateKeyPairSync } from 'node:crypto';
import { isContrastError } from '@contrast-cc/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  COORDINATOR_HASH,
  snpValues,
  tdxValues,
  testKeys,
  validManifest,
  WEB_HASH,
} from './test-support/fixtures.js';
import {
  checkReferenceValues,
  MANIFEST_JSON_BOUNDS,
  ManifestValidationError,
  parseManifest,
} from './validate.js';

function issuesOf(input: unknown, options = {}): { path: string; message: string }[] {
  try {
    parseManifest(input, options);
  } catch (error) {
    expect(error).toBeInstanceOf(ManifestValidationError);
    return [...(error as ManifestValidationError).issues];
  }
  throw new Error('expected the manifest to be rejected');
}

describe('parseManifest', () => {
  it('accepts a complete v1.25 manifest with no warnings and nothing missing', () => {
    const { manifest, warnings, missing } = parseManifest(validManifest());
    expect(warnings).toEqual([]);
    expect(missing).toEqual([]);
    expect(manifest.Policies[COORDINATOR_HASH]?.Role).toBe('coordinator');
  });

  it('parses JSON text and bytes alike', () => {
    const text = JSON.stringify(validManifest());
    expect(parseManifest(text).manifest).toEqual(parseManifest(new TextEncoder().encode(text)).manifest);
  });

  it('names the file and says "not valid JSON" for malformed text', () => {
    try {
      parseManifest('{"Policies": ', { file: 'manifest.json' });
      expect.unreachable();
    } catch (error) {
      expect(isContrastError(error)).toBe(true);
      const e = error as ManifestValidationError;
      expect(e.code).toBe('validation-failed');
      expect(e.file).toBe('manifest.json');
      expect(e.describe()).toMatch(/^manifest\.json: \(root\): not valid JSON/);
    }
  });

  it('refuses nesting and value counts beyond MANIFEST_JSON_BOUNDS before parsing', () => {
    const deep = `${'['.repeat(MANIFEST_JSON_BOUNDS.maxDepth + 1)}${']'.repeat(MANIFEST_JSON_BOUNDS.maxDepth + 1)}`;
    expect(() => parseManifest(deep, { file: 'm.json' })).toThrow(/the manifest nests deeper than 32 levels/);
    const many = new TextEncoder().encode(`[${'{},'.repeat(MANIFEST_JSON_BOUNDS.maxValues)}{}]`);
    expect(() => parseManifest(many)).toThrow(/the manifest has more than 200000 values/);
  });

  it('reports missing MinimumTCB values and MrSeam as "please fill in", not as invalid', () => {
    const m = validManifest();
    const snp = snpValues();
    delete (snp.MinimumTCB as Record<string, unknown>).BootloaderVersion;
    (snp.MinimumTCB as Record<string, unknown>).SNPVersion = null;
    const tdx = tdxValues();
    delete tdx.MrSeam;
    m.ReferenceValues = { snp: [snp], tdx: [tdx] } as never;
    const { missing } = parseManifest(m);
    expect(missing.map((x) => x.path)).toEqual([
      'ReferenceValues.snp[0].MinimumTCB.BootloaderVersion',
      'ReferenceValues.snp[0].MinimumTCB.SNPVersion',
      'ReferenceValues.tdx[0].MrSeam',
    ]);
    expect(missing[0]!.message).toContain('please fill in');
  });

  it('rejects a wrong type with the full JSON path', () => {
    const m = validManifest();
    (
      (m.ReferenceValues.snp as Record<string, unknown>[])[0]!.MinimumTCB as Record<string, unknown>
    ).BootloaderVersion = '9';
    const issues = issuesOf(m);
    expect(issues.map((i) => i.path)).toEqual(['ReferenceValues.snp[0].MinimumTCB.BootloaderVersion']);
  });

  it('rejects an SVN above 255', () => {
    const m = validManifest();
    (
      (m.ReferenceValues.snp as Record<string, unknown>[])[0]!.MinimumTCB as Record<string, unknown>
    ).TEEVersion = 256;
    expect(issuesOf(m)[0]!.path).toBe('ReferenceValues.snp[0].MinimumTCB.TEEVersion');
  });

  it('rejects unknown fields (top level and nested) by name', () => {
    const m = validManifest() as Record<string, unknown>;
    m.Policy = {};
    (m.ReferenceValues as { snp: Record<string, unknown>[] }).snp[0]!.Measurement = 'ab';
    const paths = issuesOf(m).map((i) => i.path);
    expect(paths).toContain('Policy');
    expect(paths).toContain('ReferenceValues.snp[0].Measurement');
  });

  it('requires at least one coordinator policy', () => {
    const m = validManifest();
    delete m.Policies[COORDINATOR_HASH];
    const issues = issuesOf(m);
    expect(issues).toEqual([expect.objectContaining({ path: 'Policies' })]);
    expect(issues[0]!.message).toContain('coordinator');
  });

  it('refuses roles other than "" and "coordinator"', () => {
    const m = validManifest();
    (m.Policies[WEB_HASH] as Record<string, unknown>).Role = 'contrast-node-installer';
    expect(issuesOf(m)[0]!.path).toBe(`Policies["${WEB_HASH}"].Role`);
  });

  it('requires policy hashes to be 64 hex digits', () => {
    const m = validManifest();
    m.Policies.abcd = { SANs: ['x'] };
    expect(issuesOf(m)[0]!.path).toBe('Policies["abcd"]');
  });

  it('warns about upper-case policy hashes (they would never match)', () => {
    const m = validManifest();
    m.Policies['AB'.repeat(32)] = { SANs: ['x'] };
    expect(parseManifest(m).warnings.map((w) => w.path)).toEqual([`Policies["${'AB'.repeat(32)}"]`]);
  });

  it('requires reference values', () => {
    const m = validManifest();
    m.ReferenceValues = {};
    expect(issuesOf(m)[0]!.path).toBe('ReferenceValues');
  });

  it.each([
    ['ProductName', 'Turin'],
    ['TrustedMeasurement', 'ab'.repeat(32)],
    ['APEIP', 'ab'],
    ['AllowedChipIDs', ['00'.repeat(63)]],
  ])('checks SNP %s', (field, value) => {
    const m = validManifest();
    (m.ReferenceValues.snp as Record<string, unknown>[])[0]![field] = value;
    expect(issuesOf(m)[0]!.path).toMatch(new RegExp(`^ReferenceValues\\.snp\\[0\\]\\.${field}`));
  });

  it.each([
    ['Debug', true] as const,
    ['ABIMajor', 1] as const,
    ['SMT', false] as const,
    ['MigrateMA', true] as const,
  ])('refuses a modified guest policy field %s', (field, value) => {
    const m = validManifest();
    ((m.ReferenceValues.snp as Record<string, unknown>[])[0]!.GuestPolicy as Record<string, unknown>)[field] =
      value;
    const issue = issuesOf(m)[0]!;
    expect(issue.path).toBe(`ReferenceValues.snp[0].GuestPolicy.${field}`);
    expect(issue.message).toContain('not permitted');
  });

  it.each([
    ['MrTd', 'ab'],
    ['Xfam', 'e7020600'],
    ['Rtmrs', ['00'.repeat(48)]],
    ['AllowedPIIDs', ['00'.repeat(15)]],
  ])('checks TDX %s', (field, value) => {
    const m = validManifest();
    (m.ReferenceValues.tdx as Record<string, unknown>[])[0]![field] = value;
    expect(issuesOf(m)[0]!.path).toMatch(new RegExp(`^ReferenceValues\\.tdx\\[0\\]\\.${field}`));
  });

  it('rejects non-hex strings', () => {
    const m = validManifest();
    (m.ReferenceValues.tdx as Record<string, unknown>[])[0]!.MrTd = 'zz'.repeat(48);
    const issue = issuesOf(m)[0]!;
    expect(issue.path).toBe('ReferenceValues.tdx[0].MrTd');
    expect(issue.message).toContain('hex');
  });

  it('never mixes insecure and secure platforms (Insecure marker)', () => {
    const m = validManifest();
    (m.ReferenceValues.tdx as Record<string, unknown>[])[0]!.Insecure = true;
    const issue = issuesOf(m)[0]!;
    expect(issue.path).toBe('ReferenceValues.tdx[0]');
    expect(issue.message).toContain('insecure');
    // all insecure is fine
    (m.ReferenceValues.snp as Record<string, unknown>[])[0]!.Insecure = true;
    expect(() => parseManifest(m)).not.toThrow();
  });

  it('treats platforms named insecure by the caller as insecure, unknown ones as secure', () => {
    const m = validManifest();
    expect(() => parseManifest(m, { insecurePlatforms: ['Some-Other'] })).not.toThrow();
    expect(issuesOf(m, { insecurePlatforms: ['metal-qemu-tdx'] })[0]!.path).toBe('ReferenceValues.tdx[0]');
  });

  it('checks the key formats: ECDSA PKIX for owners, RSA PKCS#1 for seed shares', () => {
    const keys = testKeys();
    const m = validManifest();
    m.WorkloadOwnerPubKeys = [keys.rsaHex];
    m.SeedshareOwnerPubKeys = [keys.ecHex];
    expect(issuesOf(m).map((i) => i.path)).toEqual(['WorkloadOwnerPubKeys[0]', 'SeedshareOwnerPubKeys[0]']);
  });

  it('SeedshareThreshold: absent or 1..n accepted; above the owner count, 0, a fraction or a string refused by path', () => {
    const m = validManifest();
    const second = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .publicKey.export({ format: 'der', type: 'pkcs1' })
      .toString('hex');
    m.SeedshareOwnerPubKeys = [testKeys().rsaHex, second];
    expect(parseManifest(m).manifest.SeedshareThreshold).toBeUndefined();
    for (const k of [1, 2]) {
      m.SeedshareThreshold = k;
      expect(parseManifest(m).manifest.SeedshareThreshold).toBe(k);
    }
    m.SeedshareThreshold = 3;
    try {
      parseManifest(m, { file: 'manifest.json' });
      expect.unreachable();
    } catch (error) {
      expect((error as ManifestValidationError).describe()).toBe(
        'manifest.json: SeedshareThreshold: 3 exceeds the 2 seed-share owners in SeedshareOwnerPubKeys: k of n needs k <= n',
      );
      expect((error as ManifestValidationError).field).toBe('SeedshareThreshold');
    }
    // The same key twice is one owner.
    m.SeedshareOwnerPubKeys = [second, second.toUpperCase()];
    m.SeedshareThreshold = 2;
    expect(issuesOf(m)[0]!.message).toMatch(/exceeds the 1 seed-share owner in/);
    m.SeedshareOwnerPubKeys = [testKeys().rsaHex, second];
    expect(issuesOf({ ...m, SeedshareThreshold: 0 })).toEqual([
      { path: 'SeedshareThreshold', message: 'must be at least 1' },
    ]);
    expect(issuesOf({ ...m, SeedshareThreshold: 1.5 })).toEqual([
      { path: 'SeedshareThreshold', message: 'must be a whole number' },
    ]);
    expect(issuesOf({ ...m, SeedshareThreshold: '2' })[0]!.path).toBe('SeedshareThreshold');
  });

  it('reads the older WorkloadOwnerKeyDigests and warns about it', () => {
    const m = validManifest();
    delete m.WorkloadOwnerPubKeys;
    m.WorkloadOwnerKeyDigests = ['8972d7e33267e30ae8acdd46ad53856d5cae7eb6b3afb84dd227394e01605cd4'];
    const { manifest, warnings } = parseManifest(m);
    expect(manifest.WorkloadOwnerKeyDigests).toHaveLength(1);
    expect(warnings.map((w) => w.path)).toEqual(['WorkloadOwnerKeyDigests']);
    m.WorkloadOwnerKeyDigests = ['8972'];
    expect(issuesOf(m)[0]!.path).toBe('WorkloadOwnerKeyDigests[0]');
  });

  it('warns when there are no owner keys (updates disabled)', () => {
    const m = validManifest();
    m.WorkloadOwnerPubKeys = [];
    expect(parseManifest(m).warnings.map((w) => w.path)).toEqual(['WorkloadOwnerPubKeys']);
  });

  it('lists every issue, not only the first', () => {
    const m = validManifest();
    (m.ReferenceValues.tdx as Record<string, unknown>[])[0]!.MrTd = 'ab';
    (m.ReferenceValues.snp as Record<string, unknown>[])[0]!.ProductName = 'Turin';
    try {
      parseManifest(m, { file: 'm.json' });
      expect.unreachable();
    } catch (error) {
      const text = (error as ManifestValidationError).describe();
      expect(text).toContain('m.json: ReferenceValues.snp[0].ProductName');
      expect(text).toContain('m.json: ReferenceValues.tdx[0].MrTd');
    }
  });
});

describe('checkReferenceValues', () => {
  it('accepts valid platform defaults and names the bad field of invalid ones', () => {
    expect(checkReferenceValues('snp', [snpValues()])).toEqual([]);
    expect(checkReferenceValues('tdx', [{ ...tdxValues(), Xfam: 'ff' }])[0]!.path).toBe(
      'ReferenceValues.tdx[0].Xfam',
    );
    expect(checkReferenceValues('snp', [{ measurement: '00' }])[0]!.path).toBe(
      'ReferenceValues.snp[0].measurement',
    );
  });
});

describe('upstream manifests', () => {
  it('reads the v1.x shape (reference §3.3) with a coordinator entry added', () => {
    const text = `{
      "Policies": {
        "1c24233516f95303d174b7d61dd4bb447a141468186dbcb9eed696cef4461dfc": {
          "SANs": ["workload", "*"],
          "WorkloadSecretID": "apps/v1/StatefulSet/continuum-9344c1/workload"
        },
        "35628602194aa8081fb2d7d1185176be6faffb1759986b5bf3b21145e1c7b396": {
          "SANs": ["secret-service", "*", "secret-service-internal.continuum-9344c1.svc.cluster.local"],
          "WorkloadSecretID": "apps/v1/Deployment/continuum-9344c1/secret-service"
        },
        "${COORDINATOR_HASH}": { "SANs": ["coordinator", "*"], "Role": "coordinator" }
      },
      "ReferenceValues": {
        "snp": [{
          "MinimumTCB": {"BootloaderVersion": 9, "TEEVersion": 0, "SNPVersion": 21, "MicrocodeVersion": 72},
          "ProductName": "Genoa",
          "TrustedMeasurement": "92a34339f1e1ec94b911830cafa875082d4f51b9805f3c2638ce468c6fda038be5acaca52fea5cb767e18cc1edfb1f7c"
        }]
      },
      "WorkloadOwnerKeyDigests": ["8972d7e33267e30ae8acdd46ad53856d5cae7eb6b3afb84dd227394e01605cd4"],
      "SeedshareOwnerPubKeys": ["${testKeys().rsaHex}"]
    }`;
    const { manifest, warnings, missing } = parseManifest(text, { file: 'manifest.json' });
    expect(missing).toEqual([]);
    expect(warnings.map((w) => w.path)).toEqual(['WorkloadOwnerKeyDigests']);
    expect(Object.keys(manifest.Policies)).toHaveLength(3);
  });

  it('refuses the pre-1.0 shape (Policies as SAN lists) with a path', () => {
    const m = validManifest() as Record<string, unknown>;
    m.Policies = { [WEB_HASH]: ['web', '*'], [COORDINATOR_HASH]: { SANs: [], Role: 'coordinator' } };
    expect(issuesOf(m)[0]!.path).toBe(`Policies["${WEB_HASH}"]`);
  });
});

describe('parseManifest never crashes', () => {
  it('on arbitrary JSON values: a valid result or a ManifestValidationError', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        try {
          parseManifest(value);
        } catch (error) {
          expect(error).toBeInstanceOf(ManifestValidationError);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('on a valid manifest with one field replaced by an arbitrary value', () => {
    const paths: (string | number)[][] = [
      ['Policies'],
      ['ReferenceValues'],
      ['ReferenceValues', 'snp'],
      ['ReferenceValues', 'snp', 0, 'MinimumTCB'],
      ['ReferenceValues', 'snp', 0, 'GuestPolicy'],
      ['ReferenceValues', 'tdx', 0, 'Rtmrs'],
      ['WorkloadOwnerPubKeys'],
      ['SeedshareOwnerPubKeys', 0],
      ['SeedshareThreshold'],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...paths), fc.jsonValue(), (path, value) => {
        const m = validManifest() as Record<string | number, unknown>;
        let cur: Record<string | number, unknown> = m;
        for (const key of path.slice(0, -1)) cur = cur[key] as Record<string | number, unknown>;
        cur[path.at(-1)!] = value;
        try {
          parseManifest(m);
        } catch (error) {
          expect(error).toBeInstanceOf(ManifestValidationError);
          expect((error as ManifestValidationError).issues.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 300 },
    );
  });
});
