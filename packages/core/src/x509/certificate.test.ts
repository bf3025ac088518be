// The builder checked against an independent parser: node's X509Certificate (OpenSSL) reads what
// we write, verifies the signature, and refuses a tampered certificate.
import { spawnSync } from 'node:child_process';
import { constants, generateKeyPairSync, sign, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeDerOid, readDerTlv } from '../der.js';
import {
  basicConstraintsExtension,
  certificatePem,
  commonNameDer,
  distinguishedNameDer,
  KEY_USAGE,
  keyUsageExtension,
  SIGNATURE_ALGORITHMS,
  signedDer,
  tbsCertificate,
  tbsCertList,
} from './certificate.js';
import { derOid, derOidOf, derUnsignedBigInt } from './der.js';

const root = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const spki = (key: typeof root.publicKey) => new Uint8Array(key.export({ type: 'spki', format: 'der' }));
const name = distinguishedNameDer([
  ['CN', 'Test Root'],
  ['O', 'Contrast Test'],
]);

function ecCertificate(extensions: Uint8Array[]): Uint8Array {
  const tbs = tbsCertificate({
    serial: 0x1234567890abcdefn,
    signatureAlgorithm: SIGNATURE_ALGORITHMS.ecdsaWithSha256,
    issuer: name,
    subject: name,
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2060-01-01T00:00:00Z'),
    spki: spki(root.publicKey),
    extensions,
  });
  return signedDer(tbs, SIGNATURE_ALGORITHMS.ecdsaWithSha256, sign('sha256', tbs, root.privateKey));
}

describe('the X.509 builder', () => {
  it('writes a certificate OpenSSL reads and verifies; a flipped TBS byte fails verification', () => {
    const der = ecCertificate([
      basicConstraintsExtension(true, 1),
      keyUsageExtension([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign]),
    ]);
    const x = new X509Certificate(Buffer.from(der));
    expect(x.subject).toBe('CN=Test Root\nO=Contrast Test');
    expect(x.serialNumber).toBe('1234567890ABCDEF');
    expect(x.ca).toBe(true);
    expect(x.validFrom).toBe('Jan  1 00:00:00 2026 GMT');
    expect(x.validTo).toBe('Jan  1 00:00:00 2060 GMT'); // GeneralizedTime from 2050 on
    expect(x.verify(root.publicKey)).toBe(true);
    expect(new X509Certificate(certificatePem(der)).raw.equals(Buffer.from(der))).toBe(true);
    const tampered = der.slice();
    tampered[Buffer.from(der).indexOf('Contrast Test')]! ^= 1; // 'B' for 'C' in the issuer's O
    expect(new X509Certificate(Buffer.from(tampered)).verify(root.publicKey)).toBe(false);
  });

  it('signs with RSA-PSS-SHA384 the way OpenSSL expects (AMD chain form)', () => {
    const tbs = tbsCertificate({
      serial: Uint8Array.of(0, 0, 7),
      signatureAlgorithm: SIGNATURE_ALGORITHMS.rsaPssSha384,
      issuer: commonNameDer('ARK-Test'),
      subject: commonNameDer('ARK-Test'),
      notBefore: new Date('2026-01-01T00:00:00Z'),
      notAfter: new Date('2027-01-01T00:00:00Z'),
      spki: spki(rsa.publicKey),
      extensions: [],
    });
    const signature = sign('sha384', tbs, {
      key: rsa.privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 48,
    });
    const x = new X509Certificate(Buffer.from(signedDer(tbs, SIGNATURE_ALGORITHMS.rsaPssSha384, signature)));
    expect(x.serialNumber).toBe('07');
    expect(x.verify(rsa.publicKey)).toBe(true);
  });

  it('writes a CRL OpenSSL reads and verifies, listing the revoked serials', () => {
    const tbs = tbsCertList({
      signatureAlgorithm: SIGNATURE_ALGORITHMS.ecdsaWithSha256,
      issuer: name,
      thisUpdate: new Date('2026-01-01T00:00:00Z'),
      nextUpdate: new Date('2026-02-01T00:00:00Z'),
      revoked: [{ serial: 0xabcdefn, date: new Date('2026-01-01T00:00:00Z') }],
    });
    const crl = signedDer(tbs, SIGNATURE_ALGORITHMS.ecdsaWithSha256, sign('sha256', tbs, root.privateKey));
    const dir = mkdtempSync(path.join(tmpdir(), 'x509-crl-'));
    try {
      writeFileSync(path.join(dir, 'crl.der'), crl);
      writeFileSync(
        path.join(dir, 'ca.pem'),
        certificatePem(ecCertificate([basicConstraintsExtension(true)])),
      );
      const r = spawnSync(
        'openssl',
        ['crl', '-inform', 'DER', '-in', 'crl.der', '-noout', '-text', '-CAfile', 'ca.pem'],
        {
          cwd: dir,
          encoding: 'utf8',
        },
      );
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/verify OK/);
      expect(r.stdout).toMatch(/Serial Number: ABCDEF/);
      expect(r.stdout).toMatch(/Version 2/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('round-trips OIDs through the one writer and the one decoder; refuses non-OIDs', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 ** 31 }), { minLength: 1, maxLength: 8 }), (tail) => {
        const oid = ['2', '5', ...tail.map(String)].join('.');
        const der = derOidOf(oid);
        const tlv = readDerTlv(der);
        expect(decodeDerOid(der.subarray(tlv.contentStart, tlv.end))).toBe(oid);
      }),
    );
    for (const bad of ['', '1', '3.1', '1.40', '1.2.03', 'a.b']) expect(derOid(bad)).toBeUndefined();
    expect(() => derOidOf('1.40')).toThrow(RangeError);
    expect(() => derUnsignedBigInt(-1n)).toThrow(RangeError);
    expect(derUnsignedBigInt(0x80)).toEqual(Uint8Array.of(0x02, 0x02, 0x00, 0x80));
  });
});
