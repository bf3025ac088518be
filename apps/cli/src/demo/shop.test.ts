import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SHOP_EXAMPLE } from './shop.js';

const example = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../examples/shop');
const present = existsSync(example);
if (!present) console.warn(`skipping the embedded example check: ${example} not found`);

describe.skipIf(!present)('the example embedded in the CLI', () => {
  it('is examples/shop as it is now (else run node tools/demo/embed-shop.mjs)', () => {
    const names = readdirSync(example)
      .filter((n) => n !== 'README.md')
      .sort();
    expect(Object.keys(SHOP_EXAMPLE).sort()).toEqual(names);
    for (const n of names) expect(SHOP_EXAMPLE[n], n).toBe(readFileSync(path.join(example, n), 'utf8'));
  });
});
