// The claim extensions' bytes are part of every mesh certificate: they must not change when their
// encoding gets faster. `canonicalJson` is checked against its definition (JSON.stringify with
// the sorting replacer it replaced) on arbitrary values, and the whole extension list for fixed
// inputs (an SNP report's claims as the verifier builds them, odd JSON details) against a golden
// file written by the encoder before it was optimized.
import { parseSnpReport, snpClaimExtensions, snpReportToJson } from '@contrast-cc/attestation/snp';
import { type ClaimValue, type EvidenceClaims, fromHex, toHex } from '@contrast-cc/core';
import { derOidOf, derUnsignedInteger, extensionDer } from '@contrast-cc/core/x509';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  claimExtensionDer,
  decodeMeshCertificateExtensions,
  encodeClaimValue,
  MESH_CERT_OIDS,
  meshCertificateExtensions,
} from './extensions.js';
import { golden } from './test-support/golden.js';

/** The definition: what canonicalJson was written as before it was optimized. */
function definition(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Uint8Array) return toHex(v);
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(
        Object.keys(v as Record<string, unknown>)
          .sort()
          .map((k) => [k, (v as Record<string, unknown>)[k]]),
      );
    }
    return v;
  });
}

/** A report with every field set to a distinct pattern (version 3, Genoa CPUID), not signed. */
function snpReportBytes(): Uint8Array {
  const raw = new Uint8Array(0x4a0);
  for (let i = 0; i < 0x2a0; i++) raw[i] = (i * 37 + 11) & 0xff;
  const view = new DataView(raw.buffer);
  view.setUint32(0x00, 3, true); // version
  view.setUint32(0x30, 1, true); // vmpl
  view.setUint32(0x34, 1, true); // signature algorithm
  view.setUint32(0x48, 0, true); // key info: VCEK
  raw[0x188] = 0x19; // CPUID family: Genoa
  raw[0x189] = 0x11;
  raw[0x18a] = 0x01;
  return raw;
}

/** Claims as the SNP verifier builds them for an accepted report. */
function snpClaims(): EvidenceClaims {
  const report = parseSnpReport(snpReportBytes());
  return {
    kind: 'snp-report',
    reportData: report.reportData,
    measurement: toHex(report.measurement),
    policyDigest: toHex(report.hostData),
    insecure: true,
    details: {
      product: 'Genoa',
      signingKey: 'vcek',
      chipId: toHex(report.chipId),
      vmpl: report.vmpl,
      certificate: {
        subject: 'SEV-VCEK',
        issuer: 'SEV-Genoa',
        serialNumber: '0',
        notBefore: '2026-01-01T00:00:00.000Z',
        notAfter: '2033-01-01T00:00:00.000Z',
      },
      revocation: 'checked',
      report: snpReportToJson(report),
    },
    certificateClaims: snpClaimExtensions(report),
  };
}

const oddDetails = {
  z: 1,
  a: [3, 'x', null, undefined, { y: true, b: -0 }],
  10: 'ten',
  2: 'two',
  '01': 'not an index',
  'ü key': 'välue',
  '\u{1f600}': 'emoji key',
  nested: { big: 12345678901234567890n, bytes: new Uint8Array([1, 2, 254]), when: new Date(0) },
  nan: Number.NaN,
  skipped: undefined,
  fn: () => 1,
};

function extensionsHex(input: Parameters<typeof meshCertificateExtensions>[0]) {
  return meshCertificateExtensions(input).map((e) => `${e.oid}${e.critical ? '!' : ''}=${toHex(e.value)}`);
}

