import { createHash, createPublicKey, type KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import { ContrastError, type EvidenceClaims, type Logger, noopLogger } from '@contrast-cc/core';
import { spkiPublicKeyBits } from './der.js';
import { encodeSignatureP1363, signDigestP384 } from './ecdsa.js';
import { meshCertificateExtensions, type RawExtension } from './extensions.js';
import { type PublicKeyInput, spkiDer, toPublicKey } from './keys.js';
import type { SeedEngine } from './seed-engine.js';
import { x509 } from './x509.js';

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
function serialFrom(bytes: Uint8Array): string {
  const s = Buffer.from(bytes.subarray(0, 16));
  s[0] = (s[0]! & 0x3f) | 0x40;
  return s.toString('hex');
}

const SIGNING = { name: 'ECDSA', hash: 'SHA-384' } as const;

/**
 * A WebCrypto provider for @peculiar/x509 whose `sign` is deterministic ECDSA P-384 / SHA-384
 * (RFC 6979) with `key`; everything else is node's WebCrypto. Used for the root certificate, so
 * the same seed (and notBefore) gives the same root certificate bytes.
 */
function deterministicSigner(key: KeyObject): Crypto {
  const subtle = new Proxy(webcrypto.subtle, {
    get(target, prop) {
      if (prop === 'sign') {
        return async (algorithm: { hash?: unknown }, _key: unknown, data: BufferSource) => {
          const hash =
            typeof algorithm.hash === 'string' ? algorithm.hash : (algorithm.hash as { name?: string })?.name;
          if (hash !== 'SHA-384')
            throw new ContrastError('internal', 'root certificates are signed with SHA-384');
          const bytes = ArrayBuffer.isView(data)
            ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
            : new Uint8Array(data);
          const digest = new Uint8Array(createHash('sha384').update(bytes).digest());
          return encodeSignatureP1363(signDigestP384(key, digest, true)).buffer;
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    subtle,
    getRandomValues: webcrypto.getRandomValues.bind(webcrypto),
    randomUUID: webcrypto.randomUUID.bind(webcrypto),
  } as unknown as Crypto;
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits, as hex. */
function keyId(spki: Uint8Array): string {
  return createHash('sha1').update(spkiPublicKeyBits(spki)).digest('hex');
}

async function signingKey(key: KeyObject): Promise<CryptoKey> {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
    throw new ContrastError('invalid-argument', 'CA keys must be P-384 EC private keys', { field: 'key' });
  }
  return (await webcrypto.subtle.importKey(
    'pkcs8',
    key.export({ type: 'pkcs8', format: 'der' }),
    { name: 'ECDSA', namedCurve: 'P-384' },
    false,
    ['sign'],
  )) as unknown as CryptoKey;
}

function toExtension(e: RawExtension): x509.Extension {
  return new x509.Extension(e.oid, e.critical ?? false, e.value as BufferSource);
}

/** An issued certificate in the forms callers need. @public */
export interface IssuedCertificate {
  der: Uint8Array;
  pem: string;
}

function issued(cert: x509.X509Certificate): IssuedCertificate {
  return { der: new Uint8Array(cert.rawData), pem: `${cert.toString('pem')}\n` };
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

const DNS_NAME =
  /^(\*\.)?([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;
const URI_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/** Sorts SANs into IP, URI and DNS entries as upstream does; throws naming the bad entry. */
export function classifySans(sans: readonly string[]): { type: 'ip' | 'url' | 'dns'; value: string }[] {
  return sans.map((san, i) => {
    if (typeof san !== 'string' || san === '') {
      throw new ContrastError('invalid-argument', 'SAN must be a non-empty string', { field: `sans[${i}]` });
    }
    if (isIP(san)) return { type: 'ip' as const, value: san };
    if (URI_SCHEME.test(san)) {
      try {
        new URL(san);
      } catch {
        throw new ContrastError('invalid-argument', `"${san}" is not a valid URI`, { field: `sans[${i}]` });
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

/**
 * The Coordinator's certificate authority for one manifest generation: the root CA (key from the
 * seed), the intermediate (mesh CA key, signed by the root) and the mesh CA (same key and name,
 * self-signed). Leaves are signed by the mesh CA key with the intermediate/mesh CA name as issuer,
 * so they verify both against the mesh CA alone and against the root via the intermediate.
 * @public
 */
export class CaHierarchy {
  readonly root: IssuedCertificate;
  readonly intermediate: IssuedCertificate;
  readonly meshCa: IssuedCertificate;
  readonly #meshKey: KeyObject;
  readonly #meshSigningKey: CryptoKey;
  readonly #meshKeyId: string;
  readonly #validity: CaValidity;
  readonly #log: Logger;

  private constructor(parts: {
    root: IssuedCertificate;
    intermediate: IssuedCertificate;
    meshCa: IssuedCertificate;
    meshKey: KeyObject;
    meshSigningKey: CryptoKey;
    validity: CaValidity;
    logger: Logger;
  }) {
    this.root = parts.root;
    this.intermediate = parts.intermediate;
    this.meshCa = parts.meshCa;
    this.#meshKey = parts.meshKey;
    this.#meshSigningKey = parts.meshSigningKey;
    this.#meshKeyId = keyId(spkiDer(createPublicKey(parts.meshKey)));
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

    const rootKey = engine.rootCaKey();
    const rootSpki = spkiDer(createPublicKey(rootKey));
    const rootSigner = await signingKey(rootKey);
    const meshKey = options.meshCaKey ?? engine.generateMeshCaKey();
    const meshSpki = spkiDer(createPublicKey(meshKey));
    const meshSigner = await signingKey(meshKey);

    const caExtensions = (spki: Uint8Array, usage: x509.KeyUsageFlags) => [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(usage, true),
      new x509.SubjectKeyIdentifierExtension(keyId(spki)),
    ];
    const caUsage = x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign;

    const rootNotBefore = options.rootNotBefore ?? notBefore;
    const root = await x509.X509CertificateGenerator.create(
      {
        // Derived from the root key, so the root certificate's identity is stable with the seed.
        serialNumber: serialFrom(
          createHash('sha256').update('contrast root serial').update(rootSpki).digest(),
        ),
        subject: `CN=${CA_NAMES.root}`,
        issuer: `CN=${CA_NAMES.root}`,
        notBefore: rootNotBefore,
        notAfter: addValidity(rootNotBefore, validity.caMs, 10),
        publicKey: rootSpki as BufferSource,
        signingKey: rootSigner,
        signingAlgorithm: SIGNING,
        extensions: caExtensions(rootSpki, caUsage),
      },
      deterministicSigner(rootKey),
    );
    const intermediate = await x509.X509CertificateGenerator.create({
      serialNumber: serialFrom(randomBytes(16)),
      subject: `CN=${CA_NAMES.intermediate}`,
      issuer: `CN=${CA_NAMES.root}`,
      notBefore,
      notAfter: caNotAfter,
      publicKey: meshSpki as BufferSource,
      signingKey: rootSigner,
      signingAlgorithm: SIGNING,
      extensions: [
        ...caExtensions(meshSpki, caUsage),
        new x509.AuthorityKeyIdentifierExtension(keyId(rootSpki)),
      ],
    });
    const meshCa = await x509.X509CertificateGenerator.create({
      serialNumber: serialFrom(randomBytes(16)),
      subject: `CN=${CA_NAMES.intermediate}`,
      issuer: `CN=${CA_NAMES.intermediate}`,
      notBefore,
      notAfter: caNotAfter,
      publicKey: meshSpki as BufferSource,
      signingKey: meshSigner,
      signingAlgorithm: SIGNING,
      extensions: caExtensions(meshSpki, caUsage),
    });
    log.info('created CA hierarchy', {
      rootSerial: root.serialNumber,
      meshCaSerial: meshCa.serialNumber,
    });
    return new CaHierarchy({
      root: issued(root),
      intermediate: issued(intermediate),
      meshCa: issued(meshCa),
      meshKey,
      meshSigningKey: meshSigner,
      validity,
      logger: log,
    });
  }

  /** The mesh CA private key (peer recovery hands it to other Coordinators). */
  meshCaKey(): KeyObject {
    return this.#meshKey;
  }

  /** Issues a mesh certificate for a workload's public key. */
  async issueMeshCertificate(request: MeshCertificateRequest): Promise<MeshCertificate> {
    const now = request.now ?? new Date();
    const publicKey = toPublicKey(request.publicKey, 'publicKey');
    const spki = spkiDer(publicKey);
    const names = classifySans(request.sans);
    const cn = names.find((n) => n.type === 'dns')?.value ?? names[0]?.value ?? 'contrast-workload';
    const notBefore = new Date(now.getTime() - (this.#validity.backdateMs ?? HOUR));
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.clientAuth,
        x509.ExtendedKeyUsage.serverAuth,
      ]),
      new x509.SubjectKeyIdentifierExtension(keyId(spki)),
      new x509.AuthorityKeyIdentifierExtension(this.#meshKeyId),
    ];
    if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
    const ours = meshCertificateExtensions({
      ...(request.workloadSecretId !== undefined ? { workloadSecretId: request.workloadSecretId } : {}),
      ...(request.claims ? { claims: request.claims } : {}),
    });
    for (const e of [...ours, ...(request.extraExtensions ?? [])]) extensions.push(toExtension(e));

    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serialFrom(randomBytes(16)),
      subject: [{ CN: [cn] }],
      issuer: `CN=${CA_NAMES.intermediate}`,
      notBefore,
      notAfter: addValidity(notBefore, this.#validity.leafMs, 1),
      publicKey: spki as BufferSource,
      signingKey: this.#meshSigningKey,
      signingAlgorithm: SIGNING,
      extensions,
    });
    this.#log.info('issued mesh certificate', {
      serial: cert.serialNumber,
      sans: request.sans,
      workloadSecretId: request.workloadSecretId,
    });
    const leaf = issued(cert);
    return { ...leaf, chainPem: leaf.pem + this.intermediate.pem };
  }
}

/** Builds the CA hierarchy for one manifest generation. @public */
export function createCaHierarchy(engine: SeedEngine, options: CreateCaOptions = {}): Promise<CaHierarchy> {
  return CaHierarchy.create(engine, options);
}
