import { type Logger, noopLogger, type Platform, type PlatformRegistry } from '@contrast-cc/core';
import {
  type ConfigInput,
  type GeneratedPolicy,
  type GeneratePolicyInput,
  type ImageSource,
  INITDATA_ANNOTATION,
  LEGACY_POLICY_ANNOTATION,
  type PodSpecInput,
  type PolicySettings,
} from '@contrast-cc/policy';
import type { Document } from 'yaml';
import { formatKubePath, ResourceInputError, type ResourceProblem } from './errors.js';
import { type ResourceFile, renderResourceFile } from './files.js';
import {
  ANNOTATIONS,
  deleteAnnotation,
  type InjectedImages,
  injectWorkload,
  isCoordinatorPod,
  setAnnotation,
} from './inject.js';
import { checkKataAnnotations } from './kata-annotations.js';
import { MemoImageSource, type PinnedImage, pinWorkloadImages } from './pin.js';
import { findWorkloads, type WorkloadRef } from './workloads.js';

/** The policy generator the pipeline calls per workload (`generatePolicy` of this package). */
export type PolicyGenerator = (input: GeneratePolicyInput) => Promise<GeneratedPolicy>;

export interface PatchResourcesOptions {
  /** The platform `runtimeClassName: contrast-cc` stands for (`--reference-values`). */
  defaultPlatform?: Platform;
  /** Platforms for `contrast-cc-<platform>` and hashed handler names. */
  registry?: PlatformRegistry;
  images: ImageSource;
  generatePolicy: PolicyGenerator;
  /** Base genpolicy settings; each platform's `policy.settingsPatch` is merged over them. */
  settings?: PolicySettings;
  injectedImages: InjectedImages;
  skipInitializer?: boolean;
  skipServiceMesh?: boolean;
  imageReplacements?: ReadonlyMap<string, string>;
  logger?: Logger;
  /** Called once after the images were pinned (before any policy), with the newly pinned ones. */
  onImagesPinned?: (pins: readonly PinnedImage[]) => void;
  /** Called after each workload's policy, for progress output. */
  onWorkload?: (done: number, total: number, workload: PatchedWorkload) => void;
}

/** One rewritten workload and what the manifest needs from it. */
export interface PatchedWorkload {
  file: string;
  /** `documents[0].items[1]`-style location in its file. */
  location: string;
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  platform: Platform;
  role: 'coordinator' | '';
  /** Hex digest the TEE binds: the manifest's policy key. */
  policyHash: string;
  sans: string[];
  workloadSecretId: string;
  initializer: boolean;
  serviceMesh: boolean;
}

/** One input file after patching. */
export interface PatchedFile {
  path: string;
  absolutePath: string;
  original: string;
  text: string;
  changed: boolean;
}

export interface PatchResult {
  files: PatchedFile[];
  workloads: PatchedWorkload[];
  /** The platforms the workloads run on, in first-use order. */
  platforms: Platform[];
  /** Container images that were named by tag only and are now pinned by digest. */
  pins: PinnedImage[];
  /** What the user should know but is not refused (e.g. Kata overrides generate cannot vouch for). */
  warnings: ResourceProblem[];
}

/** `apps/v1` + `Deployment` -> `apps/v1/Deployment/<ns>/<name>`; `v1` -> `core/v1/...`. */
export function defaultWorkloadSecretId(
  apiVersion: string,
  kind: string,
  namespace: string,
  name: string,
): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/', 2) : ['core', apiVersion];
  return `${group}/${version}/${kind}/${namespace}/${name}`;
}

