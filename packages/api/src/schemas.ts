import type { Evidence } from '@contrast-cc/core';
import { ReferenceValuesSchema } from '@contrast-cc/manifest/browser';
import { z } from 'zod';

/** Limits of request bodies (upstream: attest 1 KiB, manifest 16 MiB). @public */
export const BODY_LIMITS = Object.freeze({
  default: 64 * 1024,
  /** `POST /v1/recover/shares`: up to 255 released shares of RSA-4096 owners, sealed. */
  recoverShares: 1024 * 1024,
  manifest: 16 * 1024 * 1024,
});

/** The API versions this package speaks. @public */
export const API_VERSIONS = ['v1'] as const;

// Node's Buffer where it exists (fast); atob/btoa in browsers. Same results.
const NodeBuffer = (
  globalThis as {
    Buffer?: {
      from(
        b: ArrayBufferLike,
        o: number,
        l: number,
      ): { toString(e: string): string; write(t: string, e: string): number };
      from(t: string, e: string): Uint8Array & { toString(e: string): string };
    };
  }
).Buffer;

// One character class repeated (no group to backtrack into: a grouped pattern overflows the
// regex stack on strings over ~4.5 MiB), plus the length rule; `=` only as 1-2 final characters.
const BASE64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Up to this length, Node checks base64 by decoding and encoding again (about 3 times faster than
 * the regex on a 6 KiB certificate chain); longer text (a manifest) goes to the regex directly, so
 * the check never holds a second copy of a large field.
 */
const ROUND_TRIP_MAX = 64 * 1024;

/** Whether `text` is standard padded base64; linear, safe on any length. @public */
export function isBase64(text: string): boolean {
  if (text.length % 4 !== 0) return false;
  // Node encodes canonical standard padded base64, which the regex accepts: equal means valid.
  // Anything else (invalid, or valid with non-zero padding bits, which the regex also accepts)
  // is decided by the regex, so both paths accept exactly the same strings.
  if (
    NodeBuffer &&
    text.length <= ROUND_TRIP_MAX &&
    NodeBuffer.from(text, 'base64').toString('base64') === text
  )
    return true;
  return BASE64_CHARS.test(text);
}

/** Standard base64 (padded) of some bytes. @public */
export const Base64Schema = z.string().refine(isBase64, 'must be standard base64');
/** A sha256 hash as 64 lower-case hex digits. @public */
export const HashHexSchema = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits');
/** A PEM certificate (one or more blocks). @public */
export const PemSchema = z.string().regex(/-----BEGIN CERTIFICATE-----/, 'must be a PEM certificate');

/** Evidence as it travels in JSON. @public */
export const EvidenceWireSchema = z.strictObject({
  kind: z.string().min(1).max(64),
  data: Base64Schema,
  extras: z.record(z.string(), Base64Schema).optional(),
});
/** @public */
export type EvidenceWire = z.infer<typeof EvidenceWireSchema>;

/** `GET /capabilities`. @public */
export const CapabilitiesResponseSchema = z.object({
  apiVersions: z.array(z.string()),
});
/** @public */
export type CapabilitiesResponse = z.infer<typeof CapabilitiesResponseSchema>;

/** The Coordinator's status (RFC 015 names). @public */
export const COORDINATOR_STATUSES = ['uninitialized', 'active', 'stale'] as const;
/** @public */
export type CoordinatorStatus = (typeof COORDINATOR_STATUSES)[number];

/** The signed latest pointer on the wire. @public */
export const LatestTransitionWireSchema = z.strictObject({
  transition_hash: HashHexSchema,
  signature: Base64Schema,
});

/**
 * `GET /v1/state`: what `POST /v1/attest` binds (status, latest transition, CAs; see
 * `coordinatorStateDigest`) plus the history: manifests oldest first and every referenced policy.
 * @public
 */
export const StateResponseSchema = z.strictObject({
  version: z.literal('v1'),
  status: z.enum(COORDINATOR_STATUSES),
  latest_transition: LatestTransitionWireSchema.optional(),
  root_ca: PemSchema.optional(),
  mesh_ca: PemSchema.optional(),
  manifests: z.array(Base64Schema),
  policies: z.array(Base64Schema),
});
/** @public */
export type StateResponse = z.infer<typeof StateResponseSchema>;

