// What `contrast verify` proves about a Coordinator, as one function over what was received:
// the nonce the verifier chose, the Coordinator's TLS key (SPKI) and the attest answer (evidence +
// state + history). The CLI, the vendor SDK call (`verifyCoordinator`), offline evidence bundles
// and the browser page all run this same code. Browser-safe: no node: imports (WebCrypto digests).

import { ATLS_LABELS, reportDataFor } from '@contrast-cc/atls/binding';
import {
  bytesEqual,
  type Evidence,
  type EvidenceClaims,
  fromHex,
  toHex,
  type Verifier,
  type VerifyFailure,
  verifyWithAny,
} from '@contrast-cc/core';
import { z } from 'zod';
import {
  EvidenceWireSchema,
  evidenceFromWire,
  fromBase64,
  pemToDer,
  StateResponseSchema,
} from './schemas.js';
import { coordinatorStateDigestAsync, sha256Web } from './state.js';

/** What a verifier received from a Coordinator in one attestation. @public */
export interface CoordinatorAttestation {
  /** The fresh nonce the verifier sent (32 bytes). */
  nonce: Uint8Array;
  /**
   * DER SPKI of the Coordinator's TLS key: as the TLS handshake showed it (Node), or as the
   * answer's `tls_spki` states it (a browser cannot see the handshake).
   */
  tlsSpki: Uint8Array;
  /** The `POST /v1/attest` answer, JSON as received. */
  response: unknown;
}

/** What the Coordinator must meet. @public */
export interface CoordinatorVerifyExpectations {
  /** Verifiers from the expected manifest's reference values (any one may accept). */
  verifiers: readonly Verifier[];
  /** The manifest the Coordinator must run, exactly these bytes (CRLF read as LF). */
  manifest?: Uint8Array;
  /** Or: the hex sha256 of the manifest it must run. */
  manifestHash?: string;
  /** Policy hashes (hex) of the manifest's `Role: coordinator` entries; absent = not checked. */
  coordinatorPolicyHashes?: readonly string[];
  /** Accept simulated (insecure) platforms. Default false. */
  allowInsecure?: boolean;
  /** Time for certificate and collateral validity (an old bundle: when it was saved). */
  now?: Date;
}

/** Why a Coordinator was not accepted. @public */
export const COORDINATOR_FAILURE_CODES = [
  /** The answer is not a well-formed v1 attest answer. */
  'malformed',
  /** The evidence failed verification (see `evidence` for the verifier's reason). */
  'evidence-rejected',
  /** The evidence comes from a simulated platform and insecure platforms were not allowed. */
  'insecure-platform',
  /** The Coordinator's policy hash is not a coordinator policy of the manifest. */
  'policy-mismatch',
  /** The state fields do not hash to the state digest the evidence binds. */
  'state-mismatch',
  /** The manifest history does not chain to the bound latest transition, or a policy is foreign. */
  'history-mismatch',
  /** The Coordinator is not active (uninitialized or in recovery). */
  'not-active',
  /** The Coordinator runs another manifest than the expected one. */
  'manifest-mismatch',
] as const;
/** @public */
export type CoordinatorFailureCode = (typeof COORDINATOR_FAILURE_CODES)[number];

/** @public */
export interface CoordinatorFailure {
  code: CoordinatorFailureCode;
  message: string;
  /** The part of the answer (or bundle) at fault, e.g. `evidence`, `manifests[2]`, `stateDigest`. */
  field?: string;
  /** The evidence verifier's reason, for `evidence-rejected`. */
  evidence?: VerifyFailure;
}

/** What a verified Coordinator runs. @public */
export interface CoordinatorReport {
  claims: EvidenceClaims;
  /** True for simulated platforms. */
  insecure: boolean;
  status: 'active';
  /** Hex of the latest transition (bound by the evidence). */
  transitionHash: string;
  /** The Coordinator's signature of its latest pointer, base64 (as served; not checked here). */
  latestSignature: string;
  /** Hex sha256 of the active manifest. */
  manifestHash: string;
  /** The manifest history, oldest first (chained to `transitionHash`). */
  manifests: { hash: string; bytes: Uint8Array }[];
  /** Every policy document of the history, by sha256. */
  policies: { hash: string; bytes: Uint8Array }[];
  /** The root CA clients trust (PEM) and the SHA-256 fingerprint of its DER (hex). */
  rootCaPem: string;
  rootCaFingerprint: string;
  meshCaPem: string;
}

