import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ResourceInputError } from './errors.js';
import { parseResourceText } from './files.js';
import { patchResources } from './pipeline.js';
import { AnyImageSource, INJECTED_IMAGES, stubPolicyGenerator, testPlatform } from './test-support/index.js';
import { findWorkloads, resolveRuntimeClass } from './workloads.js';

const platform = testPlatform('snp');
const other = testPlatform('tdx');

describe('resolveRuntimeClass', () => {
  const opts = { defaultPlatform: platform, registry: undefined };
  it.each([
    ['contrast-cc', 'Test-SNP'],
    ['contrast-cc-test-snp-0123abcd', 'Test-SNP'],
    ['contrast-cc-test-snp', 'Test-SNP'],
    ['contrast-cc-test-snp-deadbeef', 'Test-SNP'],
  ])('%s -> %s', (name, id) => {
    const r = resolveRuntimeClass(name, opts);
    expect('platform' in r && r.platform.id).toBe(id);
  });

  it('refuses unknown platforms and names the known ones', () => {
    const r = resolveRuntimeClass('contrast-cc-metal-qemu-snp', opts);
    expect('error' in r && r.error).toContain('known: Test-SNP');
  });

  it('finds a platform of the registry by handler, id or stale hash', async () => {
    const { createPlatformRegistry } = await import('@contrast-cc/core');
    const registry = createPlatformRegistry([platform, other]);
    for (const name of [
      'contrast-cc-test-tdx-0123abcd',
      'contrast-cc-test-tdx',
      'contrast-cc-test-tdx-00000000',
    ]) {
      const r = resolveRuntimeClass(name, { registry });
      expect('platform' in r && r.platform.id).toBe('Test-TDX');
    }
  });
});

