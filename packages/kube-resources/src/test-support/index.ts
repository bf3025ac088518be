// Test helpers for the kube pipeline (not exported from the package).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPlatformRegistry, type Platform, type PlatformSpec } from '@contrast-cc/core';
import { createFakePlatform } from '@contrast-cc/core/testing';
import {
  buildInitdataToml,
  encodeInitdataAnnotation,
  type ImageFacts,
  type ImageSource,
  INITDATA_ANNOTATION,
  initdataDigest,
  LEGACY_POLICY_ANNOTATION,
  legacyPolicyDigest,
} from '@contrast-cc/policy';
import { type Document, parseAllDocuments } from 'yaml';
import { loadResourceFiles } from '../files.js';
import {
  type PatchResourcesOptions,
  type PatchResult,
  type PolicyGenerator,
  patchResources,
} from '../pipeline.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
export const examplesDir = path.join(repoRoot, 'examples');

/** The team's shared dir, or undefined (tests then skip with a notice). */
export function sharedDir(): string | undefined {
  const dir = process.env.CONTRAST_SHARED_DIR ?? path.resolve(repoRoot, '../shared');
  return existsSync(dir) ? dir : undefined;
}

/** The stub generator's policy data: genpolicy's sections, empty. */
const stubPolicyData = () => ({
  containers: [],
  common: {},
  sandbox: {},
  request_defaults: {},
  devices: {},
  cluster_config: {},
});

/**
 * A small, deterministic policy generator for golden files: the "policy" is a short Rego-like
 * text over everything the real generator pins (kind, name, namespace, containers with image,
 * command, args, env, mounts; annotations), wrapped in real initdata (or the legacy annotation).
 * Any change to the pod changes the digest, as with the real one, but the goldens stay readable.
 */
export const stubPolicyGenerator: PolicyGenerator = async (input) => {
  const spec = input.pod.spec as { containers?: unknown[]; initContainers?: unknown[]; volumes?: unknown[] };
  const images = [...(spec.initContainers ?? []), ...(spec.containers ?? [])].map(
    (c) => (c as { image?: string }).image ?? '',
  );
  for (const image of images) await input.images.resolve(image);
  const data = {
    kind: input.kind,
    name: input.pod.metadata?.name,
    namespace: input.pod.metadata?.namespace,
    annotations: input.pod.metadata?.annotations ?? {},
    initContainers: spec.initContainers ?? [],
    containers: spec.containers ?? [],
    volumes: spec.volumes ?? [],
  };
  const policyText = `package agent_policy\n\n# stub policy for tests\npolicy_data := ${JSON.stringify(data)}\n`;
  if (input.binding === 'legacy-policy-annotation') {
    return {
      policyText,
      policyData: stubPolicyData(),
      annotation: { key: LEGACY_POLICY_ANNOTATION, value: Buffer.from(policyText).toString('base64') },
      digest: legacyPolicyDigest(policyText),
    };
  }
  const toml = buildInitdataToml({ 'policy.rego': policyText }, { algorithm: 'sha256' });
  return {
    policyText,
    policyData: stubPolicyData(),
    annotation: { key: INITDATA_ANNOTATION, value: encodeInitdataAnnotation(toml) },
    digest: initdataDigest(toml),
    initdata: toml,
  };
};

/**
 * Resolves any reference to stable facts, recording calls: a pinned reference to its own digest,
 * a tag to sha256 of the reference text (as a registry would: the same tag, the same digest).
 */
export class AnyImageSource implements ImageSource {
  readonly resolved: string[] = [];
  async resolve(ref: string): Promise<ImageFacts> {
    this.resolved.push(ref);
    const at = ref.indexOf('@');
    const digest = at > 0 ? ref.slice(at + 1) : `sha256:${createHash('sha256').update(ref).digest('hex')}`;
    return {
      reference: `${ref.split('@')[0]}@${digest}`,
      digest,
      config: {
        Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        Cmd: ['/bin/sh'],
      },
    };
  }
}

export function snpReferenceValues(): Record<string, unknown> {
  return {
    ProductName: 'Genoa',
    TrustedMeasurement: '5a'.repeat(48),
    GuestPolicy: { ABIMinor: 0, ABIMajor: 0, SMT: true },
    PlatformInfo: { SMTEnabled: true },
  };
}

export function tdxReferenceValues(): Record<string, unknown> {
  return {
    MrTd: '7d'.repeat(48),
    Rtmrs: ['a0', 'a1', 'a2', 'a3'].map((b) => b.repeat(48)),
    Xfam: 'e702060000000000',
  };
}

