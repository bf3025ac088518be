import { isContrastError } from '@contrast-cc/core';
import { MESH_ENV, meshConfigFromEnv, parseIngressConfig } from '@contrast-cc/mesh/config';
import { type Document, isMap, isSeq, type YAMLMap, YAMLSeq } from 'yaml';
import { formatKubePath, type ResourceProblem } from './errors.js';
import { planVolumeIntegrity, type VolumeIntegrityPlan } from './volume-integrity.js';
import type { ConfigObject, WorkloadRef } from './workloads.js';

/** The annotation and label keys `generate` reads (upstream names). */
export const ANNOTATIONS = {
  podRole: 'contrast.edgeless.systems/pod-role',
  skipInitializer: 'contrast.edgeless.systems/skip-initializer',
  ingress: 'contrast.edgeless.systems/servicemesh-ingress',
  egress: 'contrast.edgeless.systems/servicemesh-egress',
  adminPort: 'contrast.edgeless.systems/servicemesh-admin-interface-port',
  workloadSecretId: 'contrast.edgeless.systems/workload-secret-id',
  securePv: 'contrast.edgeless.systems/secure-pv',
} as const;

export const INITIALIZER_NAME = 'contrast-initializer';
export const SERVICE_MESH_NAME = 'contrast-service-mesh';
export const SECRETS_VOLUME = 'contrast-secrets';
export const SECRETS_MOUNT_PATH = '/contrast';

/** The images of the containers `generate` injects. */
export interface InjectedImages {
  initializer: string;
  serviceMesh: string;
}

export interface InjectOptions {
  skipInitializer: boolean;
  skipServiceMesh: boolean;
  /** Namespace of the Coordinator (its `coordinator-ready` Service); `default` when none was found. */
  coordinatorNamespace: string;
  images: InjectedImages;
  /** The RuntimeClass name to write (the platform's hashed handler). */
  runtimeClassName: string;
  /** Annotations the platform adds to every pod (e.g. vCPUs). */
  podAnnotations: Record<string, string>;
  /** `old=new` image replacements applied to every container of the pod. */
  imageReplacements: ReadonlyMap<string, string>;
  /** The ConfigMaps and Secrets of the input: their volumes are checked by the initializer. */
  configs?: readonly ConfigObject[];
  /** A ConfigMap/Secret volume that cannot be checked is a problem, not a warning. */
  requireVolumeIntegrity?: boolean;
}

/** What injection decided for one workload. */
export interface InjectResult {
  isCoordinator: boolean;
  initializer: boolean;
  serviceMesh: boolean;
  problems: ResourceProblem[];
  /** ConfigMap/Secret volumes left unchecked. */
  warnings: ResourceProblem[];
}

function annotationsOf(meta: unknown): Record<string, string> {
  const a = (meta as { annotations?: Record<string, string> | null } | undefined)?.annotations;
  return a ?? {};
}

/** Whether the pod template marks the Coordinator (annotation or label `pod-role: coordinator`). */
export function isCoordinatorPod(podMeta: unknown): boolean {
  const m = podMeta as {
    annotations?: Record<string, string> | null;
    labels?: Record<string, string> | null;
  };
  return (
    m?.annotations?.[ANNOTATIONS.podRole] === 'coordinator' ||
    m?.labels?.[ANNOTATIONS.podRole] === 'coordinator'
  );
}

function seqAt(doc: Document, path: readonly (string | number)[]): YAMLSeq | undefined {
  const node = doc.getIn(path, true);
  return isSeq(node) ? node : undefined;
}

/** The seq at path, created (as an empty block sequence) when absent or null. */
function ensureSeq(doc: Document, path: readonly (string | number)[]): YAMLSeq {
  const existing = seqAt(doc, path);
  if (existing) return existing;
  const seq = new YAMLSeq();
  doc.setIn(path, seq);
  return seq;
}

/** Sets one annotation, creating `metadata`/`annotations` (or replacing a null one) as needed. */
export function setAnnotation(
  doc: Document,
  metaPath: readonly (string | number)[],
  key: string,
  value: string,
): void {
  const path = [...metaPath, 'annotations'];
  if (!isMap(doc.getIn(path, true))) doc.setIn(path, doc.createNode({}));
  (doc.getIn(path, true) as YAMLMap).set(key, value);
}

/** Removes one annotation if present. */
export function deleteAnnotation(doc: Document, metaPath: readonly (string | number)[], key: string): void {
  const node = doc.getIn([...metaPath, 'annotations'], true);
  if (isMap(node)) node.delete(key);
}

function itemName(item: unknown): unknown {
  return isMap(item) ? (item as YAMLMap).get('name') : undefined;
}

function removeNamed(seq: YAMLSeq, name: string): void {
  seq.items = seq.items.filter((item) => itemName(item) !== name);
}

