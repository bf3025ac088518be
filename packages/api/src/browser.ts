// The browser entry of @contrast-cc/api: the wire schemas and the Coordinator verification
// (`verifyCoordinatorAttestation`), with no node: imports (digests by WebCrypto). The verifier
// page uses it with the WebCrypto verifiers of `@contrast-cc/attestation/browser`.

export {
  createEvidenceBundle,
  EVIDENCE_BUNDLE_FORMAT,
  type EvidenceBundle,
  openEvidenceBundle,
  verifyEvidenceBundle,
} from './bundle.js';
export {
  COORDINATOR_FAILURE_CODES,
  type CoordinatorAttestation,
  type CoordinatorFailure,
  type CoordinatorFailureCode,
  type CoordinatorReport,
  type CoordinatorVerdict,
  type CoordinatorVerifyExpectations,
  coordinatorPolicyHashesOf,
  verifyCoordinatorAttestation,
} from './coordinator-verify.js';
export {
  EvidenceWireSchema,
  evidenceFromWire,
  evidenceToWire,
  fromBase64,
  StateResponseSchema,
  toBase64,
} from './schemas.js';
export { API_LABELS, type CoordinatorStateBinding, coordinatorStateDigestAsync } from './state.js';
