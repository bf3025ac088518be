import { type ClaimValue, ContrastError, type EvidenceClaims, fromHex, toHex } from '@contrast-cc/core';
import {
  DER_BOOLEAN,
  DER_OCTET_STRING,
  DER_UTF8_STRING,
  derBoolean,
  derHeaderSize,
  derOctetString,
  derOid,
  derOidOf,
  derUnsignedInteger,
  derUtf8String,
  writeDerHeader,
} from '@contrast-cc/core/x509';
import { derReadSingle } from './der-read.js';

/**
 * Object identifiers of the mesh-certificate extensions. The WorkloadSecretID keeps upstream's
 * OID so upstream-style consumers (the transit engine) read it unchanged. The evidence's fields
 * come in upstream's layout too (`EvidenceClaims.certificateClaims`: SNP under `1.3.9901.2.1.N`,
 * TDX under `1.3.9901.2.2.N`, see {@link UPSTREAM_CLAIM_ARC}). What upstream has no extension for
 * is ours, under `1.3.9901.4`: the evidence kind, the insecure flag, and the verifier's verdict
 * details (TCB status, product, revocation); measurement, policy digest and report data are
 * repeated there so that a reader needs no kind-specific table.
 * @public
 */
export const MESH_CERT_OIDS = Object.freeze({
  /** OCTET STRING: the UTF-8 WorkloadSecretID (upstream `WorkloadSecretOID`). */
  workloadSecretId: '1.3.9901.3.1',
  /** UTF8String: the evidence kind (`snp-report`, `tdx-quote`, ...). */
  evidenceKind: '1.3.9901.4.1',
  /** OCTET STRING: the launch measurement (SNP MEASUREMENT, TDX MRTD). */
  measurement: '1.3.9901.4.2',
  /** OCTET STRING: the policy digest (SNP HOST_DATA, TDX MRCONFIGID[0:32]); absent when none. */
  policyDigest: '1.3.9901.4.3',
  /** OCTET STRING: the 64 bytes of REPORT_DATA the evidence carried. */
  reportData: '1.3.9901.4.4',
  /** BOOLEAN: true when the evidence came from an insecure (simulated) platform. */
  insecure: '1.3.9901.4.5',
  /** UTF8String: the kind-specific details as JSON with sorted keys (TCB, chip id, RTMRs, ...). */
  details: '1.3.9901.4.6',
});

/** The arc of upstream's raw-report OIDs, under which the per-field claims live. @public */
export const UPSTREAM_CLAIM_ARC = '1.3.9901.2';

/** An extension as OID + DER value. @public */
export interface RawExtension {
  oid: string;
  critical?: boolean;
  value: Uint8Array;
}

/** An array index (ECMA-262 6.1.7): such keys come first in an object, in numeric order. */
function isArrayIndex(key: string): boolean {
  const c = key.charCodeAt(0);
  if (!(c >= 0x30 && c <= 0x39) || key.length > 10) return false;
  if (key === '0') return true;
  return c !== 0x30 && /^[0-9]+$/.test(key) && Number(key) < 4294967295;
}

/** Sorts `keys[from..]` in place by UTF-16 code units (what `Array.prototype.sort` does), no copies. */
function sortFrom(keys: string[], from: number): void {
  for (let i = from + 1; i < keys.length; i++) {
    const k = keys[i]!;
    let j = i - 1;
    while (j >= from && keys[j]! > k) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = k;
  }
}

/**
 * The keys of an object in the order its sorted copy has: `Object.keys` sorted by UTF-16 code
 * units, except that array-index keys come first in numeric order (a plain object lists them so).
 */
function sortedKeys(o: object): string[] {
  const keys = Object.keys(o);
  // An ordinary object lists its array-index keys first, in numeric order: only the rest needs
  // sorting. Anything else (a proxy's own order) takes the long way.
  let indices = 0;
  while (indices < keys.length && isArrayIndex(keys[indices]!)) indices++;
  let ordinary = true;
  for (let i = 1; i < indices && ordinary; i++) ordinary = Number(keys[i - 1]) < Number(keys[i]);
  for (let i = indices; i < keys.length && ordinary; i++) ordinary = !isArrayIndex(keys[i]!);
  if (ordinary) {
    sortFrom(keys, indices);
    return keys;
  }
  const first = keys.filter(isArrayIndex).sort((a, b) => Number(a) - Number(b));
  const rest = keys.filter((k) => !isArrayIndex(k)).sort();
  return [...first, ...rest];
}

