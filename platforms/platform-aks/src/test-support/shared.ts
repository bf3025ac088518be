import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

/** The team's shared directory (test vectors): `$CONTRAST_SHARED_DIR` or `<repo>/../shared`. */
export const sharedDir = process.env.CONTRAST_SHARED_DIR ?? path.resolve(repoRoot, '../shared');

/** A path under the shared dir, or undefined (with a visible notice) when it is absent. */
export function sharedPath(relative: string): string | undefined {
  const p = path.join(sharedDir, relative);
  if (existsSync(p)) return p;
  // biome-ignore lint/suspicious/noConsole: a visible notice when shared vectors are absent
  console.warn(`skipping tests that need ${relative}: ${p} not found`);
  return undefined;
}
