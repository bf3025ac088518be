import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  appFacts,
  IMAGES,
  REGENERATE,
  renderAll,
  renderDockerfile,
  repoFacts,
  repoRoot,
} from './dockerfile.mjs';

describe('the committed Dockerfiles', () => {
  for (const { file, text } of renderAll()) {
    it(`${file} is the generator's output, byte for byte`, () => {
      const committed = readFileSync(path.join(repoRoot, file), 'utf8');
      expect(committed, `${file} is stale or edited by hand: run ${REGENERATE}`).toBe(text);
    });
  }

  it('has one description per app', () => {
    const dirs = IMAGES.map((s) => s.dir);
    expect(new Set(dirs).size).toBe(dirs.length);
    expect(dirs).toEqual(['apps/coordinator', 'apps/initializer', 'apps/service-mesh']);
  });
});

describe('renderDockerfile', () => {
  const spec = IMAGES[0];
  const app = { name: '@contrast-cc/x', main: 'dist/x.js' };

  it('takes pnpm, Node major, package name, bin, user and ports from its inputs', () => {
    const text = renderDockerfile(spec, { pnpmVersion: '13.0.1', nodeMajor: 22 }, app);
    const lines = text.split('\n');
    expect(lines.filter((l) => l.startsWith('FROM '))).toEqual([
      'FROM node:22-bookworm-slim AS build',
      'FROM node:22-bookworm-slim',
    ]);
    expect(text).toContain('RUN npm install -g --no-fund --no-audit pnpm@13.0.1\n');
    expect(text).toContain('  && pnpm exec turbo run build --filter @contrast-cc/x... \\\n');
    expect(text).toContain('  && pnpm deploy --filter @contrast-cc/x --prod /out\n');
    expect(text).toContain(`USER ${spec.user}\nEXPOSE 1314 9102\nENTRYPOINT ["node", "/app/dist/x.js"]\n`);
    expect(text).toContain(`# ${spec.why[0]}\n`);
    expect(text.endsWith('"]\n')).toBe(true);
  });

  it('writes no EXPOSE for an image without ports', () => {
    const text = renderDockerfile({ ...spec, expose: [] }, { pnpmVersion: '1.2.3', nodeMajor: 20 }, app);
    expect(text).not.toMatch(/^EXPOSE/m);
  });
});

describe('repoFacts and appFacts', () => {
  it('read the pinned pnpm and the lowest Node major', () => {
    expect(repoFacts({ packageManager: 'pnpm@12.4.2', engines: { node: '>=20' } })).toEqual({
      pnpmVersion: '12.4.2',
      nodeMajor: 20,
    });
    expect(repoFacts({ packageManager: 'pnpm@9.1.0', engines: { node: '^22.3' } }).nodeMajor).toBe(22);
  });

  it('refuse what they cannot pin, naming the field', () => {
    expect(() => repoFacts({ packageManager: 'pnpm@^12', engines: { node: '>=20' } })).toThrow(
      /packageManager/,
    );
    expect(() => repoFacts({ packageManager: 'yarn@4.0.0', engines: { node: '>=20' } })).toThrow(
      /packageManager/,
    );
    expect(() => repoFacts({ packageManager: 'pnpm@12.4.2' })).toThrow(/engines\.node/);
    expect(() => appFacts({ bin: { a: 'a.js' } }, 'apps/x')).toThrow(/apps\/x\/package\.json name/);
    expect(() => appFacts({ name: 'x', bin: { a: 'a.js', b: 'b.js' } }, 'apps/x')).toThrow(/bin/);
    expect(appFacts({ name: 'x', bin: { a: './dist/main.js' } }, 'apps/x')).toEqual({
      name: 'x',
      main: 'dist/main.js',
    });
  });
});
