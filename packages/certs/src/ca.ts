import {
  createHash,
  createPublicKey,
  verify as cryptoVerify,
  type KeyObject,
  randomBytes,
  randomFillSync,
  sign,
  X509Certificate,
} from 'node:crypto';
import { isIP } from 'node:net';
import {
  bytesEqual,
  ContrastError,
  type EvidenceClaims,
  type Logger,
  noopLogger,
  readDerTlv,
  toHex,
} from '@contrast-cc/core';
import {
  authorityKeyIdentifierExtension,
  basicConstraintsExtension,
  certificatePem,
  commonNameDer,
  derOid,
  extensionDer,
  KEY_USAGE,
  keyUsageExtension,
  subjectKeyIdentifierExtension,
} from '@contrast-cc/core/x509';
import {
  certificateDer,
  certificateKeySpki,
  ipAddressBytes,
  keyIdentifier,
  type SanEntry,
  subjectAltNameExtension,
  TLS_EXT_KEY_USAGE,
  tbsCertificate,
} from './certificate.js';
import { encodeSignatureDer, signDigestP384 } from './ecdsa.js';
import { claimExtensionDer, type RawExtension, writeMeshCertificateExtensions } from './extensions.js';
import { type PublicKeyInput, scrubCause, spkiDer } from './keys.js';
import type { SeedEngine } from './seed-engine.js';

/** Subject common names, as upstream. @public */
export const CA_NAMES = Object.freeze({
  root: 'system:coordinator:root',
  /** Shared by the intermediate (root-signed) and the mesh CA (self-signed): same key, same name. */
  intermediate: 'system:coordinator:intermediate',
});

/** Validity settings; durations in milliseconds. @public */
export interface CaValidity {
  /** How far notBefore lies before `now` (default 1 hour, as upstream). */
  backdateMs?: number;
  /** Lifetime of the root, intermediate and mesh CA certificates (default 10 calendar years). */
  caMs?: number;
  /** Lifetime of a mesh (leaf) certificate (default 1 calendar year). */
  leafMs?: number;
}

const HOUR = 3_600_000;

function addValidity(from: Date, ms: number | undefined, years: number): Date {
  if (ms !== undefined) return new Date(from.getTime() + ms);
  const d = new Date(from.getTime());
  d.setUTCFullYear(d.getUTCFullYear() + years);
  return d;
}

/** A positive 16-byte serial with the top byte in 0x40..0x7f, so its DER is exactly 16 bytes. */
function serialFrom(bytes: Uint8Array): Uint8Array {
  const s = Uint8Array.from(bytes.subarray(0, 16));
  s[0] = (s[0]! & 0x3f) | 0x40;
  return s;
}

/**
 * ECDSA P-384 / SHA-384 with node's native signer, on the calling thread; DER ECDSA-Sig-Value.
 * Not on the libuv thread pool: handing each signature to a pool thread and back (a job, a wake-up,
 * a callback into JS with its own microtask checkpoint) cost the Coordinator about 5-8% more CPU per
 * certificate under 200 concurrent initializers, and gave less throughput, not more, on a 2-core
 * machine where the TLS handshakes already keep both cores busy (`pnpm --silent bench
 * coordinator-load`: paired ratio 0.72-0.78 on the pool, 0.79 here; wall clock 0.82-0.87, 0.98).
 */
function signSha384(key: KeyObject, data: Uint8Array): Uint8Array {
  const signature = sign('sha384', data, { key, dsaEncoding: 'der' });
  return new Uint8Array(signature.buffer, signature.byteOffset, signature.byteLength);
}

function caKey(key: KeyObject): KeyObject {
  if (
    key?.type !== 'private' ||
    key.asymmetricKeyType !== 'ec' ||
    key.asymmetricKeyDetails?.namedCurve !== 'secp384r1'
  ) {
    throw new ContrastError('invalid-argument', 'CA keys must be P-384 EC private keys', { field: 'key' });
  }
  return key;
}

/** An issued certificate in the forms callers need. @public */
export interface IssuedCertificate {
  der: Uint8Array;
  pem: string;
}

