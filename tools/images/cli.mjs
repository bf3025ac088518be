#!/usr/bin/env node
// pnpm --silent images <command>
//
//   build [--out DIR] [--push REGISTRY] [--base REF] [--only NAME[,NAME…]] [--tag TAG]
//       builds every image (tools/images/build.mjs) into DIR (default .images/): DIR/oci (an OCI
//       layout), DIR/sbom/<name>.spdx.json, DIR/images.json; prints one `name@sha256:…` line per
//       image (with --push: `REGISTRY/name@sha256:…`, after skopeo pushed it by digest, tagged
//       TAG, default the image's version; images.json then lists these references). REF: the base image, pinned (oci:DIR[:NAME][@sha256:…]
//       or docker://REPO@sha256:…); default the Debian test base (`images base`), built once and
//       kept in $XDG_CACHE_HOME/contrast-images.
//   facts [--out DIR] [--prefix REGISTRY]
//       prints recorded image facts (CONTRAST_IMAGE_FACTS format) of the images built into DIR.
//   embed IMAGES_JSON
//       writes the pushed references of IMAGES_JSON (from build --push) into apps/cli/release-images.json,
//       the images a release of the CLI injects (the release runs it before building the CLI).
//   base [--out DIR] [--snapshot TIMESTAMP] [--node PATH] [--packages PKG,…]
//       builds a Debian base (mmdebstrap + a Node binary, default this machine's) into DIR; prints its
//       reference. --snapshot pins the Debian packages (snapshot.debian.org), as the release does.
//
// Exit codes: 0 done, 1 failed, 2 bad input.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDebianBase, buildImages, imageList, pushImage, run, UsageError } from './build.mjs';
import { repoRoot } from './dockerfile.mjs';
import { OciLayout, readTarFiles } from './oci.mjs';

const USAGE = `usage: pnpm --silent images build [--out DIR] [--push REGISTRY] [--base REF] [--only NAME,…] [--tag TAG]
       pnpm --silent images embed IMAGES_JSON
       pnpm --silent images base [--out DIR] [--snapshot TIMESTAMP] [--node PATH] [--packages PKG,…]`;

function parse(args, known) {
  const opts = {};
  for (let i = 0; i < args.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(args[i]);
    if (!m || !known.includes(m[1])) throw new UsageError(`unknown argument ${args[i]}\n${USAGE}`);
    const value = m[2] ?? args[++i];
    if (value === undefined || value === '') throw new UsageError(`--${m[1]} needs a value\n${USAGE}`);
    opts[m[1]] = value;
  }
  return opts;
}

export function cacheDir() {
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'contrast-images');
}

/**
 * The Debian test base with `packages` (the Debian packages an image's description asks for), built
 * on first use and kept (its digest pins every later build on this machine).
 */
export function defaultBase(packages = []) {
  const dir = path.join(cacheDir(), ['debian-base', ...[...packages].sort()].join('+'));
  if (existsSync(path.join(dir, 'index.json'))) {
    return `oci:${dir}@${new OciLayout(dir).resolve('base').digest}`;
  }
  return buildDebianBase(dir, { packages: [...packages].sort() });
}

function sourceDateEpoch() {
  if (process.env.SOURCE_DATE_EPOCH) return Number(process.env.SOURCE_DATE_EPOCH);
  try {
    return Number(run('git', ['log', '-1', '--format=%ct'], { cwd: repoRoot }).trim()) || 0;
  } catch {
    return 0;
  }
}

