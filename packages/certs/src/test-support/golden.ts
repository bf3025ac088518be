import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const GOLDEN_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../__golden__');

/**
 * Compares `actual` with the committed golden JSON file; with UPDATE_GOLDEN=1 rewrites it instead.
 * Returns the committed value so the test can assert on it.
 */
export function golden<T>(name: string, actual: T): T {
  const file = path.join(GOLDEN_DIR, name);
  if (process.env.UPDATE_GOLDEN === '1') {
    writeFileSync(file, `${JSON.stringify(actual, null, 2)}\n`);
  }
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

export function readGolden<T>(name: string): T {
  return JSON.parse(readFileSync(path.join(GOLDEN_DIR, name), 'utf8')) as T;
}
