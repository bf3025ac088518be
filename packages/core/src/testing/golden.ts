import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The golden JSON files of one directory (see {@link goldenFiles}). @public */
export interface GoldenFiles {
  /**
   * Compares `actual` with the committed golden JSON file `name`; with UPDATE_GOLDEN=1 rewrites it
   * first. Returns the committed value, for the test to assert `actual` against.
   */
  golden<T>(name: string, actual: T): T;
  /** The committed value of golden file `name`. */
  readGolden<T>(name: string): T;
}

/** Golden JSON files kept in `dir` (a package's `src/__golden__`). @public */
export function goldenFiles(dir: string): GoldenFiles {
  const read = <T>(name: string): T => JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as T;
  return {
    golden<T>(name: string, actual: T): T {
      if (process.env.UPDATE_GOLDEN === '1') {
        writeFileSync(path.join(dir, name), `${JSON.stringify(actual, null, 2)}\n`);
      }
      return read<T>(name);
    },
    readGolden: read,
  };
}
