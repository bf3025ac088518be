// What the regression tests share (our own inputs in regression-inputs.test.ts, upstream's in
// upstream-regression.test.ts): the pipeline with the real policy generator and simulated images,
// the check that no document fell back to being written whole, and "generate twice and compare".
import { createMemoryLogger } from '@contrast-cc/core/testing';
import { generatePolicy } from '@contrast-cc/policy';
import { expect } from 'vitest';
import { parseResourceText, type ResourceFile } from '../files.js';
import { type PatchResult, patchResources } from '../pipeline.js';
import { INJECTED_IMAGES, SimulatedImages, testPlatform } from './index.js';

/** Who the simulated images run as: root, or a named user `app` in extra groups. */
export type ImageUser = 'root' | 'named';

/**
 * Runs the pipeline (SNP platform, the real policy generator, simulated images); fails when a
 * document had to be written whole (not as the source had it).
 */
export async function generateSimulated(files: ResourceFile[], user: ImageUser): Promise<PatchResult> {
  const log = createMemoryLogger();
  const result = await patchResources(files, {
    defaultPlatform: testPlatform('snp'),
    images: new SimulatedImages(user),
    generatePolicy,
    injectedImages: INJECTED_IMAGES,
    logger: log.logger,
  });
  expect(log.records.filter((r) => r.message.startsWith('document written whole'))).toEqual([]);
  return result;
}

/**
 * Generates, then generates again from what the first run wrote: the second run must write the
 * same bytes and give the same policy hashes. Returns both runs for the caller's own checks.
 */
export async function generateTwice(
  files: ResourceFile[],
  user: ImageUser,
): Promise<{ first: PatchResult; second: PatchResult }> {
  const first = await generateSimulated(files, user);
  const second = await generateSimulated(
    first.files.map((f) => parseResourceText(f.path, f.text, f.absolutePath)),
    user,
  );
  expect(second.files.map((f) => f.text)).toEqual(first.files.map((f) => f.text));
  expect(second.workloads.map((w) => w.policyHash)).toEqual(first.workloads.map((w) => w.policyHash));
  return { first, second };
}