describe('canonicalJson', () => {
  it('equals its definition on arbitrary values (property)', () => {
    fc.assert(
      fc.property(
        fc.anything({
          withBigInt: true,
          withBoxedValues: true,
          withDate: true,
          withMap: true,
          withNullPrototype: true,
          withObjectString: true,
          withSet: true,
          withSparseArray: true,
          withTypedArray: true,
          withUnicodeString: true,
          key: fc.oneof(fc.string(), fc.nat().map(String), fc.constantFrom('__proto__', '4294967295', '007')),
        }),
        (value) => {
          expect(canonicalJson(value)).toBe(definition(value));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('equals its definition on claims as the verifiers build them, and on odd details', () => {
    for (const value of [snpClaims(), snpClaims().details, oddDetails, {}, [], 'x', 5, null]) {
      expect(canonicalJson(value)).toBe(definition(value));
    }
    expect(canonicalJson(oddDetails)).toContain('{"2":"two","10":"ten","01":"not an index"');
    // An object whose own keys come in another order than an ordinary object's (a proxy).
    const proxy = new Proxy(
      {},
      {
        ownKeys: () => ['b', '10', 'a', '2', '1'],
        getOwnPropertyDescriptor: (_t, k) => ({ value: k, enumerable: true, configurable: true }),
        get: (_t, k) => (k === 'toJSON' ? undefined : String(k)),
      },
    );
    expect(canonicalJson({ p: proxy })).toBe(definition({ p: proxy }));
    expect(canonicalJson(proxy)).toBe('{"1":"1","2":"2","10":"10","a":"a","b":"b"}');
    const withToJSON = Object.assign(() => 1, { toJSON: () => 'fn' });
    expect(canonicalJson({ f: withToJSON })).toBe(definition({ f: withToJSON }));
  });
});

describe('meshCertificateExtensions', () => {
  it('writes the same bytes as before its encoding was optimized (golden)', () => {
    const actual = {
      snp: extensionsHex({ workloadSecretId: 'apps/v1/Deployment/default/web', claims: snpClaims() }),
      odd: extensionsHex({
        claims: {
          kind: 'fake',
          reportData: new Uint8Array(64).fill(7),
          measurement: 'ab'.repeat(48),
          insecure: false,
          details: oddDetails,
          certificateClaims: [
            { oid: '1.3.9901.2.9.1', name: 'zero', value: { type: 'uint', value: 0n } },
            { oid: '1.3.9901.2.9.2', name: 'high bit', value: { type: 'uint', value: 0x80n } },
            { oid: '1.3.9901.2.9.3', name: 'large', value: { type: 'uint', value: 2n ** 64n - 1n } },
            { oid: '1.3.9901.2.9.4', name: 'flag', value: { type: 'bool', value: false } },
            { oid: '1.3.9901.2.9.5', name: 'empty', value: { type: 'bytes', value: new Uint8Array(0) } },
            {
              oid: '1.3.9901.2.9.6',
              name: 'long',
              value: { type: 'bytes', value: new Uint8Array(300).fill(1) },
            },
          ],
        },
      }),
      secretOnly: extensionsHex({ workloadSecretId: 'ü' }),
      none: extensionsHex({}),
    };
    expect(actual).toEqual(golden('mesh-extensions.json', actual));
  });

  it('writes certificateDetails in place of details when the verifier gives them', () => {
    const claims = snpClaims();
    const detailsOf = (c: EvidenceClaims) => {
      const ext = meshCertificateExtensions({ claims: c }).find((e) => e.oid === MESH_CERT_OIDS.details);
      return decodeMeshCertificateExtensions(new Map([[MESH_CERT_OIDS.details, ext!.value], ...required(c)]))
        .claims?.details;
    };
    const certificateDetails = { product: 'Genoa', reportExtra: { signatureAlgo: 1 } };
    expect(detailsOf({ ...claims, certificateDetails })).toEqual(certificateDetails);
    expect(detailsOf(claims)).toEqual(JSON.parse(canonicalJson(claims.details)));
    // Smaller by the report the claim extensions already carry.
    const size = (c: EvidenceClaims) =>
      meshCertificateExtensions({ claims: c }).reduce((n, e) => n + e.value.length, 0);
    expect(size({ ...claims, certificateDetails })).toBeLessThan(size(claims) - 1000);
  });
});

/** The other extensions a certificate with claims must have, for the reader. */
function required(c: EvidenceClaims): [string, Uint8Array][] {
  return meshCertificateExtensions({ claims: c })
    .filter((e) => e.oid !== MESH_CERT_OIDS.details)
    .map((e) => [e.oid, e.value]);
}

describe('encodeClaimValue', () => {
  it('writes an unsigned INTEGER as the generic encoder does, below and above 2^32 (property)', () => {
    const generic = (v: bigint) => {
      const hex = v.toString(16);
      return toHex(derUnsignedInteger(fromHex(hex.length % 2 ? `0${hex}` : hex)));
    };
    const edges = [
      0n,
      1n,
      0x7fn,
      0x80n,
      0xffn,
      0x100n,
      0x7fffn,
      0x8000n,
      0xffffffn,
      0x7fffffffn,
      0x80000000n,
    ];
    for (const v of [...edges, 0xffffffffn, 0x100000000n]) {
      expect(toHex(encodeClaimValue({ type: 'uint', value: v })), String(v)).toBe(generic(v));
    }
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 70n }), (v) => {
        expect(toHex(encodeClaimValue({ type: 'uint', value: v }))).toBe(generic(v));
      }),
      { numRuns: 1000 },
    );
    expect(() => encodeClaimValue({ type: 'uint', value: -1n })).toThrow(/negative/);
  });
});

describe('claimExtensionDer', () => {
  it('equals the extension of the encoded value (property)', () => {
    const value: fc.Arbitrary<ClaimValue> = fc.oneof(
      fc.bigInt({ min: 0n, max: 2n ** 80n }).map((v) => ({ type: 'uint' as const, value: v })),
      fc.nat().map((v) => ({ type: 'uint' as const, value: BigInt(v) })),
      fc.boolean().map((v) => ({ type: 'bool' as const, value: v })),
      fc.uint8Array({ maxLength: 300 }).map((v) => ({ type: 'bytes' as const, value: v })),
    );
    const oid = derOidOf('1.3.9901.2.1.7');
    fc.assert(
      fc.property(value, (v) => {
        expect(toHex(claimExtensionDer(oid, v))).toBe(toHex(extensionDer(oid, false, encodeClaimValue(v))));
      }),
      { numRuns: 1000 },
    );
  });
});
