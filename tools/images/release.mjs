#!/usr/bin/env node
// The image steps of a release, in order, runnable here against a loopback registry:
//   node tools/images/release.mjs --registry REGISTRY [--snapshot TIMESTAMP] [--node PATH] [--out DIR]
//   node tools/images/release.mjs --registry REGISTRY --base REF [--out DIR]   (a base built apart)
//   node tools/images/release.mjs --packages        (the Debian packages the base must include)
// 1. the base: `images base` with every Debian package the image descriptions ask for, from a
//    snapshot.debian.org timestamp (pins every package version) and a Node binary (the release's:
//    the official build, checked against nodejs.org's SHASUMS256.txt by the workflow);
// 2. `images build --base <that base, by digest> --push REGISTRY` (every image, SBOMs, images.json
//    with the pushed references);
// 3. `images embed` -> apps/cli/release-images.json: the CLI built after this step injects exactly
//    these digests;
// 4. with cosign installed and a non-loopback registry: `cosign sign` each image by digest and
//    `cosign attest --type spdxjson` its SBOM (keyless, the workflow's OIDC identity). Here
//    (loopback, no cosign) this step says it is skipped.
// Prints the pushed references. Exit 0 done, 1 failed, 2 bad input.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { imageList, run } from './build.mjs';
import { repoRoot } from './dockerfile.mjs';

const args = process.argv.slice(2);
const opt = (name) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined);
const registry = opt('registry');
if (!registry && !args.includes('--packages')) {
  console.error(
    'usage: node tools/images/release.mjs --registry REGISTRY [--snapshot TIMESTAMP] [--node PATH] [--out DIR]',
  );
  process.exit(2);
}
const out = path.resolve(opt('out') ?? path.join(repoRoot, '.images'));
const cli = path.join(repoRoot, 'tools/images/cli.mjs');
const say = (m) => process.stderr.write(`\n== ${m}\n`);
const images = (...a) => {
  const r = spawnSync(process.execPath, [cli, ...a], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
  return r.stdout.trim();
};

const packages = [...new Set(imageList(repoRoot).flatMap((i) => i.apt?.packages ?? []))].sort();
if (args.includes('--packages')) {
  // what the base must include (for a base built apart, e.g. as root): print and stop
  process.stdout.write(`${packages.join(',')}\n`);
  process.exit(0);
}
say(opt('base') ? `base ${opt('base')}` : `base (Debian packages: ${packages.join(', ') || 'none'})`);
const base =
  opt('base') ??
  images(
    'base',
    '--out',
    path.join(out, 'base'),
    ...(packages.length > 0 ? ['--packages', packages.join(',')] : []),
    ...(opt('snapshot') ? ['--snapshot', opt('snapshot')] : []),
    ...(opt('node') ? ['--node', opt('node')] : []),
  );
say(`build and push on ${base}`);
const refs = images('build', '--out', out, '--base', base, '--push', registry);
say('embed the references in apps/cli/release-images.json');
images('embed', path.join(out, 'images.json'));

const loopback = /^(127\.|localhost|\[::1\])/.test(registry);
const hasCosign = spawnSync('sh', ['-c', 'command -v cosign'], { stdio: 'ignore' }).status === 0;
if (loopback || !hasCosign) {
  say(
    `signing skipped (${loopback ? 'loopback registry' : 'cosign not installed'}): the release workflow signs and attests`,
  );
} else {
  const data = JSON.parse(readFileSync(path.join(out, 'images.json'), 'utf8'));
  for (const [name, ref] of Object.entries(data.references)) {
    say(`sign and attest ${ref}`);
    run('cosign', ['sign', '--yes', ref], { stdio: 'inherit' });
    const sbom = path.join(out, 'sbom', `${name.replaceAll('/', '_')}.spdx.json`);
    run('cosign', ['attest', '--yes', '--type', 'spdxjson', '--predicate', sbom, ref], { stdio: 'inherit' });
  }
}
process.stdout.write(`${refs}\n`);
