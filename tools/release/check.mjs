#!/usr/bin/env node
// pnpm release:check — what `pnpm publish -r` would ship, checked before it ships:
//   1. pack every publishable (non-private) workspace package with pnpm (workspace: ranges become versions);
//   2. no test code in a tarball (test-support/ folders, *.test.* files); publint --strict and attw
//      (esm-only profile) on each tarball;
//   3. install all tarballs together into a fresh temp project with npm (third-party deps from the
//      registry, ours only from the tarballs) and import every exported subpath; run the CLI bin;
//   4. every package with a bin is also installed ALONE (as `npx` would fetch it, but from its
//      tarball): into an empty project with `--omit=dev` and no other @contrast-cc tarball. A package
//      that must depend on one of ours fails (that would come from the network registry). A
//      self-contained package (tsup preset `selfContained`) must ship without runtime dependencies,
//      installs with the registry pointed at a closed loopback port (proving nothing is fetched),
//      and its bin runs straight from the extracted tarball with no node_modules at all. Then:
//      `<bin> --version`, `--help`, `<command> --help` for every listed command (each loads its
//      lazily imported code) and one offline command (`contrast runtime --platform Simulated-SNP`);
//      from the bare tarball also `contrast demo` when the CLI has it (the whole path on the
//      simulator, its Coordinator process included; loopback only).
// Assumes the packages are built (`pnpm build`).
// Usage: node tools/release/check.mjs [--keep] [--only <package name>]   (--only: steps 1, 2 and 4
// for that package; no joint install)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { discoverPackages, isSelfContained } from '../repo-checks/check-deps.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const keep = process.argv.includes('--keep');
const onlyIdx = process.argv.indexOf('--only');
const only = onlyIdx >= 0 ? process.argv[onlyIdx + 1] : undefined;
const work = mkdtempSync(path.join(tmpdir(), 'contrast-release-check-'));
const tarDir = path.join(work, 'tarballs');
const problems = [];

function run(cmd, args, opts = {}) {
  // npm and the .bin shims are .cmd files on Windows, which only run through a shell.
  const shell = process.platform === 'win32' && cmd !== process.execPath;
  const r = spawnSync(cmd, args, { encoding: 'utf8', shell, ...opts });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, stdout: r.stdout ?? '' };
}

