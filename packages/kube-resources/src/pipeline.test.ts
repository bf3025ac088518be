import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPlatformRegistry } from '@contrast-cc/core';
import { canonicalManifestJson } from '@contrast-cc/manifest';
import {
  decodeInitdataAnnotation,
  generatePolicy,
  INITDATA_ANNOTATION,
  initdataDigest,
  LEGACY_POLICY_ANNOTATION,
} from '@contrast-cc/policy';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ResourceInputError } from './errors.js';
import { loadResourceFiles } from './files.js';
import { assembleManifest } from './manifest.js';
import { type PatchResourcesOptions, patchResources } from './pipeline.js';
import {
  AnyImageSource,
  examplesDir,
  INJECTED_IMAGES,
  stubPolicyGenerator,
  testPlatform,
} from './test-support/index.js';
import { joinResourceFiles } from './write.js';

const fixtures = path.join(path.dirname(new URL(import.meta.url).pathname), '__fixtures__');
const golden = (name: string) =>
  path.join(path.dirname(new URL(import.meta.url).pathname), '__golden__', name);

const snp = testPlatform('snp');
const tdx = testPlatform('tdx');
const legacy = testPlatform('legacy');
const registry = createPlatformRegistry([snp, tdx, legacy]);

function copyToTemp(src: string, only?: string[]): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'contrast-kube-'));
  for (const name of readdirSync(src)) {
    if (!/\.ya?ml$/.test(name) || (only && !only.includes(name))) continue;
    cpSync(path.join(src, name), path.join(dir, name));
  }
  return dir;
}

function options(overrides: Partial<PatchResourcesOptions> = {}): PatchResourcesOptions {
  return {
    defaultPlatform: snp,
    registry,
    images: new AnyImageSource(),
    generatePolicy: stubPolicyGenerator,
    injectedImages: INJECTED_IMAGES,
    ...overrides,
  };
}

async function run(dir: string, overrides: Partial<PatchResourcesOptions> = {}) {
  const files = await loadResourceFiles(['.'], dir);
  const result = await patchResources(files, options(overrides));
  return result;
}

