import { createHash, generateKeyPairSync } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPlatformRegistry, type Platform } from '@contrast-cc/core';
import { createFakePlatform } from '@contrast-cc/core/testing';
import { parseManifest, workloadOwnerKeyHex } from '@contrast-cc/manifest';
import { AKS_BASE_MEMORY_MIB, aksClhSnp, aksReferenceValues } from '@contrast-cc/platform-aks';
import { metalQemuSnp } from '@contrast-cc/platform-baremetal-snp';
import { metalQemuTdx } from '@contrast-cc/platform-baremetal-tdx';
import { simulatedSnp, simulatedTdx } from '@contrast-cc/platform-simulator';
import {
  decodeInitdataAnnotation,
  type ImageFacts,
  type ImageSource,
  initdataDigest,
  loadRecordedImages,
} from '@contrast-cc/policy';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { cliImageSource } from '../images.js';
import { registryWithRuntimeAssets } from '../platforms.js';
import { captureIo, snapshot } from '../test-support/harness.js';
import { TEST_SNP_MEASUREMENTS, writeRuntimeAssets } from '../test-support/runtime-assets.js';
import { createGenerateCommand, type GenerateCommandDeps, plural } from './generate.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const shop = path.join(repoRoot, 'examples', 'shop');

/**
 * Facts for any reference, counting lookups: a tag resolves to sha256 of the reference text (the
 * same tag, the same digest, as from a registry), a pinned reference to its own digest.
 */
class AnyImageSource implements ImageSource {
  calls = 0;
  async resolve(ref: string): Promise<ImageFacts> {
    this.calls++;
    const at = ref.indexOf('@');
    const digest = at > 0 ? ref.slice(at + 1) : `sha256:${createHash('sha256').update(ref).digest('hex')}`;
    const reference = at > 0 ? ref : `${ref}@${digest}`;
    return { reference, digest, config: { Cmd: ['/bin/sh'], Env: ['PATH=/bin'] } };
  }
}

/** The shop example's recorded image facts (what CONTRAST_IMAGE_FACTS reads). */
function recordedShopImages(): Promise<ImageSource> {
  return loadRecordedImages(path.join(shop, 'image-facts.json'));
}

function platform(id: string, tee: 'snp' | 'tdx', insecure = false): Platform {
  const base = createFakePlatform();
  return createFakePlatform({
    id,
    aliases: [],
    insecure,
    runtime: { ...base.runtime, runtimeClassNames: [`contrast-cc-${id.toLowerCase()}-89abcdef`] },
    attestation: {
      ...base.attestation,
      tee,
      defaultReferenceValues: () =>
        tee === 'snp'
          ? [{ ProductName: 'Milan', TrustedMeasurement: '01'.repeat(48) }]
          : [
              {
                MrTd: '02'.repeat(48),
                Rtmrs: ['03', '04', '05', '06'].map((b) => b.repeat(48)),
                Xfam: 'e702060000000000',
              },
            ],
    },
  });
}

const snp = platform('Test-SNP', 'snp');
const tdx = platform('Test-TDX', 'tdx');
const sim = platform('Test-Sim', 'snp', true);
const registry = createPlatformRegistry([snp, tdx, sim]);

let ecPem = '';
let rsaPem = '';
beforeAll(() => {
  ecPem = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({
    format: 'pem',
    type: 'sec1',
  }) as string;
  rsaPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
    format: 'pem',
    type: 'pkcs1',
  }) as string;
});

/** A temp workspace holding a copy of the shop example in `resources/` and (by default) owner keys. */
function workspace(withKeys = true): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'contrast-generate-'));
  cpSync(shop, path.join(dir, 'resources'), { recursive: true, filter: (s) => !s.endsWith('README.md') });
  if (withKeys) {
    writeFileSync(path.join(dir, 'workload-owner.pem'), ecPem, { mode: 0o600 });
    writeFileSync(path.join(dir, 'seedshare-owner.pem'), rsaPem, { mode: 0o600 });
  }
  return dir;
}

/** `contrast generate args` with these dependencies in `dir`: its exit code and captured output. */
async function runGenerate(
  deps: GenerateCommandDeps,
  dir: string,
  args: string[],
  // The Contrast images (initializer, service mesh) the shop's recorded facts hold, as `contrast demo` uses them.
  env: Record<string, string> = { CONTRAST_IMAGE_FACTS: path.join(shop, 'image-facts.json') },
) {
  const c = captureIo(dir);
  c.io.env = env;
  const code = await createGenerateCommand(deps).run(args, c.io);
  return { code, stdout: c.out(), stderr: c.err() };
}

function generate(dir: string, args: string[], images = new AnyImageSource()) {
  return runGenerate({ registry, images }, dir, args);
}

/** Exit 0 and no error line (checked first, so a failure shows the error). */
function expectSucceeded(r: { code: number; stderr: string }): void {
  expect(r.stderr).not.toContain('contrast generate:');
  expect(r.code).toBe(0);
}

