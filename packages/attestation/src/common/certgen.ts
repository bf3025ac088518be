// Shared helpers for SNP and TDX (src/common): building X.509 certificates and CRLs for
// simulated key chains and test fixtures (never for production trust).
//
// - `buildCertificate({ serial, issuer, subject, notBefore, notAfter, publicKey, extensions, signer })`
// - `buildCrl({ issuer, thisUpdate, nextUpdate, revoked, signer })`
// - `x509Name([['CN', 'ARK-Genoa'], ['O', '...']])`
// Signers: `{ key, algorithm: 'rsa-pss-sha384' | 'ecdsa-sha256' | 'ecdsa-sha384' }`.

import { constants as cryptoConstants, type KeyObject, sign } from 'node:crypto';
import { der } from './der.js';
import { OID } from './x509.js';

/** How a certificate or CRL is signed. */
export interface Signer {
  key: KeyObject;
  algorithm: 'rsa-pss-sha384' | 'ecdsa-sha256' | 'ecdsa-sha384';
}

const NAME_OIDS: Record<string, string> = {
  CN: '2.5.4.3',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  O: '2.5.4.10',
  OU: '2.5.4.11',
};

/** An X.501 Name from [attribute, value] pairs (CN, C, L, ST, O, OU). */
export function x509Name(parts: [keyof typeof NAME_OIDS | string, string][]): Uint8Array {
  return der.seq(
    ...parts.map(([k, v]) => {
      const oid = NAME_OIDS[k];
      if (!oid) throw new RangeError(`unknown name attribute ${k}`);
      return der.set(der.seq(der.oid(oid), der.utf8(v)));
    }),
  );
}

function algorithmIdentifier(alg: Signer['algorithm']): Uint8Array {
  switch (alg) {
    case 'rsa-pss-sha384': {
      const sha384 = der.seq(der.oid(OID.sha384), der.null());
      return der.seq(
        der.oid(OID.rsaPss),
        der.seq(der.ctx(0, sha384), der.ctx(1, der.seq(der.oid(OID.mgf1), sha384)), der.ctx(2, der.int(48))),
      );
    }
    case 'ecdsa-sha256':
      return der.seq(der.oid(OID.ecdsaSha256));
    case 'ecdsa-sha384':
      return der.seq(der.oid(OID.ecdsaSha384));
  }
}

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

function signed(tbs: Uint8Array, signer: Signer): Uint8Array {
  return der.seq(tbs, algorithmIdentifier(signer.algorithm), der.bits(signWith(signer, tbs)));
}

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
  value: der.seq(der.bool(true)),
};

/** Builds and signs a v3 certificate; returns its DER. */
export function buildCertificate(spec: {
  serial: bigint | number;
  issuer: Uint8Array;
  subject: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  publicKey: KeyObject;
  extensions?: ExtensionSpec[];
  signer: Signer;
}): Uint8Array {
  const spki = new Uint8Array(spec.publicKey.export({ format: 'der', type: 'spki' }));
  const exts = spec.extensions ?? [];
  const tbs = der.seq(
    der.ctx(0, der.int(2)),
    der.int(spec.serial),
    algorithmIdentifier(spec.signer.algorithm),
    spec.issuer,
    der.seq(der.time(spec.notBefore), der.time(spec.notAfter)),
    spec.subject,
    spki,
    ...(exts.length
      ? [
          der.ctx(
            3,
            der.seq(
              ...exts.map((e) =>
                der.seq(der.oid(e.oid), ...(e.critical ? [der.bool(true)] : []), der.octets(e.value)),
              ),
            ),
          ),
        ]
      : []),
  );
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
  const tbs = der.seq(
    der.int(1),
    algorithmIdentifier(spec.signer.algorithm),
    spec.issuer,
    der.time(spec.thisUpdate),
    der.time(spec.nextUpdate),
    ...(spec.revoked.length
      ? [der.seq(...spec.revoked.map((r) => der.seq(der.int(r.serial), der.time(r.date))))]
      : []),
  );
  return signed(tbs, spec.signer);
}
