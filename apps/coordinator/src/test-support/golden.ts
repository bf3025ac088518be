import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../__golden__');

/** The committed golden text; with UPDATE_GOLDEN=1 writes `actual` first. */
export function golden(name: string, actual: string): string {
  const file = path.join(DIR, name);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, actual);
  return readFileSync(file, 'utf8');
}
