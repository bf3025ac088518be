import { ContrastError } from './errors.js';
import type { EvidenceKind, Issuer, IssuerContext, Verifier, VerifierContext } from './evidence.js';
import { isDnsLabel, type KubeObject } from './kube.js';

/** The plugin contract version this core implements. @public */
export const PLATFORM_API_VERSION = 1;
/** Contract versions this core can load. @public */
export const SUPPORTED_PLATFORM_API_VERSIONS: readonly number[] = [1];

const PLATFORM_BRAND = '@contrast-cc/Platform';

/** The TEE family of a platform; it picks the manifest's ReferenceValues list. @public */
export type TeeFamily = 'snp' | 'tdx';
/** @public */
export const TEE_FAMILIES: readonly TeeFamily[] = ['snp', 'tdx'];

/**
 * How the pod's policy is bound into the evidence:
 * - `initdata`: the digest of the initdata document is HOST_DATA (SNP) or MRCONFIGID (TDX);
 * - `legacy-policy-annotation`: the sha256 of the policy text from `io.katacontainers.config.agent.policy`
 *   is HOST_DATA (AKS).
 * @public
 */
export type PolicyBinding = 'initdata' | 'legacy-policy-annotation';

/** Options for the node-installer resources. @public */
export interface NodeInstallerOptions {
  /** Namespace the installer runs in. */
  namespace: string;
  /** Overrides the installer image (e.g. a mirror); defaults to the platform's pinned image. */
  image?: string;
}

/** What a platform contributes to running pods. @public */
export interface PlatformRuntime {
  /** RuntimeClass names this platform provides; the first is used by `generate`. */
  runtimeClassNames: readonly string[];
  /** The RuntimeClass objects (node.k8s.io/v1), one per name above. */
  runtimeClasses(): KubeObject[];
  /** The node-installer resources; an empty list where the provider installs the runtime. */
  nodeInstaller(options: NodeInstallerOptions): KubeObject[];
  /** Per-pod overhead of the VM (Kubernetes quantities). */
  podOverhead?: { memory: string; cpu: string };
  /** Annotations `generate` adds to every pod of this platform (e.g. default vCPUs). */
  podAnnotations?: Record<string, string>;
  /** How the runtime sizes each pod VM; `generate` computes the size from the pod spec with it. */
  vmSizing?: PodVmSizing;
}

/**
 * How a platform's runtime sizes a pod VM (Kata with `static_sandbox_resource_mgmt`): the VM gets
 * `baseVcpus` plus the pod's CPU limit (rounded up to whole vCPUs) and `baseMemoryMiB` plus the
 * pod's memory limit, both as the kubelet computes the pod's limits and hands them to the runtime.
 * @public
 */
export interface PodVmSizing {
  /** Kata `default_vcpus` of the runtime's configuration. */
  baseVcpus: number;
  /** Kata `default_memory` (MiB) of the runtime's configuration; absent when not known. */
  baseMemoryMiB?: number;
  /**
   * The vCPU counts whose launch measurement the platform's default reference values cover
   * (the SEV-SNP measurement has one VMSA per vCPU; TDX RTMR0 depends on the count). Absent: any
   * count attests (or the platform cannot tell which counts its values are for).
   */
  measuredVcpuCounts?: readonly number[];
  /**
   * Set where the runtime applies container memory limits wrongly (AKS): why, in one sentence.
   * `generate` warns on each memory limit and offers to rewrite limits to requests, sizing the
   * VM through Kata's `default_memory` annotation instead.
   */
  memoryLimitsUnreliable?: string;
}

/** What a platform contributes to attestation. @public */
export interface PlatformAttestation {
  tee: TeeFamily;
  /** Evidence kinds this platform's verifier accepts and its issuer produces. */
  evidenceKinds: readonly EvidenceKind[];
  /**
   * Default reference values: entries for the manifest's `ReferenceValues[tee]` list. Fields the
   * user must fill in (e.g. minimum TCB on bare metal) are left out; the manifest reports them.
   */
  defaultReferenceValues(): unknown[];
  /** Builds a verifier for one ReferenceValues entry. */
  createVerifier(context: VerifierContext): Verifier;
  /** Builds the guest-side issuer; absent where evidence comes only from hardware in the guest. */
  createIssuer?(context: IssuerContext): Issuer;
  policyBinding: PolicyBinding;
}

