export {
  bytesEqual,
  concatBytes,
  fromHex,
  toHex,
} from './bytes.js';
export { type DerTlv, decodeDerOid, readDerTlv, spkiProblem } from './der.js';
export {
  CONTRAST_ERROR_CODES,
  ContrastError,
  type ContrastErrorCode,
  type ContrastErrorOptions,
  isContrastError,
  toContrastError,
} from './errors.js';
export {
  type ClaimExtension,
  type ClaimValue,
  type Evidence,
  type EvidenceClaims,
  type EvidenceKind,
  type Issuer,
  type IssuerContext,
  REPORT_DATA_LENGTH,
  VERIFY_FAILURE_CODES,
  type Verifier,
  type VerifierContext,
  type VerifyExpectations,
  type VerifyFailure,
  type VerifyFailureCode,
  type VerifyResult,
  verifyFail,
  verifyOk,
  verifyWithAny,
} from './evidence.js';
export {
  delay,
  networkReason,
  type ReadBodyOptions,
  type RetryOptions,
  readBody,
  retryAfterMs,
  type TransientFailure,
  withRetries,
} from './http.js';
export type { ImageConfig, ImageFacts, ImageSource } from './images.js';
export { type JsonBounds, jsonBoundsViolation, parseJsonBounded } from './json.js';
export { isDnsLabel, isDnsSubdomain, type KubeObject } from './kube.js';
export {
  createJsonLineLogger,
  createLogger,
  type JsonLineLogger,
  type JsonLineLoggerOptions,
  LOG_LEVELS,
  type LogFields,
  type Logger,
  type LogLevel,
  type LogRecord,
  type LogSink,
  noopLogger,
} from './logger.js';
export { setOwn } from './object.js';
export {
  definePlatform,
  isPlatform,
  type NodeInstallerOptions,
  PLATFORM_API_VERSION,
  type Platform,
  type PlatformAttestation,
  type PlatformPolicy,
  type PlatformProblem,
  type PlatformRuntime,
  type PlatformSpec,
  type PodVmSizing,
  type PolicyBinding,
  runtimeClassName,
  SUPPORTED_PLATFORM_API_VERSIONS,
  TEE_FAMILIES,
  type TeeFamily,
  validatePlatform,
} from './platform.js';
export { createPlatformRegistry, type PlatformRegistry } from './registry.js';