/** Keys as JSON strings, remembered (the claims of every certificate repeat the same keys). */
const quotedKeys = new Map<string, string>();
function quoted(key: string): string {
  let q = quotedKeys.get(key);
  if (q === undefined) {
    q = JSON.stringify(key);
    if (quotedKeys.size < 4096) quotedKeys.set(key, q);
  }
  return q;
}

/** One value as `canonicalJson` writes it; undefined where JSON.stringify omits the value. */
function canonicalValue(input: unknown, key: string): string | undefined {
  let v = input;
  if ((typeof v === 'object' && v !== null) || typeof v === 'function' || typeof v === 'bigint') {
    const toJSON = (v as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') v = toJSON.call(v, key);
  }
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      return `"${v.toString()}"`;
    case 'object': {
      if (v === null) return 'null';
      if (v instanceof Uint8Array) return `"${toHex(v)}"`;
      if (Array.isArray(v)) {
        let out = '[';
        for (let i = 0; i < v.length; i++) {
          if (i > 0) out += ',';
          out += canonicalValue(v[i], String(i)) ?? 'null';
        }
        return `${out}]`;
      }
      const o = v as Record<string, unknown>;
      let out = '{';
      for (const k of sortedKeys(o)) {
        const item = canonicalValue(o[k], k);
        if (item === undefined) continue;
        if (out.length > 1) out += ',';
        out += `${quoted(k)}:${item}`;
      }
      return `${out}}`;
    }
    default:
      return undefined;
  }
}

/**
 * JSON with object keys sorted at every level, so the same claims give the same bytes: exactly
 * `JSON.stringify(value, replacer)` with a replacer that writes bigints as decimal strings,
 * Uint8Arrays as hex and every other non-array object as a copy with its keys sorted (the
 * certificates' bytes depend on it; `extensions.test.ts` checks it against that definition),
 * written directly instead of through per-object copies and replacer calls.
 */
export function canonicalJson(value: unknown): string {
  return canonicalValue(value, '') as string;
}

/** The DER of our fixed OIDs, encoded once. */
const OID_DER = Object.fromEntries(
  Object.entries(MESH_CERT_OIDS).map(([name, oid]) => [name, derOidOf(oid)]),
) as Record<keyof typeof MESH_CERT_OIDS, Uint8Array>;

/**
 * Receives one extension: its OID as text and as DER, and its value: DER bytes, or a claim value
 * for the sink to encode ({@link encodeClaimValue}, or {@link claimExtensionDer} straight into
 * the extension).
 */
export type ExtensionSink = (oid: string, oidDer: Uint8Array, value: Uint8Array | ClaimValue) => void;

/**
 * Writes the extensions of a mesh certificate for a WorkloadSecretID and verified claims, in
 * certificate order, to `emit` (the CA encodes them straight into the certificate;
 * {@link meshCertificateExtensions} collects them).
 */
export function writeMeshCertificateExtensions(
  input: { workloadSecretId?: string; claims?: EvidenceClaims },
  emit: ExtensionSink,
): void {
  if (input.workloadSecretId !== undefined && input.workloadSecretId !== '') {
    emit(
      MESH_CERT_OIDS.workloadSecretId,
      OID_DER.workloadSecretId,
      derOctetString(new TextEncoder().encode(input.workloadSecretId)),
    );
  }
  const c = input.claims;
  if (!c) return;
  emit(MESH_CERT_OIDS.evidenceKind, OID_DER.evidenceKind, derUtf8String(c.kind));
  emit(
    MESH_CERT_OIDS.measurement,
    OID_DER.measurement,
    derOctetString(fromHex(c.measurement, { field: 'claims.measurement' })),
  );
  if (c.policyDigest !== undefined) {
    emit(
      MESH_CERT_OIDS.policyDigest,
      OID_DER.policyDigest,
      derOctetString(fromHex(c.policyDigest, { field: 'claims.policyDigest' })),
    );
  }
  emit(MESH_CERT_OIDS.reportData, OID_DER.reportData, derOctetString(c.reportData));
  emit(MESH_CERT_OIDS.insecure, OID_DER.insecure, derBoolean(c.insecure));
  emit(
    MESH_CERT_OIDS.details,
    OID_DER.details,
    derUtf8String(canonicalJson(c.certificateDetails ?? c.details ?? {})),
  );
  for (const claim of c.certificateClaims ?? []) {
    const oidDer = claim.oid.startsWith(`${UPSTREAM_CLAIM_ARC}.`) ? derOid(claim.oid) : undefined;
    if (!oidDer) {
      throw new ContrastError(
        'invalid-argument',
        `claim ${claim.name} has OID ${claim.oid}, outside ${UPSTREAM_CLAIM_ARC}`,
        { field: `claims.certificateClaims[${claim.name}]` },
      );
    }
    emit(claim.oid, oidDer, claim.value);
  }
}