/** @public */
export type CoordinatorVerdict =
  | { ok: true; report: CoordinatorReport }
  | {
      ok: false;
      reason: CoordinatorFailure;
      claims?: EvidenceClaims;
      /** For `manifest-mismatch` only: everything else verified, this is what the Coordinator runs. */
      report?: CoordinatorReport;
    };

/** The attest answer: evidence, the state digest it binds and the state snapshot. */
const AttestAnswerSchema = z.object({
  version: z.literal('v1'),
  evidence: EvidenceWireSchema,
  stateDigest: z.string().optional(),
  tls_spki: z.string().optional(),
  status: StateResponseSchema.shape.status,
  latest_transition: StateResponseSchema.shape.latest_transition,
  root_ca: StateResponseSchema.shape.root_ca,
  mesh_ca: StateResponseSchema.shape.mesh_ca,
  manifests: StateResponseSchema.shape.manifests,
  policies: StateResponseSchema.shape.policies,
});

function fail(code: CoordinatorFailureCode, message: string, field?: string): CoordinatorVerdict {
  return { ok: false, reason: field === undefined ? { code, message } : { code, message, field } };
}

/** `bytes` with every CR LF pair as LF (the same bytes when there is none). */
export function withLfLineEndings(bytes: Uint8Array): Uint8Array {
  if (!bytes.includes(0x0d)) return bytes;
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x0d && bytes[i + 1] === 0x0a) continue;
    out.push(bytes[i]!);
  }
  return Uint8Array.from(out);
}

/**
 * The hex policy hashes of a manifest's `Role: coordinator` entries (what the Coordinator's own
 * evidence must bind). Throws `SyntaxError` for bytes that are not JSON.
 * @public
 */
export function coordinatorPolicyHashesOf(manifest: Uint8Array): string[] {
  const parsed = JSON.parse(new TextDecoder().decode(manifest)) as {
    Policies?: Record<string, { Role?: string }>;
  };
  return Object.entries(parsed.Policies ?? {})
    .filter(([, entry]) => entry?.Role === 'coordinator')
    .map(([hash]) => hash.toLowerCase());
}

/**
 * Verifies one Coordinator attestation completely, in this order: the answer's shape; the state
 * fields against the state digest; the evidence against REPORT_DATA = reportDataFor(label,
 * nonce, TLS SPKI, state digest) and the verifiers; insecure platforms; the Coordinator's policy
 * hash; status active; the manifest history chained to the bound latest transition
 * (t = sha256(sha256(manifest) || previous t), from 32 zero bytes) and every policy referenced by
 * a manifest of it; the expected manifest. Never throws for a bad answer: returns the first
 * failure with a code and the field at fault.
 * @public
 */
