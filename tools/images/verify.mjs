#!/usr/bin/env node
// `bash tools/run images`: the full reproducibility check of every image we ship.
//   1. two clones of this commit in two temp folders, each installed and built on its own, build
//      every image on the same pinned base -> the digests must be identical, image by image;
//   2. the same in the second clone after a one-byte change of apps/service-mesh/README.md (it is in
//      the proxy's /app) and of examples/shop-app/shop-web.mjs -> exactly those two images change;
//   3. the first clone's images pushed to a real docker-registry on 127.0.0.1, and `skopeo inspect`
//      of each: the digest built, the pinned base in the manifest, the app's entrypoint and user,
//      created 1970-01-01, no build folder anywhere in the manifest or config.
// Usage: node tools/images/verify.mjs [--base REF] [--keep]. Exit 0 when every check passed.
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { imageList, run } from './build.mjs';
import { defaultBase } from './cli.mjs';
import { appFacts, repoRoot } from './dockerfile.mjs';
import { sha256 } from './oci.mjs';
import { startRegistry } from './registry.mjs';

const args = process.argv.slice(2);
const baseArg = args.includes('--base') ? args[args.indexOf('--base') + 1] : undefined;
const keep = args.includes('--keep');
const say = (m) => process.stderr.write(`\n== ${m}\n`);
const failures = [];
const check = (ok, what) => {
  process.stderr.write(`${ok ? 'ok  ' : 'FAIL'} ${what}\n`);
  if (!ok) failures.push(what);
};

const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' };
const work = mkdtempSync(path.join(os.tmpdir(), 'contrast-images-verify-'));

function clone(label) {
  const dir = path.join(work, label, 'src');
  say(
    `clone ${label}: git clone (HEAD ${run('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot }).trim()}) + pnpm install`,
  );
  run('git', ['clone', '--quiet', '--no-hardlinks', repoRoot, dir]);
  run('pnpm', ['install', '--frozen-lockfile', '--prefer-offline', '--silent'], { cwd: dir, env });
  return dir;
}

function build(dir, base, out, extra = []) {
  const r = spawnSync(
    process.execPath,
    ['tools/images/cli.mjs', 'build', '--out', out, ...(base ? ['--base', base] : []), ...extra],
    {
      cwd: dir,
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  if (r.status !== 0) throw new Error(`images build in ${dir} exited ${r.status}`);
  return Object.fromEntries(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => {
        const at = l.lastIndexOf('@');
        return [l.slice(0, at), l.slice(at + 1)];
      }),
  );
}

let registry;
try {
  // Without --base: the Debian test bases (one per set of apt packages), built once here and then
  // found in the shared cache by both clones.
  const base = baseArg;
  if (!base) for (const img of imageList(repoRoot)) say(`base ${defaultBase(img.apt?.packages ?? [])}`);
  const a = clone('a');
  const b = clone('b');
  say('build in clone a');
  const da = build(a, base, path.join(work, 'a', 'out'));
  say('build in clone b');
  const db = build(b, base, path.join(work, 'b', 'out'));
  const names = imageList(repoRoot).map((i) => i.name);
  check(
    JSON.stringify(Object.keys(da)) === JSON.stringify(names),
    `clone a built every image (${names.join(', ')})`,
  );
  for (const n of names)
    check(da[n] !== undefined && da[n] === db[n], `${n}: same digest from both folders (${da[n]})`);

  say('one-byte changes in clone b: apps/service-mesh/README.md, examples/shop-app/shop-web.mjs');
  appendFileSync(path.join(b, 'apps/service-mesh/README.md'), ' ');
  appendFileSync(path.join(b, 'examples/shop-app/shop-web.mjs'), ' ');
  const dc = build(b, base, path.join(work, 'b', 'out2'));
  const changed = names.filter((n) => dc[n] !== da[n]);
  check(
    JSON.stringify(changed) === JSON.stringify(['service-mesh-proxy', 'examples/shop-web']),
    `exactly the images holding the changed files changed (changed: ${changed.join(', ') || 'none'})`,
  );

  say('push clone a to a docker-registry on 127.0.0.1 and inspect');
  registry = await startRegistry();
  const prefix = `${registry.host}/contrast`;
  const pushed = spawnSync(
    process.execPath,
    [
      'tools/images/cli.mjs',
      'build',
      '--out',
      path.join(work, 'a', 'out'),
      ...(base ? ['--base', base] : []),
      '--push',
      prefix,
    ],
    { cwd: a, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  check(pushed.status === 0, 'images build --push exited 0');
  const lines = pushed.stdout.trim().split('\n');
  const bases = JSON.parse(readFileSync(path.join(work, 'a', 'out', 'images.json'), 'utf8')).bases;
  for (const img of imageList(repoRoot)) {
    const ref = `${prefix}/${img.name}@${da[img.name]}`;
    check(lines.includes(ref), `printed ${ref}`);
    const raw = run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]);
    const cfgRaw = run('skopeo', ['inspect', '--config', '--raw', '--tls-verify=false', `docker://${ref}`]);
    const manifest = JSON.parse(raw);
    const config = JSON.parse(cfgRaw);
    check(sha256(Buffer.from(raw)) === da[img.name], `${img.name}: the registry serves the manifest built`);
    check(
      manifest.annotations?.['org.opencontainers.image.base.digest'] === bases[img.name].split('@')[1],
      `${img.name}: base pinned (${bases[img.name]})`,
    );
    const entry =
      img.kind === 'app'
        ? [
            'node',
            path.posix.join(
              '/app',
              appFacts(
                JSON.parse(readFileSync(path.join(repoRoot, img.dir, 'package.json'), 'utf8')),
                img.dir,
              ).main,
            ),
          ]
        : img.entrypoint;
    check(
      JSON.stringify(config.config.Entrypoint) === JSON.stringify(entry),
      `${img.name}: entrypoint ${entry.join(' ')}`,
    );
    check(config.config.User === img.user, `${img.name}: user ${img.user}`);
    check(
      config.created === '1970-01-01T00:00:00Z' &&
        config.history.every((h) => !h.created || h.created.startsWith('1970-01-01')),
      `${img.name}: no build time`,
    );
    check(
      ![work, repoRoot, os.tmpdir()].some((p) => raw.includes(p) || cfgRaw.includes(p)),
      `${img.name}: no build folder in manifest or config`,
    );
  }
} catch (e) {
  failures.push(e instanceof Error ? e.message : String(e));
  process.stderr.write(`FAIL ${failures.at(-1)}\n`);
} finally {
  await registry?.stop();
  if (!keep) rmSync(work, { recursive: true, force: true });
}
const total = failures.length;
console.log(
  total === 0
    ? '\nimages: every check passed'
    : `\nimages: ${total} check(s) failed:\n  ${failures.join('\n  ')}`,
);
process.exit(total === 0 ? 0 : 1);
