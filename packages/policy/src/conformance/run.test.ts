import { describe, expect, it } from 'vitest';
import { CONFORMANCE_FIXTURE, HAS_KATA_POLICY, KATA_POLICY_DIR } from '../test-support/shared.js';
import { formatConformance, loadRecordedImages, runKataConformance } from './run.js';

/** The pass count we reached; the suite must not regress below it. */
const MIN_PASSED = 22;

if (!HAS_KATA_POLICY) {
  console.warn(`skipping Kata policy conformance: ${KATA_POLICY_DIR} not found`);
}

describe.skipIf(!HAS_KATA_POLICY)('Kata policy conformance (../shared/conformance/kata-policy)', () => {
  it('generates each case policy and replays its requests', async () => {
    const images = await loadRecordedImages(CONFORMANCE_FIXTURE);
    const summary = await runKataConformance(KATA_POLICY_DIR, images);
    console.log(formatConformance(summary));
    expect(summary.passed).toBeGreaterThanOrEqual(MIN_PASSED);
    for (const r of summary.results.filter((x) => x.status === 'skipped')) expect(r.detail).toBeTruthy();
  }, 120_000);
});