function issued(der: Uint8Array): IssuedCertificate {
  return { der, pem: certificatePem(der) };
}

/** Input of {@link CaHierarchy.issueMeshCertificate}. @public */
export interface MeshCertificateRequest {
  /** The workload's public key (its TLS key). */
  publicKey: PublicKeyInput;
  /** SANs from the manifest: IP addresses, URIs (with a scheme) and DNS names. */
  sans: readonly string[];
  /** The policy entry's WorkloadSecretID, written as extension 1.3.9901.3.1. */
  workloadSecretId?: string;
  /** The verified attestation claims of the workload, written as the claim extensions. */
  claims?: EvidenceClaims;
  /** More extensions (e.g. upstream-style per-field report extensions). */
  extraExtensions?: readonly RawExtension[];
  /** Issuance time; defaults to now. */
  now?: Date;
}

/** A mesh certificate with the chain a workload presents. @public */
export interface MeshCertificate extends IssuedCertificate {
  /** `leaf || intermediate` as PEM, the chain a workload presents (upstream `CertChain`). */
  chainPem: string;
}

// A DNS name, a wildcard name (`*.example.com`), or the bare `*` upstream manifests use as a
// catch-all SAN (`"SANs": ["web", "*"]`).
const DNS_NAME =
  /^\*$|^(\*\.)?([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;
const URI_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

const isAscii = (text: string) => {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
};

/**
 * Sorts SANs into IP, URI and DNS entries as upstream does; throws naming the bad entry. A URI must
 * be ASCII (IA5String, RFC 5280 4.2.1.6) and an IP address cannot carry an IPv6 zone index.
 */
export function classifySans(sans: readonly string[]): SanEntry[] {
  return sans.map((san, i) => {
    if (typeof san !== 'string' || san === '') {
      throw new ContrastError('invalid-argument', 'SAN must be a non-empty string', { field: `sans[${i}]` });
    }
    if (isIP(san)) {
      if (!ipAddressBytes(san)) {
        throw new ContrastError('invalid-argument', `"${san}": an IP SAN cannot carry a zone index`, {
          field: `sans[${i}]`,
        });
      }
      return { type: 'ip' as const, value: san };
    }
    if (URI_SCHEME.test(san)) {
      try {
        new URL(san);
      } catch {
        throw new ContrastError('invalid-argument', `"${san}" is not a valid URI`, { field: `sans[${i}]` });
      }
      if (!isAscii(san)) {
        throw new ContrastError('invalid-argument', `"${san}": a URI SAN must be ASCII (percent-encode it)`, {
          field: `sans[${i}]`,
        });
      }
      return { type: 'url' as const, value: san };
    }
    if (san.length > 253 || !DNS_NAME.test(san)) {
      throw new ContrastError('invalid-argument', `"${san}" is neither an IP address, a URI nor a DNS name`, {
        field: `sans[${i}]`,
      });
    }
    return { type: 'dns' as const, value: san };
  });
}

/** Options of {@link createCaHierarchy}. @public */
export interface CreateCaOptions {
  /** Issuance time of the CA certificates; defaults to now. */
  now?: Date;
  /**
   * notBefore of the root certificate. Pin it (e.g. to the time of the first manifest) to make the
   * root certificate's to-be-signed part byte-stable across restarts; defaults to now - backdate.
   */
  rootNotBefore?: Date;
  /** The mesh CA key; a fresh random P-384 key when absent (peer recovery passes the shared one). */
  meshCaKey?: KeyObject;
  validity?: CaValidity;
  logger?: Logger;
}

const ROOT_NAME = commonNameDer(CA_NAMES.root);
const INTERMEDIATE_NAME = commonNameDer(CA_NAMES.intermediate);
const CA_KEY_USAGE = keyUsageExtension([KEY_USAGE.digitalSignature, KEY_USAGE.keyCertSign]);
const CA_BASIC_CONSTRAINTS = basicConstraintsExtension(true);
/** BasicConstraints CA:false, KeyUsage digitalSignature (both critical), EKU clientAuth+serverAuth. */
const LEAF_FIXED_EXTENSIONS = [
  basicConstraintsExtension(false),
  keyUsageExtension([KEY_USAGE.digitalSignature]),
  TLS_EXT_KEY_USAGE,
] as const;
/** Extensions a caller cannot add again through `extraExtensions` (RFC 5280: one instance each). */
const LEAF_EXTENSION_OIDS = new Set([
  '2.5.29.19',
  '2.5.29.15',
  '2.5.29.37',
  '2.5.29.14',
  '2.5.29.35',
  '2.5.29.17',
]);

/** A leaf's subject name and SubjectAltName extension (absent without SANs), as DER. */
interface LeafNames {
  subject: Uint8Array;
  subjectAltName?: Uint8Array;
}
/** SAN lists whose names a CA remembers; a manifest has one per policy. */
const LEAF_NAMES_LIMIT = 1024;

/**
 * 16 random bytes for a serial, from a pool refilled 4 KiB at a time (one call into OpenSSL's
 * CSPRNG per 256 certificates instead of one each). Every byte is used once.
 */
const serialPool = { bytes: new Uint8Array(4096), at: 4096 };
function randomSerialBytes(): Uint8Array {
  if (serialPool.at + 16 > serialPool.bytes.length) {
    randomFillSync(serialPool.bytes);
    serialPool.at = 0;
  }
  const out = serialPool.bytes.slice(serialPool.at, serialPool.at + 16);
  serialPool.bytes.fill(0, serialPool.at, serialPool.at + 16);
  serialPool.at += 16;
  return out;
}

/** What the CA certificates are built from: the two keys, their identifiers and the root serial. */
interface CaKeys {
  rootSpki: Uint8Array;
  rootKeyId: Uint8Array;
  rootSerial: Uint8Array;
  meshSpki: Uint8Array;
  meshKeyId: Uint8Array;
}

function caKeys(rootKey: KeyObject, meshKey: KeyObject): CaKeys {
  const rootSpki = spkiDer(createPublicKey(rootKey));
  const meshSpki = spkiDer(createPublicKey(meshKey));
  return {
    rootSpki,
    rootKeyId: keyIdentifier(rootSpki),
    // Derived from the root key, so the root certificate's identity is stable with the seed.
    rootSerial: serialFrom(createHash('sha256').update('contrast root serial').update(rootSpki).digest()),
    meshSpki,
    meshKeyId: keyIdentifier(meshSpki),
  };
}

const caExtensions = (keyId: Uint8Array) => [
  CA_BASIC_CONSTRAINTS,
  CA_KEY_USAGE,
  subjectKeyIdentifierExtension(keyId),
];

/** The root certificate: deterministic ECDSA (RFC 6979), so the seed and notBefore fix its bytes. */
function rootCertificate(rootKey: KeyObject, k: CaKeys, notBefore: Date, validity: CaValidity): Uint8Array {
  const tbs = tbsCertificate({
    serial: k.rootSerial,
    issuer: ROOT_NAME,
    notBefore,
    notAfter: addValidity(notBefore, validity.caMs, 10),
    subject: ROOT_NAME,
    spki: k.rootSpki,
    extensions: caExtensions(k.rootKeyId),
  });
  const digest = new Uint8Array(createHash('sha384').update(tbs).digest());
  return certificateDer(tbs, encodeSignatureDer(signDigestP384(rootKey, digest, true)));
}

/** The intermediate's to-be-signed part: the mesh CA key and name, issued by the root. */
function intermediateTbsOf(k: CaKeys, serial: Uint8Array, notBefore: Date, notAfter: Date): Uint8Array {
  return tbsCertificate({
    serial,
    issuer: ROOT_NAME,
    notBefore,
    notAfter,
    subject: INTERMEDIATE_NAME,
    spki: k.meshSpki,
    extensions: [...caExtensions(k.meshKeyId), authorityKeyIdentifierExtension(k.rootKeyId)],
  });
}

/** The mesh CA's to-be-signed part: the same key and name as the intermediate, self-issued. */
function meshCaTbsOf(k: CaKeys, serial: Uint8Array, notBefore: Date, notAfter: Date): Uint8Array {
  return tbsCertificate({
    serial,
    issuer: INTERMEDIATE_NAME,
    notBefore,
    notAfter,
    subject: INTERMEDIATE_NAME,
    spki: k.meshSpki,
    extensions: caExtensions(k.meshKeyId),
  });
}

/** A CA certificate given to {@link restoreCaHierarchy}, split into the parts the checks need. */
interface CaCertificateInput {
  field: string;
  der: Uint8Array;
  x509: X509Certificate;
  /** Serial magnitude (no sign byte). */
  serial: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  tbs: Uint8Array;
  signature: Uint8Array;
}

function readCaCertificate(input: Uint8Array | string, field: string): CaCertificateInput {
  const bad = (cause?: unknown): never => {
    throw new ContrastError('invalid-argument', 'not a DER or PEM X.509 certificate', {
      field,
      ...(cause ? { cause: scrubCause(cause) } : {}),
    });
  };
  let x: X509Certificate;
  try {
    x = new X509Certificate(typeof input === 'string' ? input : Buffer.from(input));
  } catch (cause) {
    return bad(cause);
  }
  const der = new Uint8Array(x.raw);
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
  const outer = readDerTlv(der, 0, field);
  const tbs = readDerTlv(der, outer.contentStart, field, outer.end);
  const alg = readDerTlv(der, tbs.end, field, outer.end);
  const sig = readDerTlv(der, alg.end, field, outer.end);
  if (outer.tag !== 0x30 || outer.end !== der.length || sig.tag !== 0x03 || sig.end !== outer.end) bad();
  if (der[sig.contentStart] !== 0) bad();
  // version [0], then serialNumber INTEGER
  const version = readDerTlv(der, tbs.contentStart, field, tbs.end);
  const serialTlv = readDerTlv(der, version.end, field, tbs.end);
  if (serialTlv.tag !== 0x02) bad();
  let serial = der.subarray(serialTlv.contentStart, serialTlv.end);
  if (serial.length > 1 && serial[0] === 0) serial = serial.subarray(1);
  return {
    field,
    der,
    x509: x,
    serial: Uint8Array.from(serial),
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    tbs: der.subarray(tbs.start, tbs.end),
    signature: der.slice(sig.contentStart + 1, sig.end),
  };
}

function refused(field: string, message: string): ContrastError {
  return new ContrastError('permission-denied', message, { field });
}

function checkValidity(c: CaCertificateInput, now: Date): void {
  if (!(c.notBefore.getTime() <= now.getTime() && now.getTime() <= c.notAfter.getTime())) {
    throw refused(
      c.field,
      `the certificate is not valid now (${c.notBefore.toISOString()} to ${c.notAfter.toISOString()})`,
    );
  }
}

/**
 * Checks a CA certificate we issued before: its key is the mesh CA key, it is signed by
 * `signer`, its to-be-signed part is exactly what the hierarchy issues for its serial and
 * validity (names, extensions, algorithm: re-encoded by the same code as {@link CaHierarchy.create}),
 * and it is valid at `now`.
 */
function checkIssued(
  c: CaCertificateInput,
  k: CaKeys,
  signer: KeyObject,
  signerName: string,
  profile: (k: CaKeys, serial: Uint8Array, notBefore: Date, notAfter: Date) => Uint8Array,
  now: Date,
): void {
  const field = c.field;
  if (!bytesEqual(spkiDer(c.x509.publicKey), k.meshSpki)) {
    throw refused(field, 'the certificate is for another key than the mesh CA key');
  }
  let signed = false;
  try {
    signed = cryptoVerify('sha384', c.tbs, { key: signer, dsaEncoding: 'der' }, c.signature);
  } catch {
    signed = false;
  }
  if (!signed) throw refused(field, `the certificate is not signed by ${signerName}`);
  const expectedTbs = profile(k, c.serial, c.notBefore, c.notAfter);
  if (!bytesEqual(certificateDer(expectedTbs, c.signature), c.der)) {
    throw refused(
      field,
      'the certificate is not one the CA hierarchy issues (names, extensions or encoding differ)',
    );
  }
  checkValidity(c, now);
}

/**
 * The Coordinator's certificate authority for one manifest generation: the root CA (key from the
 * seed), the intermediate (mesh CA key, signed by the root) and the mesh CA (same key and name,
 * self-signed). Leaves are signed by the mesh CA key with the intermediate/mesh CA name as issuer,
 * so they verify both against the mesh CA alone and against the root via the intermediate.
 *
 * Certificates are encoded directly as DER (src/certificate.ts) and signed with node's native
 * ECDSA; everything constant per CA (issuer name, fixed extensions, authority key identifier) is
 * encoded once here.
 * @public
 */
export class CaHierarchy {
  readonly root: IssuedCertificate;
  readonly intermediate: IssuedCertificate;
  readonly meshCa: IssuedCertificate;
  readonly #meshKey: KeyObject;
  readonly #authorityKeyId: Uint8Array;
  readonly #validity: CaValidity;
  readonly #log: Logger;
  readonly #names = new Map<string, LeafNames>();

  private constructor(parts: {
    root: IssuedCertificate;
    intermediate: IssuedCertificate;
    meshCa: IssuedCertificate;
    meshKey: KeyObject;
    meshKeyId: Uint8Array;
    validity: CaValidity;
    logger: Logger;
  }) {
    this.root = parts.root;
    this.intermediate = parts.intermediate;
    this.meshCa = parts.meshCa;
    this.#meshKey = parts.meshKey;
    this.#authorityKeyId = authorityKeyIdentifierExtension(parts.meshKeyId);
    this.#validity = parts.validity;
    this.#log = parts.logger;
  }

  /** @internal Use {@link createCaHierarchy}. */
  static async create(engine: SeedEngine, options: CreateCaOptions = {}): Promise<CaHierarchy> {
    const now = options.now ?? new Date();
    const validity = options.validity ?? {};
    const log = (options.logger ?? noopLogger).child({ component: 'ca' });
    const backdate = validity.backdateMs ?? HOUR;
    const notBefore = new Date(now.getTime() - backdate);
    const caNotAfter = addValidity(notBefore, validity.caMs, 10);

    const rootKey = caKey(engine.rootCaKey());
    const meshKey = caKey(options.meshCaKey ?? engine.generateMeshCaKey());
    const keys = caKeys(rootKey, meshKey);
    const root = rootCertificate(rootKey, keys, options.rootNotBefore ?? notBefore, validity);
    const intermediateTbs = intermediateTbsOf(keys, serialFrom(randomBytes(16)), notBefore, caNotAfter);
    const meshSerial = serialFrom(randomBytes(16));
    const meshTbs = meshCaTbsOf(keys, meshSerial, notBefore, caNotAfter);
    const intermediateSig = signSha384(rootKey, intermediateTbs);
    const meshSig = signSha384(meshKey, meshTbs);
    log.info('created CA hierarchy', { rootSerial: toHex(keys.rootSerial), meshCaSerial: toHex(meshSerial) });
    return new CaHierarchy({
      root: issued(root),
      intermediate: issued(certificateDer(intermediateTbs, intermediateSig)),
      meshCa: issued(certificateDer(meshTbs, meshSig)),
      meshKey,
      meshKeyId: keys.meshKeyId,
      validity,
      logger: log,
    });
  }

  /** @internal Use {@link restoreCaHierarchy}. */
  static async restore(engine: SeedEngine, input: RestoreCaInput): Promise<CaHierarchy> {
    const now = input.now ?? new Date();
    const validity = input.validity ?? {};
    const log = (input.logger ?? noopLogger).child({ component: 'ca' });
    const rootKey = caKey(engine.rootCaKey());
    let meshKey: KeyObject;
    try {
      meshKey = caKey(input.meshCaKey);
    } catch {
      throw new ContrastError('invalid-argument', 'the mesh CA key must be a P-384 EC private key', {
        field: 'meshCaKey',
      });
    }
    const keys = caKeys(rootKey, meshKey);
    const rootIn = readCaCertificate(input.root, 'root');
    const meshIn = readCaCertificate(input.meshCa, 'meshCa');
    const interIn =
      input.intermediate === undefined ? undefined : readCaCertificate(input.intermediate, 'intermediate');

    // The root is deterministic: the seed and its notBefore must reproduce it byte for byte.
    const root = rootCertificate(rootKey, keys, rootIn.notBefore, validity);
    if (!bytesEqual(root, rootIn.der)) {
      throw refused('root', 'the seed does not reproduce this root CA certificate');
    }
    checkValidity(rootIn, now);
    const rootPublic = createPublicKey(rootKey);
    const meshPublic = createPublicKey(meshKey);
    checkIssued(meshIn, keys, meshPublic, 'the mesh CA key (self-signed)', meshCaTbsOf, now);
    let intermediate: Uint8Array;
    if (interIn) {
      checkIssued(interIn, keys, rootPublic, 'the root CA', intermediateTbsOf, now);
      intermediate = interIn.der;
    } else {
      // No intermediate given (e.g. a peer of an older version; the caller says so in its own
      // log): a new one for the same key and validity as the mesh CA, signed by the root.
      const tbs = intermediateTbsOf(keys, serialFrom(randomBytes(16)), meshIn.notBefore, meshIn.notAfter);
      intermediate = certificateDer(tbs, signSha384(rootKey, tbs));
    }
    log.info('restored CA hierarchy', {
      rootSerial: toHex(keys.rootSerial),
      meshCaSerial: toHex(meshIn.serial),
      intermediateRestored: interIn !== undefined,
    });
    return new CaHierarchy({
      root: issued(root),
      intermediate: issued(intermediate),
      meshCa: issued(meshIn.der),
      meshKey,
      meshKeyId: keys.meshKeyId,
      validity,
      logger: log,
    });
  }

  /** The mesh CA private key (peer recovery hands it to other Coordinators). */
  meshCaKey(): KeyObject {
    return this.#meshKey;
  }

  /**
   * The subject name and SubjectAltName extension of a SAN list, encoded once per list (the
   * policies of a manifest each have one) and remembered by its exact text. Bad SANs throw every
   * time (nothing is remembered for them).
   */
  #leafNames(sans: readonly string[]): LeafNames {
    const key = JSON.stringify(sans);
    const known = this.#names.get(key);
    if (known) return known;
    const names = classifySans(sans);
    const cn = names.find((n) => n.type === 'dns')?.value ?? names[0]?.value ?? 'contrast-workload';
    const made: LeafNames = {
      subject: commonNameDer(cn),
      ...(names.length > 0 ? { subjectAltName: subjectAltNameExtension(names) } : {}),
    };
    if (this.#names.size >= LEAF_NAMES_LIMIT) this.#names.clear();
    this.#names.set(key, made);
    return made;
  }

  /** Issues a mesh certificate for a workload's public key. */
  async issueMeshCertificate(request: MeshCertificateRequest): Promise<MeshCertificate> {
    const { tbs, serial } = this.#leafTbs(request);
    const der = certificateDer(tbs, signSha384(this.#meshKey, tbs));
    this.#log.info('issued mesh certificate', {
      serial: toHex(serial),
      sans: request.sans,
      workloadSecretId: request.workloadSecretId,
    });
    const leaf = issued(der);
    return { ...leaf, chainPem: leaf.pem + this.intermediate.pem };
  }

  /**
   * The to-be-signed part of a leaf. Synchronous, as is the signature after it: its pieces (some
   * 60 encoded extensions) are garbage once the TBS exists, not held by a suspended async frame.
   */
  #leafTbs(request: MeshCertificateRequest): { tbs: Uint8Array; serial: Uint8Array } {
    const now = request.now ?? new Date();
    const spki = certificateKeySpki(request.publicKey, 'publicKey');
    const names = this.#leafNames(request.sans);
    const notBefore = new Date(now.getTime() - (this.#validity.backdateMs ?? HOUR));
    const extensions: Uint8Array[] = [
      ...LEAF_FIXED_EXTENSIONS,
      subjectKeyIdentifierExtension(keyIdentifier(spki)),
      this.#authorityKeyId,
    ];
    if (names.subjectAltName) extensions.push(names.subjectAltName);
    const extra = request.extraExtensions ?? [];
    // Only caller-supplied extensions need the duplicate check.
    const seen = extra.length > 0 ? new Set(LEAF_EXTENSION_OIDS) : undefined;
    writeMeshCertificateExtensions(
      {
        ...(request.workloadSecretId !== undefined ? { workloadSecretId: request.workloadSecretId } : {}),
        ...(request.claims ? { claims: request.claims } : {}),
      },
      (oid, oidDer, value) => {
        seen?.add(oid);
        extensions.push(
          value instanceof Uint8Array ? extensionDer(oidDer, false, value) : claimExtensionDer(oidDer, value),
        );
      },
    );
    for (const [i, e] of extra.entries()) extensions.push(extraExtension(e, i, seen!));
    const serial = serialFrom(randomSerialBytes());
    const tbs = tbsCertificate({
      serial,
      issuer: INTERMEDIATE_NAME,
      notBefore,
      notAfter: addValidity(notBefore, this.#validity.leafMs, 1),
      subject: names.subject,
      spki,
      extensions,
    });
    return { tbs, serial };
  }
}

/** One caller-supplied extension, checked: a valid OID, bytes, not a duplicate. */
function extraExtension(e: RawExtension, i: number, seen: Set<string>): Uint8Array {
  const oid = typeof e?.oid === 'string' ? derOid(e.oid) : undefined;
  if (!oid) {
    throw new ContrastError('invalid-argument', 'not a dotted object identifier', {
      field: `extraExtensions[${i}].oid`,
    });
  }
  if (seen.has(e.oid)) {
    throw new ContrastError('invalid-argument', `extension ${e.oid} is already in the certificate`, {
      field: `extraExtensions[${i}].oid`,
    });
  }
  if (!(e.value instanceof Uint8Array)) {
    throw new ContrastError('invalid-argument', 'the extension value must be DER bytes', {
      field: `extraExtensions[${i}].value`,
    });
  }
  seen.add(e.oid);
  return extensionDer(oid, e.critical === true, e.value);
}

/** Input of {@link restoreCaHierarchy}: certificates an earlier {@link createCaHierarchy} issued. @public */
export interface RestoreCaInput {
  /** The root CA certificate (PEM or DER): the seed must reproduce it byte for byte. */
  root: string | Uint8Array;
  /**
   * The intermediate (PEM or DER): mesh CA key and name, signed by the root. Absent: a new one is
   * issued for the mesh CA key with the mesh CA's validity (logged as a warning).
   */
  intermediate?: string | Uint8Array;
  /** The mesh CA certificate (PEM or DER): self-signed by the mesh CA key. */
  meshCa: string | Uint8Array;
  /** The mesh CA private key (P-384). */
  meshCaKey: KeyObject;
  /** The time the certificates must be valid at; defaults to now. */
  now?: Date;
  /** Validity settings of the hierarchy (the root's lifetime, and for the leaves it issues). */
  validity?: CaValidity;
  logger?: Logger;
}

/**
 * Rebuilds a CA hierarchy from certificates it issued earlier (e.g. on another Coordinator
 * replica) instead of issuing new ones, so the certificates stay byte-identical. Refuses
 * (`permission-denied`, `field` naming the certificate) unless: the seed reproduces the root
 * certificate byte for byte; the intermediate is signed by that root and the mesh CA by the mesh
 * CA key; both are for the mesh CA key; both are exactly what {@link createCaHierarchy} issues
 * (names, extensions, encoding) for their serial and validity; all three are valid at `now`.
 * A certificate that does not parse is `invalid-argument`. Never logs keys.
 * @public
 */
export function restoreCaHierarchy(engine: SeedEngine, input: RestoreCaInput): Promise<CaHierarchy> {
  return CaHierarchy.restore(engine, input);
}

/** Builds the CA hierarchy for one manifest generation. @public */
export function createCaHierarchy(engine: SeedEngine, options: CreateCaOptions = {}): Promise<CaHierarchy> {
  return CaHierarchy.create(engine, options);
}
