// The AMD key hierarchy: ARK (root, self-signed) -> ASK (signs VCEKs) / ASVK (signs VLEKs) ->
// VCEK / VLEK (P-384, signs reports). VCEK/VLEK extensions (OID 1.3.6.1.4.1.3704.1.*) carry the
// product name, the TCB SPLs the key was derived for, and the chip's hwID (VCEK) or the CSP id
// (VLEK).

import { ContrastError } from '@contrast-cc/core';
import { sameBytes } from '../common/bytes.js';
import { type CryptoSteps, findStep } from '../common/crypto.js';
import { DER_TAG, decodeUnsigned, derContent, readDerExact } from '../common/der.js';
import {
  checkRevocationStep,
  loadCertificates,
  type ParsedCertificate,
  type ParsedCrl,
  type RevocationResult,
  signedByStep,
  validAt,
} from '../common/x509.js';
import type { SnpProductLine } from './report.js';
import { productLineOf, SNP_PRODUCT_LINES } from './report.js';
import { AMD_ROOTS } from './roots.js';

/** AMD's VCEK/VLEK extension OIDs. @public */
export const AMD_OID = {
  structVersion: '1.3.6.1.4.1.3704.1.1',
  productName: '1.3.6.1.4.1.3704.1.2',
  blSpl: '1.3.6.1.4.1.3704.1.3.1',
  teeSpl: '1.3.6.1.4.1.3704.1.3.2',
  snpSpl: '1.3.6.1.4.1.3704.1.3.3',
  ucodeSpl: '1.3.6.1.4.1.3704.1.3.8',
  fmcSpl: '1.3.6.1.4.1.3704.1.3.9',
  hwId: '1.3.6.1.4.1.3704.1.4',
  cspId: '1.3.6.1.4.1.3704.1.5',
} as const;

/** The AMD extensions of a VCEK or VLEK. @public */
export interface SnpKeyExtensions {
  structVersion: number | undefined;
  productName: string;
  blSpl: number;
  teeSpl: number;
  snpSpl: number;
  ucodeSpl: number;
  fmcSpl: number | undefined;
  /** VCEK: the chip's hwID (64 bytes; 8 on Turin). */
  hwId: Uint8Array | undefined;
  /** VLEK: the cloud provider's id. */
  cspId: string | undefined;
}

function field(name: string): string {
  return `vcek.extensions.${name}`;
}

function readInt(cert: ParsedCertificate, oid: string, name: string, required: boolean): number | undefined {
  const ext = cert.extensions.get(oid);
  if (!ext) {
    if (required)
      throw new ContrastError('invalid-argument', `missing AMD extension ${oid}`, { field: field(name) });
    return undefined;
  }
  const node = readDerExact(ext.value, field(name));
  if (node.tag !== DER_TAG.integer) {
    throw new ContrastError('invalid-argument', 'expected an INTEGER', { field: field(name) });
  }
  const v = decodeUnsigned(derContent(node), field(name));
  if (v > 0xffffffffn)
    throw new ContrastError('invalid-argument', 'value out of range', { field: field(name) });
  return Number(v);
}

function readString(cert: ParsedCertificate, oid: string, name: string): string | undefined {
  const ext = cert.extensions.get(oid);
  if (!ext) return undefined;
  const node = readDerExact(ext.value, field(name));
  return new TextDecoder().decode(derContent(node));
}

/** Reads the AMD extensions of a VCEK or VLEK; throws `invalid-argument` for a malformed one. @public */
export function parseSnpKeyExtensions(cert: ParsedCertificate): SnpKeyExtensions {
  const productName = readString(cert, AMD_OID.productName, 'productName');
  if (!productName) {
    throw new ContrastError('invalid-argument', 'missing AMD productName extension', {
      field: field('productName'),
    });
  }
  const hw = cert.extensions.get(AMD_OID.hwId)?.value;
  return {
    structVersion: readInt(cert, AMD_OID.structVersion, 'structVersion', false),
    productName,
    blSpl: readInt(cert, AMD_OID.blSpl, 'blSPL', true)!,
    teeSpl: readInt(cert, AMD_OID.teeSpl, 'teeSPL', true)!,
    snpSpl: readInt(cert, AMD_OID.snpSpl, 'snpSPL', true)!,
    ucodeSpl: readInt(cert, AMD_OID.ucodeSpl, 'ucodeSPL', true)!,
    fmcSpl: readInt(cert, AMD_OID.fmcSpl, 'fmcSPL', false),
    hwId: hw ? new Uint8Array(hw) : undefined,
    cspId: readString(cert, AMD_OID.cspId, 'cspID'),
  };
}

