export {
  type ConformanceCheck,
  type ConformanceFixtures,
  type ConformanceOutcome,
  type GoldenEvidence,
  type GoldenMatcher,
  platformConformanceChecks,
  runPlatformConformance,
  toYamlDocuments,
} from './checks.js';
export { describePlatformConformance } from './describe.js';
