// Where the team's shared test vectors live.
// Tests read them in place: CONTRAST_SHARED_DIR, or ../shared next to the repository root.
// When absent (a clone outside the team), suites skip with a visible notice.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

/** The shared directory (may not exist). */
export const sharedDir = process.env.CONTRAST_SHARED_DIR ?? path.resolve(repoRoot, '../shared');

/** A path inside the shared directory. */
export function sharedPath(...parts: string[]): string {
  return path.join(sharedDir, ...parts);
}

/** True when `sub` exists in the shared directory; otherwise prints a notice and returns false. */
export function hasShared(sub: string): boolean {
  const exists = existsSync(sharedPath(sub));
  if (!exists) process.emitWarning(`skipping tests: ${path.join('../shared', sub)} not found`);
  return exists;
}