function hasNamed(seq: YAMLSeq | undefined, name: string): boolean {
  return seq?.items.some((item) => itemName(item) === name) ?? false;
}

/** The sidecar's probes: ready once `/done` exists (secure PV mounted, volumes checked), not ready when it is removed. */
const doneProbe = () => ({ exec: { command: ['test', '-f', '/done'] } });

function initializerContainer(
  opts: InjectOptions,
  meshEnv: { name: string; value: string }[] | undefined,
  securePv: { device: string; mount: string } | undefined,
  integrity: VolumeIntegrityPlan,
): Record<string, unknown> {
  const env: { name: string; value: string }[] = [
    { name: 'COORDINATOR_HOST', value: `coordinator-ready.${opts.coordinatorNamespace}` },
  ];
  if (!meshEnv) env.push({ name: 'CONTRAST_SERVICE_MESH_DISABLED', value: 'true' });
  else {
    // The initializer installs the traffic rules from the same variables the sidecar reads.
    env.push({ name: 'CONTRAST_TRAFFIC_RULES', value: 'auto' }, ...meshEnv);
  }
  if (integrity.env) env.push(integrity.env);
  // With a secure PV (the initializer opens the LUKS volume) or checked ConfigMap/Secret volumes
  // (it keeps re-checking them) the initializer stays alive as a sidecar, ready once /done exists;
  // with checked volumes its readiness (and so the pod's) ends when a volume changes.
  const sidecar = securePv !== undefined || integrity.volumes.length > 0;
  if (securePv) env.push({ name: 'CRYPTSETUP_DEVICE', value: '/dev/csi0' });
  const memory = securePv ? '100Mi' : '50Mi';
  const capabilities = { add: ['NET_ADMIN'] };
  return {
    name: INITIALIZER_NAME,
    image: opts.images.initializer,
    ...(sidecar ? { restartPolicy: 'Always' } : {}),
    env,
    resources: { limits: { memory }, requests: { memory } },
    securityContext: securePv ? { privileged: true, capabilities } : { capabilities },
    ...(sidecar
      ? { startupProbe: { ...doneProbe(), initialDelaySeconds: 1, periodSeconds: 5, failureThreshold: 20 } }
      : {}),
    ...(integrity.volumes.length > 0 ? { readinessProbe: { ...doneProbe(), periodSeconds: 5 } } : {}),
    ...(securePv ? { volumeDevices: [{ name: securePv.device, devicePath: '/dev/csi0' }] } : {}),
    volumeMounts: [
      { name: SECRETS_VOLUME, mountPath: SECRETS_MOUNT_PATH },
      ...(securePv ? [{ name: securePv.mount, mountPath: '/state', mountPropagation: 'Bidirectional' }] : []),
      ...integrity.initializerMounts,
    ],
  };
}

/** Parses and checks `secure-pv: <device volume>:<mount volume>` against the pod's volumes. */
function securePvOf(
  value: string | undefined,
  volumeNames: ReadonlySet<string>,
  claimNames: ReadonlySet<string>,
): { device: string; mount: string } | string | undefined {
  if (value === undefined) return undefined;
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-a-z0-9]*[a-z0-9])?)$/.exec(value);
  if (!m) return 'must be "<device volume>:<mount volume>"';
  const device = m[1]!;
  const mount = m[3]!;
  if (!volumeNames.has(device) && !claimNames.has(device)) {
    return `device volume "${device}" is not a volume (or volumeClaimTemplate) of the pod`;
  }
  if (!volumeNames.has(mount)) return `mount volume "${mount}" is not a volume of the pod`;
  return { device, mount };
}

/**
 * The mesh variables of the initializer and the sidecar (see `meshConfigFromEnv` of
 * `@contrast-cc/mesh`): the annotations as upstream passes them, plus the mTLS port list: every
 * TCP port the pod's containers declare that the ingress annotation does not name. Bad values are
 * a message naming the annotation (and entry).
 */
function meshEnvOf(
  annotations: Record<string, string>,
  declaredPorts: readonly number[],
): { env: { name: string; value: string }[] } | { annotation: string; message: string } {
  const ingress = annotations[ANNOTATIONS.ingress] ?? '';
  const adminPort = annotations[ANNOTATIONS.adminPort];
  const vars: Record<string, string> = {
    [MESH_ENV.ingress]: ingress,
    [MESH_ENV.egress]: annotations[ANNOTATIONS.egress] ?? '',
    ...(adminPort !== undefined ? { [MESH_ENV.adminPort]: adminPort } : {}),
  };
  const annotationOf: Record<string, string> = {
    [MESH_ENV.ingress]: ANNOTATIONS.ingress,
    [MESH_ENV.egress]: ANNOTATIONS.egress,
    [MESH_ENV.adminPort]: ANNOTATIONS.adminPort,
  };
  try {
    const named = new Set((parseIngressConfig(ingress) ?? []).map((r) => r.port));
    if (adminPort !== undefined) named.add(Number(adminPort));
    vars[MESH_ENV.mtlsPorts] = [...new Set(declaredPorts)].filter((p) => !named.has(p)).join(',');
    meshConfigFromEnv(vars);
  } catch (e) {
    if (!isContrastError(e)) throw e;
    const f = e.field ?? '';
    const variable = f.replace(/\[\d+\]$/, '');
    const entry = /\[(\d+)\]$/.exec(f)?.[1];
    return {
      annotation: annotationOf[variable] ?? ANNOTATIONS.ingress,
      message: `${entry !== undefined ? `entry ${entry}: ` : ''}${e.message}`,
    };
  }
  return { env: Object.entries(vars).map(([name, value]) => ({ name, value })) };
}