/** The extensions a mesh certificate carries for a WorkloadSecretID and verified claims. @public */
export function meshCertificateExtensions(input: {
  workloadSecretId?: string;
  claims?: EvidenceClaims;
}): RawExtension[] {
  const out: RawExtension[] = [];
  writeMeshCertificateExtensions(input, (oid, _oidDer, value) =>
    out.push({ oid, value: value instanceof Uint8Array ? value : encodeClaimValue(value) }),
  );
  return out;
}

/** Octets of the DER of a claim value. */
function claimValueSize(value: ClaimValue): number {
  switch (value.type) {
    case 'bool':
      return 3;
    case 'bytes':
      return derHeaderSize(value.value.length) + value.value.length;
    case 'uint': {
      const v = value.value;
      if (v < 0n) {
        throw new ContrastError('invalid-argument', 'a claim integer is negative', { field: 'claims' });
      }
      if (v > 0xffffffffn) return bigUnsignedInteger(v).length;
      const n = Number(v);
      let bytes = 1;
      while (bytes < 4 && n >= 2 ** (8 * bytes)) bytes++;
      return 2 + bytes + (n >= 2 ** (8 * bytes - 1) ? 1 : 0);
    }
  }
}

/** Writes the DER of a claim value (`size` octets, from {@link claimValueSize}) into `out` at `at`. */
function writeClaimValue(out: Uint8Array, at: number, value: ClaimValue, size: number): void {
  switch (value.type) {
    case 'bool':
      out[at] = DER_BOOLEAN;
      out[at + 1] = 1;
      out[at + 2] = value.value ? 0xff : 0x00;
      return;
    case 'bytes':
      out.set(value.value, writeDerHeader(out, at, DER_OCTET_STRING, value.value.length));
      return;
    case 'uint': {
      if (value.value > 0xffffffffn) {
        out.set(bigUnsignedInteger(value.value), at);
        return;
      }
      // INTEGER, minimal: a leading 00 when the top bit of the magnitude is set.
      out[at] = 0x02;
      out[at + 1] = size - 2;
      let v = Number(value.value);
      for (let i = at + size - 1; i >= at + 2; i--, v = Math.floor(v / 256)) out[i] = v & 0xff;
      return;
    }
  }
}

function bigUnsignedInteger(v: bigint): Uint8Array {
  const hex = v.toString(16);
  return derUnsignedInteger(fromHex(hex.length % 2 ? `0${hex}` : hex));
}

/** DER of a claim value as upstream writes it (Go `asn1.Marshal` of *big.Int, bool, []byte). */
export function encodeClaimValue(value: ClaimValue): Uint8Array {
  const size = claimValueSize(value);
  const out = new Uint8Array(size);
  writeClaimValue(out, 0, value, size);
  return out;
}

/**
 * One non-critical `Extension` carrying a claim value, encoded into one buffer (the value is not
 * encoded on its own first): equal to `extensionDer(oidDer, false, encodeClaimValue(value))`.
 */
export function claimExtensionDer(oidDer: Uint8Array, value: ClaimValue): Uint8Array {
  const size = claimValueSize(value);
  const octets = derHeaderSize(size) + size;
  const content = oidDer.length + octets;
  const out = new Uint8Array(derHeaderSize(content) + content);
  let at = writeDerHeader(out, 0, 0x30, content);
  out.set(oidDer, at);
  at = writeDerHeader(out, at + oidDer.length, DER_OCTET_STRING, size);
  writeClaimValue(out, at, value, size);
  return out;
}

