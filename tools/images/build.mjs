// Builds every image we ship, reproducibly and without a container engine: the apps' images from
// the same descriptions that render their Dockerfiles (tools/images/dockerfile.mjs: name, USER,
// EXPOSE, ENTRYPOINT = node /app/<bin>), the example apps from examples/, each as the base image
// (a parameter, pinned by digest) plus one layer written by tools/images/oci.mjs. Same sources +
// same base -> same bytes -> same digest; nothing of the build machine (time, path, owner, umask)
// reaches a layer, the config or the manifest. Output: an OCI layout, one SPDX SBOM per image and
// images.json (name -> digest); with a registry, skopeo pushes each image by digest.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { appFacts, IMAGES, repoRoot } from './dockerfile.mjs';
import { jsonBytes, MEDIA, OciLayout, readTarFiles, sha256, treeEntries, writeTar } from './oci.mjs';
import { spdxDocument } from './sbom.mjs';

/** The epoch every timestamp we write is set to (image config, history). */
export const EPOCH = '1970-01-01T00:00:00Z';

/**
 * The example apps' images: files from `dir` copied to /app under their name without the
 * extension (executable, `#!/usr/bin/env node`), plus `links` (absolute symlinks inside the image).
 * @type {readonly { dir: string; name: string; about: string; files: string[]; entrypoint: string[]; links: Record<string, string>; user: string; expose: number[] }[]}
 */
export const EXAMPLE_IMAGES = [
  {
    dir: 'examples/shop-app',
    name: 'examples/shop-web',
    about: "The shop example's front end (examples/shop-app/shop-web.mjs).",
    files: ['shop-web.mjs'],
    entrypoint: ['/app/shop-web'],
    links: {},
    user: '1000:1000',
    expose: [8080],
  },
  {
    dir: 'examples/shop-app',
    name: 'examples/shop-api',
    about: "The shop example's API and schema migration (examples/shop-app/shop-api.mjs).",
    files: ['shop-api.mjs'],
    entrypoint: ['/app/shop-api'],
    links: { 'usr/bin/shop-api': '/app/shop-api' },
    user: '1000:1000',
    expose: [8081],
  },
];

/**
 * Single-file programs Contrast ships as images, made like the examples (the file to /app under
 * its name without the extension, executable): the TCP relay `contrast port-forward` runs in its
 * forwarder pod. `versionFrom`: the package.json whose version the image carries.
 */
export const PROGRAM_IMAGES = [
  {
    dir: 'packages/port-forward/image',
    name: 'port-forwarder',
    about:
      "contrast port-forward's TCP relay (packages/port-forward/image/port-forwarder.mjs), run in a plain forwarder pod.",
    files: ['port-forwarder.mjs'],
    entrypoint: ['/app/port-forwarder'],
    links: {},
    // Non-root, as the forwarder pod's securityContext asks (runAsNonRoot, 65532).
    user: '65532:65532',
    expose: [8000, 8001],
    versionFrom: 'packages/port-forward/package.json',
  },
];

/** Thrown for bad input (exit 2). */
export class UsageError extends Error {}

const log = (msg) => process.stderr.write(`${msg}\n`);

/** Runs a program; throws with its stderr when it fails. */
export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout || '').trim().slice(-2000)}`,
    );
  }
  return r.stdout;
}

const isLoopback = (hostPort) => /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/.test(hostPort);

// ---------------------------------------------------------------------------------------------
// the base image

/**
 * A base image reference, pinned: `oci:DIR[:NAME]` or `oci:DIR@sha256:…` (a local OCI layout, e.g.
 * the one `images base` wrote) or `docker://REPO@sha256:…` (a registry; a tag alone is refused:
 * the base must be pinned by digest).
 * @returns {{ layout: OciLayout; descriptor: { digest: string }; manifest: any; config: any; name: string; digest: string }}
 */
