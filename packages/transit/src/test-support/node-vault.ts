// node-vault (CommonJS) as an application loads it. The test runner starts its workers with
// `--conditions import`, so inside a test Node's own `require('mustache')` (a dual package that
// node-vault requires) would resolve to mustache's ESM build and hand node-vault a namespace
// object without `render`. Outside tests nothing sets that condition; here the CommonJS build is
// put in require's cache under the path the condition resolves to, and node-vault is then
// required unchanged.
import { createRequire } from 'node:module';
import path from 'node:path';

export function loadNodeVault(): typeof import('node-vault') {
  const require = createRequire(import.meta.url);
  const vaultMain = require.resolve('node-vault');
  const fromVault = createRequire(vaultMain);
  const resolved = fromVault.resolve('mustache');
  if (resolved.endsWith('.mjs')) {
    const cjsPath = path.join(path.dirname(resolved), 'mustache.js');
    const cjs = fromVault(cjsPath);
    const cached = fromVault.cache[cjsPath];
    if (cached)
      fromVault.cache[resolved] = {
        ...cached,
        id: resolved,
        filename: resolved,
        exports: cjs,
      } as NodeJS.Module;
  }
  return require('node-vault') as typeof import('node-vault');
}
