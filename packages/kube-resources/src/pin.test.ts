import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPlatformRegistry } from '@contrast-cc/core';
import { RegistryImageSource } from '@contrast-cc/oci';
import { HAS_REGISTRY, LocalRegistry } from '@contrast-cc/oci/testing';
import {
  decodeInitdataAnnotation,
  generatePolicy,
  type ImageFacts,
  type ImageSource,
  INITDATA_ANNOTATION,
  loadRecordedImages,
  type PolicyData,
  parseInitdataToml,
  RecordedImageSource,
  splitPolicyText,
} from '@contrast-cc/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ResourceInputError } from './errors.js';
import type { PatchResourcesOptions, PatchResult } from './pipeline.js';
import {
  AnyImageSource,
  examplesDir,
  INJECTED_IMAGES,
  runPipeline,
  testPlatform,
} from './test-support/index.js';

const snp = testPlatform('snp');
const registry = createPlatformRegistry([snp]);
const D = (c: string) => `sha256:${c.repeat(64)}`;

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function workspace(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'contrast-pin-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

const run = (dir: string, overrides: Partial<PatchResourcesOptions> = {}) =>
  runPipeline(dir, { defaultPlatform: snp, registry, ...overrides });

const pod = (spec: string, name = 'p') =>
  `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\nspec:\n  runtimeClassName: contrast-cc\n${spec}`;

function policyDataOf(text: string, doc = 0, podPath: string[] = []): PolicyData {
  let node = parseAllDocuments(text)[doc]?.toJS();
  for (const k of podPath) node = node[k];
  const toml = decodeInitdataAnnotation(node.metadata.annotations[INITDATA_ANNOTATION]);
  return splitPolicyText(parseInitdataToml(toml).data['policy.rego'] as string).data as unknown as PolicyData;
}

/** The shop example's recorded image facts (examples/shop/image-facts.json). */
function shopImages(): Promise<ImageSource> {
  return loadRecordedImages(path.join(examplesDir, 'shop', 'image-facts.json'));
}

describe('generate pins image digests', () => {
  it('a tag-only image is pinned in the YAML (tag kept, comment kept) and in the policy', async () => {
    const dir = workspace({
      'p.yml': pod(
        '  containers:\n    - name: api\n      image: ghcr.io/contrast-cc/examples/shop-api:1.0.0 # the API\n',
      ),
    });
    const pins: unknown[] = [];
    const result = await run(dir, {
      images: await shopImages(),
      generatePolicy,
      skipInitializer: true,
      onImagesPinned: (p) => pins.push(...p),
    });
    const digest = 'sha256:f693817a79a71e583dcb063001dbe43748205ef8f509602180d1de6b515d5a83';
    const text = result.files[0]!.text;
    expect(text).toContain(`image: ghcr.io/contrast-cc/examples/shop-api:1.0.0@${digest} # the API\n`);
    expect(result.pins).toEqual([
      {
        file: 'p.yml',
        field: 'documents[0].spec.containers[0].image',
        workload: 'Pod default/p',
        container: 'api',
        image: 'ghcr.io/contrast-cc/examples/shop-api:1.0.0',
        reference: `ghcr.io/contrast-cc/examples/shop-api:1.0.0@${digest}`,
        digest,
      },
    ]);
    expect(pins).toEqual(result.pins);
    const data = policyDataOf(text);
    const api = data.containers.find((c) => c.source_path === 'spec.containers[0]')!;
    expect(api.image).toBe(`ghcr.io/contrast-cc/examples/shop-api:1.0.0@${digest}`);
    expect(api.OCI.Annotations).toMatchObject({
      'io.kubernetes.cri.image-name': `ghcr.io/contrast-cc/examples/shop-api:1.0.0@${digest}`,
    });
    expect(api.storages[0]).toMatchObject({ driver: 'image_guest_pull', source: api.image });
  });

  it('pins the injected initializer and service mesh, init and ephemeral containers; one lookup per image', async () => {
    const images = new AnyImageSource();
    const dir = workspace({
      'p.yml': `apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    contrast.edgeless.systems/servicemesh-ingress: ""\nspec:\n  runtimeClassName: contrast-cc\n  initContainers:\n    - name: setup\n      image: app:1\n  containers:\n    - name: a\n      image: app:1\n    - name: b\n      image: registry.example/b\n  ephemeralContainers:\n    - name: debug\n      image: busybox:1.36\n`,
    });
    const result = await run(dir, { images });
    const resolved = [...images.resolved];
    const spec = parseAllDocuments(result.files[0]!.text)[0]!.toJS().spec;
    const d = (ref: string) => (images.resolve(ref) as Promise<ImageFacts>).then((f) => f.digest);
    expect(spec.initContainers.map((c: { image: string }) => c.image)).toEqual([
      `${INJECTED_IMAGES.initializer}@${await d(INJECTED_IMAGES.initializer)}`,
      `${INJECTED_IMAGES.serviceMesh}@${await d(INJECTED_IMAGES.serviceMesh)}`,
      `app:1@${await d('app:1')}`,
    ]);
    expect(spec.containers.map((c: { image: string }) => c.image)).toEqual([
      `app:1@${await d('app:1')}`,
      `registry.example/b@${await d('registry.example/b')}`,
    ]);
    expect(spec.ephemeralContainers[0].image).toBe(`busybox:1.36@${await d('busybox:1.36')}`);
    expect(result.pins.map((p) => `${p.container} ${p.field}`)).toEqual([
      'contrast-initializer documents[0].spec.initContainers[0].image',
      'contrast-service-mesh documents[0].spec.initContainers[1].image',
      'setup documents[0].spec.initContainers[2].image',
      'a documents[0].spec.containers[0].image',
      'b documents[0].spec.containers[1].image',
      'debug documents[0].spec.ephemeralContainers[0].image',
    ]);
    // Each tag is resolved once; the stub generator's lookups of the pinned names hit the memo.
    const tags = resolved.filter((r) => !r.includes('@'));
    expect(tags.sort()).toEqual([...new Set(tags)].sort());
    expect(resolved.filter((r) => r.includes('@'))).toEqual([]);
  });

  it('an already pinned image keeps its digest and is not reported', async () => {
    const pinned = `registry.example/app:1@${D('c')}`;
    const dir = workspace({ 'p.yml': pod(`  containers:\n    - name: a\n      image: ${pinned}\n`) });
    const result = await run(dir, { skipInitializer: true });
    expect(result.files[0]!.text).toContain(`image: ${pinned}\n`);
    expect(result.pins).toEqual([]);
  });

  it('a pinned digest the registry does not serve for that image: file, field and container named, nothing changed', async () => {
    const shopDir = workspace({});
    for (const f of ['coordinator.yml', 'db.yml']) {
      writeFileSync(path.join(shopDir, f), readFileSync(path.join(examplesDir, 'shop', f), 'utf8'));
    }
    const db = path.join(shopDir, 'db.yml');
    writeFileSync(db, readFileSync(db, 'utf8').replace('postgres:16.4', `postgres:16.4@${D('e')}`));
    const error = (await run(shopDir, { images: await shopImages() }).catch(
      (e: unknown) => e,
    )) as ResourceInputError;
    expect(error).toBeInstanceOf(ResourceInputError);
    expect(error.code).toBe('validation-failed');
    expect(error.describe()).toBe(
      `db.yml: documents[1].spec.template.spec.containers[0].image: container "postgres" (StatefulSet shop/db): the YAML pins ${D('e')}, but docker.io/library/postgres:16.4 resolves to sha256:18ca423de4deaea0bdbe46726f44eb12a25751e7a9601a39c533753204c0c84e`,
    );
  });

  it('an image that cannot be read is an "unavailable" problem naming the field', async () => {
    const dir = workspace({
      'p.yml': pod('  containers:\n    - name: a\n      image: registry.example/missing:1\n'),
    });
    const images = new RecordedImageSource({});
    const error = (await run(dir, { images, skipInitializer: true }).catch(
      (e: unknown) => e,
    )) as ResourceInputError;
    expect(error.code).toBe('unavailable');
    expect(error.describe()).toBe(
      'p.yml: documents[0].spec.containers[0].image: container "a" (Pod default/p): cannot resolve image registry.example/missing:1: no recorded facts for image "registry.example/missing:1"',
    );
  });

  it('is idempotent on the shop example with recorded facts and the real generator: byte-identical, nothing newly pinned the second time', async () => {
    const dir = workspace({});
    for (const f of ['api.yml', 'coordinator.yml', 'db.yml', 'migrate.yml', 'web.yml']) {
      writeFileSync(path.join(dir, f), readFileSync(path.join(examplesDir, 'shop', f), 'utf8'));
    }
    const first = await run(dir, { images: await shopImages(), generatePolicy });
    expect(new Set(first.pins.map((p) => p.image))).toEqual(
      new Set([
        'ghcr.io/contrast-cc/examples/shop-api:1.0.0',
        'ghcr.io/contrast-cc/coordinator',
        'docker.io/library/postgres:16.4',
        'ghcr.io/contrast-cc/examples/shop-web:1.0.0',
        INJECTED_IMAGES.initializer,
        INJECTED_IMAGES.serviceMesh,
      ]),
    );
    for (const f of first.files) writeFileSync(f.absolutePath, f.text);
    const second = await run(dir, { images: await shopImages(), generatePolicy });
    expect(second.files.map((f) => f.changed)).toEqual(first.files.map(() => false));
    expect(second.files.map((f) => f.text)).toEqual(first.files.map((f) => f.text));
    expect(second.workloads.map((w) => w.policyHash)).toEqual(first.workloads.map((w) => w.policyHash));
    // The injected containers are re-injected from their tags and pinned again to the same digest:
    // nothing is newly pinned.
    expect(second.pins).toEqual([]);
    // Every policy container's image carries a digest.
    for (const f of second.files) {
      parseAllDocuments(f.text).forEach((d, i) => {
        const obj = d.toJS();
        if (!obj?.spec?.template?.metadata?.annotations?.[INITDATA_ANNOTATION]) return;
        for (const c of policyDataOf(f.text, i, ['spec', 'template']).containers.slice(1)) {
          expect(c.image).toMatch(/@sha256:[a-f0-9]{64}$/);
        }
      });
    }
  });
});

describe('digests of pinned references outside the pipeline', () => {
  it('recorded facts: a pinned reference resolves by its tag and keeps the recorded digest', async () => {
    const recorded = await shopImages();
    const web = 'ghcr.io/contrast-cc/examples/shop-web:1.0.0';
    const digest = 'sha256:93f6b95dc789f8a82ddf6bb50bf289847711e2ac50faedbd6e84342571ee16d0';
    expect((await recorded.resolve(`${web}@${digest}`)).digest).toBe(digest);
    expect((await recorded.resolve(`${web}@${D('1')}`)).digest).toBe(digest);
    await expect(recorded.resolve(`ghcr.io/other@${D('1')}`)).rejects.toMatchObject({ code: 'not-found' });
  });

  it('generatePolicy refuses facts of another digest than the pod spec pins (field named)', async () => {
    const images = await shopImages();
    await expect(
      generatePolicy({
        pod: {
          metadata: { name: 'p' },
          spec: {
            containers: [{ name: 'web', image: `ghcr.io/contrast-cc/examples/shop-web:1.0.0@${D('1')}` }],
          },
        },
        kind: 'Pod',
        images,
        binding: 'initdata',
      }),
    ).rejects.toMatchObject({ code: 'validation-failed', field: 'spec.containers[0].image' });
  });
});

describe.skipIf(!HAS_REGISTRY)('pinning against a real docker-registry on loopback', () => {
  let reg: LocalRegistry;
  let indexDigest = '';
  let amdDigest = '';
  let plainDigest = '';
  beforeAll(async () => {
    reg = await LocalRegistry.start();
    const amd = await reg.pushImage('multi/app', 'amd', { Env: ['ARCH=amd64'], User: '0:0' }, [{ a: '1' }]);
    const arm = await reg.pushImage('multi/app', 'arm', { Env: ['ARCH=arm64'], User: '0:0' }, [{ a: '2' }]);
    amdDigest = amd.digest;
    indexDigest = await reg.pushIndex('multi/app', 'v1', [
      { ...arm, architecture: 'arm64' },
      { ...amd, architecture: 'amd64' },
    ]);
    plainDigest = (
      await reg.pushImage('plain/app', 'v1', { Entrypoint: ['/app'], User: '0:0' }, [{ b: '1' }])
    ).digest;
  }, 60_000);
  afterAll(async () => {
    await reg?.stop();
  });

  async function generate(images: string[]): Promise<{ result: PatchResult; source: RegistryImageSource }> {
    const containers = images.map((img, i) => `    - name: c${i}\n      image: ${img}\n`).join('');
    const dir = workspace({ 'p.yml': pod(`  containers:\n${containers}`) });
    const source = new RegistryImageSource({
      insecureRegistries: [reg.host],
      dockerConfigDir: path.join(dir, 'none'),
    });
    const recordedPause = await loadRecordedImages(path.join(examplesDir, 'shop', 'image-facts.json'));
    const images_: ImageSource = {
      resolve: (ref, o) => (ref.startsWith(reg.host) ? source.resolve(ref, o) : recordedPause.resolve(ref)),
    };
    const result = await run(dir, { images: images_, generatePolicy, skipInitializer: true });
    return { result, source };
  }

  it('a tag that names an index is pinned to the index digest (what a pull by that reference resolves)', async () => {
    const { result } = await generate([`${reg.host}/multi/app:v1`, `${reg.host}/plain/app:v1`]);
    const text = result.files[0]!.text;
    expect(text).toContain(`image: ${reg.host}/multi/app:v1@${indexDigest}\n`);
    expect(text).toContain(`image: ${reg.host}/plain/app:v1@${plainDigest}\n`);
    expect(indexDigest).not.toBe(amdDigest);
    const data = policyDataOf(text);
    expect(data.containers[1]?.image).toBe(`${reg.host}/multi/app:v1@${indexDigest}`);
    // The config is the linux/amd64 one of the index.
    expect(data.containers[1]?.OCI.Process).toMatchObject({ Env: expect.arrayContaining(['ARCH=amd64']) });
    expect(data.containers[2]?.image).toBe(`${reg.host}/plain/app:v1@${plainDigest}`);
  });

  it('a reference pinned to the index or to its amd64 manifest is kept (verified against the registry)', async () => {
    const { result } = await generate([
      `${reg.host}/multi/app:v1@${indexDigest}`,
      `${reg.host}/multi/app@${amdDigest}`,
    ]);
    expect(result.pins).toEqual([]);
    const data = policyDataOf(result.files[0]!.text);
    expect(data.containers.slice(1).map((c) => c.image)).toEqual([
      `${reg.host}/multi/app:v1@${indexDigest}`,
      `${reg.host}/multi/app@${amdDigest}`,
    ]);
  });

  it('a pinned digest the registry does not have: the field is named, nothing is generated', async () => {
    const error = (await generate([`${reg.host}/plain/app:v1@${D('0')}`]).catch(
      (e: unknown) => e,
    )) as ResourceInputError;
    expect(error).toBeInstanceOf(ResourceInputError);
    expect(error.describe()).toMatch(
      /^p\.yml: documents\[0\]\.spec\.containers\[0\]\.image: container "c0" \(Pod default\/p\): cannot resolve image .*manifests\/sha256:0{64}: HTTP 404/,
    );
  });
});