export function loadBase(ref, work) {
  if (ref.startsWith('docker://')) {
    const m = /^docker:\/\/([^@]+)@(sha256:[0-9a-f]{64})$/.exec(ref);
    if (!m)
      throw new UsageError(
        `--base ${ref}: a registry base must be pinned by digest (docker://REPO@sha256:…)`,
      );
    const dir = path.join(work, 'base');
    const host = m[1].split('/')[0];
    run('skopeo', [
      'copy',
      '--quiet',
      ...(isLoopback(host) ? ['--src-tls-verify=false'] : []),
      ref,
      `oci:${dir}:base`,
    ]);
    const layout = new OciLayout(dir);
    const descriptor = layout.resolve('base');
    return finishBase(layout, descriptor, m[1], m[2]);
  }
  const m = /^oci:([^:@]+)(?::([^@]+))?(?:@(sha256:[0-9a-f]{64}))?$/.exec(ref);
  if (!m) throw new UsageError(`--base ${ref}: expected oci:DIR[:NAME][@sha256:…] or docker://REPO@sha256:…`);
  if (!existsSync(path.join(m[1], 'index.json'))) {
    throw new UsageError(`--base ${ref}: ${m[1]} is not an OCI image layout (no index.json)`);
  }
  const layout = new OciLayout(m[1]);
  const descriptor = layout.resolve(m[2]);
  if (m[3] && descriptor.digest !== m[3]) {
    throw new UsageError(`--base ${ref}: the layout's image is ${descriptor.digest}, not the pinned ${m[3]}`);
  }
  return finishBase(
    layout,
    descriptor,
    descriptor.annotations?.['org.opencontainers.image.base.name'] ?? m[2] ?? 'base',
    descriptor.digest,
  );
}

function finishBase(layout, descriptor, name, digest) {
  const manifest = layout.getJson(descriptor.digest);
  if (manifest.mediaType !== MEDIA.manifest && manifest.mediaType !== MEDIA.dockerManifest) {
    throw new UsageError(
      `base ${name}: ${manifest.mediaType ?? 'no mediaType'} is not a single-platform image manifest`,
    );
  }
  const config = layout.getJson(manifest.config.digest);
  if (config.os !== 'linux' || config.architecture !== 'amd64') {
    throw new UsageError(`base ${name}: ${config.os}/${config.architecture}, expected linux/amd64`);
  }
  return { layout, descriptor, manifest, config, name, digest };
}

/**
 * The base for tests and local builds (`packages`: the Debian packages an image's description asks
 * for, installed by mmdebstrap with their dependencies): Debian (mmdebstrap, essential + libstdc++6 +
 * ca-certificates, SOURCE_DATE_EPOCH=0, device nodes removed) plus this machine's Node binary at
 * /usr/local/bin/node, where the official node image has it. Reproducible for the same Debian
 * packages and the same Node binary: `snapshot` (a snapshot.debian.org timestamp, e.g.
 * 20251201T000000Z) pins every package version, as the release does with a pinned Node build.
 * @param {{ suite?: string; mirror?: string; snapshot?: string; node?: string; packages?: string[] }} [opts]
 * @returns {string} the base reference (oci:DIR@sha256:…)
 */
