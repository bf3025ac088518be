// Pod VM sizing from the pod spec. Every Contrast pod is one confidential VM whose size is fixed
// at launch (Kata's `static_sandbox_resource_mgmt`; a TEE cannot hot-plug CPUs or memory). Kata
// starts the VM with its configured `default_vcpus`/`default_memory` (or the pod's annotations of
// those names) plus the pod's resources the kubelet hands to the runtime through containerd's
// `io.kubernetes.cri.sandbox-cpu-quota`/`-cpu-period`/`-memory` annotations:
//   vCPUs  = ceil(default_vcpus + pod CPU limit in cores)   (kata `CalculateSandboxSizing`)
//   memory = default_memory + floor(pod memory limit / MiB)
// where the pod limit is the kubelet's effective pod limit: the regular containers and the
// sidecars (restartable init containers) summed, at least each init container's limit plus the
// sidecars started before it, and the pod-level `spec.resources.limits` where set. Upstream
// Contrast predicts the vCPU count the same way (`podVCPUCount`: +1 for the base vCPU) to choose
// reference values; it sums the init containers where the kubelet takes their maximum, so a pod
// with two 600m init containers is 3 vCPUs upstream and 2 here (and in the VM).

import type { PodVmSizing } from '@contrast-cc/core';
import { type Document, isMap, type YAMLMap } from 'yaml';
import { formatKubePath, type ResourceProblem } from './errors.js';
import { deleteAnnotation, setAnnotation } from './inject.js';
import type { WorkloadRef } from './workloads.js';

/** The annotations `generate` writes with the computed VM size (Contrast's, read by people and tests). */
export const VM_SIZE_ANNOTATIONS = {
  vcpus: 'contrast.edgeless.systems/vm-vcpus',
  memory: 'contrast.edgeless.systems/vm-memory',
} as const;

const KATA_DEFAULT_VCPUS = 'io.katacontainers.config.hypervisor.default_vcpus';

/** Kata's VM memory annotation (MiB): written only where no memory limit sizes the VM (requests only). */
export const KATA_DEFAULT_MEMORY = 'io.katacontainers.config.hypervisor.default_memory';

const MIB = 1024n * 1024n;

/** An exact rational: Kubernetes quantities are decimal or binary multiples, never floats. */
interface Rational {
  n: bigint;
  d: bigint;
}

const BINARY: Record<string, bigint> = {
  Ki: 1n << 10n,
  Mi: 1n << 20n,
  Gi: 1n << 30n,
  Ti: 1n << 40n,
  Pi: 1n << 50n,
  Ei: 1n << 60n,
};
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

/** A Kubernetes resource quantity (`500m`, `1.5`, `128Mi`, `1e3`, `2G`) as an exact value; undefined when malformed. */
export function parseQuantity(text: unknown): Rational | undefined {
  if (typeof text === 'number' && Number.isFinite(text)) text = String(text);
  if (typeof text !== 'string') return undefined;
  const m = QUANTITY.exec(text.trim());
  if (!m) return undefined;
  const [, sign, digits, suffix = ''] = m as unknown as [string, string, string, string | undefined];
  const [whole = '', frac = ''] = digits!.split('.');
  let n = BigInt(`${whole}${frac}` || '0');
  let d = 10n ** BigInt(frac.length);
  if (sign === '-') n = -n;
  if (suffix in BINARY) n *= BINARY[suffix]!;
  else {
    const exp = /^[eE]/.test(suffix) ? Number(suffix.slice(1)) : DECIMAL[suffix]!;
    if (Math.abs(exp) > 30) return undefined;
    if (exp >= 0) n *= 10n ** BigInt(exp);
    else d *= 10n ** BigInt(-exp);
  }
  return { n, d };
}

/** ceil(q * scale) for q >= 0, as the kubelet rounds (`MilliValue`, `Value`). */
function ceilScaled(q: Rational, scale: bigint): bigint {
  const v = q.n * scale;
  return v <= 0n ? 0n : (v + q.d - 1n) / q.d;
}

/** One container's contribution to the pod's resources, with where it is written. */
interface ContainerResource {
  list: 'containers' | 'initContainers';
  index: number;
  name: string;
  sidecar: boolean;
  cpuMilli?: bigint;
  memoryBytes?: bigint;
}

/** The pod's effective CPU (milli) and memory (bytes) of one kind, as the kubelet computes them. */
export interface PodResourceTotals {
  cpuMilli: bigint;
  memoryBytes: bigint;
}

type Spec = Record<string, unknown>;
type Kind = 'limits' | 'requests';

