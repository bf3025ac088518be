// Shared helpers for SNP and TDX (src/common): X.509 certificates and CRLs without a framework.
//
// - `loadCertificates(input, field, { exact? })`: DER or PEM (one or many) -> ParsedCertificate[];
//   PEM is read by `readPem` (pem.ts): a corrupted block is an error, never dropped.
// - `parseCertificate(der)`: the fields a verifier needs (serial, names, validity, SPKI, extensions
//   by OID) plus the exact TBS bytes and signature.
// - `signedByStep(child, issuer)`: the child's signature under the issuer's key (RSA PKCS#1,
//   RSA-PSS with its parameters, ECDSA) and issuer name == subject name.
// - `parseCrl` / `checkRevocationStep(cert, crl, issuer, now)`: an RFC 5280 CRL (AMD's KDS CRLs are
//   plain X.509 CRLs signed by the ARK with RSA-PSS) to a typed `RevocationResult`.
// Signature checks are crypto steps (crypto.ts): node:crypto answers them in Node, WebCrypto in
// browsers. Malformed input throws ContrastError('invalid-argument') naming the field.
// Browser-safe: no node: imports.

import { ContrastError, toHex } from '@contrast-cc/core';
import { sameBytes } from './bytes.js';
import { type CryptoSteps, type HashName, type PublicKeyInfo, publicKeyInfo, verifyStep } from './crypto.js';
import {
  DER_TAG,
  type DerNode,
  decodeOid,
  decodeTime,
  decodeUnsigned,
  derChildren,
  derContent,
  derEncoded,
  expectTag,
  readDerExact,
} from './der.js';
import { readPem } from './pem.js';

export const OID = {
  rsaPss: '1.2.840.113549.1.1.10',
  mgf1: '1.2.840.113549.1.1.8',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  sha384WithRsa: '1.2.840.113549.1.1.12',
  sha512WithRsa: '1.2.840.113549.1.1.13',
  ecdsaSha256: '1.2.840.10045.4.3.2',
  ecdsaSha384: '1.2.840.10045.4.3.3',
  ecdsaSha512: '1.2.840.10045.4.3.4',
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  commonName: '2.5.4.3',
} as const;

const HASH_BY_OID: Record<string, HashName> = {
  [OID.sha1]: 'SHA-1',
  [OID.sha256]: 'SHA-256',
  [OID.sha384]: 'SHA-384',
  [OID.sha512]: 'SHA-512',
};

/** One certificate extension. */
export interface CertificateExtension {
  critical: boolean;
  /** The extnValue OCTET STRING's content. */
  value: Uint8Array;
}

/** What verifiers need from a certificate. */
export interface ParsedCertificate {
  der: Uint8Array;
  tbs: Uint8Array;
  /** Upper-case hex without leading zeros (as node's X509Certificate.serialNumber). */
  serialNumber: string;
  issuerDer: Uint8Array;
  subjectDer: Uint8Array;
  /** The subject's CN, or '' when absent. */
  subjectCommonName: string;
  issuerCommonName: string;
  notBefore: Date;
  notAfter: Date;
  publicKey: PublicKeyInfo;
  extensions: Map<string, CertificateExtension>;
  signatureAlgorithm: DerNode;
  signature: Uint8Array;
}

function bad(message: string, field: string): never {
  throw new ContrastError('invalid-argument', message, { field });
}

/**
 * DER or PEM bytes/text to the DER bodies it holds (PEM may hold several blocks, all of
 * `label`). PEM is read by `readPem`: a corrupted block is an error, never dropped.
 */
export function derBlocks(
  input: Uint8Array | string,
  label: string,
  field: string,
  options: { exact?: boolean } = {},
): Uint8Array[] {
  if (typeof input !== 'string' && input[0] === 0x30 && !options.exact) return [input];
  const text = typeof input === 'string' ? input : new TextDecoder().decode(input);
  const blocks = readPem(text, field, { label, ...options }).map((b) => b.der);
  if (blocks.length === 0) bad(`no DER data and no PEM "${label}" block found`, field);
  return blocks;
}