/** Policy-generation settings for this runtime, as genpolicy-settings patches. @public */
export interface PlatformPolicy {
  /** JSON merge patch applied over the base genpolicy settings. */
  settingsPatch: Record<string, unknown>;
  /** Whether images are pulled inside the guest (guest pull) rather than by the host. */
  guestPull: boolean;
}

/** What a plugin author writes. @public */
export interface PlatformSpec {
  /** Stable id as users type it: `Metal-QEMU-SNP`, `AKS-CLH-SNP`, ... */
  id: string;
  /** Other names accepted on the command line (lower-case). */
  aliases?: readonly string[];
  displayName: string;
  /** True for simulated platforms: the evidence proves nothing. */
  insecure?: boolean;
  runtime: PlatformRuntime;
  attestation: PlatformAttestation;
  policy: PlatformPolicy;
}

/** A validated, branded platform, as the registry holds it. @public */
export interface Platform extends Readonly<Omit<PlatformSpec, 'aliases' | 'insecure'>> {
  readonly $$type: typeof PLATFORM_BRAND;
  readonly apiVersion: number;
  readonly aliases: readonly string[];
  readonly insecure: boolean;
}

/** One broken rule of the plugin contract, with the field it concerns. @public */
export interface PlatformProblem {
  field: string;
  message: string;
}