describe('contrast generate', () => {
  it('patches the shop example in place and writes a valid manifest whose keys are the initdata digests', async () => {
    const dir = workspace();
    const r = await generate(dir, ['--reference-values', 'test-snp', 'resources']);
    expectSucceeded(r);
    expect(r.stdout).toContain('✔ Patched 5 workloads in 5 files');
    expect(r.stdout).toContain('Please fill in');
    expect(r.stderr).toContain('[5/5]');
    const { manifest, missing } = parseManifest(readFileSync(path.join(dir, 'manifest.json')));
    expect(missing.map((m) => m.path)).toContain('ReferenceValues.snp[0].MinimumTCB.BootloaderVersion');
    expect(manifest.WorkloadOwnerPubKeys).toEqual([workloadOwnerKeyHex(ecPem)]);
    expect(manifest.SeedshareOwnerPubKeys).toHaveLength(1);
    expect(manifest.ReferenceValues.snp?.[0]?.Platform).toBe('Test-SNP');

    const hashes: string[] = [];
    for (const name of readdirSync(path.join(dir, 'resources'))) {
      for (const doc of parseAllDocuments(readFileSync(path.join(dir, 'resources', name), 'utf8'))) {
        const tpl = doc.toJS()?.spec?.template;
        const annotation = tpl?.metadata?.annotations?.['io.katacontainers.config.hypervisor.cc_init_data'];
        if (!annotation) continue;
        expect(tpl.spec.runtimeClassName).toBe('contrast-cc-test-snp-89abcdef');
        hashes.push(initdataDigest(decodeInitdataAnnotation(annotation)));
      }
    }
    expect(hashes.sort()).toEqual(Object.keys(manifest.Policies).sort());
    const coordinator = Object.values(manifest.Policies).find((p) => p.Role === 'coordinator');
    expect(coordinator?.WorkloadSecretID).toBe('apps/v1/StatefulSet/shop/coordinator');
  });

  it('generates the owner keys on the first run (0600) and adds them to the manifest', async () => {
    const dir = workspace(false);
    const r = await generate(dir, ['-p', 'Test-SNP', 'resources', '--json']);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.generatedKeys).toEqual(['workload-owner.pem', 'seedshare-owner.pem']);
    // Owner-only on POSIX; Windows has no mode bits (the file gets its directory's ACL).
    for (const k of ['workload-owner.pem', 'seedshare-owner.pem']) {
      if (process.platform !== 'win32') expect(statSync(path.join(dir, k)).mode & 0o777).toBe(0o600);
    }
    const workload = readFileSync(path.join(dir, 'workload-owner.pem'), 'utf8');
    expect(workload).toContain('BEGIN EC PRIVATE KEY');
    const seed = readFileSync(path.join(dir, 'seedshare-owner.pem'), 'utf8');
    expect(seed).toContain('BEGIN RSA PRIVATE KEY');
    const { manifest } = parseManifest(readFileSync(path.join(dir, 'manifest.json')));
    expect(manifest.WorkloadOwnerPubKeys).toEqual([workloadOwnerKeyHex(workload)]);
    expect(manifest.SeedshareOwnerPubKeys?.[0]?.length).toBeGreaterThan(1000); // RSA-4096 PKCS#1
    // The secret keys never reach the output.
    const body = workload.split('\n').slice(1, 3).join('');
    expect(r.stdout + r.stderr).not.toContain(body);
  }, 180_000); // an RSA-4096 key is generated: seconds on a quiet machine, over 20 s on a loaded one

  it('keeps user-filled reference values and added SANs when updating the manifest', async () => {
    const dir = workspace();
    expect((await generate(dir, ['-p', 'Test-SNP', 'resources'])).code).toBe(0);
    const file = path.join(dir, 'manifest.json');
    const m = JSON.parse(readFileSync(file, 'utf8'));
    m.ReferenceValues.snp[0].MinimumTCB = {
      BootloaderVersion: 9,
      TEEVersion: 0,
      SNPVersion: 23,
      MicrocodeVersion: 72,
    };
    const web = Object.values(
      m.Policies as Record<string, { SANs: string[]; WorkloadSecretID: string }>,
    ).find((p) => p.WorkloadSecretID === 'apps/v1/Deployment/shop/web')!;
    web.SANs.push('shop.example.com');
    writeFileSync(file, JSON.stringify(m));
    // change the web workload: new policy hash, same identity
    const webYml = path.join(dir, 'resources', 'web.yml');
    writeFileSync(
      webYml,
      readFileSync(webYml, 'utf8')
        .replace('replicas: 2', 'replicas: 3')
        .replace('--listen=:8080', '--listen=:8088'),
    );
    const r = await generate(dir, ['-p', 'Test-SNP', 'resources']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('Please fill in');
    const { manifest, missing } = parseManifest(readFileSync(file));
    expect(missing).toEqual([]);
    expect(manifest.ReferenceValues.snp?.[0]?.MinimumTCB?.SNPVersion).toBe(23);
    const updated = Object.values(manifest.Policies).find(
      (p) => p.WorkloadSecretID === 'apps/v1/Deployment/shop/web',
    )!;
    expect(updated.SANs).toEqual(['web', '*', 'shop.example.com']);
  });

  it('--seedshare-threshold 2 with three owner keys: written to the manifest, kept by the next run; k > n and bad k refused (exit 2, nothing written)', async () => {
    const dir = workspace();
    const owners = ['alice.pem', 'bob.pem', 'carol.pem'];
    for (const o of owners) {
      const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
        format: 'pem',
        type: 'pkcs1',
      });
      writeFileSync(path.join(dir, o), pem, { mode: 0o600 });
    }
    const ownerFlags = owners.flatMap((o) => ['--add-seedshare-owner-key', o]);
    expectSucceeded(
      await generate(dir, ['-p', 'Test-SNP', ...ownerFlags, '--seedshare-threshold', '2', 'resources']),
    );
    const file = path.join(dir, 'manifest.json');
    const first = readFileSync(file, 'utf8');
    const { manifest } = parseManifest(first);
    expect(manifest.SeedshareOwnerPubKeys).toHaveLength(3);
    expect(manifest.SeedshareThreshold).toBe(2);
    // A re-run without the flag keeps k (and the bytes).
    expectSucceeded(await generate(dir, ['-p', 'Test-SNP', ...ownerFlags, 'resources']));
    expect(readFileSync(file, 'utf8')).toBe(first);
    // k > n: the manifest's field named, nothing written.
    const tooMany = await generate(dir, [
      '-p',
      'Test-SNP',
      ...ownerFlags,
      '--seedshare-threshold',
      '4',
      'resources',
    ]);
    expect(tooMany.code).toBe(2);
    expect(tooMany.stderr).toContain(
      'manifest.json: SeedshareThreshold: 4 exceeds the 3 seed-share owners in SeedshareOwnerPubKeys: k of n needs k <= n',
    );
    expect(tooMany.stderr).toContain('hint: one --add-seedshare-owner-key <pem> per owner');
    expect(readFileSync(file, 'utf8')).toBe(first);
    for (const bad of ['0', 'two', '1.5', '-1']) {
      const r = await generate(dir, [
        '-p',
        'Test-SNP',
        ...ownerFlags,
        `--seedshare-threshold=${bad}`,
        'resources',
      ]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`--seedshare-threshold: must be a whole number k >= 1, got "${bad}"`);
    }
    expect(readFileSync(file, 'utf8')).toBe(first);
    // Back to 1: the field goes, the bytes are those of a manifest that never had one.
    expectSucceeded(
      await generate(dir, ['-p', 'Test-SNP', ...ownerFlags, '--seedshare-threshold', '1', 'resources']),
    );
    const one = readFileSync(file, 'utf8');
    expect(one).not.toContain('SeedshareThreshold');
    expect(one).toBe(first.replace(',\n  "SeedshareThreshold": 2\n}', '\n}'));
  }, 120_000);

  it('--disable-updates leaves no workload owner; -o writes one file and leaves the inputs', async () => {
    const dir = workspace();
    const before = snapshot(path.join(dir, 'resources'));
    const r = await generate(dir, ['-p', 'Test-SNP', '-d', '-o', 'out.yml', 'resources']);
    expect(r.code).toBe(0);
    expect(snapshot(path.join(dir, 'resources'))).toEqual(before);
    const out = readFileSync(path.join(dir, 'out.yml'), 'utf8');
    expect(parseAllDocuments(out).map((d) => d.toJS()?.kind)).toContain('StatefulSet');
    expect(out.match(/cc_init_data/g)).toHaveLength(5);
    const { manifest, warnings } = parseManifest(readFileSync(path.join(dir, 'manifest.json')));
    expect(manifest.WorkloadOwnerPubKeys).toEqual([]);
    expect(warnings.map((w) => w.path)).toEqual(['WorkloadOwnerPubKeys']);
  });

  it('image replacements apply to the workloads and the injected containers', async () => {
    const dir = workspace();
    writeFileSync(
      path.join(dir, 'replacements.txt'),
      '# pin\ndocker.io/library/postgres:16.4=docker.io/library/postgres:16.4@sha256:' +
        'ab'.repeat(32) +
        '\nghcr.io/contrast-cc/initializer:0.0.0=registry.example/initializer:pinned\n',
    );
    const { code } = await runGenerate(
      {
        registry,
        images: new AnyImageSource(),
        injectedImages: { initializer: 'ghcr.io/contrast-cc/initializer:0.0.0', serviceMesh: 'mesh:1' },
      },
      dir,
      ['-p', 'Test-SNP', '--image-replacements', 'replacements.txt', 'resources'],
    );
    expect(code).toBe(0);
    const db = readFileSync(path.join(dir, 'resources', 'db.yml'), 'utf8');
    expect(db).toContain(`image: docker.io/library/postgres:16.4@sha256:${'ab'.repeat(32)}`);
    expect(db).toContain('image: registry.example/initializer:pinned');
  });

  it('injects the images CONTRAST_IMAGES names (the images.json of pnpm images build --push)', async () => {
    const dir = workspace();
    const init = `127.0.0.1:5000/contrast/initializer@sha256:${'1a'.repeat(32)}`;
    const mesh = `127.0.0.1:5000/contrast/service-mesh-proxy@sha256:${'2b'.repeat(32)}`;
    writeFileSync(
      path.join(dir, 'images.json'),
      JSON.stringify({ images: {}, references: { initializer: init, 'service-mesh-proxy': mesh } }),
    );
    const r = await runGenerate(
      { registry, images: new AnyImageSource() },
      dir,
      ['-p', 'Test-SNP', 'resources'],
      {
        CONTRAST_IMAGES: 'images.json',
      },
    );
    expectSucceeded(r);
    const web = readFileSync(path.join(dir, 'resources', 'web.yml'), 'utf8');
    expect(web).toContain(`image: ${init}`);
    expect(web).toContain(`image: ${mesh}`);
    expect(web).not.toContain(':0.0.0');
  });

  it('an unreleased build without CONTRAST_IMAGES refuses (exit 2, nothing written) and says what to supply', async () => {
    const dir = workspace();
    const before = snapshot(dir);
    const r = await runGenerate(
      { registry, images: new AnyImageSource() },
      dir,
      ['-p', 'Test-SNP', 'resources'],
      {},
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('this contrast build names no initializer image');
    expect(r.stderr).toContain('CONTRAST_IMAGES');
    expect(snapshot(dir)).toEqual(before);
    // Nothing to inject, nothing needed.
    const skip = await runGenerate(
      { registry, images: new AnyImageSource() },
      dir,
      ['-p', 'Test-SNP', '--skip-initializer', '--skip-service-mesh', 'resources'],
      {},
    );
    expectSucceeded(skip);
    expect(readFileSync(path.join(dir, 'resources', 'web.yml'), 'utf8')).not.toContain(
      'contrast-initializer',
    );
  });

  it('a CONTRAST_IMAGES entry not pinned by a real digest is bad input naming the file and the entry', async () => {
    const dir = workspace();
    const cases: Array<[unknown, string]> = [
      [{ references: { initializer: 'ghcr.io/contrast-cc/initializer:0.0.0' } }, 'references.initializer'],
      [{ references: { initializer: `ghcr.io/x/initializer@sha256:${'0'.repeat(64)}` } }, 'zero digest'],
      [{ references: ['x'] }, 'references: expected an object'],
    ];
    for (const [content, message] of cases) {
      writeFileSync(path.join(dir, 'images.json'), JSON.stringify(content));
      const before = snapshot(dir);
      const r = await runGenerate(
        { registry, images: new AnyImageSource() },
        dir,
        ['-p', 'Test-SNP', 'resources'],
        {
          CONTRAST_IMAGES: 'images.json',
        },
      );
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('images.json: ');
      expect(r.stderr).toContain(message);
      expect(snapshot(dir)).toEqual(before);
    }
  });

  it('an insecure platform is reported loudly and cannot join a secure manifest', async () => {
    const dir = workspace();
    const r = await generate(dir, ['-p', 'Test-Sim', 'resources']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('WARNING: platform Test-Sim is INSECURE');
    const before = snapshot(dir);
    const again = await generate(dir, ['-p', 'Test-SNP', 'resources']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(
      'manifest.json: ReferenceValues.snp[0]: insecure (simulated) platform mixed',
    );
    expect(snapshot(dir)).toEqual(before);
  });
});

describe('contrast generate pins image digests', () => {
  const FACTS = JSON.parse(readFileSync(path.join(shop, 'image-facts.json'), 'utf8')) as Record<
    string,
    { digest: string }
  >;
  const IMAGES = [
    'ghcr.io/contrast-cc/examples/shop-api:1.0.0',
    'ghcr.io/contrast-cc/coordinator',
    'docker.io/library/postgres:16.4',
    'ghcr.io/contrast-cc/examples/shop-web:1.0.0',
    'ghcr.io/contrast-cc/initializer',
    'ghcr.io/contrast-cc/service-mesh-proxy',
  ];

  /** contrast generate as the CLI wires it offline: CONTRAST_IMAGE_FACTS=<the shop's facts>. */
  function generateRecorded(dir: string, args: string[]) {
    return runGenerate(
      {
        registry,
        images: cliImageSource,
        injectedImages: {
          initializer: 'ghcr.io/contrast-cc/initializer',
          serviceMesh: 'ghcr.io/contrast-cc/service-mesh-proxy',
        },
      },
      dir,
      args,
      { CONTRAST_IMAGE_FACTS: 'resources/image-facts.json' },
    );
  }

  function images(dir: string): string[] {
    return readdirSync(path.join(dir, 'resources'))
      .filter((n) => n.endsWith('.yml'))
      .flatMap((n) =>
        [...readFileSync(path.join(dir, 'resources', n), 'utf8').matchAll(/^ +image: (\S+)$/gm)].map(
          (m) => m[1] as string,
        ),
      );
  }

  it('pins every tag-only image (the injected ones too) to its recorded digest, one line per image', async () => {
    const dir = workspace();
    const r = await generateRecorded(dir, ['-p', 'Test-SNP', 'resources']);
    expectSucceeded(r);
    const written = images(dir);
    expect(written.length).toBeGreaterThan(10);
    for (const ref of written) {
      const at = ref.indexOf('@');
      expect(at, ref).toBeGreaterThan(0);
      expect(ref.slice(at + 1)).toBe(FACTS[ref.slice(0, at)]?.digest);
    }
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('pinned '));
    expect(lines).toHaveLength(IMAGES.length);
    expect(lines).toContain(
      'pinned ghcr.io/contrast-cc/examples/shop-api:1.0.0 to sha256:f693817a79a7… (2 containers)',
    );
    expect(lines).toContain('pinned docker.io/library/postgres:16.4 to sha256:18ca423de4de… (1 container)');
    // The policies bind the digests: every policy container image is the pinned reference.
    for (const name of ['web.yml', 'db.yml']) {
      for (const doc of parseAllDocuments(readFileSync(path.join(dir, 'resources', name), 'utf8'))) {
        const annotation =
          doc.toJS()?.spec?.template?.metadata?.annotations?.[
            'io.katacontainers.config.hypervisor.cc_init_data'
          ];
        if (!annotation) continue;
        const toml = decodeInitdataAnnotation(annotation);
        const text = toml.slice(toml.indexOf('policy_data := '));
        for (const m of text.matchAll(/"image": "([^"]+)"/g)) {
          if (m[1] !== 'pause') expect(written).toContain(m[1]);
        }
      }
    }
  });

  it('--json lists the newly pinned images with their containers', async () => {
    const dir = workspace();
    const r = await generateRecorded(dir, ['-p', 'Test-SNP', '--json', 'resources']);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.pinnedImages.map((p: { image: string }) => p.image).sort()).toEqual([...IMAGES].sort());
    const api = summary.pinnedImages.find((p: { image: string }) => p.image === IMAGES[0]);
    expect(api).toEqual({
      image: IMAGES[0],
      reference: `${IMAGES[0]}@${FACTS[IMAGES[0] as string]?.digest}`,
      digest: FACTS[IMAGES[0] as string]?.digest,
      containers: [
        {
          file: 'resources/api.yml',
          field: 'documents[1].spec.template.spec.containers[0].image',
          workload: 'Deployment shop/api',
          container: 'api',
        },
        {
          file: 'resources/migrate.yml',
          field: 'documents[0].spec.template.spec.containers[0].image',
          workload: 'Job shop/migrate',
          container: 'migrate',
        },
      ],
    });
  });

  it('is idempotent: a second run leaves every file byte-identical and pins nothing new', async () => {
    const dir = workspace();
    expect((await generateRecorded(dir, ['-p', 'Test-SNP', 'resources'])).code).toBe(0);
    const first = snapshot(dir);
    const again = await generateRecorded(dir, ['-p', 'Test-SNP', 'resources']);
    expect(again.code).toBe(0);
    expect(again.stderr).not.toContain('pinned ');
    const second = snapshot(dir);
    const bytes = (s: Record<string, string>) =>
      Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.slice(v.indexOf(':') + 1)]));
    expect(bytes(second)).toEqual(bytes(first));
  });
});

