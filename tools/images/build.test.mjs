// The fast core of the image build (CI): the layer writer's determinism, a real deploy cleaned of
// build paths, the example images built twice from two folders (same digests; a one-byte change
// changes exactly the image that contains it), the SBOM, the pinned-base checks, and a push to a
// real docker-registry on 127.0.0.1 read back with skopeo. The full build of every image, twice from
// two clones, is `bash tools/run images` (tools/images/README.md).
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  assertNoBuildPaths,
  buildImages,
  deployApp,
  EPOCH,
  loadBase,
  pushImage,
  UsageError,
} from './build.mjs';
import { repoRoot } from './dockerfile.mjs';
import { jsonBytes, MEDIA, OciLayout, readTarFiles, sha256, treeEntries, writeTar } from './oci.mjs';
import { HAS_REGISTRY, startRegistry } from './registry.mjs';

const temps = [];
const tmp = (label) => {
  const d = mkdtempSync(path.join(os.tmpdir(), `contrast-images-test-${label}-`));
  temps.push(d);
  return d;
};
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** A small base image: a dpkg status with two packages and NODE_VERSION, like the real bases. */
function testBase() {
  const dir = tmp('base');
  const layout = new OciLayout(dir);
  const status =
    'Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9\n\n' +
    'Package: gone\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1\n\n' +
    'Package: libstdc++6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.2.0-14\n';
  const layer = layout.put(
    MEDIA.layer,
    writeTar([
      { path: 'var/lib/dpkg/status', type: 'file', data: Buffer.from(status), executable: false },
      { path: 'usr/bin', type: 'dir' },
    ]),
  );
  const cfg = layout.put(
    MEDIA.config,
    jsonBytes({
      created: EPOCH,
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/bin', 'NODE_VERSION=20.0.0'], Cmd: ['node'] },
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
    }),
  );
  const manifest = layout.put(
    MEDIA.manifest,
    jsonBytes({ schemaVersion: 2, mediaType: MEDIA.manifest, config: cfg, layers: [layer] }),
  );
  layout.tag('base', manifest, { 'org.opencontainers.image.base.name': 'test-base' });
  return { dir, ref: `oci:${dir}@${manifest.digest}`, digest: manifest.digest };
}

describe('writeTar', () => {
  function tree(dir, { mode, time, content = 'console.log(1)\n' }) {
    mkdirSync(path.join(dir, 'dist', 'a'.repeat(120)), { recursive: true });
    writeFileSync(path.join(dir, 'dist', 'main.js'), content);
    writeFileSync(path.join(dir, 'dist', 'a'.repeat(120), 'deep.js'), 'x');
    writeFileSync(path.join(dir, 'run'), '#!/bin/sh\n');
    chmodSync(path.join(dir, 'run'), 0o755);
    chmodSync(path.join(dir, 'dist', 'main.js'), mode);
    symlinkSync('dist/main.js', path.join(dir, 'link'));
    utimesSync(path.join(dir, 'dist', 'main.js'), time, time);
  }

  it('gives the same bytes for the same tree in another folder, with other times and read modes', () => {
    const a = tmp('tree-a');
    const b = tmp('tree-b');
    tree(a, { mode: 0o644, time: 1 });
    tree(b, { mode: 0o600, time: 2_000_000_000 });
    expect(sha256(writeTar(treeEntries(a, 'app')))).toBe(sha256(writeTar(treeEntries(b, 'app'))));
  });

  it('changes with one byte of content and with the executable bit', () => {
    const a = tmp('tree-c');
    const b = tmp('tree-d');
    const c = tmp('tree-e');
    tree(a, { mode: 0o644, time: 1 });
    tree(b, { mode: 0o644, time: 1, content: 'console.log(2)\n' });
    tree(c, { mode: 0o755, time: 1 });
    const digest = (d) => sha256(writeTar(treeEntries(d, 'app')));
    expect(digest(b)).not.toBe(digest(a));
    expect(digest(c)).not.toBe(digest(a));
  });

  it('is a tar GNU tar reads: root-owned, mtime 0, long names and links intact', () => {
    if (!has('tar')) return console.warn('NOTICE: tar missing; skipped');
    const a = tmp('tree-f');
    tree(a, { mode: 0o644, time: 1 });
    const file = path.join(tmp('tar'), 'layer.tar');
    writeFileSync(file, writeTar(treeEntries(a, 'app')));
    const listing = spawnSync('tar', ['--numeric-owner', '--utc', '-tvf', file], { encoding: 'utf8' }).stdout;
    expect(listing).toContain(`app/dist/${'a'.repeat(120)}/deep.js`);
    expect(listing).toMatch(/^lrwxrwxrwx 0\/0 +0 1970-01-01 00:00 app\/link -> dist\/main\.js$/m);
    expect(listing).toMatch(/^-rwxr-xr-x 0\/0 +10 1970-01-01 00:00 app\/run$/m);
    for (const line of listing.trim().split('\n')) expect(line).toMatch(/ 0\/0 .* 1970-01-01 00:00 /);
    const files = readTarFiles(readFileSync(file), () => true);
    expect(files.get(`app/dist/${'a'.repeat(120)}/deep.js`)?.toString()).toBe('x');
  });

  it('refuses a symlink to an absolute path (it would point into the build machine)', () => {
    const a = tmp('tree-g');
    symlinkSync('/etc/passwd', path.join(a, 'escape'));
    expect(() => treeEntries(a, 'app')).toThrow(/symlink to an absolute path/);
  });
});