const PLATFORM_ID = /^[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*$/;
const ALIAS = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/**
 * The contract rules that can be checked without running the platform's code: identity,
 * version, runtime class names, evidence kinds, binding mode. `definePlatform` refuses a spec
 * that breaks one; the registry and the testkit run the same rules on what they are given.
 * @public
 */
export function validatePlatform(candidate: unknown): PlatformProblem[] {
  const problems: PlatformProblem[] = [];
  const p = candidate as Partial<Platform> | null;
  if (typeof p !== 'object' || p === null) return [{ field: '', message: 'a platform must be an object' }];
  const add = (field: string, message: string) => problems.push({ field, message });

  if (typeof p.id !== 'string' || !PLATFORM_ID.test(p.id) || p.id.length > 40) {
    add(
      'id',
      `"${String(p.id)}" is not a platform id (letters, digits and single dashes, e.g. Metal-QEMU-SNP)`,
    );
  }
  if (typeof p.displayName !== 'string' || p.displayName.trim() === '')
    add('displayName', 'must be non-empty');
  const aliases = p.aliases ?? [];
  if (!Array.isArray(aliases)) add('aliases', 'must be a list');
  else {
    const seen = new Set<string>([String(p.id).toLowerCase()]);
    aliases.forEach((a, i) => {
      if (typeof a !== 'string' || !ALIAS.test(a))
        add(`aliases[${i}]`, `"${String(a)}" is not a lower-case alias`);
      else if (seen.has(a)) add(`aliases[${i}]`, `"${a}" repeats the id or another alias`);
      else seen.add(a);
    });
  }
  if (p.insecure !== undefined && typeof p.insecure !== 'boolean') add('insecure', 'must be a boolean');

  const rt = p.runtime;
  if (typeof rt !== 'object' || rt === null) add('runtime', 'is required');
  else {
    if (!Array.isArray(rt.runtimeClassNames) || rt.runtimeClassNames.length === 0) {
      add('runtime.runtimeClassNames', 'must list at least one RuntimeClass name');
    } else {
      rt.runtimeClassNames.forEach((n, i) => {
        if (typeof n !== 'string' || !isDnsLabel(n)) {
          add(
            `runtime.runtimeClassNames[${i}]`,
            `"${String(n)}" is not a valid RuntimeClass handler (RFC 1123 label)`,
          );
        }
      });
    }
    if (typeof rt.runtimeClasses !== 'function') add('runtime.runtimeClasses', 'must be a function');
    if (typeof rt.nodeInstaller !== 'function') add('runtime.nodeInstaller', 'must be a function');
    const sz = rt.vmSizing;
    if (sz !== undefined) {
      const whole = (v: unknown, min: number) => Number.isInteger(v) && (v as number) >= min;
      if (!whole(sz.baseVcpus, 1)) add('runtime.vmSizing.baseVcpus', 'must be an integer >= 1');
      if (sz.baseMemoryMiB !== undefined && !whole(sz.baseMemoryMiB, 1))
        add('runtime.vmSizing.baseMemoryMiB', 'must be an integer >= 1');
      if (
        sz.measuredVcpuCounts !== undefined &&
        (!Array.isArray(sz.measuredVcpuCounts) ||
          sz.measuredVcpuCounts.length === 0 ||
          !sz.measuredVcpuCounts.every((c) => whole(c, 1)))
      )
        add('runtime.vmSizing.measuredVcpuCounts', 'must list vCPU counts >= 1');
    }
  }

  const at = p.attestation;
  if (typeof at !== 'object' || at === null) add('attestation', 'is required');
  else {
    if (!(TEE_FAMILIES as readonly string[]).includes(at.tee as string)) {
      add('attestation.tee', `must be one of ${TEE_FAMILIES.join(', ')}`);
    }
    if (!Array.isArray(at.evidenceKinds) || at.evidenceKinds.length === 0) {
      add('attestation.evidenceKinds', 'must list at least one evidence kind');
    } else if (at.evidenceKinds.some((k) => typeof k !== 'string' || k === '')) {
      add('attestation.evidenceKinds', 'kinds must be non-empty strings');
    }
    if (typeof at.defaultReferenceValues !== 'function')
      add('attestation.defaultReferenceValues', 'must be a function');
    if (typeof at.createVerifier !== 'function') add('attestation.createVerifier', 'must be a function');
    if (at.createIssuer !== undefined && typeof at.createIssuer !== 'function') {
      add('attestation.createIssuer', 'must be a function when present');
    }
    if (at.policyBinding !== 'initdata' && at.policyBinding !== 'legacy-policy-annotation') {
      add('attestation.policyBinding', 'must be "initdata" or "legacy-policy-annotation"');
    }
  }
  const pol = p.policy;
  if (typeof pol !== 'object' || pol === null) add('policy', 'is required');
  else {
    if (typeof pol.settingsPatch !== 'object' || pol.settingsPatch === null)
      add('policy.settingsPatch', 'must be an object');
    if (typeof pol.guestPull !== 'boolean') add('policy.guestPull', 'must be a boolean');
  }
  return problems;
}

/**
 * Validates a platform spec and returns the branded, frozen platform. Throws `invalid-platform`
 * naming the first broken field.
 * @public
 */
export function definePlatform(spec: PlatformSpec): Platform {
  const platform: Platform = Object.freeze({
    ...spec,
    $$type: PLATFORM_BRAND,
    apiVersion: PLATFORM_API_VERSION,
    aliases: Object.freeze([...(spec.aliases ?? [])]),
    insecure: spec.insecure ?? false,
  });
  const problems = validatePlatform(platform);
  if (problems.length > 0) {
    const first = problems[0]!;
    throw new ContrastError('invalid-platform', `platform "${String(spec.id)}": ${first.message}`, {
      field: first.field,
    });
  }
  return platform;
}

/** True for values built by `definePlatform` (by brand, not `instanceof`). @public */
export function isPlatform(value: unknown): value is Platform {
  return (
    typeof value === 'object' && value !== null && (value as { $$type?: unknown }).$$type === PLATFORM_BRAND
  );
}

/**
 * The RuntimeClass name for a platform and a runtime hash, as upstream names them:
 * `contrast-cc-<platform id in lower case>-<first 8 hex digits of the runtime hash>`.
 * @public
 */
export function runtimeClassName(platformId: string, runtimeHash: string): string {
  if (!/^[0-9a-f]{8,}$/.test(runtimeHash)) {
    throw new ContrastError('invalid-argument', 'runtime hash must be at least 8 lower-case hex digits', {
      field: 'runtimeHash',
    });
  }
  return `contrast-cc-${platformId.toLowerCase()}-${runtimeHash.slice(0, 8)}`;
}
