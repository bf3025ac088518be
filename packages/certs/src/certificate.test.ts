import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  X509Certificate,
} from 'node:crypto';
import { type EvidenceClaims, readDerTlv, toHex } from '@contrast-cc/core';
import {
  certificatePem,
  commonNameDer,
  derOid,
  derTime,
  derTlv,
  derUnsignedInteger,
  keyUsageExtension,
} from '@contrast-cc/core/x509';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CaHierarchy, type CaValidity, createCaHierarchy, type MeshCertificateRequest } from './ca.js';
import { certificateKeySpki, certificateSpki, ipAddressBytes, isP256Point } from './certificate.js';
import { SeedEngine } from './seed-engine.js';
import { hasOpenssl, opensslDir } from './test-support/openssl.js';
import { referenceCaCertificate, referenceMeshCertificate } from './test-support/reference-issuer.js';
import { x509 } from './test-support/x509.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const sha = (alg: string, text: string) => new Uint8Array(createHash(alg).update(text).digest());
const engine = new SeedEngine(sha('sha512', 'certificate test seed'), sha('sha256', 'certificate test salt'));
const claims: EvidenceClaims = {
  kind: 'tdx-quote',
  reportData: new Uint8Array(64).fill(9),
  measurement: '12'.repeat(48),
  policyDigest: '34'.repeat(32),
  insecure: true,
  details: { rtmrs: ['00'.repeat(48)], tcb: { status: 'UpToDate', svn: [1, 2] }, 'ü key': 'välue' },
};

const { policyDigest: _unused, ...withoutPolicyDigest } = claims;

/** The TBSCertificate bytes of a DER certificate. */
function tbsOf(der: Uint8Array): Uint8Array {
  const cert = readDerTlv(der, 0);
  const tbs = readDerTlv(der, cert.contentStart, 'der', cert.end);
  return der.subarray(cert.contentStart, tbs.end);
}

/** Every field of a certificate as @peculiar/x509 decodes it, signature value excluded. */
function fields(der: Uint8Array) {
  const c = new x509.X509Certificate(der as BufferSource);
  return {
    serial: c.serialNumber,
    subject: c.subject,
    issuer: c.issuer,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    spki: hex(new Uint8Array(c.publicKey.rawData)),
    signatureAlgorithm: c.signatureAlgorithm,
    extensions: c.extensions.map((e) => ({
      oid: e.type,
      critical: e.critical,
      value: hex(new Uint8Array(e.value)),
    })),
  };
}

const keys = {
  p256: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
  p384: generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey,
  ed25519: generateKeyPairSync('ed25519').publicKey,
  rsa: generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey,
};

async function compareWithReference(ca: CaHierarchy, request: MeshCertificateRequest, validity?: CaValidity) {
  const fast = await ca.issueMeshCertificate(request);
  const serialHex = new X509Certificate(fast.pem).serialNumber.toLowerCase();
  const reference = await referenceMeshCertificate({
    ...request,
    meshKey: ca.meshCaKey(),
    serialHex,
    now: request.now ?? new Date(),
    ...(validity ? { validity } : {}),
  });
  return { fast: fast.der, reference };
}