/** A product's trusted root with its intermediates, ready to verify against. @public */
export interface SnpTrustAnchor {
  product: SnpProductLine;
  ark: ParsedCertificate;
  ask: ParsedCertificate | undefined;
  asvk: ParsedCertificate | undefined;
  /** True unless the ARK is one of AMD's embedded roots. */
  insecure: boolean;
}

/** Trust anchor input: PEM or DER certificates. @public */
export interface SnpTrustAnchorInput {
  product: SnpProductLine;
  ark: string | Uint8Array;
  ask?: string | Uint8Array;
  asvk?: string | Uint8Array;
}

let amdArks: Uint8Array[] | undefined;

function isAmdArk(ark: ParsedCertificate): boolean {
  amdArks ??= SNP_PRODUCT_LINES.map((p) => loadCertificates(AMD_ROOTS[p].ark, 'ark')[0]!.der);
  return amdArks.some((der) => sameBytes(der, ark.der));
}

/**
 * Builds a trust anchor; the ARK must be self-signed and the ASK/ASVK signed by it. Anchors whose
 * ARK is not one of AMD's embedded roots are marked insecure. (Crypto steps: the Node entry's
 * `createSnpTrustAnchor` runs them with node:crypto.)
 */
export function* createSnpTrustAnchorStep(input: SnpTrustAnchorInput): CryptoSteps<SnpTrustAnchor> {
  const one = (v: string | Uint8Array, name: string) => {
    const certs = loadCertificates(v, `trustAnchors.${input.product}.${name}`);
    return certs[0]!;
  };
  const ark = one(input.ark, 'ark');
  if (!(yield* signedByStep(ark, ark))) {
    throw new ContrastError('invalid-argument', 'ARK is not self-signed', {
      field: `trustAnchors.${input.product}.ark`,
    });
  }
  const inter = function* (v: string | Uint8Array | undefined, name: string) {
    if (v === undefined) return undefined;
    const c = one(v, name);
    if (!(yield* signedByStep(c, ark))) {
      throw new ContrastError('invalid-argument', `${name.toUpperCase()} is not signed by the ARK`, {
        field: `trustAnchors.${input.product}.${name}`,
      });
    }
    return c;
  };
  return {
    product: input.product,
    ark,
    ask: yield* inter(input.ask, 'ask'),
    asvk: yield* inter(input.asvk, 'asvk'),
    insecure: !isAmdArk(ark),
  };
}

let amdAnchors: SnpTrustAnchor[] | undefined;

/** AMD's embedded roots (Milan, Genoa, Turin) as trust anchors: the verifier's default. */
export function* amdTrustAnchorsStep(): CryptoSteps<SnpTrustAnchor[]> {
  if (!amdAnchors) {
    const anchors: SnpTrustAnchor[] = [];
    for (const p of SNP_PRODUCT_LINES) anchors.push(yield* createSnpTrustAnchorStep(AMD_ROOTS[p]));
    amdAnchors ??= anchors;
  }
  return amdAnchors;
}

/** Why a chain check failed. */
export interface ChainFailure {
  code: 'chain-invalid' | 'certificate-expired' | 'revoked' | 'collateral-invalid';
  message: string;
  field: string;
}

/** A leaf verified up to an anchor (time-independent part, cacheable). */
export interface VerifiedChain {
  leaf: ParsedCertificate;
  intermediate: ParsedCertificate;
  anchor: SnpTrustAnchor;
  extensions: SnpKeyExtensions;
  product: SnpProductLine;
}

/**
 * Finds the path leaf -> ASK/ASVK -> ARK among the anchors (of `product` when known). Supplied
 * chain certificates must belong to that anchor: the ARK byte-equal, intermediates signed by it.
 */
