import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { checkDependencies, importsOf } from './check-deps.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dirs = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const exp = (...subs) =>
  Object.fromEntries(subs.map((s) => [s, { default: `./src/${s === '.' ? 'index' : s.slice(2)}.ts` }]));

/** A small valid workspace: core <- manifest <- platform-a, platform-b <- cli, plus the testkit. */
function workspace(extra = {}) {
  const root = mkdtempSync(path.join(tmpdir(), 'check-deps-'));
  dirs.push(root);
  const files = {
    'pnpm-workspace.yaml': 'packages:\n  - packages/*\n  - platforms/*\n  - apps/*\n',
    'packages/core/package.json': { name: '@contrast-cc/core', exports: exp('.', './testing') },
    'packages/core/src/index.ts': 'export const core = 1;\n',
    'packages/core/src/testing.ts': 'export const fake = 1;\n',
    'packages/manifest/package.json': {
      name: '@contrast-cc/manifest',
      exports: exp('.'),
      dependencies: { '@contrast-cc/core': 'workspace:^' },
    },
    'packages/manifest/src/index.ts':
      "import { core } from '@contrast-cc/core';\nexport { schema } from './schema.js';\nexport const m = core;\n",
    'packages/manifest/src/schema.ts': 'export const schema = 1;\n',
    'platforms/platform-a/package.json': {
      name: '@contrast-cc/platform-a',
      exports: exp('.'),
      dependencies: { '@contrast-cc/core': 'workspace:^', '@contrast-cc/manifest': 'workspace:^' },
      devDependencies: { '@contrast-cc/platform-testkit': 'workspace:*' },
    },
    'platforms/platform-a/src/index.ts': "import { m } from '@contrast-cc/manifest';\nexport const a = m;\n",
    'platforms/platform-a/src/index.test.ts':
      "import { kit } from '@contrast-cc/platform-testkit';\nimport { fake } from '@contrast-cc/core/testing';\nkit(fake);\n",
    'platforms/platform-b/package.json': {
      name: '@contrast-cc/platform-b',
      exports: exp('.'),
      dependencies: { '@contrast-cc/core': 'workspace:^' },
    },
    'platforms/platform-b/src/index.ts': 'export const b = 2;\n',
    'platforms/testkit/package.json': {
      name: '@contrast-cc/platform-testkit',
      exports: exp('.'),
      dependencies: { '@contrast-cc/core': 'workspace:^' },
    },
    'platforms/testkit/src/index.ts':
      "import type { core } from '@contrast-cc/core';\nexport const kit = (_x: unknown) => 0;\n",
    'apps/cli/package.json': {
      name: '@contrast-cc/cli',
      exports: exp('.'),
      dependencies: { '@contrast-cc/platform-a': 'workspace:^', '@contrast-cc/platform-b': 'workspace:^' },
    },
    'apps/cli/src/index.ts':
      "import { a } from '@contrast-cc/platform-a';\nimport { b } from '@contrast-cc/platform-b';\nexport const x = a + b;\n",
    'apps/coordinator/package.json': {
      name: '@contrast-cc/coordinator',
      exports: exp('.'),
      dependencies: {},
    },
    'apps/coordinator/src/index.ts': 'export const c = 3;\n',
    ...extra,
  };
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(root, rel);
    mkdirSync(path.dirname(abs), { recursive: true });
    writeFileSync(abs, typeof content === 'string' ? content : JSON.stringify(content));
  }
  return root;
}

const rules = (root) => checkDependencies(root).map((v) => `${v.rule} ${v.file}`);

