import { existsSync } from 'node:fs';
import path from 'node:path';

/** The nearest directory at or above `from` holding `pnpm-workspace.yaml` (the repository root). */
function workspaceRoot(from: string): string | undefined {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'pnpm-workspace.yaml'))) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/**
 * The team's shared test data directory: `$CONTRAST_SHARED_DIR`, else `<repository root>/../shared`
 * (the root found from `from`, default the working directory), else undefined.
 * @public
 */
export function sharedTestDir(from: string = process.cwd()): string | undefined {
  const env = process.env['CONTRAST_SHARED_DIR'];
  if (env) return env;
  const root = workspaceRoot(from);
  return root === undefined ? undefined : path.resolve(root, '../shared');
}

/**
 * A path under the shared test data directory (e.g. `testvectors/snp/…`), or undefined with a
 * visible notice when it is absent, so that a clone outside the team skips instead of failing.
 * @public
 */
export function sharedTestPath(relative: string, from?: string): string | undefined {
  const dir = sharedTestDir(from);
  const p = dir === undefined ? undefined : path.join(dir, relative);
  if (p !== undefined && existsSync(p)) return p;
  console.warn(
    `skipping tests that need ${relative}: ${p ?? `no ${relative} (no shared directory)`} not found`,
  );
  return undefined;
}