function mergePatch(base: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    typeof base === 'object' && base !== null && !Array.isArray(base)
      ? { ...(base as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function configInputs(
  configs: ReturnType<typeof findWorkloads>['configs'],
  kind: 'ConfigMap' | 'Secret',
): ConfigInput[] {
  return configs.filter((c) => c.kind === kind).map((c) => c.object as unknown as ConfigInput);
}

function locationOf(w: WorkloadRef): string {
  return `documents[${w.documentIndex}]${w.objectPath.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('')}`;
}

/**
 * The in-memory part of `contrast generate`: finds the Contrast workloads, injects, patches the
 * runtime class, generates each policy and writes its annotation. Nothing touches the disk;
 * every input problem of every file is collected and thrown as one {@link ResourceInputError}
 * before any policy is generated.
 */
export async function patchResources(
  files: readonly ResourceFile[],
  options: PatchResourcesOptions,
): Promise<PatchResult> {
  const logger = options.logger ?? noopLogger;
  const found = findWorkloads(files, {
    defaultPlatform: options.defaultPlatform,
    registry: options.registry,
  });
  const problems: ResourceProblem[] = [...found.problems];

  const coordinatorNamespace =
    found.workloads.find((w) => isCoordinatorPod(podMetaOf(w)))?.namespace ?? 'default';

  const changedDocs = new Map<ResourceFile, Set<number>>();
  const prepared: { w: WorkloadRef; doc: Document; isCoordinator: boolean; init: boolean; mesh: boolean }[] =
    [];
  const warnings: ResourceProblem[] = [];
  for (const w of found.workloads) {
    const doc = w.file.documents[w.documentIndex]!;
    const podAnnotations = ((podMetaOf(w) as { annotations?: Record<string, unknown> } | undefined)
      ?.annotations ?? {}) as Record<string, unknown>;
    for (const f of checkKataAnnotations(podAnnotations, w.platform.runtime.podAnnotations ?? {})) {
      const finding: ResourceProblem = {
        file: w.file.path,
        field: formatKubePath([
          'documents',
          w.documentIndex,
          ...w.podPath,
          'metadata',
          'annotations',
          f.annotation,
        ]),
        message: f.severity === 'refuse' ? `refused: ${f.reason}` : f.reason,
      };
      if (f.severity === 'refuse') problems.push(finding);
      else warnings.push(finding);
    }
    const result = injectWorkload(doc, w, {
      skipInitializer: options.skipInitializer ?? false,
      skipServiceMesh: options.skipServiceMesh ?? false,
      coordinatorNamespace,
      images: options.injectedImages,
      runtimeClassName: w.platform.runtime.runtimeClassNames[0]!,
      podAnnotations: w.platform.runtime.podAnnotations ?? {},
      imageReplacements: options.imageReplacements ?? new Map(),
    });
    problems.push(...result.problems);
    const metaPath = [...w.podPath, 'metadata'];
    deleteAnnotation(doc, metaPath, INITDATA_ANNOTATION);
    deleteAnnotation(doc, metaPath, LEGACY_POLICY_ANNOTATION);
    prepared.push({
      w,
      doc,
      isCoordinator: result.isCoordinator,
      init: result.initializer,
      mesh: result.serviceMesh,
    });
    const set = changedDocs.get(w.file) ?? new Set<number>();
    set.add(w.documentIndex);
    changedDocs.set(w.file, set);
  }
  if (problems.length > 0) throw new ResourceInputError(problems);

  // Pin every image by digest (the injected ones too): the policy binds the digest only.
  const images = new MemoImageSource(options.images);
  const pinned = await pinWorkloadImages(prepared, images);
  if (pinned.problems.length > 0) {
    throw new ResourceInputError(pinned.problems, pinned.unavailable ? 'unavailable' : 'validation-failed');
  }
  for (const p of pinned.pins) {
    logger.debug('pinned image', { file: p.file, field: p.field, image: p.image, digest: p.digest });
  }
  options.onImagesPinned?.(pinned.pins);

  const configMaps = configInputs(found.configs, 'ConfigMap');
  const secrets = configInputs(found.configs, 'Secret');
  const settingsFor = new Map<Platform, PolicySettings | undefined>();
  const platforms: Platform[] = [];
  const workloads: PatchedWorkload[] = [];
  let done = 0;
  for (const { w, doc, isCoordinator, init, mesh } of prepared) {
    if (!platforms.includes(w.platform)) platforms.push(w.platform);
    if (!settingsFor.has(w.platform)) {
      const patch = w.platform.policy.settingsPatch;
      settingsFor.set(
        w.platform,
        options.settings && Object.keys(patch).length > 0
          ? (mergePatch(options.settings, patch) as PolicySettings)
          : options.settings,
      );
    }
    const podNode = w.podPath.length > 0 ? doc.getIn(w.podPath, true) : doc.contents;
    const podJs = (podNode as { toJSON(): unknown }).toJSON() as {
      metadata?: PodSpecInput['metadata'];
      spec: Record<string, unknown>;
    };
    const metadata = { ...(podJs.metadata ?? {}), name: w.name, namespace: w.namespace };
    if (w.kind === 'StatefulSet') addClaimTemplateVolumes(podJs.spec, w.object);
    let policy: GeneratedPolicy;
    try {
      policy = await options.generatePolicy({
        pod: { metadata, spec: podJs.spec },
        kind: w.kind,
        images,
        settings: settingsFor.get(w.platform),
        configMaps,
        secrets,
        binding: w.platform.attestation.policyBinding,
        logger,
      });
    } catch (error) {
      const e = error as { message?: string; field?: string };
      throw new ResourceInputError(
        [
          {
            file: w.file.path,
            field: `${locationOf(w)} (${w.kind} ${w.namespace}/${w.name})`,
            message: `policy generation failed: ${e.message ?? String(error)}`,
          },
        ],
        'unavailable',
      );
    }
    setAnnotation(doc, [...w.podPath, 'metadata'], policy.annotation.key, policy.annotation.value);
    const ownAnnotations = (w.object.metadata as { annotations?: Record<string, string> | null }).annotations;
    const annotations = { ...(ownAnnotations ?? {}), ...(metadata.annotations ?? {}) };
    const patched: PatchedWorkload = {
      file: w.file.path,
      location: locationOf(w),
      apiVersion: w.apiVersion,
      kind: w.kind,
      name: w.name,
      namespace: w.namespace,
      platform: w.platform,
      role: isCoordinator ? 'coordinator' : '',
      policyHash: policy.digest,
      sans: [w.name, '*'],
      workloadSecretId:
        annotations[ANNOTATIONS.workloadSecretId] ??
        defaultWorkloadSecretId(w.apiVersion, w.kind, w.namespace, w.name),
      initializer: init,
      serviceMesh: mesh,
    };
    workloads.push(patched);
    done++;
    logger.debug('generated policy', {
      kind: w.kind,
      name: w.name,
      namespace: w.namespace,
      hash: policy.digest,
    });
    options.onWorkload?.(done, prepared.length, patched);
  }

  return {
    files: files.map((f) => {
      const text = renderResourceFile(f, changedDocs.get(f) ?? new Set());
      return { path: f.path, absolutePath: f.absolutePath, original: f.text, text, changed: text !== f.text };
    }),
    workloads,
    platforms,
    pins: pinned.pins,
    warnings,
  };
}

function podMetaOf(w: WorkloadRef): unknown {
  let cur: unknown = w.object;
  for (const p of w.podPath.slice(w.objectPath.length)) cur = (cur as Record<string | number, unknown>)?.[p];
  return (cur as { metadata?: unknown } | undefined)?.metadata;
}

/**
 * A StatefulSet's pods get one volume per `volumeClaimTemplates` entry (a PVC named after the
 * template); the policy must see them as the pod will. Only the policy input changes, not the YAML.
 */
function addClaimTemplateVolumes(spec: Record<string, unknown>, object: Record<string, unknown>): void {
  const templates = (object.spec as { volumeClaimTemplates?: unknown } | undefined)?.volumeClaimTemplates;
  if (!Array.isArray(templates) || templates.length === 0) return;
  const volumes: Record<string, unknown>[] = Array.isArray(spec.volumes)
    ? [...(spec.volumes as Record<string, unknown>[])]
    : [];
  for (const t of templates as { metadata?: { name?: unknown } }[]) {
    const name = t?.metadata?.name;
    if (typeof name !== 'string' || volumes.some((v) => v?.name === name)) continue;
    volumes.push({ name, persistentVolumeClaim: { claimName: name } });
  }
  spec.volumes = volumes;
}