describe('direct DER issuance is equivalent to the previous @peculiar/x509 issuer', () => {
  let ca: CaHierarchy;
  beforeAll(async () => {
    ca = await createCaHierarchy(engine, { now: new Date('2026-11-27T00:00:00Z') });
  });

  const now = new Date('2026-11-27T10:11:12.345Z');
  const cases: [string, MeshCertificateRequest][] = [
    [
      'all SAN kinds, claims, WorkloadSecretID',
      {
        publicKey: keys.p256,
        sans: [
          'web',
          'web.default.svc.cluster.local',
          '*.web',
          '10.0.0.7',
          '::1',
          'fd00:1::2',
          'spiffe://c/ns/web',
        ],
        workloadSecretId: 'wörkload-secret',
        claims,
        now,
      },
    ],
    ['wildcard CN (UTF8String), P-384 key', { publicKey: keys.p384, sans: ['*.db.svc'], now }],
    [
      'IP-only SANs, Ed25519 key',
      { publicKey: keys.ed25519, sans: ['192.168.1.1', '2001:db8::8:800:200c:417a'], now },
    ],
    ['URI CN, RSA key', { publicKey: keys.rsa, sans: ['spiffe://cluster/ns/x'], now }],
    ['no SANs, no claims', { publicKey: keys.p256, sans: [], now }],
    ['claims without policy digest', { publicKey: keys.p256, sans: ['a'], claims: withoutPolicyDigest, now }],
    [
      'extra extensions, critical and not',
      {
        publicKey: keys.p256,
        sans: ['x.example'],
        extraExtensions: [
          { oid: '1.3.9901.2.1.1', value: Uint8Array.of(0x04, 0x01, 0x05) },
          { oid: '1.3.9901.2.1.2', critical: true, value: Uint8Array.of(0x05, 0x00) },
          { oid: '2.999.1234567890123', critical: false, value: Uint8Array.of(0x01, 0x01, 0x00) },
        ],
        now,
      },
    ],
    [
      'SPKI DER input, notAfter after 2049 (GeneralizedTime)',
      {
        publicKey: new Uint8Array(keys.p384.export({ type: 'spki', format: 'der' })),
        sans: ['late'],
        now: new Date('2049-06-01T00:00:00Z'),
      },
    ],
    [
      'PEM input, both times GeneralizedTime',
      {
        publicKey: keys.p256.export({ type: 'spki', format: 'pem' }) as string,
        sans: ['later'],
        now: new Date('2077-03-04T05:06:07Z'),
      },
    ],
  ];

  it.each(cases)('%s: same TBSCertificate bytes, same decoded fields', async (_name, request) => {
    const { fast, reference } = await compareWithReference(ca, request);
    expect(hex(tbsOf(fast))).toBe(hex(tbsOf(reference)));
    expect(fields(fast)).toEqual(fields(reference));
    // and the fast certificate's signature is by the mesh CA key
    expect(new X509Certificate(Buffer.from(fast)).verify(new X509Certificate(ca.meshCa.pem).publicKey)).toBe(
      true,
    );
  });

  it('same bytes with configured validity', async () => {
    const validity = { backdateMs: 0, leafMs: 3_600_000, caMs: 86_400_000 };
    const short = await createCaHierarchy(engine, { validity, now });
    const { fast, reference } = await compareWithReference(
      short,
      { publicKey: keys.p256, sans: ['v'], now },
      validity,
    );
    expect(hex(tbsOf(fast))).toBe(hex(tbsOf(reference)));
  });

  it('same root, intermediate and mesh CA to-be-signed bytes', async () => {
    const rootNotBefore = new Date('2026-01-01T00:00:00Z');
    const created = await createCaHierarchy(engine, { now, rootNotBefore });
    const notBefore = new Date(now.getTime() - 3_600_000);
    for (const [kind, cert, nb] of [
      ['root', created.root, rootNotBefore],
      ['intermediate', created.intermediate, notBefore],
      ['meshCa', created.meshCa, notBefore],
    ] as const) {
      const reference = await referenceCaCertificate({
        kind,
        rootKey: engine.rootCaKey(),
        meshKey: created.meshCaKey(),
        serialHex: new X509Certificate(cert.pem).serialNumber.toLowerCase(),
        notBefore: nb,
      });
      expect(hex(tbsOf(cert.der)), kind).toBe(hex(tbsOf(reference)));
      expect(fields(cert.der), kind).toEqual(fields(reference));
    }
  });

  it('property: random SANs, IDs, claims, keys and times give the same TBS bytes', async () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
    const dns = fc
      .tuple(fc.boolean(), fc.array(label, { minLength: 1, maxLength: 4 }))
      .map(([wild, labels]) => `${wild ? '*.' : ''}${labels.join('.')}`);
    const ip = fc.oneof(
      fc.ipV4(),
      fc.ipV6().filter((a) => !a.includes('.')),
    );
    const uri = fc.array(label, { minLength: 1, maxLength: 3 }).map((p) => `spiffe://${p.join('/')}`);
    const claimsArb: fc.Arbitrary<EvidenceClaims | undefined> = fc.option(
      fc.record({
        kind: fc.constantFrom('snp-report', 'tdx-quote', 'fake'),
        reportData: fc.uint8Array({ minLength: 64, maxLength: 64 }),
        measurement: fc.uint8Array({ minLength: 48, maxLength: 48 }).map(toHex),
        policyDigest: fc.option(fc.uint8Array({ minLength: 32, maxLength: 32 }).map(toHex), {
          nil: undefined,
        }),
        insecure: fc.boolean(),
        details: fc.dictionary(fc.string(), fc.oneof(fc.integer(), fc.string({ unit: 'grapheme' }))),
      }),
      { nil: undefined },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(dns, ip, uri), { maxLength: 6 }),
        fc.option(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }), { nil: undefined }),
        claimsArb,
        fc.constantFrom(...Object.values(keys)),
        fc.date({
          min: new Date('1951-01-01T00:00:00Z'),
          max: new Date('2120-01-01T00:00:00Z'),
          noInvalidDate: true,
        }),
        async (sans, workloadSecretId, c, publicKey: KeyObject, at) => {
          const request: MeshCertificateRequest = {
            publicKey,
            sans,
            now: at,
            ...(workloadSecretId !== undefined ? { workloadSecretId } : {}),
            ...(c
              ? {
                  claims: Object.fromEntries(
                    Object.entries(c).filter(([, v]) => v !== undefined),
                  ) as EvidenceClaims,
                }
              : {}),
          };
          const { fast, reference } = await compareWithReference(ca, request);
          expect(hex(tbsOf(fast))).toBe(hex(tbsOf(reference)));
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('DER writer', () => {
  it('encodes OIDs (X.690 8.19 examples) and refuses malformed ones', () => {
    expect(hex(derOid('1.2.840.10045.4.3.3')!)).toBe('06082a8648ce3d040303');
    expect(hex(derOid('2.999.3')!)).toBe('0603883703');
    expect(hex(derOid('1.3.9901.4.1')!)).toBe('06052bcd2d0401');
    expect(hex(derOid('2.5.29.17')!)).toBe('0603551d11');
    for (const bad of ['', '1', '3.1', '1.40', '1.2.', '1..2', '1.02', 'a.b', ' 1.2']) {
      expect(derOid(bad), bad).toBeUndefined();
    }
  });

  it('uses minimal definite lengths and reads them back', () => {
    for (const [n, header] of [
      [0, '0400'],
      [127, '047f'],
      [128, '048180'],
      [255, '0481ff'],
      [256, '04820100'],
      [70_000, '0483011170'],
    ] as const) {
      const tlv = derTlv(0x04, new Uint8Array(n));
      expect(hex(tlv.subarray(0, header.length / 2))).toBe(header);
      expect(readDerTlv(tlv, 0)).toEqual({
        tag: 4,
        start: 0,
        contentStart: header.length / 2,
        end: tlv.length,
      });
    }
    expect(hex(derTlv(0x30, Uint8Array.of(1), Uint8Array.of(2, 3)))).toBe('3003010203');
  });

  it('encodes unsigned integers minimally', () => {
    expect(hex(derUnsignedInteger(new Uint8Array()))).toBe('020100');
    expect(hex(derUnsignedInteger(Uint8Array.of(0, 0)))).toBe('020100');
    expect(hex(derUnsignedInteger(Uint8Array.of(0, 0x7f)))).toBe('02017f');
    expect(hex(derUnsignedInteger(Uint8Array.of(0x80)))).toBe('02020080');
    expect(hex(derUnsignedInteger(Uint8Array.of(0, 0, 0x80, 1)))).toBe('0203008001');
  });

  it('writes UTCTime through 2049 and GeneralizedTime outside 1950..2049, without milliseconds', () => {
    const text = (d: string) => {
      const der = derTime(new Date(d));
      return `${der[0]!.toString(16)}:${Buffer.from(der.subarray(2)).toString('latin1')}`;
    };
    expect(text('2049-12-31T23:59:59.999Z')).toBe('17:491231235959Z');
    expect(text('2050-01-01T00:00:00Z')).toBe('18:20500101000000Z');
    expect(text('1950-01-01T00:00:00Z')).toBe('17:500101000000Z');
    expect(text('1949-12-31T23:59:59Z')).toBe('18:19491231235959Z');
    expect(() => derTime(new Date(Number.NaN))).toThrow(RangeError);
  });

  it('encodes public keys as node does (from the JWK, EC uncompressed)', () => {
    const publicKeys = [
      ...['P-256', 'P-384', 'P-521', 'secp256k1'].map(
        (namedCurve) => generateKeyPairSync('ec', { namedCurve }).publicKey,
      ),
      ...(['ed25519', 'ed448', 'x25519', 'x448'] as const).map(
        (t) => generateKeyPairSync(t as 'ed25519').publicKey,
      ),
      keys.rsa,
      generateKeyPairSync('rsa', { modulusLength: 1024, publicExponent: 3 }).publicKey,
      generateKeyPairSync('rsa-pss', { modulusLength: 1024 }).publicKey,
      generateKeyPairSync('dsa', { modulusLength: 1024, divisorLength: 160 }).publicKey,
      generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' }).publicKey,
    ];
    for (const k of publicKeys) {
      const name = `${k.asymmetricKeyType} ${k.asymmetricKeyDetails?.namedCurve ?? k.asymmetricKeyDetails?.modulusLength ?? ''}`;
      expect(hex(certificateSpki(k)), name).toBe(hex(k.export({ type: 'spki', format: 'der' })));
    }
    // a compressed P-256 point (openssl ec -conv_form compressed) is certified uncompressed
    const k = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const jwk = k.export({ format: 'jwk' });
    const y = Buffer.from(jwk.y ?? '', 'base64url');
    const compressed = Buffer.concat([
      Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex'),
      Buffer.of(0x02 | (y[31]! & 1)),
      Buffer.from(jwk.x ?? '', 'base64url'),
    ]);
    const fromCompressed = createPublicKey({ key: compressed, format: 'der', type: 'spki' });
    expect(hex(fromCompressed.export({ type: 'spki', format: 'der' }))).toBe(hex(compressed));
    expect(hex(certificateSpki(fromCompressed))).toBe(hex(k.export({ type: 'spki', format: 'der' })));
  });

  it('encodes names, key usage and IP addresses as RFC 5280 asks', () => {
    expect(hex(commonNameDer('web'))).toBe('300e310c300a06035504031303776562');
    expect(hex(commonNameDer('*.web'))).toBe('3010310e300c06035504030c052a2e776562');
    expect(hex(keyUsageExtension([0]))).toBe('300e0603551d0f0101ff040403020780');
    expect(hex(keyUsageExtension([0, 5]))).toBe('300e0603551d0f0101ff040403020284');
    const ip = (t: string) => (ipAddressBytes(t) ? hex(ipAddressBytes(t)!) : undefined);
    expect(ip('10.0.0.7')).toBe('0a000007');
    expect(ip('::')).toBe('00'.repeat(16));
    expect(ip('::1')).toBe(`${'00'.repeat(15)}01`);
    expect(ip('fe80::')).toBe(`fe80${'00'.repeat(14)}`);
    expect(ip('2001:db8:0:0:1:0:0:1')).toBe('20010db8000000000001000000000001');
    expect(ip('::ffff:10.1.2.3')).toBe(`${'00'.repeat(10)}ffff0a010203`);
    expect(ip('64:ff9b::192.0.2.33')).toBe('0064ff9b0000000000000000c0000221');
    expect(ip('fe80::1%eth0')).toBeUndefined();
    expect(ip('web')).toBeUndefined();
    expect(ip('1.2.3.256')).toBeUndefined();
  });
});

describe('issuance input checks', () => {
  let ca: CaHierarchy;
  beforeAll(async () => {
    ca = await createCaHierarchy(engine);
  });
  const pub = keys.p256;

  it('refuses SANs a certificate cannot carry, naming the entry', async () => {
    await expect(
      ca.issueMeshCertificate({ publicKey: pub, sans: ['a', 'fe80::1%eth0'] }),
    ).rejects.toMatchObject({
      code: 'invalid-argument',
      field: 'sans[1]',
    });
    await expect(ca.issueMeshCertificate({ publicKey: pub, sans: ['spiffe://ü/x'] })).rejects.toMatchObject({
      code: 'invalid-argument',
      field: 'sans[0]',
    });
  });

  it('refuses malformed or duplicate extra extensions, naming the entry', async () => {
    const value = Uint8Array.of(5, 0);
    await expect(
      ca.issueMeshCertificate({ publicKey: pub, sans: [], extraExtensions: [{ oid: '1.2.x', value }] }),
    ).rejects.toMatchObject({ code: 'invalid-argument', field: 'extraExtensions[0].oid' });
    await expect(
      ca.issueMeshCertificate({
        publicKey: pub,
        sans: [],
        extraExtensions: [
          { oid: '1.2.3', value },
          { oid: '2.5.29.17', value },
        ],
      }),
    ).rejects.toMatchObject({ field: 'extraExtensions[1].oid' });
    await expect(
      ca.issueMeshCertificate({
        publicKey: pub,
        sans: [],
        workloadSecretId: 'w',
        extraExtensions: [{ oid: '1.3.9901.3.1', value }],
      }),
    ).rejects.toMatchObject({ field: 'extraExtensions[0].oid' });
    await expect(
      ca.issueMeshCertificate({
        publicKey: pub,
        sans: [],
        extraExtensions: [{ oid: '1.2.3', value: 'nope' as unknown as Uint8Array }],
      }),
    ).rejects.toMatchObject({ field: 'extraExtensions[0].value' });
  });

  it('refuses a CA key that is not a P-384 private key', async () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    await expect(createCaHierarchy(engine, { meshCaKey: p384.publicKey })).rejects.toMatchObject({
      field: 'key',
    });
    await expect(
      createCaHierarchy(engine, { meshCaKey: generateKeyPairSync('ed25519').privateKey }),
    ).rejects.toMatchObject({ field: 'key' });
  });
});

describe.skipIf(!hasOpenssl)('openssl verifies a batch of directly encoded leaves', () => {
  const d = opensslDir();
  afterAll(() => d.cleanup());

  it('40 leaves of mixed key types verify against root -> intermediate and against the mesh CA; a tampered one does not', async () => {
    const ca = await createCaHierarchy(engine);
    const all = Object.values(keys);
    const leaves = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        ca.issueMeshCertificate({
          publicKey: all[i % all.length]!,
          sans: [`svc-${i}`, `svc-${i}.ns.svc.cluster.local`, `10.0.${i}.1`, `fd00::${i.toString(16)}`],
          workloadSecretId: `w${i}`,
          ...(i % 2 === 0 ? { claims } : {}),
        }),
      ),
    );
    d.file('root.pem', ca.root.pem);
    d.file('inter.pem', ca.intermediate.pem);
    d.file('mesh.pem', ca.meshCa.pem);
    const names = leaves.map((leaf, i) => {
      d.file(`leaf${i}.pem`, leaf.pem);
      return `leaf${i}.pem`;
    });
    for (const anchor of [
      ['-CAfile', 'root.pem', '-untrusted', 'inter.pem'],
      ['-CAfile', 'mesh.pem'],
    ]) {
      const r = d.run(['verify', '-x509_strict', '-purpose', 'sslserver', ...anchor, ...names]);
      expect(r.status, r.out).toBe(0);
      expect(r.out.match(/: OK$/gm)?.length, r.out).toBe(40);
    }
    // one flipped bit in the to-be-signed part (inside the subject CN) breaks the signature
    const der = Uint8Array.from(leaves[0]!.der);
    const cn = Buffer.from(der).indexOf('svc-0');
    der[cn]! ^= 0x01;
    d.file('tampered.pem', certificatePem(der));
    const r = d.run(['verify', '-x509_strict', '-CAfile', 'mesh.pem', 'tampered.pem']);
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/signature failure/i);
  });

  it('openssl prints the same text for the fast and the previous encoding (signature aside)', async () => {
    const ca = await createCaHierarchy(engine);
    const { fast, reference } = await compareWithReference(ca, {
      publicKey: keys.p384,
      sans: ['db', 'db.default.svc.cluster.local', '10.1.2.3', '::1', 'spiffe://c/db'],
      workloadSecretId: 'db',
      claims,
      now: new Date('2026-11-27T00:00:00Z'),
    });
    d.file('fast.der', fast);
    d.file('ref.der', reference);
    const text = (f: string) =>
      d.runOk(['x509', '-inform', 'DER', '-in', f, '-noout', '-text', '-certopt', 'no_sigdump']);
    expect(text('fast.der')).toBe(text('ref.der'));
    expect(text('fast.der')).toContain('DNS:db, DNS:db.default.svc.cluster.local, IP Address:10.1.2.3');
  });
});