function serviceMeshContainer(
  opts: InjectOptions,
  annotations: Record<string, string>,
  meshEnv: { name: string; value: string }[],
): Record<string, unknown> {
  const env = [...meshEnv];
  const adminPort = annotations[ANNOTATIONS.adminPort];
  const container: Record<string, unknown> = {
    name: SERVICE_MESH_NAME,
    image: opts.images.serviceMesh,
    restartPolicy: 'Always',
    args: ['-l', 'debug'],
    env,
  };
  if (adminPort !== undefined) {
    container.ports = [{ name: 'contrast-admin', containerPort: Number(adminPort) }];
  }
  Object.assign(container, {
    resources: { limits: { memory: '100Mi' }, requests: { memory: '100Mi' } },
    securityContext: { privileged: true, capabilities: { add: ['NET_ADMIN'] } },
    startupProbe: {
      exec: { command: ['test', '-f', '/ready'] },
      initialDelaySeconds: 1,
      periodSeconds: 5,
      failureThreshold: 5,
    },
    volumeMounts: [{ name: SECRETS_VOLUME, mountPath: SECRETS_MOUNT_PATH }],
  });
  return container;
}

/**
 * Rewrites one workload's pod template inside its YAML document, as upstream's `patchTargets`:
 * 1. the initializer init container first (replacing one of the same name), unless skipped by
 *    flag or annotation, and never for the Coordinator; the `contrast-secrets` memory volume,
 *    mounted at `/contrast` in every container and init container;
 * 2. the service-mesh sidecar (restartable init container) right after it when an ingress or
 *    egress annotation exists (an empty egress value is an error);
 * 3. image replacements, the platform's RuntimeClass name and pod annotations.
 * Comments and the order of untouched keys are kept.
 */