/** The entries of a tarball listing that are test code: a test-support/ folder or a *.test.* file. */
function testFilesIn(entries) {
  return entries.filter((e) => /(^|\/)test-support\//.test(e) || /\.test\.[cm]?[jt]sx?$/.test(e));
}

const RUNTIME_DEP_FIELDS = ['dependencies', 'peerDependencies', 'optionalDependencies'];
// One offline command per bin that exercises real work beyond help (no network, no cluster).
const OFFLINE_COMMANDS = { contrast: ['runtime', '--platform', 'Simulated-SNP'] };

/** The command names in a `<bin> --help` text: the indented lines under "Commands:". */
function commandsInHelp(help) {
  const lines = help.split(/\r?\n/);
  const start = lines.findIndex((l) => /^Commands:\s*$/.test(l));
  if (start < 0) return [];
  const names = [];
  for (const line of lines.slice(start + 1)) {
    const m = /^ {2}([a-z][\w-]*)\s{2,}\S/.exec(line);
    if (!m) break;
    if (m[1] !== 'help' && m[1] !== 'version') names.push(m[1]);
  }
  return names;
}

/** Runs a bin the way a user would, checks it, and names the run. Returns the failures. */
function exerciseBin(label, argvPrefix, binName, opts, { demo = false } = {}) {
  const failures = [];
  const call = (args) => run(argvPrefix[0], [...argvPrefix.slice(1), ...args], opts);
  const version = call(['--version']);
  if (!version.ok) failures.push(`${label}: ${binName} --version failed\n${version.out}`);
  const help = call(['--help']);
  if (!help.ok) failures.push(`${label}: ${binName} --help failed\n${help.out}`);
  const commands = help.ok ? commandsInHelp(help.stdout) : [];
  for (const cmd of commands) {
    const r = call([cmd, '--help']);
    if (!r.ok || r.stdout.trim() === '') failures.push(`${label}: ${binName} ${cmd} --help failed\n${r.out}`);
  }
  const offline = OFFLINE_COMMANDS[binName];
  if (offline) {
    const r = call(offline);
    if (!r.ok) failures.push(`${label}: ${binName} ${offline.join(' ')} failed\n${r.out}`);
  }
  // The whole CLI path, Coordinator process included, on the simulator (loopback only, ~20 s).
  const withDemo = demo && binName === 'contrast' && commands.includes('demo');
  if (withDemo) {
    const ws = path.join(work, `demo-${label.replace(/\W+/g, '-')}`);
    const r = call(['demo', '--workspace', ws]);
    const left = ['manifest.json', 'verify/coordinator-root-ca.pem', 'verify/mesh-ca.pem'].filter(
      (f) => !existsSync(path.join(ws, f)),
    );
    if (!r.ok || left.length > 0)
      failures.push(
        `${label}: contrast demo failed${left.length ? ` (missing ${left.join(', ')})` : ''}\n${r.out}`,
      );
  }
  console.log(
    `  ${label}: ${binName} ${version.out.trim() || '?'}; --help and ${commands.length} command helps` +
      `${offline ? `; ${offline.join(' ')}` : ''}${withDemo ? '; demo' : ''}: ${failures.length === 0 ? 'ok' : 'FAILED'}`,
  );
  return failures;
}

/**
 * Installs a package with a bin alone (no other @contrast-cc tarball, --omit=dev) into an empty
 * project and runs its bins; a self-contained package also runs from the bare extracted tarball.
 */
function checkAlone(name, tgz, pkg, manifest) {
  const ours = RUNTIME_DEP_FIELDS.flatMap((f) => Object.keys(manifest[f] ?? {})).filter((d) =>
    d.startsWith('@contrast-cc/'),
  );
  if (ours.length > 0) {
    problems.push(
      `${name}: installed alone it would fetch ${ours.join(', ')} from the registry; bundle them (selfContained)`,
    );
    return;
  }
  const selfContained = isSelfContained(pkg.dir);
  const runtimeDeps = RUNTIME_DEP_FIELDS.flatMap((f) => Object.keys(manifest[f] ?? {}));
  if (selfContained && runtimeDeps.length > 0) {
    problems.push(
      `${name}: self-contained, yet its packed package.json has runtime dependencies (${runtimeDeps.join(', ')})`,
    );
    return;
  }
  const slug = name.replace(/^@/, '').replace(/\//g, '-');
  const alone = path.join(work, `alone-${slug}`);
  mkdirSync(alone, { recursive: true });
  writeFileSync(path.join(alone, 'package.json'), JSON.stringify({ name: 'alone', private: true }, null, 2));
  // With no runtime dependencies nothing may be fetched: point the registry at a closed loopback port.
  const registry = runtimeDeps.length === 0 ? ['--registry=http://127.0.0.1:9/'] : [];
  const install = run(
    'npm',
    [
      'install',
      tgz,
      '--omit=dev',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      '--loglevel=error',
      ...registry,
    ],
    { cwd: alone },
  );
  if (!install.ok) {
    problems.push(`${name}: npm install of the tarball alone failed\n${install.out}`);
    return;
  }
  const installed = readdirSync(path.join(alone, 'node_modules')).filter((d) => !d.startsWith('.'));
  const scoped = existsSync(path.join(alone, 'node_modules', '@contrast-cc'))
    ? readdirSync(path.join(alone, 'node_modules', '@contrast-cc'))
    : [];
  console.log(
    `  ${name} installed alone (--omit=dev): node_modules holds ${installed.join(', ')} (@contrast-cc: ${scoped.join(', ')})`,
  );
  if (selfContained && (installed.length !== 1 || scoped.length !== 1)) {
    problems.push(`${name}: self-contained, yet installing it alone brought ${installed.join(', ')}`);
  }
  const ext = process.platform === 'win32' ? '.cmd' : '';
  for (const binName of Object.keys(manifest.bin ?? {})) {
    problems.push(
      ...exerciseBin('installed alone', [path.join(alone, 'node_modules', '.bin', binName + ext)], binName, {
        cwd: alone,
      }),
    );
  }
  if (!selfContained) return;
  // The bare tarball: no node_modules anywhere, not even for the bin's own package.
  const bare = path.join(work, `bare-${slug}`);
  mkdirSync(bare, { recursive: true });
  execFileSync('tar', ['-xzf', tgz, '-C', bare]);
  for (const [binName, rel] of Object.entries(manifest.bin ?? {})) {
    problems.push(
      ...exerciseBin(
        'bare tarball, no node_modules',
        [process.execPath, path.join(bare, 'package', rel)],
        binName,
        {
          cwd: bare,
          env: { ...process.env, NODE_PATH: '' },
        },
        { demo: true },
      ),
    );
  }
}

/** Smoke import: one consumer project with every tarball; import every subpath, run every bin. */
function checkTogether(tarballs) {
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
        const shim = path.join(
          consumer,
          'node_modules',
          '.bin',
          binName + (process.platform === 'win32' ? '.cmd' : ''),
        );
        const r = run(shim, ['--version'], { cwd: consumer });
        if (!r.ok) problems.push(`${name}: bin ${binName} --version failed\n${r.out}`);
        else console.log(`  bin ${binName} --version: ${r.out.trim()}`);
      }
    }
  }
}

try {
  const publishable = discoverPackages(root).filter((p) => !p.pj.private && (!only || p.name === only));
  if (only && publishable.length === 0) problems.push(`--only ${only}: no such publishable package`);
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
    // Test code never ships: no test-support/ folder and no *.test.* file in any tarball
    // (a deliberate testing API lives in src/testing and is exported as ./testing).
    const testFiles = testFilesIn(execFileSync('tar', ['-tzf', tgz], { encoding: 'utf8' }).split('\n'));
    if (testFiles.length > 0) {
      problems.push(`${pkg.name}: the tarball ships test code: ${testFiles.slice(0, 5).join(', ')}`);
    }
    const lint = run(bin('publint'), ['run', tgz, '--strict']);
    if (!lint.ok) problems.push(`${pkg.name}: publint\n${lint.out}`);
    const types = run(bin('attw'), [tgz, '--profile', 'esm-only', '--format', 'ascii']);
    if (!types.ok) problems.push(`${pkg.name}: attw\n${types.out}`);
    console.log(
      `  packed ${path.basename(tgz)}: publint ${lint.ok ? 'ok' : 'FAILED'}, attw ${types.ok ? 'ok' : 'FAILED'}`,
    );
    if (pkg.pj.bin) checkAlone(pkg.name, tgz, pkg, manifest);
  }
  if (!only) checkTogether(tarballs);
} finally {
  if (!keep) rmSync(work, { recursive: true, force: true });
  else console.log(`kept ${work}`);
}

if (problems.length > 0) {
  for (const p of problems) console.error(`release:check: ${p}`);
  process.exit(1);
}
console.log('release:check: every publishable package packs, lints and imports cleanly');
