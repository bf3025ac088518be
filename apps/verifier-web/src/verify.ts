// What the verifier page checks, without the DOM: a live Coordinator (fresh nonce, its attest
// answer, `verifyCoordinatorAttestation`) or one piece of evidence offline. Only browser-safe
// entries: @contrast-cc/attestation/browser and @contrast-cc/api/browser (WebCrypto).

import {
  type CoordinatorReport,
  type CoordinatorVerdict,
  coordinatorPolicyHashesOf,
  fromBase64,
  openEvidenceBundle,
  verifyCoordinatorAttestation,
  verifyEvidenceBundle,
} from '@contrast-cc/api/browser';
import {
  collateralFromExtras,
  createSnpTrustAnchorAsync,
  createSnpVerifier,
  createTdxVerifier,
  createTrustAnchors,
  type SnpProductLine,
  type SnpTrustAnchor,
  type TdxTrustAnchors,
  verifySnpReportAsync,
  verifyTdxQuoteAsync,
} from '@contrast-cc/attestation/browser';
import { fromHex, toHex, type Verifier } from '@contrast-cc/core';

/** Roots of a simulator (INSECURE): what its trust directory holds. */
export interface SimulatorRoots {
  snp?: { product: SnpProductLine; ark: string; ask: string }[];
  tdx?: string[];
}

/** The page's verdict, for display. */
export type PageVerdict =
  | {
      ok: true;
      title: string;
      rows: [string, string][];
      history: string[];
      policies: string[];
      insecure: boolean;
    }
  | { ok: false; code: string; message: string; field?: string | undefined };

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource)));
}

/** Verifiers for a manifest's ReferenceValues: the built-in AMD/Intel roots, or a simulator's. */
export async function verifiersFor(
  manifest: Uint8Array,
  simulator: SimulatorRoots | undefined,
): Promise<Verifier[]> {
  const parsed = JSON.parse(new TextDecoder().decode(manifest)) as {
    ReferenceValues?: { snp?: Record<string, unknown>[]; tdx?: Record<string, unknown>[] };
  };
  const out: Verifier[] = [];
  let snpAnchors: SnpTrustAnchor[] | undefined;
  let tdxAnchors: TdxTrustAnchors | undefined;
  for (const entry of parsed.ReferenceValues?.snp ?? []) {
    const simulated = String(entry.Platform ?? '').startsWith('Simulated-');
    if (simulated) {
      if (!simulator?.snp?.length)
        throw new Error('the manifest trusts Simulated-SNP: give the simulator roots');
      snpAnchors ??= await Promise.all(simulator.snp.map((r) => createSnpTrustAnchorAsync(r)));
    }
    out.push(
      createSnpVerifier({ referenceValues: entry, ...(simulated ? { trustAnchors: snpAnchors! } : {}) }),
    );
  }
  for (const entry of parsed.ReferenceValues?.tdx ?? []) {
    const simulated = String(entry.Platform ?? '').startsWith('Simulated-');
    if (simulated) {
      if (!simulator?.tdx?.length)
        throw new Error('the manifest trusts Simulated-TDX: give the simulator roots');
      tdxAnchors ??= createTrustAnchors(simulator.tdx);
    }
    out.push(
      createTdxVerifier({
        referenceValues: entry,
        ...(simulated ? { trustAnchors: tdxAnchors!, requireCollateral: false } : {}),
      }),
    );
  }
  return out;
}

function fromReport(report: CoordinatorReport): PageVerdict {
  return {
    ok: true,
    title: report.insecure ? 'VALID (SIMULATED PLATFORM: INSECURE)' : 'VALID',
    insecure: report.insecure,
    rows: [
      ['Manifest hash', report.manifestHash],
      ['Latest transition', report.transitionHash],
      ['Root CA SHA-256 fingerprint', report.rootCaFingerprint],
      ['Evidence', `${report.claims.kind}, measurement ${report.claims.measurement}`],
      ['Coordinator policy', report.claims.policyDigest ?? '(none)'],
    ],
    history: report.manifests.map((m, i) => `${i}: ${m.hash}`),
    policies: report.policies.map((p) => p.hash),
  };
}