describe('patchResources golden files', () => {
  it('examples/shop: patched YAML and manifest', async () => {
    const dir = copyToTemp(path.join(examplesDir, 'shop'));
    const result = await run(dir);
    expect(result.workloads.map((w) => `${w.kind}/${w.name}`)).toEqual([
      'Deployment/api',
      'StatefulSet/coordinator',
      'StatefulSet/db',
      'Job/migrate',
      'Deployment/web',
    ]);
    await expect(joinResourceFiles(result.files)).toMatchFileSnapshot(golden('shop.yml'));
    const { manifest, missing } = assembleManifest({
      workloads: result.workloads,
      platforms: result.platforms,
    });
    await expect(canonicalManifestJson(manifest)).toMatchFileSnapshot(golden('shop.manifest.json'));
    expect(missing.map((m) => m.path)).toEqual([
      'ReferenceValues.snp[0].MinimumTCB.BootloaderVersion',
      'ReferenceValues.snp[0].MinimumTCB.TEEVersion',
      'ReferenceValues.snp[0].MinimumTCB.SNPVersion',
      'ReferenceValues.snp[0].MinimumTCB.MicrocodeVersion',
    ]);
    // The coordinator's namespace decides COORDINATOR_HOST of every initializer.
    expect(joinResourceFiles(result.files)).toContain('value: coordinator-ready.shop');
  });

  it('tricky inputs: comments, List, CronJob on another platform, init containers, namespaces', async () => {
    const dir = copyToTemp(fixtures);
    const result = await run(dir);
    for (const f of result.files) {
      await expect(f.text).toMatchFileSnapshot(golden(`tricky.${path.basename(f.path)}`));
    }
    const { manifest } = assembleManifest({ workloads: result.workloads, platforms: result.platforms });
    await expect(canonicalManifestJson(manifest)).toMatchFileSnapshot(golden('tricky.manifest.json'));
    expect(result.platforms.map((p) => p.id)).toEqual(['Test-SNP', 'Test-TDX']);
  });

  it('keeps every comment and the untouched documents byte for byte', async () => {
    const dir = copyToTemp(fixtures, ['comments.yml']);
    const original = readFileSync(path.join(dir, 'comments.yml'), 'utf8');
    const result = await run(dir, { skipInitializer: true });
    const text = result.files[0]!.text;
    for (const comment of original.match(/#.*$/gm) ?? []) expect(text).toContain(comment.trim());
    const plain = original.slice(original.indexOf('# Not confidential'));
    expect(text.endsWith(plain)).toBe(true);
  });

  it('is idempotent: generating on its own output changes nothing', async () => {
    const dir = copyToTemp(path.join(examplesDir, 'shop'));
    const first = await run(dir);
    const again = await Promise.all(first.files.map(async (f) => ({ path: f.path, text: f.text })));
    const dir2 = mkdtempSync(path.join(tmpdir(), 'contrast-kube-'));
    for (const f of again)
      cpSync(f.path.startsWith('/') ? f.path : path.join(dir, f.path), path.join(dir2, f.path));
    // write the first output, then run again on it
    const { writeFileSync } = await import('node:fs');
    for (const f of first.files) writeFileSync(path.join(dir2, f.path), f.text);
    const second = await run(dir2);
    expect(second.files.map((f) => f.text)).toEqual(first.files.map((f) => f.text));
    expect(second.workloads.map((w) => w.policyHash)).toEqual(first.workloads.map((w) => w.policyHash));
  });
});

describe('injection rules', () => {
  it('writes the platform binding: initdata digest = manifest key; legacy annotation for legacy platforms', async () => {
    const dir = copyToTemp(fixtures, ['comments.yml']);
    const initdata = await run(dir);
    const pod = parseAllDocuments(initdata.files[0]!.text)[0]!.toJS();
    const toml = decodeInitdataAnnotation(pod.metadata.annotations[INITDATA_ANNOTATION]);
    expect(initdataDigest(toml)).toBe(initdata.workloads[0]!.policyHash);

    const legacyRun = await run(copyToTemp(fixtures, ['comments.yml']), { defaultPlatform: legacy });
    const legacyPod = parseAllDocuments(legacyRun.files[0]!.text)[0]!.toJS();
    expect(legacyPod.metadata.annotations[LEGACY_POLICY_ANNOTATION]).toBeTypeOf('string');
    expect(legacyPod.metadata.annotations[INITDATA_ANNOTATION]).toBeUndefined();
    expect(legacyPod.metadata.annotations['io.katacontainers.config.hypervisor.default_vcpus']).toBe('2');
    expect(legacyPod.spec.runtimeClassName).toBe('contrast-cc-test-legacy-0123abcd');
  });

  it('switching binding removes the old policy annotation', async () => {
    const dir = copyToTemp(fixtures, ['comments.yml']);
    const first = await run(dir);
    const { writeFileSync } = await import('node:fs');
    // A platform-specific runtime class stays with its platform; back to the placeholder:
    writeFileSync(
      path.join(dir, 'comments.yml'),
      first.files[0]!.text.replace('contrast-cc-test-snp-0123abcd', 'contrast-cc'),
    );
    const second = await run(dir, { defaultPlatform: legacy });
    const pod = parseAllDocuments(second.files[0]!.text)[0]!.toJS();
    expect(Object.keys(pod.metadata.annotations)).not.toContain(INITDATA_ANNOTATION);
    expect(Object.keys(pod.metadata.annotations)).toContain(LEGACY_POLICY_ANNOTATION);
  });

  it('--skip-service-mesh leaves the mesh out and tells the initializer', async () => {
    const dir = copyToTemp(path.join(examplesDir, 'shop'), ['web.yml', 'coordinator.yml']);
    const result = await run(dir, { skipServiceMesh: true });
    const web = parseAllDocuments(result.files.find((f) => f.path === 'web.yml')!.text)[0]!.toJS();
    const inits = web.spec.template.spec.initContainers;
    expect(inits.map((c: { name: string }) => c.name)).toEqual(['contrast-initializer']);
    expect(inits[0].env).toContainEqual({ name: 'CONTRAST_SERVICE_MESH_DISABLED', value: 'true' });
  });

  it('the coordinator gets neither initializer nor mesh, but its policy has Role coordinator', async () => {
    const dir = copyToTemp(path.join(examplesDir, 'shop'), ['coordinator.yml']);
    const result = await run(dir);
    const sts = parseAllDocuments(result.files[0]!.text)[0]!.toJS();
    expect(sts.spec.template.spec.initContainers).toBeUndefined();
    expect(sts.spec.template.spec.volumes).toBeUndefined();
    expect(result.workloads[0]!.role).toBe('coordinator');
  });

  it('an empty egress annotation is an error naming file and field', async () => {
    const dir = copyToTemp(fixtures, ['coordinator.yml']);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(
      path.join(dir, 'bad.yml'),
      readFileSync(path.join(examplesDir, 'shop', 'web.yml'), 'utf8').replace(
        '"api#127.137.0.1:8081#api:8081"',
        '""',
      ),
    );
    const error = await run(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResourceInputError);
    expect((error as ResourceInputError).describe()).toBe(
      'bad.yml: documents[0].spec.template.metadata.annotations["contrast.edgeless.systems/servicemesh-egress"]: must not be empty (remove it, or list egress rules)',
    );
  });
});

describe('mesh configuration written by generate', () => {
  it('the initializer installs the rules from the same variables the sidecar reads; declared ports are mTLS', async () => {
    const dir = copyToTemp(path.join(examplesDir, 'shop'), ['api.yml']);
    const result = await run(dir);
    const pod = parseAllDocuments(result.files[0]!.text)
      .map((d) => d.toJS())
      .find((o) => o.kind === 'Deployment').spec.template.spec;
    const envOf = (name: string) =>
      Object.fromEntries(
        (
          pod.initContainers.find((c: { name: string }) => c.name === name).env as {
            name: string;
            value: string;
          }[]
        ).map((e) => [e.name, e.value]),
      );
    const init = envOf('contrast-initializer');
    const mesh = envOf('contrast-service-mesh');
    expect(init.CONTRAST_TRAFFIC_RULES).toBe('auto');
    for (const v of [
      'CONTRAST_INGRESS_PROXY_CONFIG',
      'CONTRAST_EGRESS_PROXY_CONFIG',
      'CONTRAST_INGRESS_MTLS_PORTS',
    ]) {
      expect(init[v], v).toBe(mesh[v]);
    }
    expect(mesh.CONTRAST_INGRESS_MTLS_PORTS).toBe('8081');
  });

  it('every initializer is told which Coordinator to expect: its policy hash, the reference values, the root CA', async () => {
    const dir = copyToTemp(path.join(examplesDir, 'shop'), ['api.yml', 'coordinator.yml']);
    const rootCa = '-----BEGIN CERTIFICATE-----\nroot\n-----END CERTIFICATE-----\n';
    const result = await run(dir, { expectedCoordinator: { rootCa } });
    const coordinator = result.workloads.find((w) => w.role === 'coordinator')!;
    // Output order is the input order although the Coordinator's policy is generated first.
    expect(result.workloads.map((w) => w.name)).toEqual(['api', 'coordinator']);
    const api = parseAllDocuments(result.files.find((f) => f.path === 'api.yml')!.text)
      .map((d) => d.toJS())
      .find((o) => o.kind === 'Deployment').spec.template.spec;
    const env = api.initContainers[0].env as { name: string; value: string }[];
    const expected = JSON.parse(env.find((e) => e.name === 'CONTRAST_EXPECTED_COORDINATOR')!.value);
    const manifest = assembleManifest({ workloads: result.workloads, platforms: result.platforms });
    expect(expected).toEqual({
      policyHashes: [coordinator.policyHash],
      referenceValues: manifest.manifest.ReferenceValues,
      rootCa,
    });
    // Without the option nothing is written.
    const plain = await run(copyToTemp(path.join(examplesDir, 'shop'), ['api.yml', 'coordinator.yml']));
    expect(plain.files.find((f) => f.path === 'api.yml')!.text).not.toContain(
      'CONTRAST_EXPECTED_COORDINATOR',
    );
  });

  it.each([
    ['web#8080#maybe', 'servicemesh-ingress', 'entry 0: disableTLS must be true or false, got "maybe"'],
    [
      'DISABLED##web#8080#true',
      'servicemesh-ingress',
      'entry 0: "DISABLED" is not <name>#<port>#<disableTLS>',
    ],
  ])('a bad ingress value (%s) is refused naming file, annotation and entry', async (value, key, message) => {
    const dir = copyToTemp(fixtures, ['coordinator.yml']);
    writeFileSync(
      path.join(dir, 'bad.yml'),
      readFileSync(path.join(examplesDir, 'shop', 'web.yml'), 'utf8').replace(
        '"web#8080#true"',
        `"${value}"`,
      ),
    );
    const error = await run(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResourceInputError);
    expect((error as ResourceInputError).describe()).toBe(
      `bad.yml: documents[0].spec.template.metadata.annotations["contrast.edgeless.systems/${key}"]: ${message}`,
    );
  });

  it('a bad egress listen address is refused naming the egress annotation', async () => {
    const dir = copyToTemp(fixtures, ['coordinator.yml']);
    writeFileSync(
      path.join(dir, 'bad.yml'),
      readFileSync(path.join(examplesDir, 'shop', 'web.yml'), 'utf8').replace(
        '127.137.0.1:8081',
        '10.0.0.1:8081',
      ),
    );
    const error = await run(dir).catch((e: unknown) => e);
    expect((error as ResourceInputError).describe()).toBe(
      'bad.yml: documents[0].spec.template.metadata.annotations["contrast.edgeless.systems/servicemesh-egress"]: entry 0: listen address 10.0.0.1 is not in 127.0.0.0/8',
    );
  });
});

describe('secure PV', () => {
  const sts = (annotation: string, extra = '') =>
    `apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: s\nspec:\n  serviceName: s\n  selector: {matchLabels: {app: s}}\n  template:\n    metadata:\n      annotations:\n        contrast.edgeless.systems/secure-pv: "${annotation}"${extra}\n    spec:\n      runtimeClassName: contrast-cc\n      containers:\n        - name: s\n          image: x\n      volumes:\n        - name: state\n          emptyDir: {}\n  volumeClaimTemplates:\n    - metadata: {name: dev}\n      spec: {volumeMode: Block}\n`;

  it('turns the initializer into the LUKS sidecar', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'contrast-kube-'));
    writeFileSync(path.join(dir, 's.yml'), sts('dev:state'));
    const result = await run(dir);
    const init = parseAllDocuments(result.files[0]!.text)[0]!.toJS().spec.template.spec.initContainers[0];
    expect(init.restartPolicy).toBe('Always');
    expect(init.env).toContainEqual({ name: 'CRYPTSETUP_DEVICE', value: '/dev/csi0' });
    expect(init.volumeDevices).toEqual([{ name: 'dev', devicePath: '/dev/csi0' }]);
    expect(init.volumeMounts).toContainEqual({
      name: 'state',
      mountPath: '/state',
      mountPropagation: 'Bidirectional',
    });
  });

  it.each([
    ['dev', 'must be "<device volume>:<mount volume>"'],
    ['nodev:state', 'device volume "nodev" is not a volume'],
    ['dev:nostate', 'mount volume "nostate" is not a volume'],
  ])('refuses %s', async (value, message) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'contrast-kube-'));
    writeFileSync(path.join(dir, 's.yml'), sts(value));
    const error = (await run(dir).catch((e: unknown) => e)) as ResourceInputError;
    expect(error.describe()).toContain(
      `s.yml: documents[0].spec.template.metadata.annotations["contrast.edgeless.systems/secure-pv"]: ${message}`,
    );
  });

  it('needs the initializer', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'contrast-kube-'));
    writeFileSync(
      path.join(dir, 's.yml'),
      sts('dev:state', '\n        contrast.edgeless.systems/skip-initializer: "true"'),
    );
    await expect(run(dir)).rejects.toThrow(/a secure PV needs the initializer/);
  });
});

