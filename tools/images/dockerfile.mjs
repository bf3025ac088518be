#!/usr/bin/env node
// The apps' Dockerfiles (apps/{coordinator,initializer,service-mesh}/Dockerfile), rendered from one
// template: a small description per app (below) plus the repository's facts (pnpm version from the
// root package.json's packageManager, Node major from its engines, the app's package name and bin
// from its own package.json). The files stay committed because `docker build` needs them;
// tools/images/dockerfile.test.mjs checks each equals this output byte for byte.
//
//   node tools/images/dockerfile.mjs           checks the committed files (exit 1 when stale)
//   node tools/images/dockerfile.mjs --write   rewrites them
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** How to regenerate, for messages. */
export const REGENERATE = 'node tools/images/dockerfile.mjs --write';

/**
 * What differs between the apps' images. `about`: the header's first comment lines (what the
 * program is); `user`: the runtime USER (uid:gid) and `why` it is that user (comment lines, shown
 * right above USER); `expose`: the ports the image declares; `name`: the image's name under the
 * registry (tools/images/build.mjs builds the images from these same descriptions).
 * @typedef {{ dir: string; name: string; about: string[]; user: string; why: string[]; expose: number[] }} ImageSpec
 * @type {readonly ImageSpec[]}
 */
export const IMAGES = [
  {
    dir: 'apps/coordinator',
    name: 'coordinator',
    about: ['The Coordinator: attested HTTPS API (1314), probes and metrics (9102).'],
    user: '65532:65532',
    why: [
      'Non-root: the Coordinator keeps its state in ConfigMaps (Kubernetes API) and needs no file',
      'it does not own; a directory store (CONTRAST_STORE=dir) needs a volume writable by 65532.',
    ],
    expose: [1314, 9102],
  },
  {
    dir: 'apps/initializer',
    name: 'initializer',
    about: [
      'The initializer (init container): attests the pod to the Coordinator and writes the mesh',
      'certificate, its key and the workload secret to /contrast.',
    ],
    user: '0:0',
    why: [
      'Root on purpose, as upstream: it creates report entries in configfs-tsm',
      '(/sys/kernel/config/tsm/report is root-only), opens the secure PV with cryptsetup when asked',
      '(privileged sidecar), and the files it writes (the mesh key 0600) belong to root.',
    ],
    expose: [],
    apt: {
      packages: ['cryptsetup-bin', 'e2fsprogs', 'nftables', 'iptables'],
      why: [
        'The secure PV (packages/mesh/src/secure-pv.ts): cryptsetup formats and opens the LUKS2 volume,',
        'mkfs.ext4 creates its file system once; blkid and mount come with the base image (util-linux, mount).',
        'The traffic rules (packages/mesh/src/traffic-rules.ts): nft, or iptables (nft or legacy backend)',
        "where the pod VM's kernel has no nf_tables, in the pod's network namespace (NET_ADMIN).",
      ],
    },
  },
  {
    dir: 'apps/service-mesh',
    name: 'service-mesh-proxy',
    about: ["The service-mesh proxy (sidecar): mutual TLS for the pod's ports with the mesh certificate."],
    user: '0:0',
    why: [
      'Root on purpose, as upstream (the injected container is privileged with NET_ADMIN): it reads',
      'the key the initializer (root) wrote to /contrast/tls-config with mode 0600, writes /ready for',
      "its startup probe (test -f /ready), and binds the pod's ports, also those below 1024.",
    ],
    expose: [],
  },
];

const readJson = (root, rel) => JSON.parse(readFileSync(path.join(root, rel), 'utf8'));

/**
 * The repository facts every image uses, from the root package.json.
 * @param {{ packageManager?: unknown; engines?: { node?: unknown } }} rootPkg
 * @returns {{ pnpmVersion: string; nodeMajor: number }}
 */
export function repoFacts(rootPkg) {
  const pm = /^pnpm@(\d+\.\d+\.\d+)$/.exec(String(rootPkg.packageManager ?? ''));
  if (!pm) {
    throw new Error(`package.json packageManager: "${rootPkg.packageManager}" is not pnpm@<x.y.z>`);
  }
  const node = /^\s*(?:>=|\^|~)?\s*v?(\d+)/.exec(String(rootPkg.engines?.node ?? ''));
  if (!node) {
    throw new Error(`package.json engines.node: "${rootPkg.engines?.node}" has no lower bound (e.g. >=20)`);
  }
  return { pnpmVersion: pm[1], nodeMajor: Number(node[1]) };
}

