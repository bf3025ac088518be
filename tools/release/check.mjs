#!/usr/bin/env node
// pnpm release:check — what `pnpm publish -r` would ship, checked before it ships:
//   1. pack every publishable (non-private) workspace package with pnpm (workspace: ranges become versions);
//   2. publint --strict and attw (esm-only profile) on each tarball;
//   3. install all tarballs together into a fresh temp project with npm (third-party deps from the
//      registry, ours only from the tarballs) and import every exported subpath; run the CLI bin.
// Assumes the packages are built (`pnpm build`).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { discoverPackages } from '../repo-checks/check-deps.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const keep = process.argv.includes('--keep');
const work = mkdtempSync(path.join(tmpdir(), 'contrast-release-check-'));
const tarDir = path.join(work, 'tarballs');
const problems = [];

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

try {
  const publishable = discoverPackages(root).filter((p) => !p.pj.private);
  console.log(`release:check: ${publishable.length} publishable packages`);
  const tarballs = new Map();
  for (const pkg of publishable) {
    if (!existsSync(path.join(pkg.dir, 'dist'))) {
      problems.push(`${pkg.name}: not built (run pnpm build)`);
      continue;
    }
    const before = new Set(existsSync(tarDir) ? readdirSync(tarDir) : []);
    const packed = run('pnpm', ['pack', '--pack-destination', tarDir], { cwd: pkg.dir });
    const made = (existsSync(tarDir) ? readdirSync(tarDir) : []).filter(
      (f) => !before.has(f) && f.endsWith('.tgz'),
    );
    if (!packed.ok || made.length !== 1) {
      problems.push(`${pkg.name}: pnpm pack failed\n${packed.out}`);
      continue;
    }
    const tgz = path.join(tarDir, made[0]);
    tarballs.set(pkg.name, { tgz, pkg });
    const manifest = JSON.parse(
      execFileSync('tar', ['-xzOf', tgz, 'package/package.json'], { encoding: 'utf8' }),
    );
    const leftover = Object.entries({ ...manifest.dependencies, ...manifest.peerDependencies }).filter(
      ([, v]) => String(v).startsWith('workspace:'),
    );
    if (leftover.length > 0)
      problems.push(
        `${pkg.name}: packed package.json keeps workspace: ranges (${leftover.map(([k]) => k).join(', ')})`,
      );
    const lint = run(bin('publint'), ['run', tgz, '--strict']);
    if (!lint.ok) problems.push(`${pkg.name}: publint\n${lint.out}`);
    const types = run(bin('attw'), [tgz, '--profile', 'esm-only', '--format', 'ascii']);
    if (!types.ok) problems.push(`${pkg.name}: attw\n${types.out}`);
    console.log(
      `  packed ${path.basename(tgz)}: publint ${lint.ok ? 'ok' : 'FAILED'}, attw ${types.ok ? 'ok' : 'FAILED'}`,
    );
  }

  // Smoke import: one consumer project with every tarball.
  const consumer = path.join(work, 'consumer');
  const deps = Object.fromEntries([...tarballs].map(([name, { tgz }]) => [name, `file:${tgz}`]));
  mkdirSync(consumer, { recursive: true });
  writeFileSync(
    path.join(consumer, 'package.json'),
    JSON.stringify(
      { name: 'release-check-consumer', private: true, type: 'module', dependencies: deps, overrides: deps },
      null,
      2,
    ),
  );
  console.log('  installing the tarballs into a fresh project (npm) ...');
  const install = run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], {
    cwd: consumer,
  });
  if (!install.ok) problems.push(`npm install of the packed tarballs failed\n${install.out}`);
  else {
    for (const [name, { pkg }] of tarballs) {
      const subpaths = Object.keys(pkg.pj.exports ?? { '.': {} }).filter((s) => s !== './package.json');
      for (const sub of subpaths) {
        const spec = sub === '.' ? name : `${name}/${sub.slice(2)}`;
        // JSON subpaths (a JSON Schema, say) need the import attribute.
        const attrs = sub.endsWith('.json') ? ", { with: { type: 'json' } }" : '';
        const probe = run(
          process.execPath,
          [
            '--input-type=module',
            '-e',
            `const m = await import(${JSON.stringify(spec)}${attrs}); console.log(Object.keys(m).length);`,
          ],
          {
            cwd: consumer,
          },
        );
        if (!probe.ok) problems.push(`${spec}: import failed in a fresh project\n${probe.out}`);
        else console.log(`  import ${spec}: ok (${probe.out.trim()} exports)`);
      }
      for (const [binName] of Object.entries(pkg.pj.bin ?? {})) {
        const r = run(path.join(consumer, 'node_modules', '.bin', binName), ['--version'], { cwd: consumer });
        if (!r.ok) problems.push(`${name}: bin ${binName} --version failed\n${r.out}`);
        else console.log(`  bin ${binName} --version: ${r.out.trim()}`);
      }
    }
  }
} finally {
  if (!keep) rmSync(work, { recursive: true, force: true });
  else console.log(`kept ${work}`);
}

if (problems.length > 0) {
  for (const p of problems) console.error(`release:check: ${p}`);
  process.exit(1);
}
console.log('release:check: every publishable package packs, lints and imports cleanly');