function fromVerdict(v: CoordinatorVerdict): PageVerdict {
  if (v.ok) return fromReport(v.report);
  return { ok: false, code: v.reason.code, message: v.reason.message, field: v.reason.field };
}

/** Input of {@link verifyLive}. */
export interface LiveInput {
  /** Base URL of the Coordinator, e.g. https://203.0.113.7:1314 */
  coordinator: string;
  /** The expected manifest (bytes) or its sha256 (hex): one of them. */
  manifest?: Uint8Array;
  manifestHash?: string;
  simulator?: SimulatorRoots;
  allowInsecure: boolean;
  fetchImpl?: typeof fetch;
}

/**
 * Attests a live Coordinator: posts a fresh nonce to `/v1/attest` (the only request the page
 * makes), then runs `verifyCoordinatorAttestation` on the answer with the manifest's reference
 * values. With only a hash, the reference values come from the Coordinator's active manifest
 * after its bytes were checked against that hash.
 */
export async function verifyLive(input: LiveInput): Promise<PageVerdict> {
  const nonce = crypto.getRandomValues(new Uint8Array(32));
  const url = `${input.coordinator.replace(/\/+$/, '')}/v1/attest`;
  let response: unknown;
  try {
    const res = await (input.fetchImpl ?? fetch)(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ nonce: btoa(String.fromCharCode(...nonce)) }),
    });
    if (!res.ok)
      return { ok: false, code: 'unavailable', message: `the Coordinator answered HTTP ${res.status}` };
    response = await res.json();
  } catch (e) {
    return { ok: false, code: 'unavailable', message: `cannot reach ${url}: ${(e as Error).message}` };
  }
  const r = response as { tls_spki?: unknown; manifests?: unknown };
  if (typeof r?.tls_spki !== 'string') {
    return {
      ok: false,
      code: 'malformed',
      message: 'the answer names no TLS key (tls_spki)',
      field: 'tls_spki',
    };
  }
  let manifest = input.manifest;
  const manifestHash = input.manifestHash?.trim().toLowerCase();
  if (!manifest) {
    if (!manifestHash || !/^[0-9a-f]{64}$/.test(manifestHash)) {
      return {
        ok: false,
        code: 'invalid-input',
        message: 'give the expected manifest (file) or its sha256 (64 hex digits)',
      };
    }
    const list = Array.isArray(r.manifests) ? r.manifests : [];
    const active = typeof list.at(-1) === 'string' ? fromBase64(list.at(-1) as string) : undefined;
    if (!active || (await sha256Hex(active)) !== manifestHash) {
      return {
        ok: false,
        code: 'manifest-mismatch',
        message: `the Coordinator's active manifest is not ${manifestHash}`,
        field: 'manifest',
      };
    }
    manifest = active;
  }
  let verifiers: Verifier[];
  let coordinatorPolicyHashes: string[];
  try {
    verifiers = await verifiersFor(manifest, input.simulator);
    coordinatorPolicyHashes = coordinatorPolicyHashesOf(manifest);
  } catch (e) {
    return {
      ok: false,
      code: 'invalid-input',
      message: `the manifest cannot be used: ${(e as Error).message}`,
    };
  }
  const verdict = await verifyCoordinatorAttestation(
    { nonce, tlsSpki: fromBase64(r.tls_spki), response },
    {
      verifiers,
      manifest,
      ...(manifestHash ? { manifestHash } : {}),
      coordinatorPolicyHashes,
      allowInsecure: input.allowInsecure,
    },
  );
  return fromVerdict(verdict);
}

