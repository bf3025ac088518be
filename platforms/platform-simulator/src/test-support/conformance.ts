import path from 'node:path';
import type { Platform } from '@contrast-cc/core';
import { type ConformanceFixtures, platformConformanceChecks } from '@contrast-cc/platform-testkit';
import { describe, expect, it } from 'vitest';

/**
 * The testkit's conformance suite; when no golden evidence is available (shared vectors
 * absent) only the descriptor and runtime checks run, and the evidence checks are reported as
 * skipped instead of silently passing.
 */
export function describeConformance(
  platform: Platform,
  fixtures: ConformanceFixtures,
  evidenceAvailable: boolean,
): void {
  describe(`platform conformance: ${platform.id}`, () => {
    for (const check of platformConformanceChecks(platform, fixtures)) {
      const needsEvidence =
        check.name.startsWith('attestation:') && !check.name.includes('default reference values');
      it.skipIf(needsEvidence && !evidenceAvailable)(check.name, async () => {
        await check.run(async (file, actual) => {
          await expect(actual).toMatchFileSnapshot(path.join(fixtures.goldenDir, file));
        });
      });
    }
  });
}
