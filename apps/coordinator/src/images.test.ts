// The container images of the three apps, proven as far as a machine without a container engine
// allows (apps/coordinator/README.md, "Images"):
// 1. every Dockerfile, parsed: pnpm at the root packageManager version, build and deploy of the
//    app's own package, the ENTRYPOINT is the app's built bin, both stages on the engines' Node major;
// 2. the root .dockerignore, applied with Docker's pattern rules to this checkout: no host
//    node_modules, dist, .turbo, ... reach `COPY . .`, every file the install and build need does;
// 3. each Dockerfile's deploy step run for real (pnpm deploy --prod into a temporary dir), then the
//    deployed apps run from those dirs only, as the image's ENTRYPOINT would (cwd = the deploy dir,
//    the Dockerfile's ENV, NODE_PATH unset, as the Dockerfile's USER when the test runs as root):
//    Coordinator -> manifest set -> initializer writes its files -> service-mesh proxy accepts an
//    mTLS connection with the initializer's certificate and refuses others.
import { spawn, spawnSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
} from 'node:fs';
import { get } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { createTlsIdentity } from '@contrast-cc/authority/server';
import { deployment, MEASUREMENT } from '@contrast-cc/authority/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attestedClient, fakeCoordinatorEnv } from './test-support/coordinator-process.js';
import { type Spawned, waitListening, watchProcess } from './test-support/spawn.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const APPS = ['coordinator', 'initializer', 'service-mesh'] as const;
type App = (typeof APPS)[number];

interface PackageJson {
  name: string;
  packageManager?: string;
  engines?: { node?: string };
  bin?: string | Record<string, string>;
  main?: string;
  exports?: Record<string, unknown>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}
const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as PackageJson;
const rootPkg = readJson(path.join(repoRoot, 'package.json'));
const appPkg = (app: App) => readJson(path.join(repoRoot, 'apps', app, 'package.json'));

// ---------------------------------------------------------------------------------------------
// A Dockerfile parser for what these files use: comments, line continuations, one instruction a
// line, stages by FROM ... AS name, shell-form RUN split at &&, exec-form ENTRYPOINT.

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}
interface Stage {
  image: string;
  name: string | undefined;
  instructions: Instruction[];
}

function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let logical = lines[i]!.trim();
    if (logical === '' || logical.startsWith('#')) continue;
    while (logical.endsWith('\\')) {
      logical = logical.slice(0, -1);
      // Comment lines inside a continuation are dropped, as Docker does.
      do i++;
      while (i < lines.length && lines[i]!.trim().startsWith('#'));
      logical += ` ${(lines[i] ?? '').trim()}`;
    }
    const m = /^(\S+)\s*(.*)$/.exec(logical)!;
    const ins = { keyword: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start };
    if (ins.keyword === 'FROM') {
      const from = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!from) throw new Error(`line ${start}: FROM "${ins.args}" is not "image [AS name]"`);
      stages.push({ image: from[1]!, name: from[2], instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`line ${start}: ${ins.keyword} before the first FROM`);
    stage.instructions.push(ins);
  }
  return stages;
}

const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
const last = (stage: Stage, keyword: string) => all(stage, keyword).at(-1);