export function buildDebianBase(
  dir,
  {
    suite = 'bookworm',
    mirror = 'http://deb.debian.org/debian',
    snapshot,
    node = process.execPath,
    packages = [],
  } = {},
) {
  if (snapshot !== undefined && !/^\d{8}T\d{6}Z$/.test(snapshot)) {
    throw new UsageError(
      `--snapshot ${snapshot}: expected a snapshot.debian.org timestamp like 20251201T000000Z`,
    );
  }
  const sources = snapshot
    ? [
        `deb [check-valid-until=no] http://snapshot.debian.org/archive/debian/${snapshot} ${suite} main`,
        `deb [check-valid-until=no] http://snapshot.debian.org/archive/debian-security/${snapshot} ${suite}-security main`,
      ]
    : [`deb ${mirror} ${suite} main`, `deb ${mirror}-security ${suite}-security main`];
  const include = ['libstdc++6', 'ca-certificates', ...packages].join(',');
  const work = mkdtempSync(path.join(os.tmpdir(), 'contrast-base-'));
  try {
    const rootfs = path.join(work, 'rootfs.tar');
    log(`base: mmdebstrap ${suite} (essential + ${include})`);
    run('mmdebstrap', ['--quiet', '--variant=essential', `--include=${include}`, suite, rootfs, ...sources], {
      env: { ...process.env, SOURCE_DATE_EPOCH: '0' },
    });
    // Containers get /dev from the runtime; the device nodes mmdebstrap made do not belong in a layer.
    run('tar', ['--delete', '-f', rootfs, '--wildcards', './dev/?*']);
    const nodeVersion = run(node, ['--version']).trim().replace(/^v/, '');
    const layout = new OciLayout(dir);
    const debian = layout.put(MEDIA.layer, readFileSync(rootfs));
    const nodeLayer = layout.put(
      MEDIA.layer,
      writeTar([{ path: 'usr/local/bin/node', type: 'file', data: readFileSync(node), executable: true }]),
    );
    const config = {
      created: EPOCH,
      architecture: 'amd64',
      os: 'linux',
      config: {
        Env: [
          'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
          `NODE_VERSION=${nodeVersion}`,
        ],
        Cmd: ['node'],
      },
      rootfs: { type: 'layers', diff_ids: [debian.digest, nodeLayer.digest] },
      history: [
        {
          created: EPOCH,
          created_by: `mmdebstrap --variant=essential --include=${include} ${suite}${snapshot ? ` (snapshot ${snapshot})` : ''}`,
        },
        { created: EPOCH, created_by: `node ${nodeVersion} at /usr/local/bin/node` },
      ],
    };
    const cfg = layout.put(MEDIA.config, jsonBytes(config));
    const name = `debian-${suite}-node-${nodeVersion}${packages.length > 0 ? `+${packages.join('+')}` : ''}`;
    const manifest = layout.put(
      MEDIA.manifest,
      jsonBytes({
        schemaVersion: 2,
        mediaType: MEDIA.manifest,
        config: cfg,
        layers: [debian, nodeLayer],
        annotations: { 'org.opencontainers.image.title': name },
      }),
    );
    // the name travels with the layout, for the images built on it
    layout.tag('base', manifest, { 'org.opencontainers.image.base.name': name });
    return `oci:${dir}@${manifest.digest}`;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// the apps' files

/**
 * `pnpm deploy --prod` of a workspace app, cleaned of everything that names the build machine:
 * pnpm's state files (paths, timestamps), .bin shims (absolute NODE_PATH), the deployed
 * package.json's file: overrides (replaced by the app's own package.json), and the injected
 * workspace packages' store directories (`<pkg>@file+…+<build path>` renamed to `<pkg>@<version>`,
 * symlinks retargeted). Then every file, directory name and link target is checked: none may
 * contain the repository's or the deploy directory's path.
 */
export function deployApp(root, dir, out) {
  const pkg = JSON.parse(readFileSync(path.join(root, dir, 'package.json'), 'utf8'));
  run('pnpm', ['deploy', '--filter', pkg.name, '--prod', '--prefer-offline', out], {
    cwd: root,
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
  });
  for (const f of [
    'pnpm-lock.yaml',
    'pnpm-workspace.yaml',
    'node_modules/.modules.yaml',
    'node_modules/.pnpm/lock.yaml',
    'node_modules/.pnpm-workspace-state-v1.json',
  ]) {
    rmSync(path.join(out, f), { force: true });
  }
  writeFileSync(path.join(out, 'package.json'), readFileSync(path.join(root, dir, 'package.json')));
  const store = path.join(out, 'node_modules', '.pnpm');
  const renames = new Map();
  for (const name of readdirSync(store)) {
    const m = /^(.+?)@file\+.*$/.exec(name);
    if (!m) continue;
    const pkgName = m[1].replace('+', '/');
    const version = JSON.parse(
      readFileSync(path.join(store, name, 'node_modules', pkgName, 'package.json'), 'utf8'),
    ).version;
    const to = `${m[1]}@${version}`;
    renameSync(path.join(store, name), path.join(store, to));
    renames.set(name, to);
  }
  const walk = (abs) => {
    for (const name of readdirSync(abs)) {
      const a = path.join(abs, name);
      const st = lstatSync(a);
      if (name === '.bin' && st.isDirectory()) {
        rmSync(a, { recursive: true });
      } else if (st.isSymbolicLink()) {
        const target = readlinkSync(a);
        let next = target;
        for (const [from, to] of renames) next = next.split(`/${from}/`).join(`/${to}/`);
        if (next !== target) {
          unlinkSync(a);
          symlinkSync(next, a);
        }
      } else if (st.isDirectory()) {
        walk(a);
      }
    }
  };
  walk(out);
  assertNoBuildPaths(out, [root, out, path.resolve(root)]);
}

/** Fails when a file's contents, a name or a link target under `dir` contains one of `needles`. */
export function assertNoBuildPaths(dir, needles) {
  const ns = [...new Set(needles)].filter((n) => n.length > 1);
  const bad = [];
  const walk = (abs, rel) => {
    for (const name of readdirSync(abs)) {
      const a = path.join(abs, name);
      const r = `${rel}/${name}`;
      const st = lstatSync(a);
      const hit = (s) => ns.some((n) => s.includes(n) || s.includes(n.replaceAll('/', '+')));
      if (hit(name)) bad.push(`${r} (name)`);
      if (st.isSymbolicLink()) {
        if (hit(readlinkSync(a))) bad.push(`${r} (link target)`);
      } else if (st.isDirectory()) {
        walk(a, r);
      } else if (hit(readFileSync(a, 'latin1'))) {
        bad.push(r);
      }
    }
  };
  walk(dir, '');
  if (bad.length > 0) {
    throw new Error(
      `the image files name the build machine's paths (${ns.join(', ')}):\n  ${bad.slice(0, 20).join('\n  ')}`,
    );
  }
}

/** The npm packages of a deploy dir (for the SBOM): every real package dir in node_modules/.pnpm. */
export function npmPackages(deployDir) {
  const out = [];
  const store = path.join(deployDir, 'node_modules', '.pnpm');
  if (!existsSync(store)) return out;
  for (const entry of readdirSync(store).sort()) {
    const nm = path.join(store, entry, 'node_modules');
    if (!existsSync(nm)) continue;
    for (const a of readdirSync(nm).sort()) {
      const candidates = a.startsWith('@') ? readdirSync(path.join(nm, a)).map((b) => `${a}/${b}`) : [a];
      for (const name of candidates) {
        const p = path.join(nm, name);
        if (lstatSync(p).isSymbolicLink()) continue; // a dependency link, listed where it lives
        const pj = JSON.parse(readFileSync(path.join(p, 'package.json'), 'utf8'));
        out.push({
          name: pj.name,
          version: pj.version,
          license: typeof pj.license === 'string' ? pj.license : undefined,
        });
      }
    }
  }
  return out;
}

/** Debian packages installed in the base image (from its last var/lib/dpkg/status). */
export function debianPackages(base) {
  let status;
  for (const layer of base.manifest.layers) {
    const files = readTarFiles(base.layout.get(layer.digest), (n) => n === 'var/lib/dpkg/status');
    if (files.has('var/lib/dpkg/status')) status = files.get('var/lib/dpkg/status').toString('utf8');
  }
  if (status === undefined) return [];
  const pkgs = [];
  for (const para of status.split(/\n\n+/)) {
    const field = (k) => new RegExp(`^${k}: (.*)$`, 'm').exec(para)?.[1];
    if (!field('Package') || !/install ok installed/.test(field('Status') ?? '')) continue;
    pkgs.push({ name: field('Package'), version: field('Version'), arch: field('Architecture') });
  }
  return pkgs;
}

// ---------------------------------------------------------------------------------------------
// assembling and pushing

/**
 * One image: the base's layers + one layer of `entries`, with the given process settings.
 * @returns {{ digest: string; size: number }} the manifest descriptor
 */
export function assembleImage(
  out,
  base,
  { name, entries, entrypoint, cmd, user, workdir, env, expose, about, version },
) {
  const layers = base.manifest.layers.map((l) => {
    if (!existsSync(out.blobPath(l.digest))) out.put(l.mediaType, base.layout.get(l.digest));
    return {
      mediaType: l.mediaType === MEDIA.dockerLayerGzip ? MEDIA.layerGzip : l.mediaType,
      digest: l.digest,
      size: l.size,
    };
  });
  const layer = out.put(MEDIA.layer, writeTar(entries));
  const bc = base.config.config ?? {};
  const envNames = new Set(env.map((e) => e.split('=')[0]));
  const config = {
    created: EPOCH,
    architecture: 'amd64',
    os: 'linux',
    config: {
      User: user,
      ...(expose.length > 0 ? { ExposedPorts: Object.fromEntries(expose.map((p) => [`${p}/tcp`, {}])) } : {}),
      Env: [...(bc.Env ?? []).filter((e) => !envNames.has(e.split('=')[0])), ...env],
      Entrypoint: entrypoint,
      ...(cmd ? { Cmd: cmd } : {}),
      WorkingDir: workdir,
      Labels: {
        'org.opencontainers.image.title': name,
        'org.opencontainers.image.description': about,
        'org.opencontainers.image.version': version,
        'org.opencontainers.image.licenses': 'Apache-2.0',
        'org.opencontainers.image.source': 'https://github.com/contrast-cc/contrast-ts',
      },
    },
    rootfs: { type: 'layers', diff_ids: [...base.config.rootfs.diff_ids, layer.digest] },
    history: [
      ...(base.config.history ?? []),
      { created: EPOCH, created_by: `contrast images: ${name} (/app)` },
    ],
  };
  const cfg = out.put(MEDIA.config, jsonBytes(config));
  const manifest = out.put(
    MEDIA.manifest,
    jsonBytes({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: cfg,
      layers: [...layers, layer],
      annotations: {
        'org.opencontainers.image.base.digest': base.digest,
        'org.opencontainers.image.base.name': base.name,
        'org.opencontainers.image.title': name,
      },
    }),
  );
  out.tag(name, manifest);
  return manifest;
}

/** Pushes one image of the layout by digest; returns the digest the registry stored (must equal ours). */
export function pushImage(layoutDir, name, digest, registry, tag) {
  const dest = `${registry}/${name}`;
  const host = registry.split('/')[0];
  const digestFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'contrast-push-')), 'digest');
  run('skopeo', [
    'copy',
    '--quiet',
    '--preserve-digests',
    ...(isLoopback(host) ? ['--dest-tls-verify=false'] : []),
    '--digestfile',
    digestFile,
    `oci:${layoutDir}:${name}`,
    `docker://${dest}:${tag}`,
  ]);
  const pushed = readFileSync(digestFile, 'utf8').trim();
  rmSync(path.dirname(digestFile), { recursive: true, force: true });
  if (pushed !== digest) throw new Error(`${dest}: the registry stored ${pushed}, built ${digest}`);
  return `${dest}@${digest}`;
}

