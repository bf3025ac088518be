// Shared helpers for SNP and TDX (src/common): certificates and CRLs for simulated key chains and
// test fixtures (never for production trust), built with core's X.509 builder
// (`@contrast-cc/core/x509`, the one way the monorepo builds certificates) and signed here with
// node:crypto.
//
// - `buildCertificate({ serial, issuer, subject, notBefore, notAfter, publicKey, extensions, signer })`
// - `buildCrl({ issuer, thisUpdate, nextUpdate, revoked, signer })`
// - `x509Name([['CN', 'ARK-Genoa'], ['O', '...']])`
// Signers: `{ key, algorithm: 'rsa-pss-sha384' | 'ecdsa-sha256' | 'ecdsa-sha384' }`.

import { constants as cryptoConstants, type KeyObject, sign } from 'node:crypto';
import {
  derBoolean,
  derOidOf,
  derSequence,
  distinguishedNameDer,
  extensionDer,
  SIGNATURE_ALGORITHMS,
  signedDer,
  tbsCertificate,
  tbsCertList,
} from '@contrast-cc/core/x509';

/** How a certificate or CRL is signed. */
export interface Signer {
  key: KeyObject;
  algorithm: 'rsa-pss-sha384' | 'ecdsa-sha256' | 'ecdsa-sha384';
}

/** An X.501 Name from [attribute, value] pairs (CN, C, L, ST, O, OU), values as UTF8String. */
export const x509Name = distinguishedNameDer;

const ALGORITHM_IDS: Record<Signer['algorithm'], Uint8Array> = {
  'rsa-pss-sha384': SIGNATURE_ALGORITHMS.rsaPssSha384,
  'ecdsa-sha256': SIGNATURE_ALGORITHMS.ecdsaWithSha256,
  'ecdsa-sha384': SIGNATURE_ALGORITHMS.ecdsaWithSha384,
};

function signWith(signer: Signer, data: Uint8Array): Uint8Array {
  switch (signer.algorithm) {
    case 'rsa-pss-sha384':
      return sign('sha384', data, {
        key: signer.key,
        padding: cryptoConstants.RSA_PKCS1_PSS_PADDING,
        saltLength: 48,
      });
    case 'ecdsa-sha256':
      return sign('sha256', data, signer.key);
    case 'ecdsa-sha384':
      return sign('sha384', data, signer.key);
  }
}

const signed = (tbs: Uint8Array, signer: Signer) =>
  signedDer(tbs, ALGORITHM_IDS[signer.algorithm], signWith(signer, tbs));

const serialOf = (serial: bigint | number | Uint8Array) =>
  serial instanceof Uint8Array ? serial : BigInt(serial);

/** One extension to put in a certificate: `value` is the extnValue content. */
export interface ExtensionSpec {
  oid: string;
  critical?: boolean;
  value: Uint8Array;
}

/** basicConstraints CA:TRUE (critical), for CA certificates. */
export const CA_EXTENSION: ExtensionSpec = {
  oid: '2.5.29.19',
  critical: true,
  value: derSequence(derBoolean(true)),
};

/** Builds and signs a v3 certificate; returns its DER. */
export function buildCertificate(spec: {
  serial: bigint | number | Uint8Array;
  issuer: Uint8Array;
  subject: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  publicKey: KeyObject;
  /** Extensions given by OID, or complete `Extension` DER encodings (core's extension builders). */
  extensions?: (ExtensionSpec | Uint8Array)[];
  signer: Signer;
}): Uint8Array {
  const tbs = tbsCertificate({
    serial: serialOf(spec.serial),
    signatureAlgorithm: ALGORITHM_IDS[spec.signer.algorithm],
    issuer: spec.issuer,
    notBefore: spec.notBefore,
    notAfter: spec.notAfter,
    subject: spec.subject,
    spki: new Uint8Array(spec.publicKey.export({ format: 'der', type: 'spki' })),
    extensions: (spec.extensions ?? []).map((e) =>
      e instanceof Uint8Array ? e : extensionDer(derOidOf(e.oid), e.critical === true, e.value),
    ),
  });
  return signed(tbs, spec.signer);
}

/** Builds and signs a v2 CRL; returns its DER. */
export function buildCrl(spec: {
  issuer: Uint8Array;
  thisUpdate: Date;
  nextUpdate: Date;
  revoked: { serial: bigint | number | Uint8Array; date: Date }[];
  signer: Signer;
}): Uint8Array {
  const tbs = tbsCertList({
    signatureAlgorithm: ALGORITHM_IDS[spec.signer.algorithm],
    issuer: spec.issuer,
    thisUpdate: spec.thisUpdate,
    nextUpdate: spec.nextUpdate,
    revoked: spec.revoked.map((r) => ({ serial: serialOf(r.serial), date: r.date })),
  });
  return signed(tbs, spec.signer);
}