export function injectWorkload(doc: Document, w: WorkloadRef, opts: InjectOptions): InjectResult {
  const problems: ResourceProblem[] = [];
  const metaPath = [...w.podPath, 'metadata'];
  const specPath = [...w.podPath, 'spec'];
  const podMeta = (doc.getIn(metaPath, false) as YAMLMap | undefined) ?? undefined;
  const metaJs = isMap(podMeta) ? podMeta.toJSON() : podMeta;
  const annotations = annotationsOf(metaJs);
  const isCoordinator = isCoordinatorPod(metaJs);
  const field = (rest: readonly PropertyKey[]) => formatKubePath(['documents', w.documentIndex, ...rest]);

  const wantsMesh =
    annotations[ANNOTATIONS.ingress] !== undefined || annotations[ANNOTATIONS.egress] !== undefined;
  if (annotations[ANNOTATIONS.egress] === '') {
    problems.push({
      file: w.file.path,
      field: field([...metaPath, 'annotations', ANNOTATIONS.egress]),
      message: 'must not be empty (remove it, or list egress rules)',
    });
  }
  const adminPort = annotations[ANNOTATIONS.adminPort];
  if (adminPort !== undefined && !/^[1-9][0-9]{0,4}$/.test(adminPort)) {
    problems.push({
      file: w.file.path,
      field: field([...metaPath, 'annotations', ANNOTATIONS.adminPort]),
      message: 'must be a port number',
    });
  }
  const meshInjected = !isCoordinator && !opts.skipServiceMesh && wantsMesh;
  const initializerInjected =
    !isCoordinator && !opts.skipInitializer && annotations[ANNOTATIONS.skipInitializer] !== 'true';
  const plain = (p: readonly (string | number)[]): unknown[] => {
    const node = doc.getIn(p, true);
    const js = isSeq(node) ? node.toJSON() : undefined;
    return Array.isArray(js) ? js : [];
  };
  const volumeNames = new Set(
    plain([...specPath, 'volumes']).map((v) => String((v as { name?: unknown } | null)?.name ?? '')),
  );
  const claimNames = new Set(
    w.kind === 'StatefulSet'
      ? plain([...w.objectPath, 'spec', 'volumeClaimTemplates']).map((c) =>
          String((c as { metadata?: { name?: unknown } } | null)?.metadata?.name ?? ''),
        )
      : [],
  );
  const securePv = securePvOf(annotations[ANNOTATIONS.securePv], volumeNames, claimNames);
  const securePvField = field([...metaPath, 'annotations', ANNOTATIONS.securePv]);
  if (typeof securePv === 'string') {
    problems.push({ file: w.file.path, field: securePvField, message: securePv });
  } else if (securePv && !initializerInjected) {
    problems.push({
      file: w.file.path,
      field: securePvField,
      message: 'a secure PV needs the initializer (not skipped, not the Coordinator)',
    });
  }
  let meshEnv: { name: string; value: string }[] | undefined;
  if (meshInjected && problems.length === 0) {
    // The ports the pod's own containers declare (TCP): mTLS unless the annotation names them.
    const declared = (['initContainers', 'containers'] as const).flatMap((list) =>
      plain([...specPath, list])
        .filter((c) => {
          const name = (c as { name?: unknown } | null)?.name;
          return name !== INITIALIZER_NAME && name !== SERVICE_MESH_NAME;
        })
        .flatMap((c) => ((c as { ports?: unknown[] | null } | null)?.ports ?? []) as unknown[])
        .filter((p) => {
          const protocol = (p as { protocol?: unknown } | null)?.protocol;
          return protocol === undefined || protocol === null || protocol === 'TCP';
        })
        .map((p) => Number((p as { containerPort?: unknown } | null)?.containerPort))
        .filter((p) => Number.isInteger(p) && p > 0 && p < 65536),
    );
    const mesh = meshEnvOf(annotations, declared);
    if ('env' in mesh) meshEnv = mesh.env;
    else {
      problems.push({
        file: w.file.path,
        field: field([...metaPath, 'annotations', mesh.annotation]),
        message: mesh.message,
      });
    }
  }
  if (problems.length > 0) {
    return { isCoordinator, initializer: false, serviceMesh: false, problems, warnings: [] };
  }
  // Before the initializer is inserted: the rewrite marks the workload's mounts read-only.
  const integrity = planVolumeIntegrity(doc, w, opts.configs ?? [], {
    rewrite: initializerInjected,
    requireAll: opts.requireVolumeIntegrity ?? false,
  });
  if (integrity.problems.length > 0) {
    return {
      isCoordinator,
      initializer: false,
      serviceMesh: false,
      problems: integrity.problems,
      warnings: integrity.warnings,
    };
  }

  if (initializerInjected || meshInjected) {
    const inits = ensureSeq(doc, [...specPath, 'initContainers']);
    removeNamed(inits, INITIALIZER_NAME);
    removeNamed(inits, SERVICE_MESH_NAME);
    const injected = [];
    if (initializerInjected) {
      const pv = typeof securePv === 'object' ? securePv : undefined;
      injected.push(doc.createNode(initializerContainer(opts, meshEnv, pv, integrity.plan)));
    }
    if (meshEnv) injected.push(doc.createNode(serviceMeshContainer(opts, annotations, meshEnv)));
    inits.items.unshift(...injected);

    const volumes = ensureSeq(doc, [...specPath, 'volumes']);
    if (!hasNamed(volumes, SECRETS_VOLUME)) {
      volumes.items.push(doc.createNode({ name: SECRETS_VOLUME, emptyDir: { medium: 'Memory' } }));
    }
    for (const list of ['initContainers', 'containers'] as const) {
      const seq = seqAt(doc, [...specPath, list]);
      seq?.items.forEach((_, i) => {
        const mountsPath = [...specPath, list, i, 'volumeMounts'];
        if (hasNamed(seqAt(doc, mountsPath), SECRETS_VOLUME)) return;
        ensureSeq(doc, mountsPath).items.push(
          doc.createNode({ name: SECRETS_VOLUME, mountPath: SECRETS_MOUNT_PATH }),
        );
      });
    }
  }

  if (opts.imageReplacements.size > 0) {
    for (const list of ['initContainers', 'containers'] as const) {
      seqAt(doc, [...specPath, list])?.items.forEach((_, i) => {
        const image = doc.getIn([...specPath, list, i, 'image']);
        const replacement = typeof image === 'string' ? opts.imageReplacements.get(image) : undefined;
        if (replacement !== undefined) doc.setIn([...specPath, list, i, 'image'], replacement);
      });
    }
  }

  doc.setIn([...specPath, 'runtimeClassName'], opts.runtimeClassName);
  for (const [key, value] of Object.entries(opts.podAnnotations)) {
    setAnnotation(doc, metaPath, key, value);
  }
  return {
    isCoordinator,
    initializer: initializerInjected,
    serviceMesh: meshInjected,
    problems,
    warnings: integrity.warnings,
  };
}