/**
 * The app's package facts: its name and its single built bin.
 * @param {{ name?: unknown; bin?: unknown }} pkg
 * @param {string} dir for messages
 * @returns {{ name: string; main: string }}
 */
export function appFacts(pkg, dir) {
  if (typeof pkg.name !== 'string' || pkg.name === '') throw new Error(`${dir}/package.json name: missing`);
  const bins = typeof pkg.bin === 'string' ? [pkg.bin] : Object.values(pkg.bin ?? {});
  if (bins.length !== 1 || typeof bins[0] !== 'string') {
    throw new Error(`${dir}/package.json bin: the image needs exactly one bin, found ${bins.length}`);
  }
  return { name: pkg.name, main: path.posix.normalize(bins[0]) };
}

/**
 * One app's Dockerfile.
 * @param {ImageSpec} spec
 * @param {{ pnpmVersion: string; nodeMajor: number }} repo
 * @param {{ name: string; main: string }} app
 */
export function renderDockerfile(spec, repo, app) {
  const base = `node:${repo.nodeMajor}-bookworm-slim`;
  const comment = (lines) => lines.map((l) => `# ${l}`);
  return [
    '# syntax=docker/dockerfile:1',
    ...comment([
      ...spec.about,
      `Build from the repository root: docker build -f ${spec.dir}/Dockerfile .`,
      "Generated: edit this app's description in tools/images/dockerfile.mjs, then run",
      `${REGENERATE} (tools/images/dockerfile.test.mjs checks this file equals its output).`,
      'Never built here (no container engine): apps/coordinator/src/images.test.ts checks this file,',
      'runs its deploy step and runs the deployed /app as USER below (apps/coordinator/README.md, Images).',
      'Pin the base image by digest for releases.',
    ]),
    `FROM ${base} AS build`,
    'ENV TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1',
    "# pnpm at exactly the root package.json's packageManager version (corepack refuses pnpm 12 without",
    '# COREPACK_INTEGRITY_KEYS=0, so it is installed with npm).',
    `RUN npm install -g --no-fund --no-audit pnpm@${repo.pnpmVersion}`,
    'WORKDIR /src',
    '# The context is the repository minus host installs and builds (.dockerignore).',
    'COPY . .',
    'RUN pnpm install --frozen-lockfile \\',
    `  && pnpm exec turbo run build --filter ${app.name}... \\`,
    `  && pnpm deploy --filter ${app.name} --prod /out`,
    '',
    `FROM ${base}`,
    'ENV NODE_ENV=production',
    ...(spec.apt
      ? [
          ...comment(spec.apt.why),
          'RUN apt-get update \\',
          `  && apt-get install -y --no-install-recommends ${spec.apt.packages.join(' ')} \\`,
          '  && rm -rf /var/lib/apt/lists/*',
        ]
      : []),
    'WORKDIR /app',
    'COPY --from=build /out /app',
    ...comment(spec.why),
    `USER ${spec.user}`,
    ...(spec.expose.length > 0 ? [`EXPOSE ${spec.expose.join(' ')}`] : []),
    `ENTRYPOINT ${JSON.stringify(['node', path.posix.join('/app', app.main)]).replaceAll(',', ', ')}`,
    '',
  ].join('\n');
}

/**
 * Every app's Dockerfile as this checkout's package.json files say.
 * @returns {{ file: string; text: string }[]} file: relative to the repository root
 */
export function renderAll(root = repoRoot) {
  const repo = repoFacts(readJson(root, 'package.json'));
  return IMAGES.map((spec) => ({
    file: `${spec.dir}/Dockerfile`,
    text: renderDockerfile(spec, repo, appFacts(readJson(root, `${spec.dir}/package.json`), spec.dir)),
  }));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const write = process.argv.includes('--write');
  let stale = 0;
  for (const { file, text } of renderAll()) {
    const target = path.join(repoRoot, file);
    let current;
    try {
      current = readFileSync(target, 'utf8');
    } catch {
      current = undefined;
    }
    if (current === text) continue;
    if (write) {
      writeFileSync(target, text);
      console.log(`wrote ${file}`);
    } else {
      stale++;
      console.error(`${file} differs from the generator's output: run ${REGENERATE}`);
    }
  }
  process.exitCode = stale > 0 ? 1 : 0;
}