/**
 * Decodes a claim value from its DER (INTEGER, BOOLEAN or OCTET STRING); undefined for anything
 * else, a negative or non-minimal INTEGER, or a BOOLEAN other than 0x00/0xff.
 */
export function decodeClaimValue(der: Uint8Array): ClaimValue | undefined {
  const tag = der[0];
  if (tag === DER_BOOLEAN) {
    const v = derReadSingle(der, DER_BOOLEAN);
    if (v?.length !== 1 || (v[0] !== 0 && v[0] !== 0xff)) return undefined;
    return { type: 'bool', value: v[0] === 0xff };
  }
  if (tag === DER_OCTET_STRING) {
    const v = derReadSingle(der, DER_OCTET_STRING);
    return v ? { type: 'bytes', value: v.slice() } : undefined;
  }
  if (tag === 0x02) {
    const v = derReadSingle(der, 0x02);
    if (!v || v.length === 0 || v[0]! & 0x80) return undefined;
    if (v.length > 1 && v[0] === 0 && !(v[1]! & 0x80)) return undefined;
    return { type: 'uint', value: BigInt(`0x${toHex(v)}`) };
  }
  return undefined;
}

/** What {@link readMeshCertificateExtensions} finds in a certificate. @public */
export interface MeshCertificateClaims {
  workloadSecretId?: string;
  /** Present when the certificate carries the claim extensions. */
  claims?: EvidenceClaims;
  /**
   * The per-field claims in upstream's layout (OID under `1.3.9901.2` -> value), in certificate
   * order. Names for the OIDs: `SNP_CLAIM_FIELDS` / `TDX_CLAIM_FIELDS` of @contrast-cc/attestation.
   */
  upstreamClaims?: ReadonlyMap<string, ClaimValue>;
}

function bad(oid: string): never {
  throw new ContrastError('invalid-argument', `extension ${oid} is not encoded as expected`, {
    field: `extensions[${oid}]`,
  });
}

/**
 * Decodes our extensions from a certificate's extension list (OID -> DER value), the inverse of
 * {@link meshCertificateExtensions}.
 * @public
 */
export function decodeMeshCertificateExtensions(
  extensions: ReadonlyMap<string, Uint8Array>,
): MeshCertificateClaims {
  const out: MeshCertificateClaims = {};
  const get = (oid: string, tag: number) => {
    const v = extensions.get(oid);
    if (v === undefined) return undefined;
    return derReadSingle(v, tag) ?? bad(oid);
  };
  const upstream = new Map<string, ClaimValue>();
  for (const [oid, der] of extensions) {
    if (!oid.startsWith(`${UPSTREAM_CLAIM_ARC}.`)) continue;
    upstream.set(oid, decodeClaimValue(der) ?? bad(oid));
  }
  if (upstream.size > 0) out.upstreamClaims = upstream;
  const id = get(MESH_CERT_OIDS.workloadSecretId, DER_OCTET_STRING);
  if (id) out.workloadSecretId = new TextDecoder().decode(id);
  const kind = get(MESH_CERT_OIDS.evidenceKind, DER_UTF8_STRING);
  if (kind) {
    const measurement = get(MESH_CERT_OIDS.measurement, DER_OCTET_STRING) ?? bad(MESH_CERT_OIDS.measurement);
    const reportData = get(MESH_CERT_OIDS.reportData, DER_OCTET_STRING) ?? bad(MESH_CERT_OIDS.reportData);
    const insecure = get(MESH_CERT_OIDS.insecure, DER_BOOLEAN) ?? bad(MESH_CERT_OIDS.insecure);
    const detailsText = get(MESH_CERT_OIDS.details, DER_UTF8_STRING);
    const policyDigest = get(MESH_CERT_OIDS.policyDigest, DER_OCTET_STRING);
    if (insecure.length !== 1) bad(MESH_CERT_OIDS.insecure);
    let details: Record<string, unknown> = {};
    if (detailsText) {
      try {
        details = JSON.parse(new TextDecoder().decode(detailsText)) as Record<string, unknown>;
      } catch {
        bad(MESH_CERT_OIDS.details);
      }
    }
    out.claims = {
      kind: new TextDecoder().decode(kind),
      measurement: toHex(measurement),
      reportData: reportData.slice(),
      insecure: insecure[0] !== 0,
      details,
      ...(policyDigest ? { policyDigest: toHex(policyDigest) } : {}),
    };
  }
  return out;
}