describe('check-deps', () => {
  it('accepts the repository itself', () => {
    expect(checkDependencies(repoRoot)).toEqual([]);
  });

  it('accepts a valid workspace (testkit imported from a platform test is fine)', () => {
    expect(rules(workspace())).toEqual([]);
  });

  it('fails when a platform imports another platform', () => {
    const root = workspace({
      'platforms/platform-b/src/index.ts':
        "import { a } from '@contrast-cc/platform-a';\nexport const b = a;\n",
    });
    const v = checkDependencies(root);
    expect(v.map((x) => x.rule)).toContain('layer');
    expect(v.find((x) => x.rule === 'layer').message).toBe(
      'platform @contrast-cc/platform-b may not import platform @contrast-cc/platform-a (core <- packages <- platforms <- apps)',
    );
    expect(v.find((x) => x.rule === 'layer').line).toBe(1);
  });

  it('fails when core imports anything of ours', () => {
    expect(
      rules(
        workspace({
          'packages/core/src/index.ts':
            "import { m } from '@contrast-cc/manifest';\nexport const core = m;\n",
        }),
      ),
    ).toContain('layer packages/core/src/index.ts');
  });

  it('fails when a domain package imports a platform or an app', () => {
    const root = workspace({
      'packages/manifest/src/index.ts':
        "export { a } from '@contrast-cc/platform-a';\nexport const y = import('@contrast-cc/cli');\n",
    });
    expect(checkDependencies(root).filter((v) => v.rule === 'layer')).toHaveLength(2);
  });

  it('fails when a platform imports an app, or the testkit outside tests', () => {
    const root = workspace({
      'platforms/platform-a/src/index.ts':
        "import '@contrast-cc/cli';\nimport { kit } from '@contrast-cc/platform-testkit';\nexport const a = kit;\n",
    });
    expect(
      checkDependencies(root)
        .filter((v) => v.rule === 'layer')
        .map((v) => v.message),
    ).toEqual([
      'platform @contrast-cc/platform-a may not import app @contrast-cc/cli (core <- packages <- platforms <- apps)',
      'platform @contrast-cc/platform-a may not import testkit @contrast-cc/platform-testkit (core <- packages <- platforms <- apps)',
    ]);
  });

  it('fails when an app imports another app', () => {
    const root = workspace({
      'apps/coordinator/src/index.ts': "import { x } from '@contrast-cc/cli';\nexport const c = x;\n",
    });
    expect(rules(root)).toContain('layer apps/coordinator/src/index.ts');
  });

  it('fails on undeclared, deep and unexported imports', () => {
    const root = workspace({
      'apps/coordinator/src/index.ts':
        "import { core } from '@contrast-cc/core';\nimport { s } from '@contrast-cc/manifest/src/schema.js';\nimport { t } from '@contrast-cc/manifest/testing';\nexport const c = [core, s, t];\n",
    });
    const got = checkDependencies(root).map((v) => v.rule);
    expect(got).toEqual(expect.arrayContaining(['undeclared', 'deep-import', 'unexported-subpath']));
  });

  it('accepts devDependencies for the runtime imports of a self-contained (bundled) package only', () => {
    const cli = {
      name: '@contrast-cc/cli',
      exports: exp('.'),
      devDependencies: { '@contrast-cc/platform-a': 'workspace:^', '@contrast-cc/platform-b': 'workspace:^' },
    };
    const plain = workspace({ 'apps/cli/package.json': cli });
    expect(rules(plain)).toContain('undeclared apps/cli/src/index.ts');
    const bundled = workspace({
      'apps/cli/package.json': cli,
      'apps/cli/tsup.config.ts': 'export default definePackageBuild({ entry, selfContained: true });\n',
    });
    expect(rules(bundled)).toEqual([]);
    const notBundled = workspace({
      'apps/cli/package.json': cli,
      'apps/cli/tsup.config.ts': 'export default definePackageBuild({ entry, selfContained: false });\n',
    });
    expect(rules(notBundled)).toContain('undeclared apps/cli/src/index.ts');
  });

  it('fails on relative imports that leave the package', () => {
    const root = workspace({
      'apps/cli/src/index.ts':
        "import { b } from '../../../platforms/platform-b/src/index.js';\nexport const x = b;\n",
    });
    expect(rules(root)).toContain('relative-escape apps/cli/src/index.ts');
  });

  it('fails on import cycles between packages and between modules', () => {
    const root = workspace({
      'packages/core/package.json': {
        name: '@contrast-cc/core',
        exports: exp('.', './testing'),
        dependencies: {},
      },
      'packages/manifest/src/schema.ts': "import { m } from './index.js';\nexport const schema = m;\n",
      'packages/policy/package.json': {
        name: '@contrast-cc/policy',
        exports: exp('.'),
        dependencies: { '@contrast-cc/certs': 'workspace:^' },
      },
      'packages/policy/src/index.ts': "import { c } from '@contrast-cc/certs';\nexport const p = c;\n",
      'packages/certs/package.json': {
        name: '@contrast-cc/certs',
        exports: exp('.'),
        dependencies: { '@contrast-cc/policy': 'workspace:^' },
      },
      'packages/certs/src/index.ts': "import { p } from '@contrast-cc/policy';\nexport const c = p;\n",
    });
    const v = checkDependencies(root);
    expect(v.find((x) => x.rule === 'module-cycle').message).toBe(
      'import cycle: src/index.ts -> src/schema.ts -> src/index.ts',
    );
    expect(v.find((x) => x.rule === 'package-cycle').message).toBe(
      'package cycle: @contrast-cc/certs -> @contrast-cc/policy -> @contrast-cc/certs',
    );
  });

  it('keeps each concern in its package: no network client in rego or policy, no Rego in the resource pipeline', () => {
    const root = workspace({
      'packages/rego/package.json': { name: '@contrast-cc/rego', exports: exp('.') },
      'packages/rego/src/index.ts':
        "import http from 'node:http';\nimport { readFile } from 'node:fs/promises';\nexport const r = [http, readFile];\n",
      'packages/rego/src/index.test.ts': "import http from 'node:http';\nexport const t = http;\n",
      'packages/kube-resources/package.json': {
        name: '@contrast-cc/kube-resources',
        exports: exp('.'),
        dependencies: { '@contrast-cc/rego': 'workspace:^' },
      },
      'packages/kube-resources/src/index.ts': "import { r } from '@contrast-cc/rego';\nexport const k = r;\n",
    });
    const v = checkDependencies(root).filter((x) => x.rule === 'concern');
    expect(v.map((x) => `${x.file}:${x.line}`)).toEqual([
      'packages/kube-resources/src/index.ts:1',
      'packages/rego/src/index.ts:1',
      'packages/rego/src/index.ts:2',
    ]);
    expect(v[0].message).toMatch(
      /@contrast-cc\/kube-resources may not import "@contrast-cc\/rego": the resource pipeline evaluates no Rego/,
    );
    expect(v[1].message).toMatch(/"node:http": the Rego engine is pure/);
  });

  it('reads every import form and ignores commented-out ones', () => {
    const text = [
      "import a from 'x-a';",
      "import type { B } from 'x-b';",
      "import * as c from 'x-c';",
      "import 'x-d';",
      "export { e } from 'x-e';",
      "export * from 'x-f';",
      "const g = await import('x-g');",
      "// import h from 'x-h';",
      "/* import i from 'x-i'; */",
      "import {\n  j,\n  k,\n} from 'x-j';",
    ].join('\n');
    expect(importsOf(text).map((i) => i.spec)).toEqual([
      'x-a',
      'x-b',
      'x-c',
      'x-d',
      'x-e',
      'x-f',
      'x-g',
      'x-j',
    ]);
  });
});