describe('contrast generate on bad input: exit 1 or 2, file and field named, nothing written', () => {
  async function expectUntouched(
    prepare: (dir: string) => void,
    args: string[],
    code: number,
    message: string | RegExp,
    images?: () => Promise<ImageSource>,
  ): Promise<void> {
    const dir = workspace();
    prepare(dir);
    const before = snapshot(dir);
    const r = await generate(dir, args, images ? ((await images()) as AnyImageSource) : undefined);
    expect(r.code).toBe(code);
    if (typeof message === 'string') expect(r.stderr).toContain(message);
    else expect(r.stderr).toMatch(message);
    expect(snapshot(dir)).toEqual(before);
    expect(existsSync(path.join(dir, 'manifest.json'))).toBe(before['manifest.json'] !== undefined);
  }

  it('malformed YAML', async () => {
    await expectUntouched(
      (dir) =>
        writeFileSync(path.join(dir, 'resources', 'zz-broken.yml'), 'kind: Pod\nmetadata:\n  name: [x\n'),
      ['-p', 'Test-SNP', 'resources'],
      2,
      /resources\/zz-broken\.yml: documents\[0\]: invalid YAML at line \d+, column \d+/,
    );
  });

  it('an unknown field in a workload', async () => {
    await expectUntouched(
      (dir) => {
        const f = path.join(dir, 'resources', 'web.yml');
        writeFileSync(
          f,
          readFileSync(f, 'utf8').replace(
            '          ports:\n            - containerPort: 8080',
            '          prots:\n            - containerPort: 8080',
          ),
        );
      },
      ['-p', 'Test-SNP', 'resources'],
      2,
      'resources/web.yml: documents[0].spec.template.spec.containers[0].prots: unknown field (Deployment)',
    );
  });

  it('a manifest with a wrong field', async () => {
    await expectUntouched(
      (dir) =>
        writeFileSync(
          path.join(dir, 'manifest.json'),
          JSON.stringify({
            Policies: {},
            ReferenceValues: { snp: [{ ProductName: 'Genoa', MinimumTCB: { BootloaderVersion: 'nine' } }] },
          }),
        ),
      ['-p', 'Test-SNP', 'resources'],
      2,
      'manifest.json: ReferenceValues.snp[0].MinimumTCB.BootloaderVersion:',
    );
  });

  it('an image that cannot be resolved fails with exit 1, naming the workload', async () => {
    const dir = workspace();
    const before = snapshot(dir);
    const images: ImageSource = {
      async resolve(ref) {
        if (ref.includes('postgres')) throw new Error(`registry unreachable for ${ref}`);
        return new AnyImageSource().resolve(ref);
      },
    };
    const r = await generate(dir, ['-p', 'Test-SNP', 'resources'], images as AnyImageSource);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'resources/db.yml: documents[1].spec.template.spec.containers[0].image: container "postgres" (StatefulSet shop/db): cannot resolve image docker.io/library/postgres:16.4: registry unreachable',
    );
    expect(snapshot(dir)).toEqual(before);
  });

  it('an image pinned to a digest the registry does not give for it: exit 2, file, field and container', async () => {
    await expectUntouched(
      (dir) => {
        const f = path.join(dir, 'resources', 'web.yml');
        writeFileSync(
          f,
          readFileSync(f, 'utf8').replace('shop-web:1.0.0', `shop-web:1.0.0@sha256:${'0'.repeat(64)}`),
        );
      },
      ['-p', 'Test-SNP', 'resources'],
      2,
      'contrast generate: resources/web.yml: documents[0].spec.template.spec.containers[0].image: container "web" (Deployment shop/web): the YAML pins sha256:0000000000000000000000000000000000000000000000000000000000000000, but ghcr.io/contrast-cc/examples/shop-web:1.0.0 resolves to sha256:93f6b95dc789f8a82ddf6bb50bf289847711e2ac50faedbd6e84342571ee16d0',
      recordedShopImages,
    );
  });

  it('no Coordinator among the resources', async () => {
    await expectUntouched(
      (dir) =>
        writeFileSync(
          path.join(dir, 'resources', 'coordinator.yml'),
          'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n',
        ),
      ['-p', 'Test-SNP', 'resources'],
      1,
      'No Coordinator resource found',
    );
  });

  it('usage errors: unknown platform, unknown flag, exclusive flags, missing path', async () => {
    await expectUntouched(
      () => {},
      ['-p', 'Nope', 'resources'],
      2,
      '--reference-values: unknown platform "Nope" (known: Test-SNP, Test-TDX, Test-Sim)',
    );
    await expectUntouched(() => {}, ['--frobnicate', 'resources'], 2, "Unknown option '--frobnicate'");
    await expectUntouched(() => {}, ['-d', '-w', 'k.pem', 'resources'], 2, 'exclude each other');
    await expectUntouched(() => {}, ['-p', 'Test-SNP', 'nowhere'], 2, 'nowhere: no such file or directory');
    await expectUntouched(() => {}, ['resources'], 2, 'needs a platform: pass --reference-values');
  });

  it('a key file that is not a key is refused without echoing it', async () => {
    await expectUntouched(
      (dir) => writeFileSync(path.join(dir, 'workload-owner.pem'), 'TOP-SECRET-NOT-A-KEY'),
      ['-p', 'Test-SNP', 'resources'],
      2,
      'workload-owner.pem: workload owner key: not a PEM key',
    );
  });
});

