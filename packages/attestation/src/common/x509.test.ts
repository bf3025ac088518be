import { generateKeyPairSync } from 'node:crypto';
import { derOctetString, derOidOf, derSequence, derTime, derUnsignedBigInt } from '@contrast-cc/core/x509';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildCertificate, buildCrl, CA_EXTENSION, x509Name } from './certgen.js';
import {
  DER_TAG,
  decodeOid,
  decodeTime,
  decodeUnsigned,
  derChildren,
  derContent,
  readDerExact,
} from './der.js';
import { loadCertificates, parseCrl } from './x509.js';
import { checkRevocation, verifySignedBy } from './x509-node.js';

describe('DER', () => {
  it('round-trips OIDs, unsigned integers and times', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 ** 31 }), { minLength: 1, maxLength: 8 }), (tail) => {
        const oid = ['1', '3', ...tail.map(String)].join('.');
        expect(decodeOid(derContent(readDerExact(derOidOf(oid))))).toBe(oid);
      }),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 200n }), (n) => {
        expect(decodeUnsigned(derContent(readDerExact(derUnsignedBigInt(n))))).toBe(n);
      }),
    );
    for (const iso of ['2025-10-01T08:00:00.000Z', '2049-12-31T23:59:59.000Z', '2050-01-01T00:00:00.000Z']) {
      expect(decodeTime(readDerExact(derTime(new Date(iso)))).toISOString()).toBe(iso);
    }
  });

  it('refuses truncated and overrunning elements with ContrastError naming the field', () => {
    const seq = derSequence(derUnsignedBigInt(5), derOctetString(new Uint8Array(200)));
    for (let n = 0; n < seq.length; n++) {
      expect(() => derChildren(readDerExact(seq.subarray(0, n), 'x'), 'x')).toThrow(
        expect.objectContaining({ code: 'invalid-argument', field: 'x' }),
      );
    }
    expect(readDerExact(seq).tag).toBe(DER_TAG.sequence);
  });
});

describe('certificates and CRLs', () => {
  const root = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const leafKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rootName = x509Name([['CN', 'Test Root']]);
  const signer = { key: root.privateKey, algorithm: 'ecdsa-sha256' as const };
  const now = new Date('2026-01-01T00:00:00Z');
  const rootDer = buildCertificate({
    serial: 1,
    issuer: rootName,
    subject: rootName,
    notBefore: new Date('2025-01-01T00:00:00Z'),
    notAfter: new Date('2030-01-01T00:00:00Z'),
    publicKey: root.publicKey,
    extensions: [CA_EXTENSION],
    signer,
  });
  const leafDer = buildCertificate({
    serial: 0xabcdef,
    issuer: rootName,
    subject: x509Name([['CN', 'Leaf']]),
    notBefore: new Date('2025-01-01T00:00:00Z'),
    notAfter: new Date('2027-01-01T00:00:00Z'),
    publicKey: leafKey.publicKey,
    extensions: [{ oid: '1.2.3.4', value: derUnsignedBigInt(7) }],
    signer,
  });

  it('parses what it builds and checks signatures', () => {
    const [r] = loadCertificates(rootDer);
    const [l] = loadCertificates(leafDer);
    expect(l!.serialNumber).toBe('ABCDEF');
    expect(l!.subjectCommonName).toBe('Leaf');
    expect(l!.issuerCommonName).toBe('Test Root');
    expect(l!.extensions.get('1.2.3.4')?.value).toEqual(derUnsignedBigInt(7));
    expect(r!.extensions.get('2.5.29.19')?.critical).toBe(true);
    expect(verifySignedBy(l!, r!)).toBe(true);
    expect(verifySignedBy(r!, l!)).toBe(false);
    const tampered = leafDer.slice();
    tampered[tampered.length - 80]! ^= 1;
    expect(verifySignedBy(loadCertificates(tampered)[0]!, r!)).toBe(false);
  });

  it('checkRevocation gives typed results', () => {
    const [r] = loadCertificates(rootDer);
    const [l] = loadCertificates(leafDer);
    const crl = (revoked: bigint[], thisUpdate = new Date('2025-12-01T00:00:00Z')) =>
      parseCrl(
        buildCrl({
          issuer: rootName,
          thisUpdate,
          nextUpdate: new Date(thisUpdate.getTime() + 60 * 86_400_000),
          revoked: revoked.map((serial) => ({ serial, date: thisUpdate })),
          signer,
        }),
      );
    expect(checkRevocation(l!, crl([0xabcdefn]), r!, now)).toMatchObject({
      status: 'revoked',
      serialNumber: 'ABCDEF',
    });
    expect(checkRevocation(l!, crl([5n]), r!, now)).toMatchObject({ status: 'good' });
    expect(checkRevocation(l!, crl([], new Date('2024-01-01T00:00:00Z')), r!, now)).toMatchObject({
      status: 'crl-expired',
    });
    expect(checkRevocation(l!, crl([]), l!, now)).toMatchObject({ status: 'crl-invalid' });
  });
});
