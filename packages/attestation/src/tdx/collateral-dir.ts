import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ContrastError } from '@contrast-cc/core';
import { COLLATERAL_FILE_NAMES, COLLATERAL_KEYS, type TdxCollateral } from './collateral.js';

/**
 * Reads the offline collateral directory; missing files are simply absent from the result.
 * Throws `not-found` when the directory does not exist, `io-error` when a file cannot be read.
 */
export async function loadCollateralDir(dir: string): Promise<TdxCollateral> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
  } catch (cause) {
    throw new ContrastError('not-found', 'collateral directory not found', { file: dir, cause });
  }
  const out: TdxCollateral = {};
  for (const key of COLLATERAL_KEYS) {
    const file = path.join(dir, COLLATERAL_FILE_NAMES[key]);
    try {
      out[key] = new Uint8Array(await readFile(file));
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new ContrastError('io-error', 'cannot read collateral file', { file, cause });
    }
  }
  return out;
}