function containersOf(
  spec: Spec,
  kind: Kind,
  at: (...p: (string | number)[]) => string,
  problems: string[][],
) {
  const out: ContainerResource[] = [];
  for (const list of ['initContainers', 'containers'] as const) {
    const items = spec[list];
    if (!Array.isArray(items)) continue;
    items.forEach((c: Record<string, unknown>, index) => {
      const resources = (c?.resources ?? {}) as Record<string, Record<string, unknown> | undefined>;
      // A request defaults to the limit (Kubernetes) when only the limit is written.
      const pick = (r: 'cpu' | 'memory') =>
        kind === 'requests' ? (resources.requests?.[r] ?? resources.limits?.[r]) : resources.limits?.[r];
      const entry: ContainerResource = {
        list,
        index,
        name: String(c?.name ?? ''),
        sidecar: list === 'initContainers' && c?.restartPolicy === 'Always',
      };
      for (const r of ['cpu', 'memory'] as const) {
        const raw = pick(r);
        if (raw === undefined || raw === null) continue;
        const q = parseQuantity(raw);
        const source =
          kind === 'requests' && resources.requests?.[r] === undefined ? 'limits' : (kind as string);
        if (!q || q.n < 0n) {
          problems.push([
            at(list, index, 'resources', source, r),
            `"${String(raw)}" is not a resource quantity`,
          ]);
          continue;
        }
        if (r === 'cpu') entry.cpuMilli = ceilScaled(q, 1000n);
        else entry.memoryBytes = ceilScaled(q, 1n);
      }
      out.push(entry);
    });
  }
  return out;
}

/**
 * The kubelet's effective pod limits (or requests): containers and sidecars summed, at least each
 * init container's value plus the sidecars started before it; pod-level `spec.resources` wins.
 */
function podTotals(
  spec: Spec,
  containers: ContainerResource[],
  kind: Kind,
  at: (...p: (string | number)[]) => string,
  problems: string[][],
): PodResourceTotals {
  const sum = { cpuMilli: 0n, memoryBytes: 0n };
  const sidecars = { cpuMilli: 0n, memoryBytes: 0n };
  const initMax = { cpuMilli: 0n, memoryBytes: 0n };
  const keys = ['cpuMilli', 'memoryBytes'] as const;
  for (const c of containers.filter((x) => x.list === 'initContainers')) {
    for (const k of keys) {
      const v = c[k] ?? 0n;
      if (c.sidecar) {
        sum[k] += v;
        sidecars[k] += v;
        if (sidecars[k] > initMax[k]) initMax[k] = sidecars[k];
      } else if (v + sidecars[k] > initMax[k]) initMax[k] = v + sidecars[k];
    }
  }
  for (const c of containers.filter((x) => x.list === 'containers')) {
    for (const k of keys) sum[k] += c[k] ?? 0n;
  }
  for (const k of keys) if (initMax[k] > sum[k]) sum[k] = initMax[k];
  const pod = ((spec.resources ?? {}) as Record<string, Record<string, unknown> | undefined>)[kind];
  for (const [r, k] of [
    ['cpu', 'cpuMilli'],
    ['memory', 'memoryBytes'],
  ] as const) {
    const raw = pod?.[r];
    if (raw === undefined || raw === null) continue;
    const q = parseQuantity(raw);
    if (!q || q.n < 0n) {
      problems.push([at('resources', kind, r), `"${String(raw)}" is not a resource quantity`]);
      continue;
    }
    sum[k] = ceilScaled(q, r === 'cpu' ? 1000n : 1n);
  }
  return sum;
}

/** The size Kata gives a pod VM. */
export interface PodVmSize {
  vcpus: number;
  /** Undefined when the platform does not know its base memory. */
  memoryMiB?: number;
  limits: PodResourceTotals;
}

/** The VM size for pod limits under a platform's sizing (Kata's arithmetic, in integers). */
export function podVmSize(
  limits: PodResourceTotals,
  sizing: PodVmSizing,
  baseMemoryMiB = sizing.baseMemoryMiB,
  baseVcpus = sizing.baseVcpus,
): PodVmSize {
  const milli = BigInt(baseVcpus) * 1000n + limits.cpuMilli;
  const vcpus = Number((milli + 999n) / 1000n);
  return {
    vcpus,
    ...(baseMemoryMiB !== undefined ? { memoryMiB: baseMemoryMiB + Number(limits.memoryBytes / MIB) } : {}),
    limits,
  };
}