describe('deployApp', () => {
  const built = existsSync(path.join(repoRoot, 'apps/service-mesh/dist/main.js'));
  const pnpmOk = spawnSync('pnpm', ['--version'], { encoding: 'utf8' }).status === 0;

  it.runIf(built && pnpmOk)(
    'gives the same layer from two deploy folders, naming neither',
    { timeout: 120_000 },
    () => {
      const a = path.join(tmp('deploy-a'), 'one');
      const b = path.join(tmp('deploy-b'), 'another', 'folder');
      deployApp(repoRoot, 'apps/service-mesh', a);
      deployApp(repoRoot, 'apps/service-mesh', b);
      expect(existsSync(path.join(a, 'node_modules/.pnpm/@contrast-cc+mesh@0.0.0'))).toBe(true);
      expect(sha256(writeTar(treeEntries(a, 'app')))).toBe(sha256(writeTar(treeEntries(b, 'app'))));
    },
  );
  if (!built || !pnpmOk)
    console.warn('NOTICE: apps/service-mesh not built or pnpm missing; the deploy test is skipped');

  it('assertNoBuildPaths finds a path in a file, a name and a link target', () => {
    const d = tmp('paths');
    writeFileSync(path.join(d, 'ok.js'), 'fine');
    expect(() => assertNoBuildPaths(d, ['/build/here'])).not.toThrow();
    writeFileSync(path.join(d, 'state.json'), '{"dir":"/build/here/x"}');
    mkdirSync(path.join(d, 'pkg@file+build+here'));
    symlinkSync('../build/here', path.join(d, 'l'));
    let message = '';
    try {
      assertNoBuildPaths(d, ['/build/here']);
    } catch (e) {
      message = e.message;
    }
    expect(
      message
        .split('\n')
        .slice(1)
        .map((l) => l.trim())
        .sort(),
    ).toEqual(['/l (link target)', '/pkg@file+build+here (name)', '/state.json']);
  });
});

