export {
  FAKE_EVIDENCE_KIND,
  FakeIssuer,
  type FakeReferenceValues,
  FakeVerifier,
} from './fake-evidence.js';
export { createFakePlatform, createTestRegistry } from './fake-platform.js';
export { createMemoryLogger, type MemoryLogger } from './memory-logger.js';
