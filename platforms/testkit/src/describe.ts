import path from 'node:path';
import type { Platform } from '@contrast-cc/core';
import { describe, expect, it } from 'vitest';
import { type ConformanceFixtures, platformConformanceChecks } from './checks.js';

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
export function describePlatformConformance(platform: Platform, fixtures: ConformanceFixtures): void {
  describe(`platform conformance: ${platform.id}`, () => {
    for (const check of platformConformanceChecks(platform, fixtures)) {
      it(check.name, async () => {
        await check.run(async (file, actual) => {
          await expect(actual).toMatchFileSnapshot(path.join(fixtures.goldenDir, file));
        });
      });
    }
  });
}
