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