describe('the pipeline on arbitrary input', () => {
  const kinds = [
    'Pod',
    'Deployment',
    'StatefulSet',
    'DaemonSet',
    'ReplicaSet',
    'ReplicationController',
    'Job',
    'CronJob',
    'List',
  ];
  // A workload skeleton whose parts are replaced by arbitrary values.
  const workload = fc.record({
    apiVersion: fc.oneof(fc.constant('apps/v1'), fc.jsonValue()),
    kind: fc.constantFrom(...kinds),
    metadata: fc.oneof(fc.constant({ name: 'w' }), fc.jsonValue()),
    spec: fc.oneof(
      fc.jsonValue(),
      fc.record({
        runtimeClassName: fc.constant('contrast-cc'),
        containers: fc.oneof(fc.jsonValue(), fc.constant([{ name: 'c', image: 'busybox:1' }])),
        initContainers: fc.jsonValue(),
        volumes: fc.jsonValue(),
      }),
    ),
  });

  it('never crashes: it patches, or reports problems as ResourceInputError', async () => {
    await fc.assert(
      fc.asyncProperty(workload, async (obj) => {
        const text = stringify(obj);
        const file = parseResourceText('fuzz.yml', text);
        findWorkloads([file], { defaultPlatform: platform });
        try {
          await patchResources([file], {
            defaultPlatform: platform,
            images: new AnyImageSource(),
            generatePolicy: stubPolicyGenerator,
            injectedImages: INJECTED_IMAGES,
          });
        } catch (error) {
          expect(error).toBeInstanceOf(ResourceInputError);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('namespaces and duplicate ConfigMaps/Secrets', () => {
  const file = (text: string) => parseResourceText('in.yml', text, '/tmp/in.yml');
  const pod = (ns: string) =>
    `apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: "${ns}"\nspec:\n  runtimeClassName: contrast-cc\n  containers:\n  - name: c\n    image: busybox\n`;

  it.each(['@@REPLACE_NAMESPACE@@', 'My-Namespace', '{{ .Release.Namespace }}', `${'a'.repeat(64)}`, '-x'])(
    'refuses the namespace %s naming file and field',
    (ns) => {
      const found = findWorkloads([file(pod(ns))], { defaultPlatform: platform });
      expect(found.workloads).toEqual([]);
      expect(found.problems).toHaveLength(1);
      expect(found.problems[0]).toMatchObject({ file: 'in.yml', field: 'documents[0].metadata.namespace' });
      expect(found.problems[0]!.message).toContain('is not a valid namespace');
    },
  );

  it('names an unfilled placeholder and refuses it on ConfigMaps too', () => {
    const found = findWorkloads(
      [
        file(
          `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: "@@REPLACE_NAMESPACE@@"\n`,
        ),
      ],
      { defaultPlatform: platform },
    );
    expect(found.problems[0]!.message).toContain('unfilled template placeholder');
    expect(found.problems[0]!.field).toBe('documents[0].metadata.namespace');
  });

  it('warns (does not refuse) on a placeholder namespace of an object generate passes through', () => {
    const service = `apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  namespace: "@@REPLACE_NAMESPACE@@"\n`;
    const plainPod = pod('@@REPLACE_NAMESPACE@@').replace('  runtimeClassName: contrast-cc\n', '');
    const found = findWorkloads([file(`${service}---\n${plainPod}---\n${pod('ok')}`)], {
      defaultPlatform: platform,
    });
    expect(found.problems).toEqual([]);
    expect(found.workloads.map((w) => w.namespace)).toEqual(['ok']);
    expect(found.warnings.map((w) => [w.field, w.message])).toEqual([
      [
        'documents[0].metadata.namespace',
        expect.stringMatching(/unfilled template placeholder.*passes this Service through unchanged/),
      ],
      ['documents[1].metadata.namespace', expect.stringContaining('passes this Pod through unchanged')],
    ]);
  });

  it('accepts DNS-label namespaces', () => {
    for (const ns of ['default', 'kube-system', 'a', 'ns-1', 'a'.repeat(63)]) {
      expect(findWorkloads([file(pod(ns))], { defaultPlatform: platform }).problems).toEqual([]);
    }
  });

  it('warns on a ConfigMap or Secret given twice with different data, not on an identical copy', () => {
    const cm = (data: string, ns = 'default') =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: ${ns}\ndata:\n  k: "${data}"\n`;
    const sec = (data: string) =>
      `apiVersion: v1\nkind: Secret\nmetadata:\n  name: cfg\nstringData:\n  k: "${data}"\n`;
    const found = findWorkloads(
      [
        file(`${cm('a')}---\n${cm('a')}---\n${cm('b')}---\n${cm('c', 'other')}`),
        file(`${sec('s3cret-one')}---\n${sec('s3cret-two')}`),
      ],
      { defaultPlatform: platform },
    );
    expect(found.problems).toEqual([]);
    expect(found.warnings.map((w) => w.field)).toEqual(['documents[2]', 'documents[1]']);
    expect(found.warnings[0]!.message).toBe(
      'ConfigMap default/cfg is also given in in.yml: documents[0] with different data; the policy uses the first one',
    );
    // Never the secret values themselves.
    expect(JSON.stringify(found.warnings)).not.toContain('s3cret');
  });

  it('the pipeline reports the warning and writes nothing wrong', async () => {
    const text = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  k: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  k: b\n---\n${pod('default')}`;
    const result = await patchResources([file(text)], {
      defaultPlatform: platform,
      images: new AnyImageSource(),
      generatePolicy: stubPolicyGenerator,
      injectedImages: INJECTED_IMAGES,
      skipInitializer: true,
      skipServiceMesh: true,
    });
    expect(result.warnings.map((w) => w.message)).toEqual([expect.stringContaining('ConfigMap default/cfg')]);
  });

  it('the pipeline refuses a placeholder namespace before generating anything', async () => {
    await expect(
      patchResources([file(pod('@@REPLACE_NAMESPACE@@'))], {
        defaultPlatform: platform,
        images: new AnyImageSource(),
        generatePolicy: () => {
          throw new Error('must not be called');
        },
        injectedImages: INJECTED_IMAGES,
      }),
    ).rejects.toBeInstanceOf(ResourceInputError);
  });
});