/** Platform variants built on the fake platform, with reference values of the real shape. */
export function testPlatform(
  kind: 'snp' | 'tdx' | 'legacy',
  overrides: Partial<PlatformSpec> = {},
): Platform {
  const base = createFakePlatform();
  const id = { snp: 'Test-SNP', tdx: 'Test-TDX', legacy: 'Test-Legacy' }[kind];
  const handler = `contrast-cc-${id.toLowerCase()}-0123abcd`;
  return createFakePlatform({
    id,
    aliases: [],
    insecure: false,
    runtime: {
      ...base.runtime,
      runtimeClassNames: [handler],
      podAnnotations:
        kind === 'legacy' ? { 'io.katacontainers.config.hypervisor.default_vcpus': '2' } : undefined,
    },
    attestation: {
      ...base.attestation,
      tee: kind === 'tdx' ? 'tdx' : 'snp',
      defaultReferenceValues: () => [kind === 'tdx' ? tdxReferenceValues() : snpReferenceValues()],
      policyBinding: kind === 'legacy' ? 'legacy-policy-annotation' : 'initdata',
    },
    ...overrides,
  });
}

export const INJECTED_IMAGES = {
  initializer: 'ghcr.io/contrast-cc/initializer',
  serviceMesh: 'ghcr.io/contrast-cc/service-mesh-proxy',
};

/**
 * `patchResources` over the YAML files of `dir`: the Test-SNP platform as default, any image,
 * the stub policy generator and the test images of the injected containers, unless overridden.
 */
export async function runPipeline(
  dir: string,
  overrides: Partial<PatchResourcesOptions> = {},
): Promise<PatchResult> {
  const snp = testPlatform('snp');
  const files = await loadResourceFiles(['.'], dir);
  return patchResources(files, {
    defaultPlatform: snp,
    registry: createPlatformRegistry([snp]),
    images: new AnyImageSource(),
    generatePolicy: stubPolicyGenerator,
    injectedImages: INJECTED_IMAGES,
    ...overrides,
  });
}

/**
 * The lines a unified diff of `before` -> `after` shows as removed and added (a longest common
 * subsequence of lines; line endings are part of a line, so CRLF <-> LF counts as a change).
 */
export function lineDiff(before: string, after: string): { removed: string[]; added: string[] } {
  const split = (t: string) => (t === '' ? [] : t.split(/(?<=\n)/));
  const a = split(before);
  const b = split(after);
  // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..].
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const removed: string[] = [];
  const added: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      i++;
      j++;
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) removed.push(a[i++]!);
    else added.push(b[j++]!);
  }
  removed.push(...a.slice(i));
  added.push(...b.slice(j));
  return { removed, added };
}

/**
 * Simulated image facts for offline runs of the real policy generator: the digest a reference
 * pins (or sha256 of the reference), and a user: root, or (`named`) `app` (1000:1000, also in
 * group 10) for every image but the injected Contrast ones (ghcr.io/contrast-cc/..., root).
 */
export class SimulatedImages implements ImageSource {
  constructor(readonly user: 'root' | 'named') {}
  async resolve(ref: string): Promise<ImageFacts> {
    const at = ref.indexOf('@');
    const digest = at > 0 ? ref.slice(at + 1) : `sha256:${createHash('sha256').update(ref).digest('hex')}`;
    const named = this.user === 'named' && !ref.startsWith('ghcr.io/contrast-cc/');
    return {
      reference: `${at > 0 ? ref.slice(0, at) : ref}@${digest}`,
      digest,
      config: { User: named ? 'app' : '', Cmd: ['/bin/sh'], Env: ['PATH=/usr/bin:/bin'] },
      passwd: 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n',
      group: 'root:x:0:\nwheel:x:10:app\napp:x:1000:\n',
    };
  }
}

/**
 * The documents of the result's files that hold no workload but whose bytes changed (by
 * `documents[i]` index per file): empty when every such document kept its source text.
 */
export function changedDocumentsWithoutWorkload(result: PatchResult): string[] {
  const out: string[] = [];
  for (const f of result.files) {
    const withWorkload = new Set(
      result.workloads
        .filter((w) => w.file === f.path)
        .map((w) => Number(/^documents\[(\d+)\]/.exec(w.location)?.[1])),
    );
    const before = parseAllDocuments(f.original) as Document.Parsed[];
    const after = parseAllDocuments(f.text) as Document.Parsed[];
    const slice = (text: string, docs: Document.Parsed[], i: number) =>
      text.slice(i === 0 ? 0 : docs[i - 1]!.range[2], docs[i]!.range[2]);
    if (after.length !== before.length) {
      out.push(`${f.path}: ${before.length} documents became ${after.length}`);
      continue;
    }
    before.forEach((_, i) => {
      if (!withWorkload.has(i) && slice(f.original, before, i) !== slice(f.text, after, i)) {
        out.push(`${f.path}: documents[${i}]`);
      }
    });
  }
  return out;
}