describe('buildImages (the port-forwarder program image)', () => {
  const base = testBase();
  const checkout = (edit) => {
    const root = tmp('root');
    for (const rel of ['packages/port-forward/image', 'packages/port-forward/package.json']) {
      cpSync(path.join(repoRoot, rel), path.join(root, rel), { recursive: true });
    }
    edit?.(root);
    return root;
  };
  const build = (root) => {
    const outDir = tmp('out');
    const [result] = buildImages({
      root,
      outDir,
      base: base.ref,
      only: ['port-forwarder'],
      skipBuild: true,
      sourceDateEpoch: 0,
    });
    return { outDir, digest: result.digest };
  };

  it('is reproducible, non-root, runs /app/port-forwarder (the relay program), and a byte changes it', () => {
    const first = build(checkout());
    expect(build(checkout()).digest).toBe(first.digest);
    const layout = new OciLayout(path.join(first.outDir, 'oci'));
    const manifest = layout.getJson(layout.resolve('port-forwarder').digest);
    const config = layout.getJson(manifest.config.digest);
    expect(config.config).toMatchObject({ User: '65532:65532', Entrypoint: ['/app/port-forwarder'] });
    expect(config.config.ExposedPorts).toEqual({ '8000/tcp': {}, '8001/tcp': {} });
    expect(config.config.Labels['org.opencontainers.image.version']).toBe(
      JSON.parse(readFileSync(path.join(repoRoot, 'packages/port-forward/package.json'), 'utf8')).version,
    );
    const files = readTarFiles(layout.get(manifest.layers.at(-1).digest), () => true);
    expect([...files.keys()]).toEqual(['app/port-forwarder']);
    expect(files.get('app/port-forwarder')?.toString()).toBe(
      readFileSync(path.join(repoRoot, 'packages/port-forward/image/port-forwarder.mjs'), 'utf8'),
    );
    const changed = build(
      checkout((root) => {
        const f = path.join(root, 'packages/port-forward/image/port-forwarder.mjs');
        writeFileSync(f, `${readFileSync(f, 'utf8')} `);
      }),
    );
    expect(changed.digest).not.toBe(first.digest);
  });
});