// ---------------------------------------------------------------------------------------------
// the whole build

/**
 * Which images a checkout builds: the apps (+ apps/node-installer when it exists), the programs
 * (when their folder exists) and the examples.
 */
export function imageList(root = repoRoot) {
  const apps = [...IMAGES];
  if (
    existsSync(path.join(root, 'apps/node-installer/package.json')) &&
    !apps.some((a) => a.dir === 'apps/node-installer')
  ) {
    apps.push({
      dir: 'apps/node-installer',
      name: 'node-installer',
      about: [
        'The node-installer program (DaemonSet init container): installs the Kata runtime on the node.',
        'The program only: the per-platform images with the runtime files (node-installer-metal-qemu-<tee>)',
        'add those files below its -image-root.',
      ],
      user: '0:0',
      why: ["Root: it writes the runtime into the node's filesystem and restarts containerd (nsenter)."],
      expose: [],
      // The DaemonSet runs /bin/node-installer (/bin is /usr/bin in Debian).
      links: { 'usr/bin/node-installer': '/app/dist/main.js' },
    });
  }
  return [
    ...apps.map((a) => ({ kind: 'app', ...a })),
    ...PROGRAM_IMAGES.filter((p) => existsSync(path.join(root, p.dir))).map((p) => ({ kind: 'files', ...p })),
    ...EXAMPLE_IMAGES.map((e) => ({ kind: 'files', ...e })),
  ];
}