function main(argv) {
  const [command, ...rest] = argv;
  if (command === 'build') {
    const opts = parse(rest, ['out', 'push', 'base', 'only', 'tag']);
    const outDir = path.resolve(opts.out ?? path.join(repoRoot, '.images'));
    const base = opts.base ?? defaultBase;
    const results = buildImages({
      outDir,
      base,
      only: opts.only?.split(',').filter(Boolean),
      sourceDateEpoch: sourceDateEpoch(),
    });
    const references = {};
    for (const r of results) {
      const line = opts.push
        ? pushImage(
            path.join(outDir, 'oci'),
            r.name,
            r.digest,
            opts.push.replace(/\/+$/, ''),
            opts.tag ?? r.version,
          )
        : `${r.name}@${r.digest}`;
      references[r.name] = line;
      process.stdout.write(`${line}\n`);
    }
    if (opts.push) {
      // The pushed references, for CONTRAST_IMAGES and `images embed`.
      const file = path.join(outDir, 'images.json');
      const data = JSON.parse(readFileSync(file, 'utf8'));
      writeFileSync(file, `${JSON.stringify({ ...data, references }, null, 2)}\n`);
    }
    return 0;
  }
  if (command === 'facts') {
    // Recorded image facts (CONTRAST_IMAGE_FACTS format) of the images in DIR/oci: what
    // `contrast generate` would read from a registry, keyed as the examples and the injection name
    // them (Contrast images untagged, examples with their version tag), pinned by the real digest.
    const opts = parse(rest, ['out', 'prefix']);
    const outDir = path.resolve(opts.out ?? path.join(repoRoot, '.images'));
    const prefix = (opts.prefix ?? 'ghcr.io/contrast-cc').replace(/\/+$/, '');
    const layout = new OciLayout(path.join(outDir, 'oci'));
    const facts = {};
    for (const img of imageList(repoRoot)) {
      const desc = layout.resolve(img.name);
      const manifest = layout.getJson(desc.digest);
      const config = layout.getJson(manifest.config.digest).config;
      let etc = new Map();
      for (const l of manifest.layers) {
        const files = readTarFiles(layout.get(l.digest), (n) => n === 'etc/passwd' || n === 'etc/group');
        etc = new Map([...etc, ...files]);
      }
      const tag = img.kind === 'files' ? `:${config.Labels['org.opencontainers.image.version']}` : '';
      const key = `${prefix}/${img.name}${tag}`;
      const pick = (k) => (config[k] === undefined ? {} : { [k]: config[k] });
      facts[key] = {
        reference: `${key}@${desc.digest}`,
        digest: desc.digest,
        config: {
          ...pick('Entrypoint'),
          ...pick('Cmd'),
          ...pick('User'),
          ...pick('WorkingDir'),
          ...pick('Env'),
        },
        passwd: etc.get('etc/passwd')?.toString('utf8') ?? '',
        group: etc.get('etc/group')?.toString('utf8') ?? '',
      };
    }
    process.stdout.write(`${JSON.stringify(facts, null, 2)}\n`);
    return 0;
  }
  if (command === 'embed') {
    // The release's one place for image references: the CLI's release-images.json, written from the
    // images.json of `images build --push` before the CLI is built.
    const [from, ...more] = rest;
    if (!from || more.length > 0) throw new UsageError(USAGE);
    let data;
    try {
      data = JSON.parse(readFileSync(path.resolve(from), 'utf8'));
    } catch (e) {
      throw new UsageError(`${from}: cannot read images.json (${e.code ?? e.message})`);
    }
    const refs = data.references;
    if (!refs || typeof refs !== 'object' || Object.keys(refs).length === 0) {
      throw new UsageError(`${from}: references: none (run images build with --push first)`);
    }
    for (const [name, ref] of Object.entries(refs)) {
      if (typeof ref !== 'string' || !/@sha256:[0-9a-f]{64}$/.test(ref)) {
        throw new UsageError(`${from}: references.${name}: "${ref}" is not pinned by digest`);
      }
    }
    const target = path.join(repoRoot, 'apps/cli/release-images.json');
    const current = JSON.parse(readFileSync(target, 'utf8'));
    writeFileSync(target, `${JSON.stringify({ _comment: current._comment, references: refs }, null, 2)}\n`);
    process.stderr.write(`wrote ${path.relative(repoRoot, target)} (${Object.keys(refs).length} images)\n`);
    return 0;
  }
  if (command === 'base') {
    const opts = parse(rest, ['out', 'snapshot', 'node', 'packages']);
    const packages = opts.packages?.split(',').filter(Boolean) ?? [];
    process.stdout.write(
      `${buildDebianBase(
        path.resolve(opts.out ?? path.join(cacheDir(), ['debian-base', ...packages.sort()].join('+'))),
        {
          ...(opts.snapshot ? { snapshot: opts.snapshot } : {}),
          ...(opts.node ? { node: path.resolve(opts.node) } : {}),
          packages,
        },
      )}\n`,
    );
    return 0;
  }
  throw new UsageError(USAGE);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`images: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = e instanceof UsageError ? 2 : 1;
  }
}