describe('contrast generate with the real platform plugins', () => {
  const real = (): GenerateCommandDeps => ({
    registry: createPlatformRegistry([metalQemuSnp, metalQemuTdx]),
    images: new AnyImageSource(),
    withAssets: registryWithRuntimeAssets,
  });

  it('refuses a bare-metal platform without --assets (exit 2, what to supply, nothing written)', async () => {
    const dir = workspace();
    const before = snapshot(dir);
    const { code, stderr } = await runGenerate(real(), dir, [
      '--reference-values',
      'metal-qemu-snp',
      'resources',
    ]);
    expect(code).toBe(2);
    expect(stderr).toContain('platform Metal-QEMU-SNP: the Metal-QEMU-SNP runtime has no pinned release');
    expect(stderr).toContain('Supply them with --assets <file|dir>');
    expect(snapshot(dir)).toEqual(before);
  });

  it('with --assets: the runtime class of those assets, and reference values whose only gap is MinimumTCB', async () => {
    const dir = workspace();
    const assets = writeRuntimeAssets(path.join(dir, 'runtime'), 'Metal-QEMU-SNP');
    const r = await runGenerate(real(), dir, ['-p', 'metal-qemu-snp', '--assets', assets, 'resources']);
    expect(r.code).toBe(0);
    const { registry } = await registryWithRuntimeAssets(createPlatformRegistry([metalQemuSnp]), assets);
    const rc = registry.get('Metal-QEMU-SNP').runtime.runtimeClassNames[0]!;
    expect(rc).toMatch(/^contrast-cc-metal-qemu-snp-[0-9a-f]{8}$/);
    expect(readFileSync(path.join(dir, 'resources', 'web.yml'), 'utf8')).toContain(`runtimeClassName: ${rc}`);
    const { manifest, missing } = parseManifest(readFileSync(path.join(dir, 'manifest.json')));
    expect(manifest.ReferenceValues.snp?.map((v) => [v.ProductName, v.TrustedMeasurement])).toEqual([
      ['Milan', TEST_SNP_MEASUREMENTS.Milan],
      ['Genoa', TEST_SNP_MEASUREMENTS.Genoa],
    ]);
    expect(
      new Set(
        missing.map((m) =>
          m.path
            .replace(/\[\d\]/, '[]')
            .split('.')
            .slice(0, 3)
            .join('.'),
        ),
      ),
    ).toEqual(new Set(['ReferenceValues.snp[].MinimumTCB']));
  });

  it('keeps what the operator filled in (TDX MrSeam) on the next run with --assets, nothing left missing', async () => {
    const dir = workspace();
    const tdx = writeRuntimeAssets(path.join(dir, 'tdx-runtime'), 'Metal-QEMU-TDX');
    const first = await runGenerate(real(), dir, ['-p', 'metal-qemu-tdx', '--assets', tdx, 'resources']);
    expect(first.code).toBe(0);
    const file = path.join(dir, 'manifest.json');
    const m1 = JSON.parse(readFileSync(file, 'utf8'));
    expect(m1.ReferenceValues.tdx[0].MrTd).toMatch(/^[0-9a-f]{96}$/);
    expect(m1.ReferenceValues.tdx[0]).not.toHaveProperty('MrSeam');
    const mrSeam = createHash('sha384').update('operator TDX module').digest('hex');
    m1.ReferenceValues.tdx[0].MrSeam = mrSeam;
    writeFileSync(file, JSON.stringify(m1, null, 2));
    const second = await runGenerate(real(), dir, ['-p', 'metal-qemu-tdx', '--assets', tdx, 'resources']);
    expect(second.code).toBe(0);
    const { manifest, missing } = parseManifest(readFileSync(file));
    expect(manifest.ReferenceValues.tdx?.[0]?.MrSeam).toBe(mrSeam);
    expect(missing).toEqual([]);
  });

  it('refuses a bad assets description naming file and field, nothing written', async () => {
    const dir = workspace();
    const assets = writeRuntimeAssets(path.join(dir, 'runtime'), 'Metal-QEMU-SNP', (d) => {
      (d.files as { sha256?: string }[])[3]!.sha256 = '00'.repeat(32);
    });
    const before = snapshot(dir);
    const r = await runGenerate(real(), dir, ['-p', 'metal-qemu-snp', '--assets', assets, 'resources']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${assets}: files.3.sha256: is all zeros: a placeholder, not a digest`);
    expect(snapshot(dir)).toEqual(before);
  });
});

describe('contrast generate with the simulator platforms (insecure, complete reference values)', () => {
  const realRegistry = () => createPlatformRegistry([metalQemuSnp, metalQemuTdx, simulatedSnp, simulatedTdx]);

  async function runReal(dir: string, args: string[]) {
    let seenCwd = '';
    const r = await runGenerate(
      {
        registry: realRegistry(),
        images: (io) => {
          seenCwd = io.cwd;
          return new AnyImageSource();
        },
      },
      dir,
      args,
    );
    expect(seenCwd).toBe(dir);
    return r;
  }

  /** Moves the workload in resources/`file` from `contrast-cc` to `runtimeClass`; returns the file's path. */
  function setRuntimeClass(dir: string, file: string, runtimeClass: string): string {
    const p = path.join(dir, 'resources', file);
    writeFileSync(
      p,
      readFileSync(p, 'utf8').replace('runtimeClassName: contrast-cc', `runtimeClassName: ${runtimeClass}`),
    );
    return p;
  }

  it('produces a complete manifest, marked insecure, and says so loudly', async () => {
    const dir = workspace();
    const r = await runReal(dir, ['--reference-values', 'Simulated-SNP', 'resources']);
    expectSucceeded(r);
    expect(r.stderr).toContain('WARNING: platform Simulated-SNP is INSECURE');
    const { manifest, missing } = parseManifest(readFileSync(path.join(dir, 'manifest.json')));
    expect(missing).toEqual([]);
    expect(
      manifest.ReferenceValues.snp?.every((v) => v.Insecure === true && v.Platform === 'Simulated-SNP'),
    ).toBe(true);
    const rc = simulatedSnp.runtime.runtimeClassNames[0]!;
    expect(readFileSync(path.join(dir, 'resources', 'db.yml'), 'utf8')).toContain(`runtimeClassName: ${rc}`);
  });

  it('multi-runtime: a workload on contrast-cc-simulated-tdx adds TDX reference values and its handler', async () => {
    const dir = workspace();
    const web = setRuntimeClass(dir, 'web.yml', 'contrast-cc-simulated-tdx');
    const r = await runReal(dir, ['-p', 'simulated-snp', 'resources']);
    expect(r.code).toBe(0);
    const { manifest, missing } = parseManifest(readFileSync(path.join(dir, 'manifest.json')));
    expect(missing).toEqual([]);
    expect(manifest.ReferenceValues.snp?.[0]?.Platform).toBe('Simulated-SNP');
    expect(manifest.ReferenceValues.tdx?.[0]?.Platform).toBe('Simulated-TDX');
    expect(readFileSync(web, 'utf8')).toContain(
      `runtimeClassName: ${simulatedTdx.runtime.runtimeClassNames[0]}`,
    );
  });

  it('a workload on a secure platform next to the simulator is refused, nothing written', async () => {
    const dir = workspace();
    setRuntimeClass(dir, 'api.yml', 'contrast-cc-metal-qemu-snp');
    const before = snapshot(dir);
    const r = await runReal(dir, ['-p', 'simulated-snp', 'resources']);
    expect(r.code).toBe(2);
    // Refused: the bare-metal runtime has no assets here (and it would be an insecure mix).
    expect(r.stderr).toContain('platform Metal-QEMU-SNP: the Metal-QEMU-SNP runtime has no pinned release');
    expect(snapshot(dir)).toEqual(before);
  });
});

describe('contrast generate --policy (custom rules, upstream -p/--policy)', () => {
  const policyKeys = (dir: string) =>
    Object.keys(parseManifest(readFileSync(path.join(dir, 'manifest.json'))).manifest.Policies).sort();

  it('writes the built-in rules when the file is missing, uses an edited file, and a changed rule changes the policy hashes', async () => {
    const builtIn = workspace();
    expectSucceeded(await generate(builtIn, ['--reference-values', 'test-snp', 'resources']));

    const dir = workspace();
    const first = await generate(dir, [
      '--reference-values',
      'test-snp',
      '--policy',
      'rules.rego',
      'resources',
    ]);
    expectSucceeded(first);
    const written = readFileSync(path.join(dir, 'rules.rego'), 'utf8');
    expect(written).toMatch(/^package agent_policy$/m);
    // The written file is the built-in rules: the same policies as without --policy.
    expect(policyKeys(dir)).toEqual(policyKeys(builtIn));

    // Edit one rule (allow reading logs): every policy, so every manifest key, changes.
    const edited = written.replace('default ReadStreamRequest := false', 'default ReadStreamRequest := true');
    expect(edited).not.toBe(written);
    const dir2 = workspace();
    writeFileSync(path.join(dir2, 'my-rules.rego'), edited);
    expectSucceeded(
      await generate(dir2, ['--reference-values', 'test-snp', '--policy', 'my-rules.rego', 'resources']),
    );
    const keys2 = policyKeys(dir2);
    expect(keys2).toHaveLength(policyKeys(builtIn).length);
    for (const k of keys2) expect(policyKeys(builtIn)).not.toContain(k);
    expect(readFileSync(path.join(dir2, 'my-rules.rego'), 'utf8')).toBe(edited); // never overwritten
  });

  it('refuses rules that are not Rego of package agent_policy (exit 2, file and line named, nothing written)', async () => {
    const dir = workspace();
    writeFileSync(path.join(dir, 'bad.rego'), 'package agent_policy\n\ndefault X := \n');
    const before = snapshot(dir);
    const r = await generate(dir, ['--reference-values', 'test-snp', '--policy', 'bad.rego', 'resources']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--policy bad\.rego: not valid Rego at \d+:\d+/);
    writeFileSync(path.join(dir, 'other.rego'), 'package something_else\n');
    const r2 = await generate(dir, ['--reference-values', 'test-snp', '--policy', 'other.rego', 'resources']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/no "package agent_policy"/);
    const withoutRules = (snap: Record<string, string>) =>
      Object.fromEntries(Object.entries(snap).filter(([f]) => !f.endsWith('.rego')));
    expect(withoutRules(snapshot(dir))).toEqual(withoutRules(before));
  });

  it('-p rules.rego (upstream habit) says what -p means here and how to pass rules', async () => {
    const dir = workspace();
    writeFileSync(path.join(dir, 'rules.rego'), 'package agent_policy\n');
    const r = await generate(dir, ['-p', 'rules.rego', 'resources']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/-p\/--reference-values takes a platform here .*pass --policy rules\.rego/);
    const r2 = await generate(dir, ['-p', 'policies/custom.rego', 'resources']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/pass --policy policies\/custom\.rego/);
  });
});

describe('contrast generate and Kata override annotations', () => {
  /** Adds an annotation to web's pod template (after its `annotations:` line). */
  function annotateWeb(dir: string, key: string, value: string): void {
    const file = path.join(dir, 'resources', 'web.yml');
    const text = readFileSync(file, 'utf8');
    const at = text.indexOf('      annotations:\n');
    expect(at).toBeGreaterThan(0);
    const insert = `      annotations:\n        ${key}: "${value}"\n`;
    writeFileSync(file, text.slice(0, at) + insert + text.slice(at + '      annotations:\n'.length));
  }

  it('refuses one that changes the launch measurement (exit 2, file and annotation named, nothing written)', async () => {
    const dir = workspace();
    annotateWeb(dir, 'io.katacontainers.config.hypervisor.kernel_params', 'agent.log=debug');
    const before = snapshot(path.join(dir, 'resources'));
    const r = await generate(dir, ['--reference-values', 'test-snp', 'resources']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /web\.yml: .*metadata\.annotations\["io\.katacontainers\.config\.hypervisor\.kernel_params"\]: refused: it changes what the TEE measures/,
    );
    expect(snapshot(path.join(dir, 'resources'))).toEqual(before);
  });

  it('warns on another override and goes on', async () => {
    const dir = workspace();
    annotateWeb(dir, 'io.katacontainers.config.hypervisor.default_memory', '4096');
    const r = await generate(dir, ['--reference-values', 'test-snp', 'resources']);
    expectSucceeded(r);
    expect(r.stdout).toMatch(
      /⚠ .*web\.yml: .*metadata\.annotations\["io\.katacontainers\.config\.hypervisor\.default_memory"\]: a Kata configuration override: unsupported/,
    );
  });
});

describe('contrast generate on AKS-CLH-SNP: memory limits (applied wrongly by the AKS runtime)', () => {
  const aks = (dir: string, extra: string[] = []) =>
    runGenerate({ registry: createPlatformRegistry([aksClhSnp]), images: new AnyImageSource() }, dir, [
      '-p',
      'AKS-CLH-SNP',
      ...extra,
      'resources',
    ]);
  /** The shop in a workspace whose manifest has the node pool's measurement filled in (AKS has no default). */
  async function aksWorkspace(): Promise<string> {
    const dir = workspace();
    expect((await generate(dir, ['-p', 'Test-SNP', 'resources'])).code).toBe(0);
    cpSync(shop, path.join(dir, 'resources'), { recursive: true, filter: (s) => !s.endsWith('README.md') });
    const file = path.join(dir, 'manifest.json');
    const m = JSON.parse(readFileSync(file, 'utf8'));
    m.ReferenceValues = { snp: [{ ...aksReferenceValues()[0], TrustedMeasurement: 'ab'.repeat(48) }] };
    writeFileSync(file, JSON.stringify(m));
    return dir;
  }
  const webPod = (dir: string) =>
    parseAllDocuments(readFileSync(path.join(dir, 'resources', 'web.yml'), 'utf8'))[0]!.toJS().spec.template;

  it('warns on each memory limit, naming file, workload, container and field', async () => {
    const dir = await aksWorkspace();
    const r = await aks(dir);
    expectSucceeded(r);
    expect(r.stdout).toContain(
      '⚠ resources/web.yml: documents[0].spec.template.spec.containers[0].resources.limits.memory: Deployment shop/web: container "web" has a memory limit; on AKS container memory limits are applied wrongly',
    );
    expect(r.stdout).toMatch(/--memory-limits-to-requests/);
    // one warning per user container with a limit (the shop's five workloads, one each)
    expect(r.stdout.match(/has a memory limit/g)).toHaveLength(5);
    expect(webPod(dir).spec.containers[0].resources.limits).toEqual({ memory: '128Mi' });
  });

  it('with --memory-limits-to-requests: requests only, the VM sized through default_memory; a re-run changes nothing', async () => {
    const dir = await aksWorkspace();
    const r = await aks(dir, ['--memory-limits-to-requests']);
    expectSucceeded(r);
    expect(r.stdout).not.toMatch(/has a memory limit/);
    const pod = webPod(dir);
    for (const c of [...pod.spec.containers, ...(pod.spec.initContainers ?? [])]) {
      expect(c.resources?.limits?.memory).toBeUndefined();
    }
    expect(pod.spec.containers[0].resources).toEqual({ requests: { memory: '128Mi' } });
    // the guest allowance plus the pod's requests: web 128Mi and the service-mesh sidecar 100Mi
    // (the initializer's 50Mi runs before them and counts only as a maximum)
    expect(pod.spec.initContainers.map((c: { name: string }) => c.name)).toEqual([
      'contrast-initializer',
      'contrast-service-mesh',
    ]);
    const mib = String(AKS_BASE_MEMORY_MIB + 128 + 100);
    expect(pod.metadata.annotations).toMatchObject({
      'io.katacontainers.config.hypervisor.default_memory': mib,
      'contrast.edgeless.systems/vm-memory': `${mib}Mi`,
      'contrast.edgeless.systems/vm-vcpus': '1',
    });
    // the size is said per workload
    expect(r.stderr + r.stdout).toMatch(/Deployment shop\/web: policy [0-9a-f]{16}… \(VM 1 vCPU, 484 MiB\)/);
    const before = snapshot(path.join(dir, 'resources'));
    const again = await aks(dir, ['--memory-limits-to-requests']);
    expectSucceeded(again);
    expect(again.stdout).not.toMatch(/default_memory/);
    expect(snapshot(path.join(dir, 'resources'))).toEqual(before);
  });

  it('--json gives each workload its VM size', async () => {
    const dir = await aksWorkspace();
    const r = await aks(dir, ['--memory-limits-to-requests', '--json']);
    expectSucceeded(r);
    const web = JSON.parse(r.stdout).workloads.find((w: { name: string }) => w.name === 'web');
    expect(web.vm).toEqual({ vcpus: 1, memoryMiB: AKS_BASE_MEMORY_MIB + 128 + 100 });
  });

  it("upstream's --inject-image-store is refused with what to do instead", async () => {
    const dir = workspace();
    const r = await aks(dir, ['--inject-image-store']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /--inject-image-store \(upstream\): Contrast for TypeScript has no secure image store/,
    );
  });
});

describe('contrast generate on upstream-style inputs', () => {
  /** The shop's images, except that shop-web runs as the named user "web" (uid 1000, in group 2000). */
  function namedUserImages(): ImageSource {
    const any = new AnyImageSource();
    return {
      async resolve(ref) {
        const facts = await any.resolve(ref);
        if (!ref.includes('shop-web')) return facts;
        return {
          ...facts,
          config: { ...facts.config, User: 'web' },
          passwd: 'root:x:0:0::/root:/bin/sh\nweb:x:1000:1000::/srv:/bin/sh\n',
          group: 'root:x:0:\nweb:x:1000:\nstaff:x:2000:web\n',
        };
      },
    };
  }

  it('writes the users and groups guest pull cannot read from the pinned image into the YAML and says so', async () => {
    const dir = workspace();
    const r = await generate(dir, ['-p', 'Test-SNP', 'resources'], namedUserImages() as AnyImageSource);
    expectSucceeded(r);
    const web = parseAllDocuments(readFileSync(path.join(dir, 'resources', 'web.yml'), 'utf8'))[0]!.toJS();
    expect(web.spec.template.spec.containers[0].securityContext).toMatchObject({
      runAsUser: 1000,
      runAsGroup: 1000,
    });
    expect(web.spec.template.spec.securityContext.supplementalGroups).toEqual([2000]);
    expect(r.stdout).toContain(
      "⚠ resources/web.yml: documents[0].spec.template.spec.containers[0].securityContext.runAsUser: Deployment shop/web: set to 1000 from the image's /etc/passwd",
    );
    // A re-run on the output changes no byte.
    const before = snapshot(dir);
    expectSucceeded(
      await generate(dir, ['-p', 'Test-SNP', 'resources'], namedUserImages() as AnyImageSource),
    );
    const after = snapshot(dir);
    for (const f of Object.keys(before).filter((f) => f.startsWith('resources')))
      expect(after[f]).toBe(before[f]);
  });

  it('--no-image-users: refused as bad input (exit 2), every key named once, no doubled prefix, nothing written', async () => {
    await expectUntouchedBy(
      (_dir) => undefined,
      ['-p', 'Test-SNP', '--no-image-users', 'resources'],
      namedUserImages(),
      (stderr) => {
        expect(stderr).toContain(
          'resources/web.yml: documents[0].spec.template.spec.containers[0].securityContext.runAsUser: Deployment shop/web: guest pull: the runtime cannot read',
        );
        expect(stderr).toContain('containers[0].securityContext.runAsGroup: Deployment shop/web:');
        expect(stderr).toContain(
          'resources/web.yml: documents[0].spec.template.spec.securityContext.supplementalGroups: Deployment shop/web: guest pull',
        );
        expect(stderr).not.toContain('ERROR');
        expect(stderr).not.toContain('policy generation failed');
      },
    );
  });

  it('refuses a @@REPLACE_NAMESPACE@@ placeholder namespace (exit 2, file and field, nothing written)', async () => {
    await expectUntouchedBy(
      (dir) => {
        const f = path.join(dir, 'resources', 'web.yml');
        writeFileSync(
          f,
          readFileSync(f, 'utf8').replace('namespace: shop', 'namespace: "@@REPLACE_NAMESPACE@@"'),
        );
      },
      ['-p', 'Test-SNP', 'resources'],
      new AnyImageSource(),
      (stderr) =>
        expect(stderr).toContain(
          'resources/web.yml: documents[0].metadata.namespace: "@@REPLACE_NAMESPACE@@" is not a valid namespace',
        ),
    );
  });

  async function expectUntouchedBy(
    prepare: (dir: string) => void,
    args: string[],
    images: ImageSource,
    check: (stderr: string) => void,
  ): Promise<void> {
    const dir = workspace();
    prepare(dir);
    const before = snapshot(dir);
    const r = await generate(dir, args, images as AnyImageSource);
    check(r.stderr);
    expect(r.code).toBe(2);
    expect(snapshot(dir)).toEqual(before);
  }

  it('says "1 workload", "2 workloads"', () => {
    expect(plural(1, 'workload')).toBe('1 workload');
    expect(plural(2, 'file')).toBe('2 files');
    expect(plural(0, 'file')).toBe('0 files');
  });
});