/**
 * Certificates from DER, or from PEM holding one or several certificates, in order. With
 * `exact`, the PEM text must be in RFC 7468 strict form with nothing else (see `readPem`).
 */
export function loadCertificates(
  input: Uint8Array | string,
  field = 'certificate',
  options: { exact?: boolean } = {},
): ParsedCertificate[] {
  return derBlocks(input, 'CERTIFICATE', field, options).map((d, i) =>
    parseCertificate(d, blocksField(field, i, input)),
  );
}

function blocksField(field: string, i: number, input: Uint8Array | string): string {
  return typeof input !== 'string' && input[0] === 0x30 ? field : `${field}[${i}]`;
}

function commonName(name: DerNode, field: string): string {
  for (const rdn of derChildren(name, field)) {
    for (const atv of derChildren(rdn, field)) {
      const [type, value] = derChildren(atv, field);
      if (type && value && type.tag === DER_TAG.oid && decodeOid(derContent(type)) === OID.commonName) {
        return new TextDecoder().decode(derContent(value));
      }
    }
  }
  return '';
}

function serialHex(content: Uint8Array): string {
  const hex = toHex(content).replace(/^(00)+(?=..)/, '');
  return hex.toUpperCase();
}

/** Parses an X.509 certificate (DER). */
export function parseCertificate(bytes: Uint8Array, field = 'certificate'): ParsedCertificate {
  const der = new Uint8Array(bytes);
  const cert = expectTag(readDerExact(der, field), DER_TAG.sequence, field);
  const [tbsNode, sigAlg, sigBits] = derChildren(cert, field);
  const tbs = expectTag(tbsNode, DER_TAG.sequence, `${field}.tbsCertificate`);
  expectTag(sigAlg, DER_TAG.sequence, `${field}.signatureAlgorithm`);
  const sig = derContent(expectTag(sigBits, DER_TAG.bitString, `${field}.signature`));
  const items = derChildren(tbs, field);
  let i = 0;
  if (items[0]?.tag === 0xa0) i++;
  const serial = expectTag(items[i++], DER_TAG.integer, `${field}.serialNumber`);
  expectTag(items[i++], DER_TAG.sequence, `${field}.signature`);
  const issuer = expectTag(items[i++], DER_TAG.sequence, `${field}.issuer`);
  const validity = expectTag(items[i++], DER_TAG.sequence, `${field}.validity`);
  const subject = expectTag(items[i++], DER_TAG.sequence, `${field}.subject`);
  const spki = expectTag(items[i++], DER_TAG.sequence, `${field}.subjectPublicKeyInfo`);
  const [nb, na] = derChildren(validity, `${field}.validity`);
  if (!nb || !na) bad('validity needs notBefore and notAfter', `${field}.validity`);
  const extensions = new Map<string, CertificateExtension>();
  for (; i < items.length; i++) {
    const item = items[i]!;
    if (item.tag !== 0xa3) continue;
    const list = expectTag(derChildren(item, field)[0], DER_TAG.sequence, `${field}.extensions`);
    for (const ext of derChildren(list, `${field}.extensions`)) {
      const parts = derChildren(ext, `${field}.extensions`);
      const oid = decodeOid(derContent(expectTag(parts[0], DER_TAG.oid, `${field}.extensions`)));
      const critical =
        parts.length === 3 && parts[1]!.tag === DER_TAG.boolean && derContent(parts[1]!)[0] !== 0;
      const value = expectTag(parts[parts.length - 1], DER_TAG.octetString, `${field}.extensions.${oid}`);
      extensions.set(oid, { critical, value: derContent(value) });
    }
  }
  const publicKey = publicKeyInfo(derEncoded(spki), `${field}.subjectPublicKeyInfo`);
  if (sig.length < 2 || sig[0] !== 0) bad('signature BIT STRING has unused bits', `${field}.signature`);
  return {
    der,
    tbs: derEncoded(tbs),
    serialNumber: serialHex(derContent(serial)),
    issuerDer: derEncoded(issuer),
    subjectDer: derEncoded(subject),
    subjectCommonName: commonName(subject, `${field}.subject`),
    issuerCommonName: commonName(issuer, `${field}.issuer`),
    notBefore: decodeTime(nb, `${field}.validity.notBefore`),
    notAfter: decodeTime(na, `${field}.validity.notAfter`),
    publicKey,
    extensions,
    signatureAlgorithm: sigAlg!,
    signature: sig.subarray(1),
  };
}

