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
export { type DescribeConformanceOptions, describePlatformConformance } from './describe.js';
export { sharedTestDir, sharedTestPath } from './shared.js';