describe('certificateKeySpki', () => {
  const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
  const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
  const mod = (a: bigint) => ((a % P) + P) % P;
  const pow = (b: bigint, e: bigint) => {
    let r = 1n;
    for (let x = mod(b); e > 0n; e >>= 1n, x = mod(x * x)) if (e & 1n) r = mod(r * x);
    return r;
  };
  const be32 = (v: bigint) => Uint8Array.from(Buffer.from(v.toString(16).padStart(64, '0'), 'hex'));
  const prefix = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');
  const spkiOf = (x: Uint8Array, y: Uint8Array) => Uint8Array.from([...prefix, 0x04, ...x, ...y]);
  const bytesOf = (k: KeyObject) => new Uint8Array(k.export({ type: 'spki', format: 'der' }));
  /** What node says about the bytes: its re-encoding, or that it refuses them. */
  const nodeSays = (spki: Uint8Array) => {
    try {
      return hex(certificateSpki(createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' })));
    } catch {
      return 'refused';
    }
  };
  const oursSays = (input: Uint8Array | KeyObject) => {
    try {
      return hex(certificateKeySpki(input, 'key'));
    } catch (e) {
      expect(e).toMatchObject({
        code: 'invalid-argument',
        field: 'key',
        message: 'not a valid public key (PEM, SPKI DER or KeyObject)',
      });
      return 'refused';
    }
  };
  // A point with a small x (x + p still fits 32 bytes): y = sqrt(x^3 - 3x + b), p = 3 mod 4.
  let x0 = 1n;
  let y0 = 0n;
  for (; ; x0++) {
    const rhs = mod(x0 ** 3n - 3n * x0 + B);
    y0 = pow(rhs, (P + 1n) / 4n);
    if (mod(y0 * y0) === rhs) break;
  }

  it('certifies an uncompressed P-256 key byte for byte, as node re-encodes it', () => {
    for (let i = 0; i < 50; i++) {
      const spki = bytesOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
      expect(oursSays(spki)).toBe(hex(spki));
      expect(nodeSays(spki)).toBe(hex(spki));
    }
    const small = spkiOf(be32(x0), be32(y0));
    expect(oursSays(small)).toBe(hex(small));
    expect(nodeSays(small)).toBe(hex(small));
    const negated = spkiOf(be32(x0), be32(P - y0));
    expect(oursSays(negated)).toBe(hex(negated));
  });

  it('refuses what node refuses: off the curve, coordinates >= p, (0, 0), wrong lengths', () => {
    const good = bytesOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
    const offCurve = good.slice();
    offCurve[90]! ^= 1;
    const xFlip = good.slice();
    xFlip[40]! ^= 0x10;
    const cases = {
      offCurve,
      xFlip,
      'x + p': spkiOf(be32(x0 + P), be32(y0)),
      'x = p': spkiOf(be32(P), be32(y0)),
      'y = p': spkiOf(be32(x0), be32(P)),
      'y + p (off by p)': spkiOf(be32(x0), be32(y0 + P < 2n ** 256n ? y0 + P : P + 1n)),
      '(0, 0)': spkiOf(new Uint8Array(32), new Uint8Array(32)),
      truncated: good.subarray(0, 90),
      'trailing byte': Uint8Array.from([...good, 0]),
      'tag 05': Uint8Array.from(good).fill(0x05, 26, 27),
    };
    for (const [name, spki] of Object.entries(cases)) {
      expect(oursSays(spki), name).toBe('refused');
      if (name !== 'trailing byte') expect(nodeSays(spki), name).toBe('refused');
    }
    expect(isP256Point(be32(x0), be32(y0))).toBe(true);
    expect(isP256Point(be32(x0 + P), be32(y0))).toBe(false);
    expect(isP256Point(be32(x0).subarray(1), be32(y0))).toBe(false);
  });

  it('certifies a compressed point uncompressed, through node', () => {
    const k = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const jwk = k.export({ format: 'jwk' });
    const y = Buffer.from(jwk.y ?? '', 'base64url');
    const compressed = Uint8Array.from(
      Buffer.concat([
        Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex'),
        Buffer.of(0x02 | (y[31]! & 1)),
        Buffer.from(jwk.x ?? '', 'base64url'),
      ]),
    );
    expect(oursSays(compressed)).toBe(hex(bytesOf(k)));
  });

  it('refuses the point at infinity (bytes and KeyObject) instead of letting node abort', () => {
    for (const der of [
      '3019301306072a8648ce3d020106082a8648ce3d03010703020000',
      '3016301006072a8648ce3d020106052b8104002203020000',
    ]) {
      const bytes = Uint8Array.from(Buffer.from(der, 'hex'));
      expect(oursSays(bytes)).toBe('refused');
      // node imports it; reading its details or exporting it as JWK would abort the process
      const key = createPublicKey({ key: Buffer.from(bytes), format: 'der', type: 'spki' });
      expect(oursSays(key)).toBe('refused');
      expect(() => certificateSpki(key)).toThrow(RangeError);
    }
  });

  it('keeps its own copy of the bytes', () => {
    const spki = bytesOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
    const before = hex(spki);
    const out = certificateKeySpki(spki);
    spki.fill(0);
    expect(hex(out)).toBe(before);
  });
});