export function* buildSnpChainStep(
  leaf: ParsedCertificate,
  supplied: ParsedCertificate[],
  anchors: SnpTrustAnchor[],
  signingKey: 'vcek' | 'vlek',
  product: SnpProductLine | undefined,
): CryptoSteps<VerifiedChain | ChainFailure> {
  const extensions = parseSnpKeyExtensions(leaf);
  const leafProduct = productLineOf(extensions.productName);
  if (!leafProduct) {
    return {
      code: 'chain-invalid',
      message: `unknown product "${extensions.productName}" in the ${signingKey.toUpperCase()}`,
      field: 'vcek.extensions.productName',
    };
  }
  if (product && product !== leafProduct) {
    return {
      code: 'chain-invalid',
      message: `the ${signingKey.toUpperCase()} is for ${leafProduct}, expected ${product}`,
      field: 'product',
    };
  }
  const candidates = anchors.filter((a) => a.product === leafProduct);
  if (candidates.length === 0) {
    return {
      code: 'chain-invalid',
      message: `no trust anchor for product ${leafProduct}`,
      field: 'trustAnchors',
    };
  }
  let foreign = false;
  for (const anchor of candidates) {
    let allBelong = true;
    for (const c of supplied) {
      if (!(yield* signedByStep(c, anchor.ark))) {
        allBelong = false;
        break;
      }
    }
    if (!allBelong) {
      foreign = true;
      continue;
    }
    const intermediates = [
      signingKey === 'vcek' ? anchor.ask : anchor.asvk,
      ...supplied.filter((c) => !sameBytes(c.subjectDer, anchor.ark.subjectDer)),
    ].filter((c): c is ParsedCertificate => c !== undefined);
    const intermediate = yield* findStep(intermediates, (i) => signedByStep(leaf, i));
    if (intermediate) return { leaf, intermediate, anchor, extensions, product: leafProduct };
  }
  if (foreign) {
    return {
      code: 'chain-invalid',
      message: `the supplied certificate chain does not belong to the trusted ${leafProduct} ARK`,
      field: 'cert-chain',
    };
  }
  return {
    code: 'chain-invalid',
    message: `the ${signingKey.toUpperCase()} is not signed by a trusted ${leafProduct} ${signingKey === 'vcek' ? 'ASK' : 'ASVK'}`,
    field: signingKey,
  };
}

/** Validity of every certificate of the chain at `now`. */
export function checkChainTime(
  chain: VerifiedChain,
  now: Date,
  signingKey: string,
): ChainFailure | undefined {
  const items: [ParsedCertificate, string][] = [
    [chain.leaf, signingKey],
    [chain.intermediate, signingKey === 'vcek' ? 'ask' : 'asvk'],
    [chain.anchor.ark, 'ark'],
  ];
  for (const [cert, name] of items) {
    if (!validAt(cert, now)) {
      const when =
        now < cert.notBefore
          ? `not valid before ${cert.notBefore.toISOString()}`
          : `expired ${cert.notAfter.toISOString()}`;
      return {
        code: 'certificate-expired',
        message: `${name.toUpperCase()} "${cert.subjectCommonName}" is ${when} (checked at ${now.toISOString()})`,
        field: name,
      };
    }
  }
  return undefined;
}

/**
 * Revocation of the chain: a CRL issued by the ARK (AMD's KDS CRL) covers the ASK/ASVK and the
 * leaf; a CRL issued by the ASK/ASVK covers the leaf.
 */
export function* checkChainRevocationStep(
  chain: VerifiedChain,
  crl: ParsedCrl,
  now: Date,
  signingKey: string,
): CryptoSteps<{ failure?: ChainFailure; results: RevocationResult[] }> {
  const interName = signingKey === 'vcek' ? 'ask' : 'asvk';
  const byArk = sameBytes(crl.issuerDer, chain.anchor.ark.subjectDer);
  const issuer = byArk ? chain.anchor.ark : chain.intermediate;
  const subjects: [ParsedCertificate, string][] = byArk
    ? [
        [chain.intermediate, interName],
        [chain.leaf, signingKey],
      ]
    : [[chain.leaf, signingKey]];
  const results: RevocationResult[] = [];
  for (const [cert, name] of subjects) {
    const r = yield* checkRevocationStep(cert, crl, issuer, now);
    results.push(r);
    if (r.status === 'revoked') {
      return {
        failure: {
          code: 'revoked',
          message: `${name.toUpperCase()} serial ${r.serialNumber} was revoked at ${r.revokedAt.toISOString()}`,
          field: name,
        },
        results,
      };
    }
    if (r.status === 'crl-invalid') {
      return { failure: { code: 'collateral-invalid', message: r.message, field: 'crl' }, results };
    }
    if (r.status === 'crl-expired') {
      return {
        failure: {
          code: 'collateral-invalid',
          message: `CRL expired at ${r.nextUpdate.toISOString()} (checked at ${now.toISOString()})`,
          field: 'crl',
        },
        results,
      };
    }
  }
  return { results };
}