/** Options of {@link sizeWorkload}. */
export interface SizeWorkloadOptions {
  /** Rewrite memory limits to requests on platforms that misapply them (`memoryLimitsUnreliable`). */
  memoryLimitsToRequests: boolean;
  /** Names of the containers generate injected (not warned on: the user did not write them). */
  injected: readonly string[];
}

/** What sizing decided for one workload. */
export interface SizeWorkloadResult {
  size?: PodVmSize;
  /** Kata annotations generate writes itself (so the Kata check does not warn on them). */
  generatedKataAnnotations: Record<string, string>;
  problems: ResourceProblem[];
  warnings: ResourceProblem[];
}

function formatMilli(milli: bigint): string {
  return milli % 1000n === 0n ? `${milli / 1000n}` : `${milli}m`;
}

/**
 * Sizes one workload's pod VM in the document (after injection): on a platform that misapplies
 * memory limits, warns on each (or, with `memoryLimitsToRequests`, rewrites each to a request
 * and writes Kata's `default_memory` = base + the pod's memory requests); refuses a vCPU count the
 * platform's reference values do not measure, naming the CPU limit that causes it; writes the
 * computed size as {@link VM_SIZE_ANNOTATIONS}.
 */
export function sizeWorkload(
  doc: Document,
  w: WorkloadRef,
  options: SizeWorkloadOptions,
): SizeWorkloadResult {
  const result: SizeWorkloadResult = { generatedKataAnnotations: {}, problems: [], warnings: [] };
  const sizing = w.platform.runtime.vmSizing;
  const specPath = [...w.podPath, 'spec'];
  const metaPath = [...w.podPath, 'metadata'];
  if (!sizing) {
    for (const k of Object.values(VM_SIZE_ANNOTATIONS)) deleteAnnotation(doc, metaPath, k);
    return result;
  }
  const at = (...p: (string | number)[]) => formatKubePath(['documents', w.documentIndex, ...specPath, ...p]);
  const label = `${w.kind} ${w.namespace}/${w.name}`;
  const bad: string[][] = [];
  const toProblems = () =>
    bad.map(([field, message]) => ({ file: w.file.path, field, message: `${label}: ${message}` }));

  const specOf = () => (doc.getIn(specPath, false) as { toJSON(): Spec } | undefined)?.toJSON() ?? {};
  let spec = specOf();
  let containers = containersOf(spec, 'limits', at, bad);
  if (bad.length > 0) return { ...result, problems: toProblems() };

  const annotations =
    (
      doc.getIn([...metaPath, 'annotations'], false) as { toJSON(): Record<string, unknown> } | undefined
    )?.toJSON() ?? {};
  let baseMemoryMiB = sizing.baseMemoryMiB;

  if (sizing.memoryLimitsUnreliable !== undefined) {
    const limited = containers.filter((c) => c.memoryBytes !== undefined);
    if (options.memoryLimitsToRequests) {
      for (const c of limited) moveLimitToRequest(doc, [...specPath, c.list, c.index, 'resources']);
      spec = specOf();
      containers = containersOf(spec, 'limits', at, bad);
      const podLimit = (spec.resources as { limits?: { memory?: unknown } } | undefined)?.limits?.memory;
      if (podLimit !== undefined) moveLimitToRequest(doc, [...specPath, 'resources']);
      spec = specOf();
      const requests = podTotals(spec, containersOf(spec, 'requests', at, bad), 'requests', at, bad);
      if (bad.length > 0) return { ...result, problems: toProblems() };
      if (sizing.baseMemoryMiB !== undefined) {
        // No memory limit is left, so Kata adds none: the VM memory is the annotation alone.
        const mib = sizing.baseMemoryMiB + Number((requests.memoryBytes + MIB - 1n) / MIB);
        setAnnotation(doc, metaPath, KATA_DEFAULT_MEMORY, String(mib));
        result.generatedKataAnnotations[KATA_DEFAULT_MEMORY] = String(mib);
        baseMemoryMiB = mib;
      }
    } else {
      for (const c of limited) {
        if (options.injected.includes(c.name) && c.list === 'initContainers') continue;
        result.warnings.push({
          file: w.file.path,
          field: at(c.list, c.index, 'resources', 'limits', 'memory'),
          message: `${label}: container "${c.name}" has a memory limit; ${sizing.memoryLimitsUnreliable} Use memory requests only, or pass --memory-limits-to-requests to rewrite each limit to a request and size the VM with ${KATA_DEFAULT_MEMORY}`,
        });
      }
    }
  }
  // A user's default_memory is the VM's base (Kata adds the limits to it); a bad one is refused
  // by the Kata check. Generate's own (requests only) was set above.
  if (result.generatedKataAnnotations[KATA_DEFAULT_MEMORY] === undefined) {
    const own = annotations[KATA_DEFAULT_MEMORY];
    if (typeof own === 'string' && /^\d+$/.test(own)) baseMemoryMiB = Number(own);
  }

  // The platform's own default_vcpus annotation (podAnnotations; a user's other value is refused
  // by the Kata check) is the base Kata adds the CPU limits to.
  const ownVcpus = annotations[KATA_DEFAULT_VCPUS];
  const baseVcpus =
    typeof ownVcpus === 'string' && /^[1-9]\d*$/.test(ownVcpus) ? Number(ownVcpus) : sizing.baseVcpus;
  const limits = podTotals(spec, containers, 'limits', at, bad);
  if (bad.length > 0) return { ...result, problems: toProblems() };
  const size = podVmSize(limits, sizing, baseMemoryMiB, baseVcpus);
  result.size = size;

  const counts = sizing.measuredVcpuCounts;
  if (counts && !counts.includes(size.vcpus)) {
    const podCpu = (spec.resources as { limits?: { cpu?: unknown } } | undefined)?.limits?.cpu;
    const culprit = containers.find((c) => (c.cpuMilli ?? 0n) > 0n);
    const field =
      podCpu !== undefined
        ? at('resources', 'limits', 'cpu')
        : culprit
          ? at(culprit.list, culprit.index, 'resources', 'limits', 'cpu')
          : at();
    result.problems.push({
      file: w.file.path,
      field,
      message: `${label}: the pod VM gets ${size.vcpus} vCPUs (${baseVcpus} + the pod's CPU limit ${formatMilli(limits.cpuMilli)}, rounded up), but the reference values of ${w.platform.id} measure ${counts.join(' or ')} vCPU${counts.length === 1 && counts[0] === 1 ? '' : 's'}: the launch measurement covers every vCPU, so the pod could not attest. Remove or lower the CPU limits (the VM's vCPUs are shared by all containers)`,
    });
    return result;
  }
  setAnnotation(doc, metaPath, VM_SIZE_ANNOTATIONS.vcpus, String(size.vcpus));
  if (size.memoryMiB !== undefined)
    setAnnotation(doc, metaPath, VM_SIZE_ANNOTATIONS.memory, `${size.memoryMiB}Mi`);
  else deleteAnnotation(doc, metaPath, VM_SIZE_ANNOTATIONS.memory);
  return result;
}