/** `POST /v1/manifest` request. @public */
export const SetManifestRequestSchema = z.strictObject({
  /** The manifest bytes, exactly as hashed into the transition. */
  manifest: Base64Schema,
  /** Every policy (initdata) document the manifest references. */
  policies: z.array(Base64Schema).max(10_000),
  /** `--atomic`: the transition this update must follow (64 zeros for the first manifest). */
  previous_transition_hash: HashHexSchema.optional(),
  /** A workload owner's signature over the new transition hash (see `ownerSignedMessage`). */
  signature: Base64Schema.optional(),
});
/** @public */
export type SetManifestRequest = z.infer<typeof SetManifestRequestSchema>;

/** Seed-share document as upstream's `seed-shares.json`. @public */
export const SeedShareDocumentSchema = z.strictObject({
  SeedShares: z.array(z.strictObject({ PublicKey: z.string(), EncryptedSeed: Base64Schema })),
  salt: Base64Schema,
  Threshold: z.number().int().min(1).optional(),
});

/** `POST /v1/manifest` response. @public */
export const SetManifestResponseSchema = z.strictObject({
  version: z.literal('v1'),
  root_ca: PemSchema,
  mesh_ca: PemSchema,
  transition_hash: HashHexSchema,
  /** Only on the first set (trust on first use). */
  seed_shares_doc: SeedShareDocumentSchema.optional(),
});
/** @public */
export type SetManifestResponse = z.infer<typeof SetManifestResponseSchema>;

/**
 * `POST /v1/recover` request. Without `nonce` the server answers 401 `challenge_required` with a
 * fresh nonce. The seed and salt travel sealed to the Coordinator's attested TLS key
 * (`sealRecoverySecret`); the seed-share owner signs `recoverSignedMessage(...)` with RSA-PSS.
 * @public
 */
export const RecoverRequestSchema = z.strictObject({
  nonce: Base64Schema.optional(),
  /** SPKI DER of the sender's ephemeral P-256 key. */
  ephemeral_public_key: Base64Schema.optional(),
  /** iv(12) || AES-256-GCM ciphertext || tag(16) of `salt(32) || seed`. */
  ciphertext: Base64Schema.optional(),
  /** Hex of the owner's PKCS#1 RSA public key, as in `SeedshareOwnerPubKeys`. */
  owner_public_key: z
    .string()
    .regex(/^[0-9a-fA-F]+$/)
    .optional(),
  /** RSA-PSS-SHA256 signature (salt length 32) over the recover message. */
  signature: Base64Schema.optional(),
  force: z.boolean().optional(),
});
/** @public */
export type RecoverRequest = z.infer<typeof RecoverRequestSchema>;

/** `POST /v1/recover` response. @public */
export const RecoverResponseSchema = z.strictObject({
  version: z.literal('v1'),
  root_ca: PemSchema,
  mesh_ca: PemSchema,
});
/** @public */
export type RecoverResponse = z.infer<typeof RecoverResponseSchema>;

/**
 * The shape both attested-key requests share (`POST /v1/mesh/cert` and `POST /v1/peer/recover`):
 * `nonce` (without it the server answers 401 `challenge_required` with a fresh nonce), a public key
 * as base64 SPKI DER under `keyField`, and `evidence` whose REPORT_DATA binds nonce, key and the
 * server's TLS key. The key means something different in each contract (the key a mesh
 * certificate is issued for; the ephemeral key secrets are sealed to), so each contract names its
 * own field; the fields' order is the wire order (`nonce`, key, `evidence`).
 */
export function attestedKeyRequestSchema<const K extends string>(keyField: K) {
  const shape = {
    nonce: Base64Schema.optional(),
    [keyField]: Base64Schema.optional(),
    evidence: EvidenceWireSchema.optional(),
  } as { nonce: ReturnType<typeof Base64Schema.optional> } & {
    [P in K]: ReturnType<typeof Base64Schema.optional>;
  } & { evidence: ReturnType<typeof EvidenceWireSchema.optional> };
  return z.strictObject(shape);
}