describe('buildImages (the example images)', () => {
  const only = ['examples/shop-web', 'examples/shop-api'];
  const base = testBase();

  /** A checkout with just the examples' sources, copied to a fresh folder. */
  const checkout = (edit) => {
    const root = tmp('root');
    cpSync(path.join(repoRoot, 'examples/shop-app'), path.join(root, 'examples/shop-app'), {
      recursive: true,
    });
    edit?.(root);
    return root;
  };
  const build = (root) => {
    const outDir = tmp('out');
    const results = buildImages({ root, outDir, base: base.ref, only, skipBuild: true, sourceDateEpoch: 0 });
    return { outDir, digests: Object.fromEntries(results.map((r) => [r.name, r.digest])) };
  };

  const first = build(checkout());
  const second = build(checkout());

  it('gives identical digests from two folders', () => {
    expect(Object.keys(first.digests)).toEqual(only);
    expect(second.digests).toEqual(first.digests);
    expect(readFileSync(path.join(second.outDir, 'images.json'), 'utf8')).toBe(
      readFileSync(path.join(first.outDir, 'images.json'), 'utf8'),
    );
    for (const name of ['examples_shop-web', 'examples_shop-api']) {
      expect(readFileSync(path.join(second.outDir, 'sbom', `${name}.spdx.json`), 'utf8')).toBe(
        readFileSync(path.join(first.outDir, 'sbom', `${name}.spdx.json`), 'utf8'),
      );
    }
  });

  it('images.json names the digest and the base of each image', () => {
    expect(JSON.parse(readFileSync(path.join(first.outDir, 'images.json'), 'utf8'))).toEqual({
      bases: {
        'examples/shop-web': `test-base@${base.digest}`,
        'examples/shop-api': `test-base@${base.digest}`,
      },
      images: first.digests,
    });
  });

  it('a one-byte change of shop-web.mjs changes shop-web only', () => {
    const changed = build(
      checkout((root) => {
        const f = path.join(root, 'examples/shop-app/shop-web.mjs');
        writeFileSync(f, `${readFileSync(f, 'utf8')} `);
      }),
    );
    expect(changed.digests['examples/shop-web']).not.toBe(first.digests['examples/shop-web']);
    expect(changed.digests['examples/shop-api']).toBe(first.digests['examples/shop-api']);
  });

  it('writes the image as described: base layers + one layer, process settings, base pinned, no time', () => {
    const layout = new OciLayout(path.join(first.outDir, 'oci'));
    const desc = layout.resolve('examples/shop-api');
    expect(desc.digest).toBe(first.digests['examples/shop-api']);
    const manifest = layout.getJson(desc.digest);
    expect(manifest.annotations['org.opencontainers.image.base.digest']).toBe(base.digest);
    expect(manifest.annotations['org.opencontainers.image.base.name']).toBe('test-base');
    const baseManifest = new OciLayout(base.dir).getJson(base.digest);
    expect(manifest.layers.slice(0, -1)).toEqual(baseManifest.layers);
    const config = layout.getJson(manifest.config.digest);
    expect(config.created).toBe(EPOCH);
    expect(config.config).toMatchObject({
      User: '1000:1000',
      Entrypoint: ['/app/shop-api'],
      WorkingDir: '/app',
    });
    expect(config.config.ExposedPorts).toEqual({ '8081/tcp': {} });
    expect(config.history.map((h) => h.created)).toEqual([EPOCH]);
    const files = readTarFiles(layout.get(manifest.layers.at(-1).digest), () => true);
    expect([...files.keys()]).toEqual(['app/shop-api']);
    expect(files.get('app/shop-api')?.toString()).toBe(
      readFileSync(path.join(repoRoot, 'examples/shop-app/shop-api.mjs'), 'utf8'),
    );
  });

  it('writes an SPDX document per image: the image, its base, the base packages, node', () => {
    const doc = JSON.parse(
      readFileSync(path.join(first.outDir, 'sbom', 'examples_shop-api.spdx.json'), 'utf8'),
    );
    expect(doc.spdxVersion).toBe('SPDX-2.3');
    expect(doc.name).toBe(`examples/shop-api@${first.digests['examples/shop-api']}`);
    expect(doc.creationInfo.created).toBe('1970-01-01T00:00:00Z');
    const names = doc.packages.map((p) => `${p.name}@${p.versionInfo}`);
    expect(names).toEqual([
      'examples/shop-api@1.0.0',
      `test-base@${base.digest}`,
      'libc6@2.36-9',
      'libstdc++6@12.2.0-14',
      'node@20.0.0',
    ]);
    expect(doc.relationships[0]).toEqual({
      spdxElementId: 'SPDXRef-DOCUMENT',
      relationshipType: 'DESCRIBES',
      relatedSpdxElement: doc.packages[0].SPDXID,
    });
  });

  it('refuses a base that lacks the Debian packages an image description asks for (the initializer)', () => {
    expect(() =>
      buildImages({ outDir: tmp('out'), base: base.ref, only: ['initializer'], skipBuild: true }),
    ).toThrow(
      /initializer: the base test-base@sha256:[0-9a-f]{64} lacks the Debian packages cryptsetup-bin, e2fsprogs/,
    );
  });

  it('refuses a base that is not pinned, or pinned to another digest', () => {
    expect(() => loadBase('docker://docker.io/library/node:20-bookworm-slim', tmp('w'))).toThrow(UsageError);
    expect(() => loadBase(`oci:${base.dir}@sha256:${'0'.repeat(64)}`, tmp('w'))).toThrow(/not the pinned/);
    expect(() => loadBase(`oci:${tmp('empty')}`, tmp('w'))).toThrow(/not an OCI image layout/);
  });

  it.runIf(HAS_REGISTRY && has('skopeo'))(
    'pushes by digest to a real registry; skopeo reads back the same image',
    { timeout: 60_000 },
    async () => {
      const reg = await startRegistry();
      try {
        const ref = pushImage(
          path.join(first.outDir, 'oci'),
          'examples/shop-web',
          first.digests['examples/shop-web'],
          `${reg.host}/contrast`,
          '1.0.0',
        );
        expect(ref).toBe(`${reg.host}/contrast/examples/shop-web@${first.digests['examples/shop-web']}`);
        const inspect = spawnSync('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`], {
          encoding: 'utf8',
        });
        expect(inspect.status, inspect.stderr).toBe(0);
        const info = JSON.parse(inspect.stdout);
        expect(info.Digest).toBe(first.digests['examples/shop-web']);
        const byTag = spawnSync(
          'skopeo',
          ['inspect', '--tls-verify=false', `docker://${reg.host}/contrast/examples/shop-web:1.0.0`],
          {
            encoding: 'utf8',
          },
        );
        expect(JSON.parse(byTag.stdout).Digest).toBe(first.digests['examples/shop-web']);
        expect(info.Created).toBe(EPOCH);
        const raw = spawnSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`], {
          encoding: 'utf8',
        });
        expect(sha256(Buffer.from(raw.stdout))).toBe(first.digests['examples/shop-web']);
        expect(raw.stdout).not.toContain(os.tmpdir());
      } finally {
        await reg.stop();
      }
    },
  );
  if (!HAS_REGISTRY || !has('skopeo'))
    console.warn('NOTICE: docker-registry or skopeo missing; the push test is skipped');
});
