import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { goldenFiles } from '@contrast-cc/core/testing';

/** This package's golden files (src/__golden__); UPDATE_GOLDEN=1 rewrites them. */
export const { golden, readGolden } = goldenFiles(
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../__golden__'),
);