describe('input errors', () => {
  async function errorOf(name: string, text: string): Promise<string> {
    const dir = mkdtempSync(path.join(tmpdir(), 'contrast-kube-'));
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(dir, name), text);
    const error = await run(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResourceInputError);
    return (error as ResourceInputError).describe();
  }
  const pod = (spec: string) =>
    `apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  runtimeClassName: contrast-cc\n${spec}`;

  it('malformed YAML: file, document and line', async () => {
    const msg = await errorOf(
      'broken.yml',
      `kind: Service\n---\n${pod('  containers:\n    - name: a\n     image: x\n')}`,
    );
    expect(msg).toMatch(/^broken\.yml: documents\[1\]: invalid YAML at line \d+, column \d+/);
  });

  it('unknown (misspelt) fields of a workload', async () => {
    const msg = await errorOf('typo.yml', pod('  containers:\n    - name: a\n      imagee: x\n'));
    expect(msg).toContain('typo.yml: documents[0].spec.containers[0].image: is required (Pod)');
    expect(msg).toContain('typo.yml: documents[0].spec.containers[0].imagee: unknown field (Pod)');
  });

  it('wrong types, e.g. an unquoted boolean annotation', async () => {
    const msg = await errorOf(
      'types.yml',
      `apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    contrast.edgeless.systems/skip-initializer: true\nspec:\n  runtimeClassName: contrast-cc\n  containers:\n    - name: a\n      image: [x]\n`,
    );
    expect(msg).toContain(
      'types.yml: documents[0].metadata.annotations["contrast.edgeless.systems/skip-initializer"]: must be a string, got a boolean (quote it in YAML) (Pod)',
    );
    expect(msg).toContain(
      'types.yml: documents[0].spec.containers[0].image: must be a string, got a list (Pod)',
    );
  });

  it('an invalid image reference', async () => {
    const msg = await errorOf(
      'img.yml',
      pod('  containers:\n    - name: a\n      image: "Docker.io/Library/nginx latest"\n'),
    );
    expect(msg).toContain(
      'img.yml: documents[0].spec.containers[0].image: is not a valid image reference: "Docker.io/Library/nginx latest" (Pod)',
    );
  });

  it('an unknown platform in the runtime class', async () => {
    const msg = await errorOf(
      'rc.yml',
      pod('  containers:\n    - name: a\n      image: x\n').replace('contrast-cc\n', 'contrast-cc-nope\n'),
    );
    expect(msg).toContain(
      'rc.yml: documents[0].spec.runtimeClassName: runtimeClassName "contrast-cc-nope" names no known platform',
    );
  });

  it('plain contrast-cc without a default platform', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'contrast-kube-'));
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(dir, 'p.yml'), pod('  containers:\n    - name: a\n      image: x\n'));
    const files = await loadResourceFiles(['.'], dir);
    await expect(patchResources(files, options({ defaultPlatform: undefined }))).rejects.toThrow(
      /needs a platform: pass --reference-values/,
    );
  });

  it('objects that are not Contrast workloads are not checked', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'contrast-kube-'));
    const { writeFileSync } = await import('node:fs');
    writeFileSync(
      path.join(dir, 'p.yml'),
      'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  foo: bar\n',
    );
    const result = await run(dir);
    expect(result.workloads).toEqual([]);
    expect(result.files[0]!.changed).toBe(false);
  });
});

