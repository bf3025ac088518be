import {
  type ContrastErrorCode,
  isContrastError,
  type Logger,
  noopLogger,
  type Platform,
  type PlatformRegistry,
} from '@contrast-cc/core';
import type { Manifest } from '@contrast-cc/manifest';
import {
  type ConfigInput,
  type GeneratedPolicy,
  type GeneratePolicyInput,
  type ImageSource,
  INITDATA_ANNOTATION,
  isPodInputError,
  LEGACY_POLICY_ANNOTATION,
  type PodSpecInput,
  type PolicySettings,
} from '@contrast-cc/policy';
import { type Document, isSeq } from 'yaml';
import { formatKubePath, ResourceInputError, type ResourceProblem } from './errors.js';
import { type ResourceFile, renderResourceFile } from './files.js';
import {
  ANNOTATIONS,
  deleteAnnotation,
  INITIALIZER_NAME,
  type InjectedImages,
  injectWorkload,
  isCoordinatorPod,
  SERVICE_MESH_NAME,
  setAnnotation,
} from './inject.js';
import { checkKataAnnotations } from './kata-annotations.js';
import { MemoImageSource, type PinnedImage, pinWorkloadImages } from './pin.js';
import { referenceValuesFor } from './reference-values.js';
import { checkImageStoreAnnotation, IMAGE_STORE_SIZE_ANNOTATION, sizeWorkload } from './vm-sizing.js';
import { findWorkloads, type WorkloadRef } from './workloads.js';

