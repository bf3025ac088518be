import { bytesEqual, fromHex, toHex } from '../bytes.js';
import {
  type Evidence,
  type EvidenceClaims,
  type Issuer,
  REPORT_DATA_LENGTH,
  type Verifier,
  type VerifyExpectations,
  type VerifyResult,
  verifyFail,
  verifyOk,
} from '../evidence.js';

/** The evidence kind of the fakes. @public */
export const FAKE_EVIDENCE_KIND = 'fake';

const DEFAULT_KEY = new TextEncoder().encode('contrast-cc fake evidence key, not a secret');

/** Reference values the fake verifier understands. @public */
export interface FakeReferenceValues {
  /** Expected measurement (hex); any when absent. */
  measurement?: string;
  /** Allowed policy digests (hex); any when absent. */
  policyDigests?: string[];
}

interface FakeDocument {
  v: 1;
  measurement: string;
  policyDigest: string;
  reportData: string;
  mac: string;
}

async function mac(key: Uint8Array, body: string): Promise<string> {
  const k = await globalThis.crypto.subtle.importKey(
    'raw',
    key as BufferSource,
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const sig = await globalThis.crypto.subtle.sign('HMAC', k, new TextEncoder().encode(body));
  return toHex(new Uint8Array(sig));
}

const macInput = (d: Omit<FakeDocument, 'mac'>) =>
  `${d.v}|${d.measurement}|${d.policyDigest}|${d.reportData}`;

/**
 * An issuer of fake evidence: a small JSON document authenticated with HMAC-SHA256. It exercises
 * every path a real issuer does (binding REPORT_DATA, measurement, policy digest) without hardware.
 * @public
 */
export class FakeIssuer implements Issuer {
  readonly kind = FAKE_EVIDENCE_KIND;
  constructor(
    private readonly options: { measurement?: string; policyDigest?: string; key?: Uint8Array } = {},
  ) {}

  async issue(reportData: Uint8Array): Promise<Evidence> {
    if (reportData.length !== REPORT_DATA_LENGTH) {
      throw new RangeError(`report data must be ${REPORT_DATA_LENGTH} bytes, got ${reportData.length}`);
    }
    const body = {
      v: 1 as const,
      measurement: this.options.measurement ?? '00'.repeat(48),
      policyDigest: this.options.policyDigest ?? '00'.repeat(32),
      reportData: toHex(reportData),
    };
    const doc: FakeDocument = { ...body, mac: await mac(this.options.key ?? DEFAULT_KEY, macInput(body)) };
    return { kind: FAKE_EVIDENCE_KIND, data: new TextEncoder().encode(JSON.stringify(doc)) };
  }
}

/**
 * Verifies {@link FakeIssuer} evidence against {@link FakeReferenceValues}, with the same
 * result codes real verifiers use.
 * @public
 */
export class FakeVerifier implements Verifier {
  readonly kinds = [FAKE_EVIDENCE_KIND] as const;
  constructor(
    private readonly referenceValues: FakeReferenceValues = {},
    private readonly key: Uint8Array = DEFAULT_KEY,
  ) {}

  async verify(evidence: Evidence, expected: VerifyExpectations): Promise<VerifyResult> {
    if (evidence.kind !== FAKE_EVIDENCE_KIND) {
      return verifyFail(
        'unsupported-evidence-kind',
        `fake verifier cannot check "${evidence.kind}" evidence`,
        'kind',
      );
    }
    let doc: FakeDocument;
    try {
      doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(evidence.data)) as FakeDocument;
      if (
        doc.v !== 1 ||
        [doc.measurement, doc.policyDigest, doc.reportData, doc.mac].some((x) => typeof x !== 'string')
      ) {
        throw new Error('fields');
      }
      fromHex(doc.reportData, { length: REPORT_DATA_LENGTH });
    } catch {
      return verifyFail('malformed', 'fake evidence is not a valid document');
    }
    const { mac: got, ...body } = doc;
    if (got !== (await mac(this.key, macInput(body)))) {
      return verifyFail('signature-invalid', 'fake evidence MAC does not match', 'mac');
    }
    const reportData = fromHex(doc.reportData);
    if (!bytesEqual(reportData, expected.reportData)) {
      return verifyFail(
        'report-data-mismatch',
        'report data does not match the expected binding',
        'reportData',
      );
    }
    const rv = this.referenceValues;
    if (rv.measurement !== undefined && rv.measurement.toLowerCase() !== doc.measurement) {
      return verifyFail('measurement-mismatch', 'measurement is not the trusted one', 'measurement');
    }
    if (
      rv.policyDigests !== undefined &&
      !rv.policyDigests.map((d) => d.toLowerCase()).includes(doc.policyDigest)
    ) {
      return verifyFail('policy-mismatch', 'policy digest is not allowed', 'policyDigest');
    }
    const claims: EvidenceClaims = {
      kind: FAKE_EVIDENCE_KIND,
      reportData,
      measurement: doc.measurement,
      policyDigest: doc.policyDigest,
      insecure: true,
      details: {},
    };
    return verifyOk(claims);
  }
}