/**
 * Builds every image (or those named in `only`) on `base` into `outDir`.
 * @param {{ root?: string; outDir: string; base: string | ((aptPackages: string[]) => string); only?: string[]; skipBuild?: boolean; sourceDateEpoch?: number }} opts
 * @returns {{ name: string; digest: string; sbom: string; version: string; base: string }[]}
 */
export function buildImages({
  root = repoRoot,
  outDir,
  base: baseRef,
  only,
  skipBuild = false,
  sourceDateEpoch,
}) {
  const list = imageList(root).filter((i) => !only || only.includes(i.name));
  if (only) {
    const unknown = only.filter((n) => !list.some((i) => i.name === n));
    if (unknown.length > 0) {
      throw new UsageError(
        `--only: unknown image ${unknown.join(', ')} (known: ${imageList(root)
          .map((i) => i.name)
          .join(', ')})`,
      );
    }
  }
  const work = mkdtempSync(path.join(os.tmpdir(), 'contrast-images-'));
  try {
    // One base per distinct reference: `base` may be a function of the Debian packages an image's
    // description asks for (apt), giving the base that has them.
    const bases = new Map();
    const baseFor = (img) => {
      const packages = img.apt?.packages ?? [];
      const ref = typeof baseRef === 'function' ? baseRef(packages) : baseRef;
      if (!bases.has(ref)) {
        const loaded = loadBase(ref, path.join(work, `base-${bases.size}`));
        log(`base ${loaded.name}@${loaded.digest}`);
        loaded.debian = debianPackages(loaded);
        bases.set(ref, loaded);
      }
      const base = bases.get(ref);
      const installed = new Set(base.debian.map((d) => d.name));
      const missing = packages.filter((p) => !installed.has(p));
      if (missing.length > 0) {
        throw new UsageError(
          `${img.name}: the base ${base.name}@${base.digest} lacks the Debian packages ${missing.join(', ')} ` +
            `that its description asks for (apt in tools/images/dockerfile.mjs); use a base that has them ` +
            '(without --base, the Debian test base is built with them)',
        );
      }
      return base;
    };
    const apps = list.filter((i) => i.kind === 'app');
    if (apps.length > 0 && !skipBuild) {
      const pkgs = apps.map(
        (a) => JSON.parse(readFileSync(path.join(root, a.dir, 'package.json'), 'utf8')).name,
      );
      log(`building ${pkgs.join(', ')} (turbo)`);
      run(
        'pnpm',
        [
          'exec',
          'turbo',
          'run',
          'build',
          ...pkgs.map((p) => `--filter=${p}...`),
          '--output-logs=errors-only',
        ],
        {
          cwd: root,
          env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
        },
      );
    }
    const out = new OciLayout(path.join(outDir, 'oci'));
    mkdirSync(path.join(outDir, 'sbom'), { recursive: true });
    const results = [];
    for (const img of list) {
      const base = baseFor(img);
      const nodeVersion = (base.config.config?.Env ?? [])
        .find((e) => e.startsWith('NODE_VERSION='))
        ?.slice(13);
      let entries;
      let npm = [];
      let version;
      let entrypoint;
      if (img.kind === 'app') {
        const pj = JSON.parse(readFileSync(path.join(root, img.dir, 'package.json'), 'utf8'));
        const app = appFacts(pj, img.dir);
        const deployDir = path.join(work, img.name);
        log(`${img.name}: pnpm deploy ${app.name}`);
        deployApp(root, img.dir, deployDir);
        entries = treeEntries(deployDir, 'app');
        for (const [link, target] of Object.entries(img.links ?? {}))
          entries.push({ path: link, type: 'symlink', target });
        npm = npmPackages(deployDir);
        version = pj.version;
        entrypoint = ['node', path.posix.join('/app', app.main)];
      } else {
        entries = [{ path: 'app', type: 'dir' }];
        for (const f of img.files) {
          const data = readFileSync(path.join(root, img.dir, f));
          entries.push({ path: `app/${f.replace(/\.m?js$/, '')}`, type: 'file', data, executable: true });
        }
        for (const [link, target] of Object.entries(img.links))
          entries.push({ path: link, type: 'symlink', target });
        version = img.versionFrom
          ? JSON.parse(readFileSync(path.join(root, img.versionFrom), 'utf8')).version
          : '1.0.0';
        entrypoint = img.entrypoint;
      }
      const manifest = assembleImage(out, base, {
        name: img.name,
        entries,
        entrypoint,
        user: img.user,
        workdir: '/app',
        env: img.kind === 'app' ? ['NODE_ENV=production'] : [],
        expose: img.expose,
        about: Array.isArray(img.about) ? img.about.join(' ') : img.about,
        version,
      });
      const sbomFile = path.join(outDir, 'sbom', `${img.name.replaceAll('/', '_')}.spdx.json`);
      writeFileSync(
        sbomFile,
        `${JSON.stringify(
          spdxDocument({
            image: img.name,
            digest: manifest.digest,
            version,
            base: { name: base.name, digest: base.digest },
            debian: base.debian,
            node: nodeVersion,
            npm,
            created: sourceDateEpoch ?? 0,
          }),
          null,
          2,
        )}\n`,
      );
      results.push({
        name: img.name,
        digest: manifest.digest,
        sbom: sbomFile,
        version,
        base: `${base.name}@${base.digest}`,
      });
    }
    writeFileSync(
      path.join(outDir, 'images.json'),
      `${JSON.stringify(
        {
          bases: Object.fromEntries(results.map((r) => [r.name, r.base])),
          images: Object.fromEntries(results.map((r) => [r.name, r.digest])),
        },
        null,
        2,
      )}\n`,
    );
    return results;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export { sha256 };