/**
 * `POST /v1/mesh/cert` request. Without `nonce` the server answers 401 `challenge_required`
 * (header `WWW-Authenticate: contrast-attestation-v1 nonce="<base64>"`). `public_key` is the SPKI
 * DER of the key the certificate is for; the evidence's REPORT_DATA is
 * `meshCertReportData(nonce, public_key, the Coordinator's TLS SPKI)`.
 * @public
 */
export const MeshCertRequestSchema = attestedKeyRequestSchema('public_key');
/** @public */
export type MeshCertRequest = z.infer<typeof MeshCertRequestSchema>;

/** `POST /v1/mesh/cert` response. @public */
export const MeshCertResponseSchema = z.strictObject({
  version: z.literal('v1'),
  /** leaf || intermediate, PEM. */
  cert_chain: PemSchema,
  mesh_ca: PemSchema,
  root_ca: PemSchema,
  /** Hex of the 64-byte workload secret; absent when the policy has no WorkloadSecretID. */
  workload_secret: z
    .string()
    .regex(/^[0-9a-f]+$/)
    .optional(),
});
/** @public */
export type MeshCertResponse = z.infer<typeof MeshCertResponseSchema>;

/** Standard base64 of bytes. @public */
export function toBase64(bytes: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Bytes of (already schema-checked) base64. @public */
export function fromBase64(text: string): Uint8Array {
  if (NodeBuffer) {
    // Canonical padded base64 (what the schema lets through) is decoded straight into an array of
    // its exact size: one allocation, no copy. Anything else decodes the lenient way, as before.
    if (text.length % 4 === 0) {
      const size = (text.length / 4) * 3 - (text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0);
      const out = new Uint8Array(size);
      if (NodeBuffer.from(out.buffer, 0, size).write(text, 'base64') === size) return out;
    }
    return new Uint8Array(NodeBuffer.from(text, 'base64'));
  }
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** The DER of the first certificate of a (schema-checked) PEM; later blocks are ignored. */
export function pemToDer(pem: string): Uint8Array {
  const b64 = pem
    .replace(/-----BEGIN CERTIFICATE-----/, '')
    .replace(/-----END CERTIFICATE-----[\s\S]*$/, '')
    .replace(/\s+/g, '');
  return fromBase64(b64);
}

/** Evidence as it goes on the wire (base64 data and extras). @public */
export function evidenceToWire(evidence: Evidence): EvidenceWire {
  return {
    kind: evidence.kind,
    data: toBase64(evidence.data),
    ...(evidence.extras
      ? { extras: Object.fromEntries(Object.entries(evidence.extras).map(([k, v]) => [k, toBase64(v)])) }
      : {}),
  };
}

/** Evidence from its (schema-checked) wire form. @public */
export function evidenceFromWire(wire: EvidenceWire): Evidence {
  return {
    kind: wire.kind,
    data: fromBase64(wire.data),
    ...(wire.extras
      ? { extras: Object.fromEntries(Object.entries(wire.extras).map(([k, v]) => [k, fromBase64(v)])) }
      : {}),
  };
}

/**
 * What a pod expects of its Coordinator, fixed in what the pod's own evidence covers (the
 * initializer's environment, pinned by the pod's policy, whose hash is in HOST_DATA/MRCONFIGID):
 * the Coordinator's policy hashes, the reference values its evidence must meet and, once the
 * deployment has one, its root CA (which the seed determines). `contrast generate` writes it as
 * JSON into `CONTRAST_EXPECTED_COORDINATOR`.
 * @public
 */
export const ExpectedCoordinatorSchema = z.strictObject({
  policyHashes: z.array(HashHexSchema).min(1, 'must name at least one Coordinator policy hash'),
  referenceValues: ReferenceValuesSchema,
  rootCa: PemSchema.optional(),
});
export type ExpectedCoordinator = z.infer<typeof ExpectedCoordinatorSchema>;
