export {
  ATLS_LABELS,
  MIN_NONCE_LENGTH,
  NONCE_LENGTH,
  type ReportDataInput,
  reportDataFor,
  reportDataPreimage,
} from './binding.js';
export {
  type AttestedConnection,
  type AttestedRequestInit,
  type AttestedResponse,
  type ConnectAttestedOptions,
  connectAttested,
  type FetchAttestationOptions,
  type FetchedAttestation,
  fetchAttestation,
} from './client.js';
export {
  ATTESTED_SERVER_LIMITS,
  type AttestedServer,
  type AttestedServerOptions,
  type AttestedState,
  createAttestedServer,
} from './server.js';
export { type VerifyBoundEvidenceInput, verifyBoundEvidence } from './verify.js';
export { ATTEST_PATH, type AttestRequest, type AttestResponse, parseAttestResponse } from './wire.js';