/**
 * Verifies `signature` over `data` with the algorithm identifier `algorithm` (RSA-PSS with its
 * parameters, sha*WithRSAEncryption, ecdsa-with-SHA*). False on any mismatch or unknown algorithm.
 */
export function* verifyWithAlgorithmStep(
  algorithm: DerNode,
  data: Uint8Array,
  signature: Uint8Array,
  key: PublicKeyInfo,
): CryptoSteps<boolean> {
  let oid: string;
  let params: DerNode | undefined;
  try {
    const [oidNode, p] = derChildren(algorithm);
    oid = decodeOid(derContent(expectTag(oidNode, DER_TAG.oid, 'signatureAlgorithm')));
    params = p;
  } catch {
    return false;
  }
  switch (oid) {
    case OID.rsaPss: {
      let hash: HashName | undefined = 'SHA-1';
      let saltLength = 20;
      try {
        for (const p of params ? derChildren(params) : []) {
          if (p.tag === 0xa0) {
            const alg = derChildren(derChildren(p)[0]!)[0]!;
            hash = HASH_BY_OID[decodeOid(derContent(alg))];
          } else if (p.tag === 0xa2) {
            saltLength = Number(decodeUnsigned(derContent(derChildren(p)[0]!)));
          }
        }
      } catch {
        return false;
      }
      if (hash === undefined) return false;
      return yield* verifyStep({ name: 'rsa-pss', hash, saltLength }, key, data, signature);
    }
    case OID.sha256WithRsa:
      return yield* verifyStep({ name: 'rsa-pkcs1', hash: 'SHA-256' }, key, data, signature);
    case OID.sha384WithRsa:
      return yield* verifyStep({ name: 'rsa-pkcs1', hash: 'SHA-384' }, key, data, signature);
    case OID.sha512WithRsa:
      return yield* verifyStep({ name: 'rsa-pkcs1', hash: 'SHA-512' }, key, data, signature);
    case OID.ecdsaSha256:
      return yield* verifyStep({ name: 'ecdsa', hash: 'SHA-256', encoding: 'der' }, key, data, signature);
    case OID.ecdsaSha384:
      return yield* verifyStep({ name: 'ecdsa', hash: 'SHA-384', encoding: 'der' }, key, data, signature);
    case OID.ecdsaSha512:
      return yield* verifyStep({ name: 'ecdsa', hash: 'SHA-512', encoding: 'der' }, key, data, signature);
    default:
      return false;
  }
}

/** True when `issuer`'s subject is `child`'s issuer and `issuer`'s key signed `child`. */
export function* signedByStep(child: ParsedCertificate, issuer: ParsedCertificate): CryptoSteps<boolean> {
  if (!sameBytes(child.issuerDer, issuer.subjectDer)) return false;
  return yield* verifyWithAlgorithmStep(
    child.signatureAlgorithm,
    child.tbs,
    child.signature,
    issuer.publicKey,
  );
}

/** True when `now` is inside the certificate's validity (both ends inclusive). */
export function validAt(cert: ParsedCertificate, now: Date): boolean {
  const t = now.getTime();
  return t >= cert.notBefore.getTime() && t <= cert.notAfter.getTime();
}

/** A parsed certificate revocation list. */
export interface ParsedCrl {
  der: Uint8Array;
  tbs: Uint8Array;
  issuerDer: Uint8Array;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  /** Revoked serial numbers (upper-case hex, as ParsedCertificate.serialNumber) and when. */
  revoked: Map<string, Date>;
  signatureAlgorithm: DerNode;
  signature: Uint8Array;
}