describe('secrets', () => {
  it('never logs Secret values nor puts them into error messages', async () => {
    const { createMemoryLogger } = await import('@contrast-cc/core/testing');
    const memory = createMemoryLogger();
    const dir = copyToTemp(path.join(examplesDir, 'shop'));
    const db = path.join(dir, 'db.yml');
    writeFileSync(db, readFileSync(db, 'utf8').replace('POSTGRES_USER: shop', 'POSTGRES_USER: s3cr3t-Val'));
    await run(dir, { generatePolicy, logger: memory.logger });
    expect(memory.records.length).toBeGreaterThan(0);
    expect(memory.text()).not.toContain('s3cr3t-Val');
    // a broken workload next to the Secret: the error names the field, not the secret
    writeFileSync(
      path.join(dir, 'web.yml'),
      readFileSync(path.join(dir, 'web.yml'), 'utf8').replace('image:', 'imagee:'),
    );
    const error = (await run(dir, { logger: memory.logger }).catch((e: unknown) => e)) as ResourceInputError;
    expect(error.describe()).toContain('web.yml');
    expect(error.describe()).not.toContain('s3cr3t-Val');
  });
});

describe('with the real policy generator', () => {
  it('patches the shop example; each annotation decodes to initdata whose digest is the policy hash', async () => {
    const dir = copyToTemp(path.join(examplesDir, 'shop'));
    const result = await run(dir, { generatePolicy });
    expect(result.workloads).toHaveLength(5);
    for (const f of result.files) {
      for (const doc of parseAllDocuments(f.text)) {
        const obj = doc.toJS();
        const tpl =
          obj.kind === 'Job' || obj.kind === 'Deployment' || obj.kind === 'StatefulSet'
            ? obj.spec.template
            : undefined;
        if (!tpl) continue;
        const w = result.workloads.find((x) => x.name === obj.metadata.name)!;
        const toml = decodeInitdataAnnotation(tpl.metadata.annotations[INITDATA_ANNOTATION]);
        expect(initdataDigest(toml)).toBe(w.policyHash);
        expect(toml).toContain('policy.rego');
      }
    }
    const hashes = new Set(result.workloads.map((w) => w.policyHash));
    expect(hashes.size).toBe(5);
  });
});