/** `resources.limits.memory` becomes `resources.requests.memory` (kept when one is set); the limit is removed. */
function moveLimitToRequest(doc: Document, resourcesPath: (string | number)[]): void {
  const limits = doc.getIn([...resourcesPath, 'limits'], true);
  if (!isMap(limits)) return;
  const limit = (limits as YAMLMap).get('memory', true);
  if (limit === undefined) return;
  const requestsPath = [...resourcesPath, 'requests'];
  if (!isMap(doc.getIn(requestsPath, true))) {
    // In the style the user wrote the limits in (`limits: {memory: 64Mi}` -> `requests: {...}`).
    const created = doc.createNode({}) as YAMLMap;
    created.flow = (limits as YAMLMap).flow ?? false;
    doc.setIn(requestsPath, created);
  }
  const requests = doc.getIn(requestsPath, true) as YAMLMap;
  if (!requests.has('memory')) requests.set('memory', limit);
  (limits as YAMLMap).delete('memory');
  if ((limits as YAMLMap).items.length === 0) doc.deleteIn([...resourcesPath, 'limits']);
}

/** Upstream's per-pod size of the secure image store (an encrypted disk for pulled images). */
export const IMAGE_STORE_SIZE_ANNOTATION = 'contrast.edgeless.systems/image-store-size';

/**
 * Upstream's `image-store-size` annotation: refused unless it disables the store (`"0"`), since
 * this runtime has no secure image store (see the README, "Image store").
 */
export function checkImageStoreAnnotation(
  annotations: Readonly<Record<string, unknown>>,
): string | undefined {
  const value = annotations[IMAGE_STORE_SIZE_ANNOTATION];
  if (value === undefined || value === null || value === '0') return undefined;
  return `refused: ${JSON.stringify(value)}: Contrast for TypeScript has no secure image store. Upstream attaches an ephemeral block volume at /dev/image_store that its own guest image puller encrypts, integrity-protects and pulls into; our pod VMs have no guest component for that device (bare metal pulls images into the VM's encrypted memory, AKS mounts dm-verity layers from the host), so the volume would sit unused while the YAML promised otherwise. Remove the annotation (or set "0") and size the containers' memory limits for the uncompressed images`;
}