/** The commands of a stage's RUN instructions, split at && into words (no quoting is used). */
function commands(stage: Stage): string[][] {
  return all(stage, 'RUN').flatMap((run) =>
    run.args.split('&&').map((c) => {
      if (/['"$`]/.test(c))
        throw new Error(`line ${run.line}: quoting or expansion in RUN is not parsed here`);
      return c.trim().split(/\s+/);
    }),
  );
}

/** The value of --name (as `--name value` or `--name=value`) in a command's words. */
function flag(words: string[], name: string): string | undefined {
  const i = words.indexOf(name);
  if (i >= 0) return words[i + 1];
  return words.find((w) => w.startsWith(`${name}=`))?.slice(name.length + 1);
}

/** `node:20-bookworm-slim` -> 20 (the official image's tags start with the Node version). */
function nodeMajorOfImage(image: string): number {
  const m = /^(?:docker\.io\/(?:library\/)?)?node:(\d+)(?:[.-]|$|@)/.exec(image);
  if (!m) throw new Error(`base image "${image}" is not an official node image with a major version tag`);
  return Number(m[1]);
}

/** `>=20` / `^20.11` / `20.x` -> 20: the smallest Node major the engines range allows. */
function minMajor(range: string | undefined): number {
  const m = /^\s*(?:>=|\^|~)?\s*v?(\d+)/.exec(range ?? '');
  if (!m) throw new Error(`engines.node "${range}" has no lower bound`);
  return Number(m[1]);
}

interface ImageFacts {
  build: Stage;
  runtime: Stage;
  pnpmVersion: string | undefined;
  usesCorepack: boolean;
  buildFilter: string | undefined;
  deploy: string[];
  workdir: string;
  entrypoint: string[];
  user: { uid: number; gid: number };
  env: Record<string, string>;
  copyFrom: string[];
}

function imageFacts(app: App): ImageFacts {
  const stages = parseDockerfile(readFileSync(path.join(repoRoot, 'apps', app, 'Dockerfile'), 'utf8'));
  expect(stages.length, `${app}: a build stage and a runtime stage`).toBe(2);
  const [build, runtime] = stages as [Stage, Stage];
  const cmds = commands(build);
  const npmPnpm = cmds.find((w) => w[0] === 'npm' && ['i', 'install'].includes(w[1]!) && w.includes('-g'));
  const turbo = cmds.find((w) => w.includes('turbo') && w.includes('run') && w.includes('build'));
  const deploy = cmds.find((w) => w[0] === 'pnpm' && w[1] === 'deploy');
  const user = /^(\d+)(?::(\d+))?$/.exec(last(runtime, 'USER')?.args ?? '');
  const env: Record<string, string> = {};
  for (const e of all(runtime, 'ENV')) {
    for (const [, k, v] of e.args.matchAll(/(\w+)=(\S*)/g)) env[k!] = v!;
  }
  return {
    build,
    runtime,
    pnpmVersion: npmPnpm?.find((w) => w.startsWith('pnpm@'))?.slice('pnpm@'.length),
    usesCorepack: cmds.some((w) => w[0] === 'corepack'),
    buildFilter: turbo ? flag(turbo, '--filter') : undefined,
    deploy: deploy ?? [],
    workdir: last(runtime, 'WORKDIR')?.args ?? '/',
    entrypoint: JSON.parse(last(runtime, 'ENTRYPOINT')?.args ?? '[]') as string[],
    user: user ? { uid: Number(user[1]), gid: Number(user[2] ?? user[1]) } : { uid: 0, gid: 0 },
    env,
    copyFrom: last(runtime, 'COPY')?.args.split(/\s+/) ?? [],
  };
}

/** The app's built program: its single bin (or main), as a path inside the package. */
function builtMain(pkg: PackageJson): string {
  const bins = typeof pkg.bin === 'string' ? [pkg.bin] : Object.values(pkg.bin ?? {});
  const main = bins.length === 1 ? bins[0] : pkg.main;
  if (!main) throw new Error(`${pkg.name}: no single bin or main`);
  return path.posix.normalize(main);
}

describe('Dockerfiles', () => {
  const pnpmPinned = /^pnpm@(\d+\.\d+\.\d+)$/.exec(rootPkg.packageManager ?? '')?.[1];

  it('the root package.json pins pnpm exactly', () => {
    expect(pnpmPinned, 'packageManager must be pnpm@x.y.z').toBeDefined();
  });

  for (const app of APPS) {
    describe(app, () => {
      const pkg = appPkg(app);
      const f = imageFacts(app);

      it('installs pnpm at the packageManager version (not with corepack)', () => {
        expect(f.pnpmVersion).toBe(pnpmPinned);
        expect(f.usesCorepack).toBe(false);
      });

      it("builds the app's own package with its dependencies and deploys it with --prod", () => {
        expect(f.buildFilter).toBe(`${pkg.name}...`);
        expect(flag(f.deploy, '--filter')).toBe(pkg.name);
        expect(f.deploy).toContain('--prod');
        // The runtime stage takes exactly the deploy output from the build stage.
        const out = f.deploy.at(-1)!;
        expect(out.startsWith('/')).toBe(true);
        expect(f.build.name).toBeDefined();
        expect(f.copyFrom).toEqual([`--from=${f.build.name}`, out, f.workdir]);
      });

      it("starts the app's built bin", () => {
        expect(f.entrypoint).toEqual(['node', path.posix.join(f.workdir, builtMain(pkg))]);
      });

      it('runs both stages on the Node major of engines', () => {
        const major = minMajor(pkg.engines?.node ?? rootPkg.engines?.node);
        expect(minMajor(rootPkg.engines?.node)).toBe(major);
        expect(nodeMajorOfImage(f.build.image)).toBe(major);
        expect(nodeMajorOfImage(f.runtime.image)).toBe(major);
      });
    });
  }

  it('installs cryptsetup and mkfs.ext4 in the initializer (secure PV), and nothing in the others', () => {
    const installs = (app: App) =>
      commands(imageFacts(app).runtime)
        .filter((w) => w[0] === 'apt-get' && w[1] === 'install')
        .flatMap((w) => w.slice(2).filter((x) => !x.startsWith('-')));
    expect(installs('initializer')).toEqual(['cryptsetup-bin', 'e2fsprogs', 'nftables', 'iptables']);
    expect(installs('coordinator')).toEqual([]);
  });

  it('runs the Coordinator as non-root and the initializer and proxy as root, saying why', () => {
    expect(imageFacts('coordinator').user.uid).not.toBe(0);
    expect(all(imageFacts('coordinator').runtime, 'EXPOSE')[0]?.args.split(/\s+/)).toEqual(['1314', '9102']);
    for (const app of ['initializer', 'service-mesh'] as const) {
      expect(imageFacts(app).user.uid).toBe(0);
      const text = readFileSync(path.join(repoRoot, 'apps', app, 'Dockerfile'), 'utf8');
      expect(text).toMatch(/^# Root on purpose/m);
    }
  });

  it('parses what it checks (a Dockerfile with corepack and another filter is told apart)', () => {
    const [build] = parseDockerfile(
      'FROM node:22-slim AS b\n# c\nRUN corepack enable \\\n  # inner comment\n  && pnpm exec turbo run build --filter=x...\n',
    ) as [Stage];
    expect(commands(build)).toEqual([
      ['corepack', 'enable'],
      ['pnpm', 'exec', 'turbo', 'run', 'build', '--filter=x...'],
    ]);
    expect(flag(commands(build)[1]!, '--filter')).toBe('x...');
    expect(nodeMajorOfImage(build.image)).toBe(22);
    expect(() => nodeMajorOfImage('node:lts-slim')).toThrow(/major version/);
    expect(minMajor('>=20')).toBe(20);
    expect(() => parseDockerfile('RUN x\n')).toThrow(/before the first FROM/);
  });
});

// ---------------------------------------------------------------------------------------------
// .dockerignore with Docker's rules: patterns are relative to the context root (a leading / is
// dropped), `*` and `?` stay within a path segment, `**` spans any number of segments, `!` re-
// includes, the last matching pattern wins, and an excluded directory excludes what is inside.

function dockerignore(text: string): (rel: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = path.posix.normalize((negate ? l.slice(1) : l).trim().replace(/^\/+/, ''));
      let re = '';
      for (let i = 0; i < pattern.length; i++) {
        const c = pattern[i]!;
        if (c === '*' && pattern[i + 1] === '*') {
          i++;
          if (pattern[i + 1] === '/') {
            i++;
            re += '(?:.*/)?';
          } else re += '.*';
        } else if (c === '*') re += '[^/]*';
        else if (c === '?') re += '[^/]';
        else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      }
      return { negate, re: new RegExp(`^${re}$`) };
    });
  return (rel) => {
    const parts = rel.split('/');
    let excluded = false;
    for (const r of rules) {
      // The pattern matches the path or one of its parent directories.
      const hit = parts.some((_, n) => r.re.test(parts.slice(0, n + 1).join('/')));
      if (hit) excluded = !r.negate;
    }
    return excluded;
  };
}

describe('.dockerignore', () => {
  const text = readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8');
  const ignored = dockerignore(text);

  it("matches with Docker's rules (checked on made-up paths)", () => {
    const rules = dockerignore('**/dist\nnode_modules\n/.turbo\n*.md\n!keep.md\ncache/**/x?\n');
    expect(rules('dist')).toBe(true);
    expect(rules('packages/core/dist/index.js')).toBe(true);
    expect(rules('packages/core/src/dist.ts')).toBe(false);
    expect(rules('apps/cli/distribution/a')).toBe(false);
    expect(rules('node_modules/x/index.js')).toBe(true);
    expect(rules('apps/cli/node_modules/x')).toBe(false); // no **/: the root only
    expect(rules('.turbo/cache')).toBe(true);
    expect(rules('README.md')).toBe(true);
    expect(rules('docs/README.md')).toBe(false); // * stays in one segment
    expect(rules('keep.md')).toBe(false);
    expect(rules('cache/a/b/x1')).toBe(true);
    expect(rules('cache/x12')).toBe(false);
  });

  it('keeps host installs and builds out of the context in every package', () => {
    for (const dir of ['', 'apps/coordinator/', 'packages/core/', 'platforms/testkit/', 'tools/bench/']) {
      for (const junk of [
        'node_modules/x/index.js',
        'dist/index.js',
        '.turbo/x',
        '.cache/tsc/a',
        'coverage/x',
      ]) {
        expect(ignored(`${dir}${junk}`), `${dir}${junk}`).toBe(true);
      }
      expect(ignored(`${dir}tsconfig.tsbuildinfo`)).toBe(true);
    }
    expect(ignored('.git/HEAD')).toBe(true);
  });

  it('sends what the install and build need, and nothing built, from this checkout', () => {
    // Walk the checkout as `docker build` would send it (an excluded directory is not entered).
    const kept: string[] = [];
    const dropped: string[] = [];
    const walk = (rel: string) => {
      for (const e of readdirSync(path.join(repoRoot, rel), { withFileTypes: true })) {
        const child = rel ? `${rel}/${e.name}` : e.name;
        if (ignored(child)) dropped.push(child);
        else if (e.isDirectory()) walk(child);
        else kept.push(child);
      }
    };
    walk('');
    const junk = kept.filter((p) =>
      p.split('/').some((s) => ['node_modules', 'dist', '.turbo', '.cache', 'coverage', '.git'].includes(s)),
    );
    expect(junk).toEqual([]);
    if (existsSync(path.join(repoRoot, 'node_modules'))) expect(dropped).toContain('node_modules');
    const needed = [
      'package.json',
      'pnpm-lock.yaml',
      'pnpm-workspace.yaml',
      'turbo.json',
      'tsconfig.base.json',
    ];
    for (const group of ['apps', 'packages', 'platforms', 'tools']) {
      for (const d of readdirSync(path.join(repoRoot, group))) {
        if (existsSync(path.join(repoRoot, group, d, 'package.json')))
          needed.push(`${group}/${d}/package.json`);
      }
    }
    expect(needed.filter((p) => !kept.includes(p))).toEqual([]);
    for (const app of APPS) expect(kept).toContain(`apps/${app}/src/main.ts`);
  });
});

// ---------------------------------------------------------------------------------------------
// The deploy step for real and the deployed apps run from their deploy dirs only.

/** The workspace packages by name -> directory. */
function workspacePackages(): Map<string, string> {
  const map = new Map<string, string>();
  for (const group of ['apps', 'packages', 'platforms', 'tools']) {
    for (const d of readdirSync(path.join(repoRoot, group))) {
      const file = path.join(repoRoot, group, d, 'package.json');
      if (existsSync(file)) map.set(readJson(file).name, path.dirname(file));
    }
  }
  return map;
}

/** Why the app and its workspace dependencies cannot be deployed as built, or undefined. */
function notBuilt(app: App): string | undefined {
  const ws = workspacePackages();
  const seen = new Set<string>();
  const queue = [appPkg(app).name];
  while (queue.length > 0) {
    const name = queue.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const dir = ws.get(name)!;
    const pkg = readJson(path.join(dir, 'package.json'));
    const targets: string[] = [];
    const collect = (v: unknown) => {
      if (typeof v === 'string') targets.push(v);
      else if (v && typeof v === 'object') {
        for (const [k, sub] of Object.entries(v))
          if (k !== '@contrast-cc/source' && k !== 'types') collect(sub);
      }
    };
    collect(pkg.exports);
    if (pkg.bin) collect(pkg.bin);
    for (const t of targets) {
      if (!t.endsWith('package.json') && !existsSync(path.join(dir, t))) {
        return `${path.relative(repoRoot, path.join(dir, t))} is missing`;
      }
    }
    for (const [dep, spec] of Object.entries(pkg.dependencies ?? {})) {
      if (spec.startsWith('workspace:')) queue.push(dep);
    }
  }
  return undefined;
}

const pnpmVersion = spawnSync('pnpm', ['--version'], { encoding: 'utf8' });
const pinned = rootPkg.packageManager?.replace(/^pnpm@/, '');
const skipReason =
  pnpmVersion.status !== 0
    ? 'pnpm is not on PATH (tools/run installs it)'
    : pnpmVersion.stdout.trim() !== pinned
      ? `pnpm on PATH is ${pnpmVersion.stdout.trim()}, the images use ${pinned}`
      : APPS.map(notBuilt)
          .map((r) => r && `${r} (build first: pnpm exec turbo run build)`)
          .find((r) => r !== undefined);
if (skipReason) {
  console.warn(`skipping the deployed-image tests: ${skipReason}`);
}

describe.skipIf(skipReason !== undefined)(
  'the deployed images (pnpm deploy, run from the deploy dir)',
  () => {
    let base = '';
    // Stands in for the image's `/`: root-owned, not writable by others (HOME, the proxy's /ready).
    const rootfs = () => path.join(base, 'rootfs');
    const deployDir = (app: App) => path.join(base, app);
    const asRoot = process.getuid?.() === 0;
    const procs: Spawned[] = [];
    const servers: Server[] = [];
    const d = deployment(['web']);

    beforeAll(() => {
      if (!asRoot) console.warn('images test: not root, so the apps run as this user, not as their USER');
      base = mkdtempSync(path.join(tmpdir(), 'contrast-images-'));
      chmodSync(base, 0o755);
      mkdirSync(rootfs(), { mode: 0o755 });
      // Node resolves bare imports in every parent's node_modules: none may be above the deploy dirs.
      for (let dir = base; ; dir = path.dirname(dir)) {
        expect(
          existsSync(path.join(dir, 'node_modules')),
          `${dir}/node_modules would leak into the apps`,
        ).toBe(false);
        if (path.dirname(dir) === dir) break;
      }
      for (const app of APPS) {
        const f = imageFacts(app);
        // The Dockerfile's own deploy command, into this test's dir instead of /out; --offline: from
        // the store the install filled, never the network.
        const args = [...f.deploy.slice(1, -1), deployDir(app), '--offline'];
        const r = spawnSync('pnpm', args, { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
        if (r.status !== 0) throw new Error(`pnpm ${args.join(' ')} failed: ${r.stderr}${r.stdout}`);
      }
    }, 120_000);

    afterAll(async () => {
      for (const p of procs) p.child.kill('SIGKILL');
      await Promise.all(procs.map((p) => p.exited));
      for (const s of servers) s.close();
      if (base) rmSync(base, { recursive: true, force: true });
    });

    /** Starts the app as the image's ENTRYPOINT: cwd WORKDIR, its ENV, its USER (when root). */
    function runImage(app: App, env: Record<string, string>): Spawned {
      const f = imageFacts(app);
      const [cmd, entry] = f.entrypoint as [string, string];
      expect(cmd).toBe('node');
      const script = path.join(deployDir(app), path.posix.relative(f.workdir, entry));
      const child = spawn(process.execPath, [script], {
        cwd: deployDir(app),
        // Nothing from this test process (no NODE_PATH, NODE_OPTIONS, vitest variables).
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: rootfs(), ...f.env, ...env },
        ...(asRoot ? { uid: f.user.uid, gid: f.user.gid } : {}),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const p = watchProcess(child, app);
      procs.push(p);
      return p;
    }

    /** Fails unless the process runs as the Dockerfile's USER (real and effective uid, /proc). */
    function expectUser(app: App, p: Spawned): void {
      const status = `/proc/${p.child.pid}/status`;
      if (!asRoot || !existsSync(status)) return;
      const uid = String(imageFacts(app).user.uid);
      expect(/^Uid:\s+(\d+)\s+(\d+)/m.exec(readFileSync(status, 'utf8'))?.slice(1, 3), app).toEqual([
        uid,
        uid,
      ]);
    }

    it('deploys each app self-contained: its built main, production dependencies only, no link outside', () => {
      for (const app of APPS) {
        const dir = deployDir(app);
        expect(statSync(path.join(dir, builtMain(appPkg(app)))).isFile()).toBe(true);
        expect(existsSync(path.join(dir, 'node_modules/@contrast-cc/build-config'))).toBe(false);
        expect(existsSync(path.join(dir, 'node_modules/vitest'))).toBe(false);
        const outside: string[] = [];
        const walk = (d: string) => {
          for (const e of readdirSync(d, { withFileTypes: true })) {
            const p = path.join(d, e.name);
            if (e.isSymbolicLink()) {
              const target = realpathSync(p);
              if (!target.startsWith(`${dir}/`)) outside.push(`${path.relative(dir, p)} -> ${target}`);
            } else if (e.isDirectory()) walk(p);
          }
        };
        walk(dir);
        expect(outside, `${app}: links out of the deploy dir (the image would not have them)`).toEqual([]);
      }
    });

    it('Coordinator -> manifest -> initializer files -> mTLS through the proxy, each from its deploy', async () => {
      const coordinator = imageFacts('coordinator');
      const storeDir = path.join(base, 'coordinator-store');
      mkdirSync(storeDir);
      // The volume a directory store needs, writable by the image's USER.
      if (asRoot) chownSync(storeDir, coordinator.user.uid, coordinator.user.gid);
      const coord = runImage('coordinator', fakeCoordinatorEnv(d, storeDir));
      const listening = await waitListening(coord);
      const port = listening.port as number;
      expectUser('coordinator', coord);
      expect(await httpStatus(listening.metricsPort as number, '/probe/liveness')).toBe(200);

      const client = await attestedClient(d, port);
      const set = await client.setManifest({ manifest: d.manifest, policies: d.policies });

      // The pod's /contrast: an emptyDir (mode 0777), written by the initializer.
      const pod = path.join(base, 'pod-contrast');
      mkdirSync(pod);
      chmodSync(pod, 0o777);
      const init = runImage('initializer', {
        CONTRAST_COORDINATOR: `127.0.0.1:${port}`,
        CONTRAST_OUT_DIR: pod,
        CONTRAST_ISSUER: 'fake',
        CONTRAST_ALLOW_INSECURE_RUNTIMES: '1',
        CONTRAST_FAKE_POLICY_HASH: d.hashes.web!,
        CONTRAST_FAKE_MEASUREMENT: MEASUREMENT,
        CONTRAST_DEADLINE_SECONDS: '20',
      });
      expect(await init.exited, init.stderr.join('')).toBe(0);
      const file = (name: string) => readFileSync(path.join(pod, name), 'utf8');
      const chainPem = file('tls-config/certChain.pem');
      const keyPem = file('tls-config/key.pem');
      const rootPem = file('tls-config/coordinator-root-ca.pem');
      expect(rootPem).toBe(set.root_ca);
      expect(file('tls-config/mesh-ca.pem')).toBe(set.mesh_ca);
      expect(file('secrets/workload-secret-seed')).toMatch(/^[0-9a-f]{128}$/);
      expect(lstatSync(path.join(pod, 'tls-config/key.pem')).mode & 0o777).toBe(0o600);

      // The chain verifies against the root CA: leaf <- intermediate <- root (self-signed).
      const [leaf, intermediate] = (
        chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
      ).map((p) => new X509Certificate(p));
      const root = new X509Certificate(rootPem);
      expect(leaf && intermediate).toBeTruthy();
      expect(root.verify(root.publicKey)).toBe(true);
      expect(intermediate!.checkIssued(root) && intermediate!.verify(root.publicKey)).toBe(true);
      expect(leaf!.checkIssued(intermediate!) && leaf!.verify(intermediate!.publicKey)).toBe(true);
      expect(leaf!.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
      expect(leaf!.subjectAltName).toContain('DNS:web');
      // ... and not against anything else.
      const stranger = generateKeyPairSync('ec', { namedCurve: 'P-384' });
      expect(leaf!.verify(stranger.publicKey)).toBe(false);
      expect(intermediate!.verify(stranger.publicKey)).toBe(false);
      expect(leaf!.checkPrivateKey(stranger.privateKey)).toBe(false);

      // The workload behind the proxy (127.0.0.1:P) and the proxy on the pod IP (127.0.0.2:P).
      const workload = createServer((s) => s.on('data', (b) => s.write(`web:${b.toString()}`)));
      servers.push(workload);
      await new Promise<void>((r) => workload.listen(0, '127.0.0.1', r));
      const appPort = (workload.address() as { port: number }).port;
      const ready = path.join(rootfs(), 'ready');
      const proxy = runImage('service-mesh', {
        CONTRAST_TLS_DIR: path.join(pod, 'tls-config'),
        CONTRAST_INGRESS_MTLS_PORTS: String(appPort),
        CONTRAST_INGRESS_LISTEN_ADDRESS: '127.0.0.2',
        CONTRAST_READY_FILE: ready,
      });
      await waitListening(proxy);
      expectUser('service-mesh', proxy);
      expect(readFileSync(ready, 'utf8')).toBe('ready\n');

      const mtls = (opts: { cert?: string; key?: string }) =>
        exchange(
          tlsConnect({ host: '127.0.0.2', port: appPort, servername: 'web', ca: rootPem, ...opts }),
          'ping',
        );
      expect(await mtls({ cert: chainPem, key: keyPem })).toBe('web:ping');
      await expect(mtls({})).rejects.toThrow();
      // A mesh certificate for the same name from another deployment's CA is refused too.
      const foreign = await createTlsIdentity(['web']);
      await expect(
        mtls({ cert: foreign.certPem, key: foreign.key.export({ type: 'pkcs8', format: 'pem' }).toString() }),
      ).rejects.toThrow();
    }, 60_000);
  },
);

function httpStatus(port: number, urlPath: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: urlPath }, (res) => {
      res.resume();
      resolve(res.statusCode);
    }).on('error', reject);
  });
}

/** Writes `text` and resolves with the first answer; rejects when the peer closes or fails first. */
function exchange(socket: TLSSocket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer in 5 s'));
    }, 5_000);
    socket.once('data', (b) => {
      clearTimeout(timer);
      resolve(b.toString());
      socket.destroy();
    });
    socket.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.once('close', () => {
      clearTimeout(timer);
      reject(new Error('closed without an answer'));
    });
    socket.write(text);
  });
}
