// The selfContained option of the build preset, on a fixture project with fake npm packages:
// what it bundles, what stays lazy, and when it refuses to build.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { EOL } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'tsup';
import { afterAll, describe, expect, it } from 'vitest';
import { definePackageBuild } from './tsup.preset.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
// Inside the repository (.cache/ is ignored) so that tsup and its TypeScript resolve as usual.
mkdirSync(path.join(here, '.cache'), { recursive: true });
const root = mkdtempSync(path.join(here, '.cache', 'preset-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const files = {
  'package.json': { name: 'fixture', type: 'module' },
  'node_modules/esm-dep/package.json': { name: 'esm-dep', type: 'module', exports: './index.js' },
  'node_modules/esm-dep/index.js': "export const greet = (n) => 'hello ' + n;\n",
  // CommonJS that requires a Node built-in: needs the require shim inside an ES module bundle.
  'node_modules/cjs-dep/package.json': { name: 'cjs-dep', main: 'index.js' },
  'node_modules/cjs-dep/index.js':
    "const os = require('node:os');\nexports.eol = () => JSON.stringify(os.EOL);\n",
  'node_modules/optional-dep/package.json': { name: 'optional-dep', main: 'index.js' },
  'node_modules/optional-dep/index.js':
    "let extra;\ntry { extra = require('not-installed-extra'); } catch {}\nexports.has = () => !!extra;\n",
  'node_modules/heavy-dep/package.json': { name: 'heavy-dep', type: 'module', exports: './index.js' },
  'node_modules/heavy-dep/index.js': 'export const HEAVY = "heavy-dep-was-here";\n',
  // A side-effect-free package: only what is used of it is bundled.
  'node_modules/mixed-dep/package.json': {
    name: 'mixed-dep',
    type: 'module',
    sideEffects: false,
    exports: './index.js',
  },
  'node_modules/mixed-dep/index.js':
    "export { light } from './light.js';\nexport { heavy } from './heavy.js';\n",
  'node_modules/mixed-dep/light.js': 'export const light = () => "light";\n',
  'node_modules/mixed-dep/heavy.js':
    "import { HEAVY } from 'heavy-dep';\nexport const heavy = () => HEAVY;\n",
  'src/command.ts': "import { greet } from 'esm-dep';\nexport const run = () => greet('lazy');\n",
  'src/bin.ts': [
    "import { eol } from 'cjs-dep';",
    "import { light } from 'mixed-dep';",
    'const arg = process.argv[2];',
    "if (arg === 'lazy') console.log((await import('./command.js')).run());",
    'else console.log(light(), eol());',
    '',
  ].join('\n'),
  'src/uses-heavy.ts': "import { heavy } from 'mixed-dep';\nconsole.log(heavy());\n",
  'src/uses-optional.ts': "import { has } from 'optional-dep';\nconsole.log(has());\n",
  'src/heavy-mod.ts': "import { heavy } from 'mixed-dep';\nexport const value = () => heavy();\n",
  'src/lazy-heavy.ts': "console.log((await import('./heavy-mod.js')).value());\n",
};
for (const [rel, content] of Object.entries(files)) {
  const abs = path.join(root, rel);
  mkdirSync(path.dirname(abs), { recursive: true });
  writeFileSync(abs, typeof content === 'string' ? content : JSON.stringify(content));
}

/** Builds one entry with the preset's selfContained option into its own dist directory. */
async function bundle(name, entry, forbid = ['heavy-dep'], more = {}) {
  const config = definePackageBuild({
    entry: { [name]: path.join(root, entry) },
    selfContained: { forbid, ...more },
  });
  const outDir = path.join(root, `dist-${name}`);
  await build({ ...config, outDir, dts: false, sourcemap: false, silent: true, config: false });
  return outDir;
}

/** Runs a built file from a copy with no node_modules anywhere above it. */
function runBare(outDir, file, args = []) {
  const bare = mkdtempSync(path.join(root, '..', 'bare-'));
  try {
    for (const f of readdirSync(outDir))
      writeFileSync(path.join(bare, f), readFileSync(path.join(outDir, f)));
    return execFileSync(process.execPath, [path.join(bare, file), ...args], {
      encoding: 'utf8',
      cwd: bare,
    }).trim();
  } finally {
    rmSync(bare, { recursive: true, force: true });
  }
}

describe('definePackageBuild({ selfContained })', () => {
  it('bundles ESM and CommonJS dependencies (require of built-ins works); dynamic imports stay lazy chunks', async () => {
    const out = await bundle('bin', 'src/bin.ts');
    const outputs = readdirSync(out).filter((f) => f.endsWith('.js'));
    const bin = readFileSync(path.join(out, 'bin.js'), 'utf8');
    // Only Node built-ins are imported; the lazily loaded command is a chunk of its own.
    for (const f of outputs) {
      const text = readFileSync(path.join(out, f), 'utf8');
      for (const [, spec] of text.matchAll(/\bfrom\s+['"]([^'"]+)['"]/g))
        expect(spec).toMatch(/^(node:|\.\/)/);
    }
    expect(bin).not.toContain('hello ');
    expect(
      outputs.some((f) => f !== 'bin.js' && readFileSync(path.join(out, f), 'utf8').includes('hello ')),
    ).toBe(true);
    // Tree-shaken: the unused heavy part of a side-effect-free package is not in the output.
    expect(outputs.some((f) => readFileSync(path.join(out, f), 'utf8').includes('heavy-dep-was-here'))).toBe(
      false,
    );
    expect(runBare(out, 'bin.js')).toBe(`light ${JSON.stringify(EOL)}`);
    expect(runBare(out, 'bin.js', ['lazy'])).toBe('hello lazy');
  });

  it('refuses to build when a forbidden package ends up in the bundle', async () => {
    await expect(bundle('heavy', 'src/uses-heavy.ts')).rejects.toThrow(
      /heavy-dep must not be in this bundle/,
    );
    // Not forbidden: it builds and runs.
    const out = await bundle('heavy-ok', 'src/uses-heavy.ts', []);
    expect(runBare(out, 'heavy-ok.js')).toBe('heavy-dep-was-here');
  });

  it('lazy packages: refused when an entry loads them at start, built when only a dynamic import() reaches them', async () => {
    await expect(bundle('eager', 'src/uses-heavy.ts', [], { lazy: ['heavy-dep'] })).rejects.toThrow(
      /heavy-dep may only be in lazily loaded chunks \(a dynamic import\(\)\), but .*eager\.js loads it at start/,
    );
    const out = await bundle('lazy', 'src/lazy-heavy.ts', [], { lazy: ['heavy-dep'] });
    expect(readFileSync(path.join(out, 'lazy.js'), 'utf8')).not.toContain('heavy-dep-was-here');
    expect(runBare(out, 'lazy.js')).toBe('heavy-dep-was-here');
  });

  it('absent packages: left out; requiring them throws MODULE_NOT_FOUND, so the optional fallback runs', async () => {
    const out = await bundle('absent', 'src/uses-optional.ts', [], { absent: ['not-installed-extra'] });
    expect(runBare(out, 'absent.js')).toBe('false');
  });

  it('refuses to build when an import would remain for runtime (an optional require that is not installed)', async () => {
    await expect(bundle('optional', 'src/uses-optional.ts')).rejects.toThrow(
      /imports "not-installed-extra" at runtime; it must be bundled/,
    );
  });
});
