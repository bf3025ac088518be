import path from 'node:path';
import type { Platform } from '@contrast-cc/core';
import { describe, expect, it } from 'vitest';
import { type ConformanceFixtures, platformConformanceChecks } from './checks.js';

/** Options of {@link describePlatformConformance}. @public */
export interface DescribeConformanceOptions {
  /**
   * Why the golden evidence is unavailable here (e.g. shared test vectors absent). When set, the
   * checks that need evidence are registered as skipped and a notice is printed; the descriptor
   * and runtime checks still run. Leave unset wherever the evidence exists.
   */
  skipEvidence?: string | undefined;
}

/**
 * Registers the conformance suite for one platform as vitest tests. A platform package's whole
 * conformance test is one call:
 *
 * @example
 * describePlatformConformance(metalQemuSnp, {
 *   goldenDir: new URL('./__golden__', import.meta.url).pathname,
 *   goldenEvidence: async () => ({ evidence, reportData, now }),
 * });
 * @public
 */
export function describePlatformConformance(
  platform: Platform,
  fixtures: ConformanceFixtures,
  options: DescribeConformanceOptions = {},
): void {
  const { skipEvidence } = options;
  if (skipEvidence !== undefined) {
    console.warn(`${platform.id}: skipping the conformance checks that need evidence: ${skipEvidence}`);
  }
  describe(`platform conformance: ${platform.id}`, () => {
    for (const check of platformConformanceChecks(platform, fixtures)) {
      it.skipIf(check.needsEvidence && skipEvidence !== undefined)(check.name, async () => {
        await check.run(async (file, actual) => {
          await expect(actual).toMatchFileSnapshot(path.join(fixtures.goldenDir, file));
        });
      });
    }
  });
}
