import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPlatformRegistry, type Platform, type PodVmSizing } from '@contrast-cc/core';
import { generatePolicy } from '@contrast-cc/policy';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ResourceInputError } from './errors.js';
import type { PatchResourcesOptions } from './pipeline.js';
import { runPipeline, testPlatform } from './test-support/index.js';
import { KATA_DEFAULT_MEMORY, parseQuantity, podVmSize, VM_SIZE_ANNOTATIONS } from './vm-sizing.js';
import { joinResourceFiles } from './write.js';

const golden = (name: string) =>
  path.join(path.dirname(new URL(import.meta.url).pathname), '__golden__', name);

function sized(kind: 'snp' | 'legacy', vmSizing: PodVmSizing): Platform {
  const base = testPlatform(kind);
  return testPlatform(kind, { runtime: { ...base.runtime, podAnnotations: undefined, vmSizing } });
}

/** Kata/QEMU-like: 1 base vCPU, 512 MiB, reference values for a 1-vCPU VM only. */
const metal = sized('snp', { baseVcpus: 1, baseMemoryMiB: 512, measuredVcpuCounts: [1] });
/** Any vCPU count attests. */
const anyCount = sized('snp', { baseVcpus: 1, baseMemoryMiB: 512 });
/** AKS-like: memory limits misapplied, 256 MiB guest base. */
const aksLike = sized('legacy', {
  baseVcpus: 1,
  baseMemoryMiB: 256,
  memoryLimitsUnreliable: 'memory limits are applied wrongly here.',
});

async function run(yaml: string, platform: Platform, overrides: Partial<PatchResourcesOptions> = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'contrast-vmsize-'));
  writeFileSync(path.join(dir, 'pod.yml'), yaml);
  return runPipeline(dir, {
    defaultPlatform: platform,
    registry: createPlatformRegistry([platform]),
    ...overrides,
  });
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ResourceInputError);
  return (error as ResourceInputError).describe();
}

const podOf = (text: string) => parseAllDocuments(text)[0]!.toJS().spec.template;

/** A Deployment with the given containers (YAML lines under `containers:`) and init containers. */
function deployment(containers: string, initContainers = '', annotations = ''): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  selector:
    matchLabels: { app: api }
  template:
    metadata:
      labels: { app: api }
      annotations:
        contrast.edgeless.systems/skip-initializer: "true"${annotations}
    spec:
      runtimeClassName: contrast-cc