/** Input of {@link verifyOffline}: one piece of evidence, as `contrast evidence verify` takes it. */
export interface OfflineInput {
  snpReport?: Uint8Array;
  vcek?: Uint8Array;
  certChain?: Uint8Array;
  crl?: Uint8Array;
  tdxQuote?: Uint8Array;
  /** Collateral files by their PCS names (tcb_info.json, qe_identity.json, ...). */
  collateral?: Record<string, Uint8Array>;
  referenceValues?: Record<string, unknown>;
  reportDataHex?: string;
  at?: Date;
}

/** Verifies one SNP report or TDX quote offline, with the same checks as `contrast evidence verify`. */
export async function verifyOffline(input: OfflineInput): Promise<PageVerdict> {
  const reportData = input.reportDataHex ? fromHex(input.reportDataHex.trim(), { length: 64 }) : undefined;
  const now = input.at ?? new Date();
  if (input.snpReport) {
    const r = await verifySnpReportAsync(input.snpReport, {
      ...(input.vcek ? { vcek: input.vcek } : {}),
      ...(input.certChain ? { certChain: input.certChain } : {}),
      ...(input.crl ? { crl: input.crl } : {}),
      ...(input.referenceValues ? { referenceValues: input.referenceValues } : {}),
      ...(reportData ? { reportData } : {}),
      now,
    });
    if (!r.ok) return { ok: false, code: r.reason.code, message: r.reason.message, field: r.reason.field };
    const d = r.claims.details;
    return {
      ok: true,
      title: r.claims.insecure ? 'VALID (NOT AN AMD ROOT: INSECURE)' : 'VALID',
      insecure: r.claims.insecure,
      rows: [
        ['Evidence', `SEV-SNP report, ${d.product}, signed by the ${d.signingKey.toUpperCase()}`],
        ['Measurement', r.claims.measurement],
        ['HOST_DATA', r.claims.policyDigest],
        ['Chip', d.chipId],
        ['Checked at', now.toISOString()],
      ],
      history: [],
      policies: [],
    };
  }
  if (input.tdxQuote) {
    const collateral = collateralFromExtras(input.collateral);
    const r = await verifyTdxQuoteAsync(input.tdxQuote, {
      ...(collateral ? { collateral } : {}),
      ...(input.referenceValues ? { referenceValues: input.referenceValues } : {}),
      ...(reportData ? { reportData } : {}),
      allowTrailingBytes: true,
      now,
    });
    if (!r.ok) return { ok: false, code: r.reason.code, message: r.reason.message, field: r.reason.field };
    return {
      ok: true,
      title: r.claims.insecure ? 'VALID (NOT AN INTEL ROOT: INSECURE)' : 'VALID',
      insecure: r.claims.insecure,
      rows: [
        ['Evidence', `TDX quote v${r.claims.details.version}`],
        ['MRTD', r.claims.measurement],
        ['MRCONFIGID[0:32]', r.claims.policyDigest ?? ''],
        ['TCB status', r.claims.details.tcbStatus ?? '(no collateral)'],
        ['Checked at', now.toISOString()],
      ],
      history: [],
      policies: [],
    };
  }
  return { ok: false, code: 'invalid-input', message: 'give an SNP report or a TDX quote' };
}

/**
 * Verifies an evidence bundle saved by `contrast verify --save-evidence`, as
 * `contrast evidence verify --bundle` does: at the time it was saved, or `at`.
 */
export async function verifyBundle(
  text: string,
  options: { simulator?: SimulatorRoots; allowInsecure: boolean; at?: Date },
): Promise<PageVerdict> {
  let bundle: Awaited<ReturnType<typeof openEvidenceBundle>>;
  let verifiers: Verifier[];
  try {
    bundle = await openEvidenceBundle(text);
    verifiers = await verifiersFor(bundle.manifest, options.simulator);
  } catch (e) {
    const field = (e as { field?: string }).field;
    return { ok: false, code: 'invalid-input', message: (e as Error).message, ...(field ? { field } : {}) };
  }
  return fromVerdict(
    await verifyEvidenceBundle(bundle, {
      verifiers,
      allowInsecure: options.allowInsecure,
      ...(options.at ? { at: options.at } : {}),
    }),
  );
}