export async function verifyCoordinatorAttestation(
  attestation: CoordinatorAttestation,
  expected: CoordinatorVerifyExpectations,
): Promise<CoordinatorVerdict> {
  const parsed = AttestAnswerSchema.safeParse(attestation.response);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return fail(
      'malformed',
      `malformed attest answer: ${issue?.message ?? 'invalid'}`,
      issue?.path.join('.') || 'response',
    );
  }
  const a = parsed.data;
  if (a.tls_spki !== undefined && !bytesEqual(fromBase64(a.tls_spki), attestation.tlsSpki)) {
    return fail('state-mismatch', "the answer's tls_spki is not the TLS key of the connection", 'tls_spki');
  }

  // 1. The state fields are what the evidence binds.
  let rootDer: Uint8Array | undefined;
  let meshDer: Uint8Array | undefined;
  try {
    rootDer = a.root_ca ? pemToDer(a.root_ca) : undefined;
    meshDer = a.mesh_ca ? pemToDer(a.mesh_ca) : undefined;
  } catch {
    return fail('malformed', 'a CA certificate is not PEM', 'root_ca');
  }
  const digest = await coordinatorStateDigestAsync({
    status: a.status,
    transitionHash: a.latest_transition?.transition_hash,
    rootCaDer: rootDer,
    meshCaDer: meshDer,
  });
  if (a.stateDigest === undefined || !bytesEqual(fromBase64(a.stateDigest), digest)) {
    return fail(
      'state-mismatch',
      'the state in the answer (status, latest transition, root CA, mesh CA) is not the state the evidence binds',
      'stateDigest',
    );
  }

  // 2. The evidence binds nonce, TLS key and that state, and meets the reference values.
  let evidence: Evidence;
  try {
    evidence = evidenceFromWire(a.evidence);
  } catch {
    return fail('malformed', 'the evidence is not valid base64', 'evidence');
  }
  const reportData = await reportDataFor({
    label: ATLS_LABELS.channel,
    nonce: attestation.nonce,
    publicKey: attestation.tlsSpki,
    stateDigest: digest,
  });
  const result = await verifyWithAny(expected.verifiers, evidence, {
    reportData,
    ...(expected.now ? { now: expected.now } : {}),
  });
  if (!result.ok) {
    return {
      ok: false,
      reason: {
        code: 'evidence-rejected',
        message: `the Coordinator's evidence was rejected: ${result.reason.message}`,
        field: `evidence${result.reason.field ? `.${result.reason.field}` : ''}`,
        evidence: result.reason,
      },
    };
  }
  const claims = result.claims;
  const refuse = (code: CoordinatorFailureCode, message: string, field?: string): CoordinatorVerdict => ({
    ...(fail(code, message, field) as { ok: false; reason: CoordinatorFailure }),
    claims,
  });
  if (claims.insecure && !expected.allowInsecure) {
    return refuse('insecure-platform', 'the Coordinator runs on a simulated platform (insecure)', 'evidence');
  }
  const allowed = expected.coordinatorPolicyHashes?.map((h) => h.toLowerCase());
  if (allowed && (!claims.policyDigest || !allowed.includes(claims.policyDigest.toLowerCase()))) {
    return refuse(
      'policy-mismatch',
      `the Coordinator's policy hash ${claims.policyDigest ?? '(none)'} is not a coordinator policy of the manifest`,
      'evidence.policyDigest',
    );
  }

  // 3. Active, with a history that chains to the bound latest transition.
  if (a.status !== 'active' || !a.latest_transition || !a.root_ca || !a.mesh_ca) {
    return refuse(
      'not-active',
      a.status === 'stale' ? 'the Coordinator is in recovery mode' : 'the Coordinator has no manifest yet',
      'status',
    );
  }
  const manifests: { hash: string; bytes: Uint8Array }[] = [];
  let transition: Uint8Array = new Uint8Array(32);
  const referenced = new Set<string>();
  for (const [i, text] of a.manifests.entries()) {
    const bytes = fromBase64(text);
    const hash = await sha256Web(bytes);
    transition = await sha256Web(new Uint8Array([...hash, ...transition]));
    manifests.push({ hash: toHex(hash), bytes });
    try {
      for (const key of Object.keys(
        (JSON.parse(new TextDecoder().decode(bytes)) as { Policies?: object }).Policies ?? {},
      )) {
        referenced.add(key.toLowerCase());
      }
    } catch {
      return refuse('history-mismatch', `manifest ${i} of the history is not JSON`, `manifests[${i}]`);
    }
  }
  if (manifests.length === 0 || !bytesEqual(transition, fromHex(a.latest_transition.transition_hash))) {
    return refuse(
      'history-mismatch',
      'the manifest history does not chain to the latest transition the evidence binds',
      'manifests',
    );
  }
  const policies: { hash: string; bytes: Uint8Array }[] = [];
  for (const [i, text] of a.policies.entries()) {
    const bytes = fromBase64(text);
    const hash = toHex(await sha256Web(bytes));
    if (!referenced.has(hash)) {
      return refuse(
        'history-mismatch',
        `policy ${i} (sha256 ${hash}) is in no manifest of the history`,
        `policies[${i}]`,
      );
    }
    policies.push({ hash, bytes });
  }

  // 4. The expected manifest is the active one.
  const active = manifests.at(-1)!;
  const report: CoordinatorReport = {
    claims,
    insecure: claims.insecure,
    status: 'active',
    transitionHash: a.latest_transition.transition_hash,
    latestSignature: a.latest_transition.signature,
    manifestHash: active.hash,
    manifests,
    policies,
    rootCaPem: a.root_ca,
    rootCaFingerprint: toHex(await sha256Web(rootDer!)),
    meshCaPem: a.mesh_ca,
  };
  const want = expected.manifest ? withLfLineEndings(expected.manifest) : undefined;
  const wantHash = expected.manifestHash?.toLowerCase();
  if (
    (want && !bytesEqual(withLfLineEndings(active.bytes), want)) ||
    (wantHash && wantHash !== active.hash)
  ) {
    return {
      ...(refuse(
        'manifest-mismatch',
        `the Coordinator runs manifest ${active.hash}, not ${wantHash ?? 'the expected one'}`,
        'manifest',
      ) as { ok: false; reason: CoordinatorFailure }),
      claims,
      report,
    };
  }
  return { ok: true, report };
}