${initContainers ? `      initContainers:\n${initContainers}` : ''}      containers:
${containers}`;
}

const c = (name: string, resources: string) =>
  `        - name: ${name}\n          image: ghcr.io/x/${name}:1\n${resources ? `          resources:\n${resources}` : ''}`;

describe('Kubernetes quantities', () => {
  it('parses the forms Kubernetes writes, exactly', () => {
    const v = (s: string) => {
      const q = parseQuantity(s)!;
      return Number(q.n) / Number(q.d);
    };
    expect(v('500m')).toBe(0.5);
    expect(v('1.5')).toBe(1.5);
    expect(v('128Mi')).toBe(128 * 1024 * 1024);
    expect(v('1G')).toBe(1e9);
    expect(v('1e3')).toBe(1000);
    expect(v('.5')).toBe(0.5);
    expect(parseQuantity(2)).toEqual({ n: 2n, d: 1n });
    for (const bad of ['12x', '', 'Mi', '1.2.3', '1 Gi']) expect(parseQuantity(bad)).toBeUndefined();
  });

  it('sizes as Kata does: ceil(base + CPU limit) vCPUs, base + floor(memory limit / MiB)', () => {
    const sizing = { baseVcpus: 1, baseMemoryMiB: 256 };
    expect(podVmSize({ cpuMilli: 0n, memoryBytes: 0n }, sizing)).toMatchObject({ vcpus: 1, memoryMiB: 256 });
    expect(podVmSize({ cpuMilli: 100n, memoryBytes: 0n }, sizing).vcpus).toBe(2);
    expect(podVmSize({ cpuMilli: 2000n, memoryBytes: 0n }, sizing).vcpus).toBe(3);
    // upstream's documented example: 128Mi + 64Mi over a 256Mi overhead is a 448 MiB VM
    expect(podVmSize({ cpuMilli: 0n, memoryBytes: 192n * 1024n * 1024n + 5n }, sizing).memoryMiB).toBe(448);
  });
});

describe('pod VM sizing from the pod spec', () => {
  // Upstream's podVCPUCount cases (cli/cmd/generate_test.go), through the pipeline.
  const cases: [string, string, string, number][] = [
    ['empty', c('a', ''), '', 1],
    ['fractional', c('a', '            limits: { cpu: 100m }\n'), '', 2],
    [
      'regular sum',
      c('a', '            limits: { cpu: 600m }\n') + c('b', '            limits: { cpu: 600m }\n'),
      '',
      3,
    ],
    [
      'sidecar',
      c('a', '            limits: { cpu: "1" }\n'),
      `${c('s', '            limits: { cpu: 500m }\n')}          restartPolicy: Always\n`,
      3,
    ],
    // Upstream sums init containers (3); the kubelet takes their maximum, and that is what Kata gets.
    [
      'init max',
      c('a', ''),
      c('i', '            limits: { cpu: 600m }\n') + c('j', '            limits: { cpu: 600m }\n'),
      2,
    ],
    // An init container runs beside the sidecars started before it.
    [
      'init after sidecar',
      c('a', '            limits: { cpu: 200m }\n'),
      `${c('s', '            limits: { cpu: 500m }\n')}          restartPolicy: Always\n${c('i', '            limits: { cpu: 1600m }\n')}`,
      4,
    ],
  ];
  for (const [name, containers, inits, vcpus] of cases) {
    it(`${name}: ${vcpus} vCPUs`, async () => {
      const r = await run(deployment(containers, inits), anyCount);
      const pod = podOf(r.files[0]!.text);
      expect(pod.metadata.annotations[VM_SIZE_ANNOTATIONS.vcpus]).toBe(String(vcpus));
    });
  }

  it("a platform's own default_vcpus annotation is the base the CPU limits add to", async () => {
    const base = testPlatform('legacy');
    const twoBase = testPlatform('legacy', { runtime: { ...base.runtime, vmSizing: { baseVcpus: 1 } } });
    expect(twoBase.runtime.podAnnotations).toEqual({
      'io.katacontainers.config.hypervisor.default_vcpus': '2',
    });
    const r = await run(deployment(c('a', '            limits: { cpu: 500m }\n')), twoBase);
    expect(podOf(r.files[0]!.text).metadata.annotations[VM_SIZE_ANNOTATIONS.vcpus]).toBe('3');
  });

  it('memory in plain bytes (YAML numbers): containers + sidecars, an init container before the sidecar counts alone', async () => {
    // Modelled on upstream's memory-limit regression input: init 50Mi, then a 200Mi sidecar, a 100Mi app.
    const yaml = deployment(
      c('app', '            limits: { memory: 104857600 }\n'),
      `${c('init', '            limits: { memory: 52428800 }\n')}${c('side', '            limits: { memory: 209715200 }\n')}          restartPolicy: Always\n`,
    );
    const pod = podOf((await run(yaml, anyCount)).files[0]!.text);
    expect(pod.metadata.annotations[VM_SIZE_ANNOTATIONS.memory]).toBe(`${512 + 300}Mi`);
  });

  it('pod-level resources win over the containers', async () => {
    const yaml = deployment(c('a', '            limits: { cpu: "1", memory: 1Gi }\n')).replace(
      '      runtimeClassName: contrast-cc\n',
      '      runtimeClassName: contrast-cc\n      resources:\n        limits: { cpu: "4", memory: 2Gi }\n',
    );
    const pod = podOf((await run(yaml, anyCount)).files[0]!.text);
    expect(pod.metadata.annotations).toMatchObject({
      [VM_SIZE_ANNOTATIONS.vcpus]: '5',
      [VM_SIZE_ANNOTATIONS.memory]: `${512 + 2048}Mi`,
    });
  });

  it('writes the size (injected containers included) and is stable on its own output', async () => {
    const yaml = deployment(
      c('api', '            requests: { memory: 100Mi }\n            limits: { memory: 128Mi }\n') +
        c('cache', '            limits: { memory: 64Mi }\n'),
    ).replace('        contrast.edgeless.systems/skip-initializer: "true"', '        note: sized');
    const first = await run(yaml, metal);
    const text = joinResourceFiles(first.files);
    await expect(text).toMatchFileSnapshot(golden('vm-sizing.yml'));
    const pod = podOf(first.files[0]!.text);
    // 512 + 128 + 64: the injected initializer (50Mi) runs before the containers, so it counts
    // only as the maximum with them (kubelet), not on top
    expect(pod.spec.initContainers[0].name).toBe('contrast-initializer');
    expect(pod.metadata.annotations).toMatchObject({
      [VM_SIZE_ANNOTATIONS.vcpus]: '1',
      [VM_SIZE_ANNOTATIONS.memory]: '704Mi',
    });
    const again = await run(first.files[0]!.text, metal);
    expect(again.files[0]!.text).toBe(first.files[0]!.text);
  });

  it('refuses a vCPU count the reference values do not measure, naming the CPU limit', async () => {
    const yaml = deployment(c('a', '') + c('b', '            limits: { cpu: 1500m }\n'));
    const message = await refusal(run(yaml, metal));
    expect(message).toContain('pod.yml: documents[0].spec.template.spec.containers[1].resources.limits.cpu');
    expect(message).toContain(
      "Deployment shop/api: the pod VM gets 3 vCPUs (1 + the pod's CPU limit 1500m, rounded up), but the reference values of Test-SNP measure 1 vCPU",
    );
    // A platform whose values cover any count takes it.
    await expect(run(yaml, anyCount)).resolves.toBeDefined();
  });

  it('a bad quantity is bad input naming the field', async () => {
    const yaml = deployment(c('a', '            limits: { memory: 12x }\n'));
    const message = await refusal(run(yaml, metal));
    expect(message).toContain(
      'pod.yml: documents[0].spec.template.spec.containers[0].resources.limits.memory: Deployment shop/api: "12x" is not a resource quantity',
    );
  });

  it("a user's default_vcpus is refused with the way to size the VM", async () => {
    const yaml = deployment(
      c('a', ''),
      '',
      '\n        io.katacontainers.config.hypervisor.default_vcpus: "4"',
    );
    const message = await refusal(run(yaml, metal));
    expect(message).toMatch(
      /metadata\.annotations\["io\.katacontainers\.config\.hypervisor\.default_vcpus"\]: refused: .*set the containers' CPU limits instead/,
    );
  });
});

describe('platforms that misapply memory limits (AKS)', () => {
  const yaml = deployment(
    c('api', '            requests: { memory: 100Mi, cpu: 250m }\n            limits: { memory: 128Mi }\n') +
      c('cache', '            limits: { memory: 64Mi, cpu: 500m }\n') +
      c('plain', '            requests: { memory: 32Mi }\n'),
  );

  it('warns on each container with a memory limit, naming file, workload, container and field', async () => {
    const r = await run(yaml, aksLike);
    const memory = r.warnings.filter((w) => /memory limit/.test(w.message));
    expect(memory.map((w) => `${w.file}: ${w.field}: ${w.message}`)).toEqual([
      `pod.yml: documents[0].spec.template.spec.containers[0].resources.limits.memory: Deployment shop/api: container "api" has a memory limit; memory limits are applied wrongly here. Use memory requests only, or pass --memory-limits-to-requests to rewrite each limit to a request and size the VM with ${KATA_DEFAULT_MEMORY}`,
      `pod.yml: documents[0].spec.template.spec.containers[1].resources.limits.memory: Deployment shop/api: container "cache" has a memory limit; memory limits are applied wrongly here. Use memory requests only, or pass --memory-limits-to-requests to rewrite each limit to a request and size the VM with ${KATA_DEFAULT_MEMORY}`,
    ]);
    const pod = podOf(r.files[0]!.text);
    expect(pod.spec.containers[0].resources.limits.memory).toBe('128Mi');
    expect(pod.metadata.annotations[KATA_DEFAULT_MEMORY]).toBeUndefined();
    // Without the flag the VM is sized from the limits, as the runtime would.
    expect(pod.metadata.annotations[VM_SIZE_ANNOTATIONS.memory]).toBe(`${256 + 128 + 64}Mi`);
  });

  it('with memoryLimitsToRequests: requests only, and the VM sized through default_memory', async () => {
    const r = await run(yaml, aksLike, { memoryLimitsToRequests: true });
    expect(r.warnings.filter((w) => /memory/.test(w.message))).toEqual([]);
    const text = r.files[0]!.text;
    await expect(text).toMatchFileSnapshot(golden('vm-sizing.aks-requests.yml'));
    const pod = podOf(text);
    const [api, cache, plain] = pod.spec.containers;
    // an existing request is kept, a missing one becomes the limit; CPU limits stay
    expect(api.resources).toEqual({ requests: { memory: '100Mi', cpu: '250m' } });
    expect(cache.resources).toEqual({ limits: { cpu: '500m' }, requests: { memory: '64Mi' } });
    expect(plain.resources).toEqual({ requests: { memory: '32Mi' } });
    for (const x of [...pod.spec.containers, ...(pod.spec.initContainers ?? [])]) {
      expect(x.resources?.limits?.memory).toBeUndefined();
    }
    const mib = 256 + 100 + 64 + 32;
    expect(pod.metadata.annotations).toMatchObject({
      [KATA_DEFAULT_MEMORY]: String(mib),
      [VM_SIZE_ANNOTATIONS.memory]: `${mib}Mi`,
      // 1 + 500m: the CPU limit still sizes the VM
      [VM_SIZE_ANNOTATIONS.vcpus]: '2',
    });
    // A re-run changes nothing and warns about nothing (the annotation is generate's own).
    const again = await run(text, aksLike, { memoryLimitsToRequests: true });
    expect(again.files[0]!.text).toBe(text);
    expect(again.warnings).toEqual([]);
  });

  it("rewrites the injected initializer's limit too, and a different default_memory is replaced with a warning", async () => {
    const withInit = yaml
      .replace('        contrast.edgeless.systems/skip-initializer: "true"', '        note: init')
      .replace(
        '        note: init',
        '        note: init\n        io.katacontainers.config.hypervisor.default_memory: "9999"',
      );
    const warned = await run(withInit, aksLike);
    // the injected initializer's own limit is not the user's to fix: no warning for it
    expect(warned.warnings.filter((w) => /contrast-initializer/.test(w.message))).toEqual([]);
    const r = await run(withInit, aksLike, { memoryLimitsToRequests: true });
    const pod = podOf(r.files[0]!.text);
    const init = pod.spec.initContainers.find((x: { name: string }) => x.name === 'contrast-initializer');
    expect(init.resources).toEqual({ requests: { memory: '50Mi' } });
    // the initializer runs before the containers: max(50Mi, 196Mi), not the sum
    expect(pod.metadata.annotations[KATA_DEFAULT_MEMORY]).toBe(String(256 + 100 + 64 + 32));
    expect(r.warnings.map((w) => w.message)).toContainEqual(
      expect.stringMatching(/^replaced by 452, the size generate computed from the pod's memory requests/),
    );
  });

  it('the policy pins the default_memory value generate wrote', async () => {
    const r = await run(yaml, aksLike, {
      memoryLimitsToRequests: true,
      generatePolicy,
    });
    const annotations = podOf(r.files[0]!.text).metadata.annotations;
    const policy = Buffer.from(annotations['io.katacontainers.config.agent.policy'], 'base64').toString();
    expect(policy.replace(/\s/g, '')).toContain(`"${KATA_DEFAULT_MEMORY}":"452"`);
  }, 60_000);
});

describe('upstream image-store-size annotation', () => {
  it('is refused naming the annotation, unless it disables the store ("0")', async () => {
    const bad = deployment(c('a', ''), '', '\n        contrast.edgeless.systems/image-store-size: 250Gi');
    const message = await refusal(run(bad, metal));
    expect(message).toContain(
      'pod.yml: documents[0].spec.template.metadata.annotations["contrast.edgeless.systems/image-store-size"]: refused: "250Gi": Contrast for TypeScript has no secure image store',
    );
    const off = deployment(c('a', ''), '', '\n        contrast.edgeless.systems/image-store-size: "0"');
    await expect(run(off, metal)).resolves.toBeDefined();
  });
});