/** Parses a CRL from DER or PEM ("X509 CRL"). */
export function parseCrl(input: Uint8Array | string, field = 'crl'): ParsedCrl {
  const der = new Uint8Array(derBlocks(input, 'X509 CRL', field)[0]!);
  const crl = expectTag(readDerExact(der, field), DER_TAG.sequence, field);
  const [tbsNode, sigAlg, sigBits] = derChildren(crl, field);
  const tbs = expectTag(tbsNode, DER_TAG.sequence, `${field}.tbsCertList`);
  expectTag(sigAlg, DER_TAG.sequence, `${field}.signatureAlgorithm`);
  const sig = derContent(expectTag(sigBits, DER_TAG.bitString, `${field}.signature`));
  const items = derChildren(tbs, field);
  let i = 0;
  if (items[0]?.tag === DER_TAG.integer) i++;
  expectTag(items[i++], DER_TAG.sequence, `${field}.signature`);
  const issuer = expectTag(items[i++], DER_TAG.sequence, `${field}.issuer`);
  const thisUpdateNode = items[i++];
  if (!thisUpdateNode) bad('missing thisUpdate', `${field}.thisUpdate`);
  const thisUpdate = decodeTime(thisUpdateNode, `${field}.thisUpdate`);
  let nextUpdate: Date | undefined;
  const maybeNext = items[i];
  if (maybeNext && (maybeNext.tag === DER_TAG.utcTime || maybeNext.tag === DER_TAG.generalizedTime)) {
    nextUpdate = decodeTime(maybeNext, `${field}.nextUpdate`);
    i++;
  }
  const revoked = new Map<string, Date>();
  const list = items[i];
  if (list && list.tag === DER_TAG.sequence) {
    for (const entry of derChildren(list, `${field}.revokedCertificates`)) {
      const [serial, date] = derChildren(entry, `${field}.revokedCertificates`);
      const s = expectTag(serial, DER_TAG.integer, `${field}.revokedCertificates.userCertificate`);
      if (!date) bad('missing revocationDate', `${field}.revokedCertificates`);
      revoked.set(serialHex(derContent(s)), decodeTime(date, `${field}.revokedCertificates.revocationDate`));
    }
  }
  if (sig.length < 2 || sig[0] !== 0) bad('signature BIT STRING has unused bits', `${field}.signature`);
  return {
    der,
    tbs: derEncoded(tbs),
    issuerDer: derEncoded(issuer),
    thisUpdate,
    nextUpdate,
    revoked,
    signatureAlgorithm: sigAlg!,
    signature: sig.subarray(1),
  };
}

/** The outcome of a revocation check. */
export type RevocationResult =
  | { status: 'good'; thisUpdate: Date; nextUpdate: Date | undefined }
  | { status: 'revoked'; serialNumber: string; revokedAt: Date }
  | { status: 'crl-invalid'; message: string }
  | { status: 'crl-expired'; nextUpdate: Date };

/**
 * Checks `cert` against `crl`, which must be issued and signed by `crlIssuer` and current at
 * `now` (thisUpdate <= now <= nextUpdate).
 */
export function* checkRevocationStep(
  cert: ParsedCertificate,
  crl: ParsedCrl,
  crlIssuer: ParsedCertificate,
  now: Date,
): CryptoSteps<RevocationResult> {
  if (!sameBytes(crl.issuerDer, crlIssuer.subjectDer)) {
    return { status: 'crl-invalid', message: `CRL is not issued by "${crlIssuer.subjectCommonName}"` };
  }
  if (
    !(yield* verifyWithAlgorithmStep(crl.signatureAlgorithm, crl.tbs, crl.signature, crlIssuer.publicKey))
  ) {
    return {
      status: 'crl-invalid',
      message: `CRL signature does not verify with "${crlIssuer.subjectCommonName}"`,
    };
  }
  if (now.getTime() < crl.thisUpdate.getTime()) {
    return { status: 'crl-invalid', message: `CRL is not valid before ${crl.thisUpdate.toISOString()}` };
  }
  if (crl.nextUpdate && now.getTime() > crl.nextUpdate.getTime()) {
    return { status: 'crl-expired', nextUpdate: crl.nextUpdate };
  }
  const revokedAt = crl.revoked.get(cert.serialNumber);
  if (revokedAt) return { status: 'revoked', serialNumber: cert.serialNumber, revokedAt };
  return { status: 'good', thisUpdate: crl.thisUpdate, nextUpdate: crl.nextUpdate };
}