/** Policy generator failures that are the input's fault (exit 2), not the environment's. */
const BAD_INPUT_CODES: ReadonlySet<ContrastErrorCode> = new Set([
  'validation-failed',
  'invalid-argument',
  'not-found',
]);

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
  /**
   * On platforms whose runtime misapplies container memory limits (AKS-CLH-SNP,
   * `vmSizing.memoryLimitsUnreliable`): rewrite each memory limit to a request and size the VM
   * with Kata's `default_memory` annotation instead of warning on each limit.
   */
  memoryLimitsToRequests?: boolean;
  /** Refuse a ConfigMap/Secret volume whose contents cannot be checked (default: a warning). */
  requireVolumeIntegrity?: boolean;
  logger?: Logger;
  /**
   * Write the values a policy needs and only the digest-pinned image can answer (the users and
   * groups guest pull cannot read) into the YAML instead of refusing; default true.
   */
  fixFromImages?: boolean;
  /** Called once after the images were pinned (before any policy), with the newly pinned ones. */
  onImagesPinned?: (pins: readonly PinnedImage[]) => void;
  /** Called after each workload's policy, for progress output. */
  onWorkload?: (done: number, total: number, workload: PatchedWorkload) => void;
  /**
   * What every injected initializer is told to expect of the Coordinator
   * (`CONTRAST_EXPECTED_COORDINATOR`): the Coordinator policies of these resources (generated
   * first), the reference values the manifest will have (from `existing` and the platforms), and
   * `rootCa` (PEM) when the deployment already has one. Absent: the variable is not written.
   */
  expectedCoordinator?: { existing?: Manifest; rootCa?: string };
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
  /** The pod VM size as Kata will launch it (absent where the platform states no sizing). */
  vm?: { vcpus: number; memoryMiB?: number };
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
  /**
   * What the user should know but is not refused: Kata overrides generate cannot vouch for, and
   * ConfigMap/Secret volumes whose contents are not checked (not in the input, no initializer, projected).
   */
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
  const prepared: {
    w: WorkloadRef;
    doc: Document;
    isCoordinator: boolean;
    init: boolean;
    mesh: boolean;
    vm: PatchedWorkload['vm'];
  }[] = [];
  const warnings: ResourceProblem[] = [...found.warnings];
  for (const w of found.workloads) {
    const doc = w.file.documents[w.documentIndex]!;
    const podAnnotations = ((podMetaOf(w) as { annotations?: Record<string, unknown> } | undefined)
      ?.annotations ?? {}) as Record<string, unknown>;
    const annotationField = (key: string) =>
      formatKubePath(['documents', w.documentIndex, ...w.podPath, 'metadata', 'annotations', key]);
    const imageStore = checkImageStoreAnnotation(podAnnotations);
    if (imageStore) {
      problems.push({
        file: w.file.path,
        field: annotationField(IMAGE_STORE_SIZE_ANNOTATION),
        message: imageStore,
      });
    }
    const result = injectWorkload(doc, w, {
      skipInitializer: options.skipInitializer ?? false,
      skipServiceMesh: options.skipServiceMesh ?? false,
      coordinatorNamespace,
      images: options.injectedImages,
      runtimeClassName: w.platform.runtime.runtimeClassNames[0]!,
      podAnnotations: w.platform.runtime.podAnnotations ?? {},
      imageReplacements: options.imageReplacements ?? new Map(),
      configs: found.configs,
      requireVolumeIntegrity: options.requireVolumeIntegrity ?? false,
    });
    problems.push(...result.problems);
    warnings.push(...result.warnings);
    // The VM size from the pod spec as it will run (the injected containers included).
    const sized = sizeWorkload(doc, w, {
      memoryLimitsToRequests: options.memoryLimitsToRequests ?? false,
      injected: [INITIALIZER_NAME, SERVICE_MESH_NAME],
    });
    problems.push(...sized.problems);
    warnings.push(...sized.warnings);
    for (const f of checkKataAnnotations(
      podAnnotations,
      w.platform.runtime.podAnnotations ?? {},
      sized.generatedKataAnnotations,
    )) {
      const finding: ResourceProblem = {
        file: w.file.path,
        field: annotationField(f.annotation),
        message: f.severity === 'refuse' ? `refused: ${f.reason}` : f.reason,
      };
      if (f.severity === 'refuse') problems.push(finding);
      else warnings.push(finding);
    }
    const metaPath = [...w.podPath, 'metadata'];
    deleteAnnotation(doc, metaPath, INITDATA_ANNOTATION);
    deleteAnnotation(doc, metaPath, LEGACY_POLICY_ANNOTATION);
    prepared.push({
      w,
      doc,
      isCoordinator: result.isCoordinator,
      init: result.initializer,
      mesh: result.serviceMesh,
      vm: sized.size && {
        vcpus: sized.size.vcpus,
        ...(sized.size.memoryMiB !== undefined ? { memoryMiB: sized.size.memoryMiB } : {}),
      },
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
  const slots: (PatchedWorkload | undefined)[] = prepared.map(() => undefined);
  let done = 0;
  // The Coordinators first: the initializers of the other pods are told to expect their policies.
  const order = prepared
    .map((p, i) => ({ ...p, i }))
    .sort((a, b) => Number(b.isCoordinator) - Number(a.isCoordinator) || a.i - b.i);
  let expected: string | undefined;
  for (const { w, doc, isCoordinator, init, mesh, vm, i: slot } of order) {
    if (!isCoordinator && init && options.expectedCoordinator) {
      expected ??= expectedCoordinatorJson(
        slots.filter((x): x is PatchedWorkload => x?.role === 'coordinator'),
        found.workloads,
        options,
      );
      if (expected) setInitializerEnv(doc, w, EXPECTED_COORDINATOR_ENV, expected);
    }
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
    const podJsOf = () => {
      const podNode = w.podPath.length > 0 ? doc.getIn(w.podPath, true) : doc.contents;
      const podJs = (podNode as { toJSON(): unknown }).toJSON() as {
        metadata?: PodSpecInput['metadata'];
        spec: Record<string, unknown>;
      };
      if (w.kind === 'StatefulSet') addClaimTemplateVolumes(podJs.spec, w.object);
      return podJs;
    };
    let podJs = podJsOf();
    const metadata = { ...(podJs.metadata ?? {}), name: w.name, namespace: w.namespace };
    const label = `${w.kind} ${w.namespace}/${w.name}`;
    const podField = (field: string | undefined) =>
      field && /^(spec|metadata)\b/.test(field)
        ? `${formatKubePath(['documents', w.documentIndex, ...w.podPath])}.${field}`
        : `${locationOf(w)}${field ? ` (${field})` : ''}`;
    let policy: GeneratedPolicy | undefined;
    for (let round = 0; round < 2 && policy === undefined; round++) {
      try {
        policy = await options.generatePolicy({
          pod: { metadata, spec: podJs.spec },
          kind: w.kind,
          images,
          settings: settingsFor.get(w.platform),
          configMaps,
          secrets,
          binding: w.platform.attestation.policyBinding,
          // The workload containers only after the injected ones were created and started.
          startFirst: [...(init ? [INITIALIZER_NAME] : []), ...(mesh ? [SERVICE_MESH_NAME] : [])],
          logger,
        });
      } catch (error) {
        // Values the digest-pinned image answers (guest pull's users and groups): written into
        // the YAML, said as a warning, and the policy generated again from the new pod.
        if (
          round === 0 &&
          options.fixFromImages !== false &&
          isPodInputError(error) &&
          error.problems.every((p) => p.fix !== undefined)
        ) {
          for (const p of error.problems) {
            const fix = p.fix!;
            setKeepingStyle(doc, [...w.podPath, ...fix.path], fix.value);
            warnings.push({
              file: w.file.path,
              field: podField(p.field),
              message: `${label}: set to ${JSON.stringify(fix.value)} from ${fix.source} (the image is pinned by digest; with guest pull the runtime cannot read them itself)`,
            });
          }
          podJs = podJsOf();
          continue;
        }
        if (isPodInputError(error)) {
          for (const p of error.problems) {
            problems.push({ file: w.file.path, field: podField(p.field), message: `${label}: ${p.message}` });
          }
          break;
        }
        if (isContrastError(error) && BAD_INPUT_CODES.has(error.code)) {
          problems.push({
            file: w.file.path,
            field: podField(error.field),
            message: `${label}: ${error.message}`,
          });
          break;
        }
        const e = error as { message?: string };
        throw new ResourceInputError(
          [
            {
              file: w.file.path,
              field: `${locationOf(w)} (${label})`,
              message: `cannot generate the policy: ${e.message ?? String(error)}`,
            },
          ],
          isContrastError(error) ? error.code : 'unavailable',
        );
      }
    }
    if (policy === undefined) continue;
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
      ...(vm ? { vm } : {}),
    };
    slots[slot] = patched;
    done++;
    logger.debug('generated policy', {
      kind: w.kind,
      name: w.name,
      namespace: w.namespace,
      hash: policy.digest,
    });
    options.onWorkload?.(done, prepared.length, patched);
  }
  const workloads = slots as PatchedWorkload[];

  // Every workload's bad input at once (a refusal per workload and field), nothing written.
  if (problems.length > 0) throw new ResourceInputError(problems);

  return {
    files: files.map((f) => {
      const text = renderResourceFile(f, changedDocs.get(f) ?? new Set(), (index, reason) =>
        logger.debug('document written whole, not as the source had it', {
          file: f.path,
          document: index,
          reason,
        }),
      );
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

/** The initializer's variable for the expected Coordinator (read by `apps/initializer`). */
export const EXPECTED_COORDINATOR_ENV = 'CONTRAST_EXPECTED_COORDINATOR';

/**
 * The JSON of `ExpectedCoordinatorSchema` (`@contrast-cc/api`): the Coordinators' policy hashes,
 * the reference values the manifest gets, the root CA when known. Undefined without a Coordinator.
 */
function expectedCoordinatorJson(
  coordinators: readonly PatchedWorkload[],
  all: readonly WorkloadRef[],
  options: PatchResourcesOptions,
): string | undefined {
  if (coordinators.length === 0 || !options.expectedCoordinator) return undefined;
  const platforms: Platform[] = [];
  for (const w of all) if (!platforms.includes(w.platform)) platforms.push(w.platform);
  if (options.defaultPlatform && !platforms.includes(options.defaultPlatform))
    platforms.push(options.defaultPlatform);
  const problems: ResourceProblem[] = [];
  const referenceValues = referenceValuesFor(options.expectedCoordinator.existing, platforms, problems);
  // Values the platform cannot supply yet: the manifest step refuses them (nothing is written).
  if (problems.length > 0) return undefined;
  return JSON.stringify({
    policyHashes: [...new Set(coordinators.map((c) => c.policyHash))].sort(),
    referenceValues,
    ...(options.expectedCoordinator.rootCa ? { rootCa: options.expectedCoordinator.rootCa } : {}),
  });
}

/**
 * Sets a value in the document; a list that exists already (e.g. supplementalGroups written in
 * block style) gets the new items appended in its own style instead of being replaced.
 */
function setKeepingStyle(doc: Document, at: (string | number)[], value: unknown): void {
  const existing = doc.getIn(at, true);
  if (Array.isArray(value) && isSeq(existing)) {
    const have = (existing.toJSON() as unknown[]) ?? [];
    for (const v of value) if (!have.includes(v)) existing.add(doc.createNode(v));
    return;
  }
  doc.setIn(at, doc.createNode(value, { flow: Array.isArray(value) }));
}

/** Sets (or replaces) one env variable of the injected initializer in the document. */
function setInitializerEnv(doc: Document, w: WorkloadRef, name: string, value: string): void {
  const inits = doc.getIn([...w.podPath, 'spec', 'initContainers'], false) as
    | { items: { get(k: string, keep?: boolean): unknown }[] }
    | undefined;
  const index = inits?.items.findIndex((c) => c.get('name') === INITIALIZER_NAME) ?? -1;
  if (index < 0) return;
  const envPath = [...w.podPath, 'spec', 'initContainers', index, 'env'];
  const env =
    (doc.getIn(envPath, false) as { toJSON(): { name: string; value?: string }[] } | undefined)?.toJSON() ??
    [];
  const next = [...env.filter((e) => e.name !== name), { name, value }];
  doc.setIn(envPath, doc.createNode(next));
}
