// The container end-to-end run's reading of what `contrast generate` wrote: the patched Kubernetes
// resources translated into podman pods and containers (pure functions, no podman here).
//
// Why a translation and not `podman kube play`: podman 4.3's kube play cannot run the service-mesh
// sidecar (an init container with `restartPolicy: Always`, Kubernetes' native sidecar) — it runs
// init containers to completion before the app containers and would wait forever for the proxy —
// and it has no way to give one pod a network alias per Service that selects it. So each pod
// becomes `podman pod create` (its network namespace: an infra container, on the run's network,
// with one alias per Service that selects it) plus one `podman run` per container, in the
// kubelet's order: init containers one after another (each to exit 0), a sidecar init container
// started and held until its startup probe passes, then the app containers.
//
// What is translated: Deployment, StatefulSet, ReplicaSet, Job and Pod templates (replicas pods
// named <workload>-<i>), Services (aliases <svc>, <svc>.<ns>, <svc>.<ns>.svc,
// <svc>.<ns>.svc.cluster.local on the pods their selector matches; there is no kube-proxy, so a
// Service is reached on the pods' own ports), command/args, env (value, ConfigMap and Secret keys
// of the inputs, the pod's name and namespace), envFrom, emptyDir volumes (one podman volume per
// pod), runAsUser/runAsGroup, added capabilities, privileged, exec startup probes of sidecars.
// Anything else a pod asks for (other volume kinds, other env sources) is refused naming the file
// and field, never silently dropped. Not translated: resources (memory limits), runtimeClassName
// (there is no Kata here: the pods are plain containers), readiness/liveness probes.
import { decodeInitdataAnnotation, initdataDigest, parseInitdataToml } from '@contrast-cc/policy';
import { parseAllDocuments } from 'yaml';

export const INITDATA_ANNOTATION = 'io.katacontainers.config.hypervisor.cc_init_data';
export const ROLE_ANNOTATION = 'contrast.edgeless.systems/pod-role';
export const INITIALIZER = 'contrast-initializer';
export const SERVICE_MESH = 'contrast-service-mesh';
/** Where the e2e mounts the simulator's trust directory in the containers that issue or verify evidence. */
export const SIMULATOR_MOUNT = '/contrast-simulator';
/** The Coordinator's directory store in the e2e (the image's default CONTRAST_STORE_DIR). */
export const COORDINATOR_STORE = '/var/lib/contrast/history';

/** Bad or unsupported input, naming the file and the field. */
export class PlanError extends Error {
  constructor(file, field, message) {
    super(`${file}: ${field}: ${message}`);
    this.file = file;
    this.field = field;
  }
}

const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Every document of the YAML files, with where it came from.
 * @param {{ file: string; text: string }[]} files
 * @returns {{ file: string; index: number; obj: any }[]}
 */
export function loadResources(files) {
  const out = [];
  for (const { file, text } of files) {
    const docs = parseAllDocuments(text);
    docs.forEach((d, index) => {
      if (d.errors.length > 0) throw new PlanError(file, `document ${index}`, d.errors[0].message);
      const obj = d.toJS();
      if (isObject(obj)) out.push({ file, index, obj });
    });
  }
  return out;
}

/** The pod template of a workload object, or undefined for other kinds. */
export function podTemplateOf(obj) {
  switch (obj.kind) {
    case 'Pod':
      return { metadata: obj.metadata ?? {}, spec: obj.spec ?? {}, field: 'spec' };
    case 'Deployment':
    case 'StatefulSet':
    case 'ReplicaSet':
    case 'DaemonSet':
    case 'Job':
      return { ...(obj.spec?.template ?? {}), field: 'spec.template.spec' };
    default:
      return undefined;
  }
}

/**
 * The pod's Kata agent policy as the e2e reads it from the initdata annotation: the initdata
 * digest (what the Kata runtime puts into HOST_DATA / MRCONFIGID, i.e. the policy hash the
 * manifest lists) and, per container, the image the policy pins and the containers it requires
 * to have started first.
 */
export function podPolicy(template, file) {
  const annotation = template.metadata?.annotations?.[INITDATA_ANNOTATION];
  if (typeof annotation !== 'string') {
    throw new PlanError(
      file,
      `spec.template.metadata.annotations.${INITDATA_ANNOTATION}`,
      'missing: run contrast generate on these resources first',
    );
  }
  const toml = decodeInitdataAnnotation(annotation);
  const rego = parseInitdataToml(toml).data['policy.rego'];
  const at = rego?.indexOf('\npolicy_data := ') ?? -1;
  if (at < 0) throw new PlanError(file, INITDATA_ANNOTATION, 'the initdata has no policy_data');
  const data = JSON.parse(rego.slice(at + '\npolicy_data := '.length));
  const containers = new Map();
  for (const c of data.containers ?? []) {
    const name = c.OCI?.Annotations?.['io.kubernetes.cri.container-name'];
    if (typeof name === 'string') {
      containers.set(name, { image: c.image, requiredStarted: c.required_started ?? [] });
    }
  }
  return { digest: initdataDigest(toml), containers };
}

/** The `sha256:…` digest of a pinned reference, or undefined. */
export function digestOf(ref) {
  return /@(sha256:[0-9a-f]{64})$/.exec(ref ?? '')?.[1];
}

/**
 * Whether the Kata agent would create `container` in `pod` now — the part of its policy check the
 * e2e can make without a pod VM: the policy has a container of that name, the image the
 * container runs (the digest podman pulled, `actualDigest`) is the one the policy pins, and every
 * container the policy requires to have started before it (the initializer, the mesh sidecar) has.
 * @returns {{ ok: true } | { ok: false; reason: string }}
 */
export function admitContainer(pod, container, started, actualDigest) {
  const p = pod.policy.containers.get(container.name);
  if (!p) return { ok: false, reason: `the pod's policy has no container "${container.name}"` };
  const pinned = digestOf(p.image);
  if (digestOf(container.image) !== pinned) {
    return {
      ok: false,
      reason: `container "${container.name}" names the image ${container.image}, the policy pins ${p.image}`,
    };
  }
  if (actualDigest !== pinned) {
    return {
      ok: false,
      reason: `container "${container.name}" would run the image ${actualDigest}, the policy pins ${pinned}`,
    };
  }
  const missing = p.requiredStarted.filter((n) => !started.has(n));
  if (missing.length > 0) {
    return {
      ok: false,
      reason: `the policy requires ${missing.join(', ')} to have started before "${container.name}"`,
    };
  }
  return { ok: true };
}

function resolveEnv(list, envFrom, ctx, field) {
  const env = [];
  const lookup = (kind, ref, key, f) => {
    const obj = ctx.objects.get(`${kind}/${ctx.namespace}/${ref?.name}`);
    if (!obj) {
      if (ref?.optional) return undefined;
      throw new PlanError(ctx.file, f, `${kind} ${ctx.namespace}/${ref?.name} is not among the inputs`);
    }
    const all = { ...(obj.data ?? {}) };
    if (kind === 'Secret') {
      for (const [k, v] of Object.entries(all)) all[k] = Buffer.from(String(v), 'base64').toString('utf8');
      Object.assign(all, obj.stringData ?? {});
    }
    if (key === undefined) return all;
    if (!(key in all)) {
      if (ref?.optional) return undefined;
      throw new PlanError(ctx.file, f, `${kind} ${ctx.namespace}/${ref.name} has no key ${key}`);
    }
    return String(all[key]);
  };
  (envFrom ?? []).forEach((e, i) => {
    const f = `${field}.envFrom[${i}]`;
    const kind = e.configMapRef ? 'ConfigMap' : e.secretRef ? 'Secret' : undefined;
    if (!kind) throw new PlanError(ctx.file, f, 'only configMapRef and secretRef are translated');
    const all = lookup(kind, e.configMapRef ?? e.secretRef, undefined, f) ?? {};
    for (const [k, v] of Object.entries(all)) env.push([`${e.prefix ?? ''}${k}`, String(v)]);
  });
  (list ?? []).forEach((e, i) => {
    const f = `${field}.env[${i}]`;
    if (!e.valueFrom) {
      env.push([e.name, String(e.value ?? '')]);
      return;
    }
    const v = e.valueFrom;
    let value;
    if (v.configMapKeyRef) value = lookup('ConfigMap', v.configMapKeyRef, v.configMapKeyRef.key, f);
    else if (v.secretKeyRef) value = lookup('Secret', v.secretKeyRef, v.secretKeyRef.key, f);
    else if (v.fieldRef?.fieldPath === 'metadata.name') value = ctx.podName;
    else if (v.fieldRef?.fieldPath === 'metadata.namespace') value = ctx.namespace;
    else
      throw new PlanError(
        ctx.file,
        `${f}.valueFrom`,
        'only configMapKeyRef, secretKeyRef and fieldRef metadata.name/namespace are translated',
      );
    if (value !== undefined) env.push([e.name, value]);
  });
  return env;
}

function userOf(podSc, sc) {
  const uid = sc?.runAsUser ?? podSc?.runAsUser;
  const gid = sc?.runAsGroup ?? podSc?.runAsGroup;
  if (uid === undefined) return undefined;
  return gid === undefined ? String(uid) : `${uid}:${gid}`;
}

function containerSpec(c, i, kind, ctx, podSpec) {
  const field = `${ctx.templateField}.${kind}[${i}]`;
  if (typeof c.image !== 'string') throw new PlanError(ctx.file, `${field}.image`, 'missing');
  const mounts = (c.volumeMounts ?? []).map((m, j) => {
    if (!ctx.volumes.has(m.name)) {
      throw new PlanError(ctx.file, `${field}.volumeMounts[${j}]`, `no emptyDir volume "${m.name}"`);
    }
    if (m.subPath) throw new PlanError(ctx.file, `${field}.volumeMounts[${j}].subPath`, 'not translated');
    return { volume: m.name, path: m.mountPath, readOnly: m.readOnly === true };
  });
  const probe = c.startupProbe;
  if (probe && !probe.exec?.command) {
    throw new PlanError(ctx.file, `${field}.startupProbe`, 'only exec probes are translated');
  }
  const sidecar = kind === 'initContainers' && c.restartPolicy === 'Always';
  return {
    name: c.name,
    image: c.image,
    ...(c.command ? { entrypoint: c.command.map(String) } : {}),
    ...(c.args ? { args: c.args.map(String) } : {}),
    env: resolveEnv(c.env, c.envFrom, ctx, field),
    capAdd: [...(c.securityContext?.capabilities?.add ?? [])].map(String),
    privileged: c.securityContext?.privileged === true,
    ...(userOf(podSpec.securityContext, c.securityContext)
      ? { user: userOf(podSpec.securityContext, c.securityContext) }
      : {}),
    mounts,
    ports: (c.ports ?? []).map((p) => p.containerPort),
    kind: kind === 'initContainers' ? (sidecar ? 'sidecar' : 'init') : 'app',
    ...(probe
      ? {
          startupProbe: {
            command: probe.exec.command.map(String),
            initialDelaySeconds: probe.initialDelaySeconds ?? 0,
            periodSeconds: probe.periodSeconds ?? 10,
            failureThreshold: probe.failureThreshold ?? 3,
          },
        }
      : {}),
  };
}

const selects = (selector, labels) =>
  isObject(selector) &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/**
 * The pods of the resources, in start order (the Coordinator first).
 * @param {{ file: string; obj: any }[]} resources
 */
export function planPods(resources) {
  const objects = new Map();
  for (const { obj } of resources) {
    if (obj.kind === 'ConfigMap' || obj.kind === 'Secret') {
      objects.set(`${obj.kind}/${obj.metadata?.namespace ?? 'default'}/${obj.metadata?.name}`, obj);
    }
  }
  const services = resources.filter((r) => r.obj.kind === 'Service').map((r) => r.obj);
  const pods = [];
  for (const { file, obj } of resources) {
    const template = podTemplateOf(obj);
    if (!template) continue;
    const namespace = obj.metadata?.namespace ?? 'default';
    const name = obj.metadata?.name;
    const spec = template.spec ?? {};
    const policy = podPolicy(template, file);
    const volumes = new Map();
    (spec.volumes ?? []).forEach((v, i) => {
      if (!v.emptyDir) {
        throw new PlanError(
          file,
          `${template.field}.volumes[${i}]`,
          `only emptyDir volumes are translated ("${v.name}")`,
        );
      }
      volumes.set(v.name, { name: v.name, medium: v.emptyDir.medium ?? '' });
    });
    const labels = template.metadata?.labels ?? {};
    const aliases = services
      .filter((s) => (s.metadata?.namespace ?? 'default') === namespace && selects(s.spec?.selector, labels))
      .flatMap((s) => {
        const n = s.metadata.name;
        return [n, `${n}.${namespace}`, `${n}.${namespace}.svc`, `${n}.${namespace}.svc.cluster.local`];
      });
    const replicas = obj.kind === 'Pod' || obj.kind === 'Job' ? 1 : (obj.spec?.replicas ?? 1);
    for (let i = 0; i < replicas; i++) {
      const podName = obj.kind === 'Pod' ? name : `${name}-${i}`;
      const ctx = { file, namespace, podName, objects, volumes, templateField: template.field };
      const initContainers = (spec.initContainers ?? []).map((c, j) =>
        containerSpec(c, j, 'initContainers', ctx, spec),
      );
      const containers = (spec.containers ?? []).map((c, j) => containerSpec(c, j, 'containers', ctx, spec));
      pods.push({
        name: podName,
        namespace,
        workload: { kind: obj.kind, name, file },
        replica: i,
        role:
          template.metadata?.annotations?.[ROLE_ANNOTATION] === 'coordinator' ? 'coordinator' : 'workload',
        aliases,
        policy,
        volumes: [...volumes.values()],
        initContainers,
        containers,
      });
    }
  }
  return pods.sort((a, b) => (a.role === b.role ? 0 : a.role === 'coordinator' ? -1 : 1));
}

const setEnv = (c, pairs) => {
  const keys = new Set(pairs.map(([k]) => k));
  c.env = [...c.env.filter(([k]) => !keys.has(k)), ...pairs];
};

/**
 * The e2e's stand-in for the TEE, applied to the planned pods (never to what `generate` wrote):
 * - the initializer container (no configfs-tsm here) gets the simulator platform's issuer,
 *   binding its pod's initdata digest as HOST_DATA / MRCONFIGID as the Kata runtime would
 *   (CONTRAST_ISSUER=simulated-<tee>, CONTRAST_FAKE_POLICY_HASH, CONTRAST_ALLOW_INSECURE_RUNTIMES=1),
 *   the simulator's trust directory (CONTRAST_SIMULATOR_DIR, a bind mount; it also verifies the
 *   Coordinator's simulated evidence) and a deadline, so that a broken run ends;
 * - the Coordinator the same issuer and trust directory, a directory store on a volume
 *   (CONTRAST_STORE=dir: there are no ConfigMaps without a Kubernetes API) and no peers.
 * NET_ADMIN for the initializer's traffic rules and the mesh sidecar's privileges are what
 * generate wrote; nothing is added.
 * @param {ReturnType<typeof planPods>} pods
 * @param {{ tee: 'snp' | 'tdx'; deadlineSeconds: number }} options
 */
export function simulatedTee(pods, { tee, deadlineSeconds }) {
  const issuer = [
    ['CONTRAST_ISSUER', `simulated-${tee}`],
    ['CONTRAST_ALLOW_INSECURE_RUNTIMES', '1'],
    ['CONTRAST_SIMULATOR_DIR', SIMULATOR_MOUNT],
  ];
  for (const pod of pods) {
    const hostData = [['CONTRAST_FAKE_POLICY_HASH', pod.policy.digest]];
    for (const c of [...pod.initContainers, ...pod.containers]) {
      if (pod.role === 'coordinator' || c.name === INITIALIZER) {
        setEnv(c, [...issuer, ...hostData]);
        c.simulator = true;
      }
      if (c.name === INITIALIZER) setEnv(c, [['CONTRAST_DEADLINE_SECONDS', String(deadlineSeconds)]]);
      if (pod.role === 'coordinator') {
        setEnv(c, [
          ['CONTRAST_STORE', 'dir'],
          ['CONTRAST_STORE_DIR', COORDINATOR_STORE],
          ['CONTRAST_PEERS', 'off'],
        ]);
        c.store = COORDINATOR_STORE;
      }
    }
  }
  return pods;
}

/** The reference podman takes: the tag dropped from `repo:tag@sha256:…` (podman refuses a tag and a digest together). */
export const podmanRef = (ref) => ref.replace(/^(.*\/[^/:@]+):[\w.-]+@/, '$1@');

/** Podman's names for a pod's objects, under the run's prefix. */
export function podmanNames(prefix, pod) {
  const base = `${prefix}-${pod.namespace}-${pod.name}`;
  return {
    pod: base,
    container: (c) => `${base}-${c.name}`,
    volume: (v) => `${base}-${v}`,
    store: `${base}-store`,
  };
}

/**
 * `podman pod create` arguments for a pod: its network with the Services' aliases, its host name,
 * the ports published on 127.0.0.1 (`publish`: container port -> host port).
 */
export function podCreateArgs(prefix, pod, { network, label, publish = new Map(), infraImage }) {
  const names = podmanNames(prefix, pod);
  const args = ['pod', 'create', '--name', names.pod, '--label', label, '--hostname', pod.name];
  args.push('--network', network);
  for (const a of pod.aliases) args.push('--network-alias', a);
  for (const [container, host] of publish) args.push('--publish', `127.0.0.1:${host}:${container}`);
  if (infraImage) args.push('--infra-image', infraImage);
  return args;
}

/**
 * `podman run` arguments for one container of a pod (detached; the caller waits).
 * `simulatorDir`: the host's trust directory, bind-mounted where {@link simulatedTee} said.
 */
export function containerRunArgs(prefix, pod, c, { label, simulatorDir }) {
  const names = podmanNames(prefix, pod);
  const args = ['run', '--detach', '--pod', names.pod, '--name', names.container(c), '--label', label];
  args.push('--pull', 'never');
  if (c.user) args.push('--user', c.user);
  for (const cap of c.capAdd) args.push('--cap-add', cap);
  if (c.privileged) args.push('--privileged');
  for (const [k, v] of c.env) args.push('--env', `${k}=${v}`);
  for (const m of c.mounts) {
    args.push('--volume', `${names.volume(m.volume)}:${m.path}${m.readOnly ? ':ro' : ''}`);
  }
  if (c.simulator) args.push('--volume', `${simulatorDir}:${SIMULATOR_MOUNT}`);
  // :U gives the store volume to the container's user (the Coordinator runs as 65532).
  if (c.store) args.push('--volume', `${names.store}:${c.store}:U`);
  if (c.entrypoint) args.push('--entrypoint', JSON.stringify(c.entrypoint));
  args.push(c.image);
  if (c.args) args.push(...c.args);
  return args;
}

// ------------------------------------------------------------------------------------------------
// the negative runs

export const BREAKS = ['image-swap', 'no-initializer', 'kill-coordinator'];

/**
 * Breaks the patched resources as `--break` asks (the runtime break kill-coordinator changes no
 * file). image-swap: web's app container gets another workload's image (api's, pinned and present
 * in the registry); no-initializer: web's initializer container is removed. The policies stay as
 * generate wrote them, as they would on a cluster where someone edits the YAML afterwards.
 * @returns {string} what was changed
 */
export function breakResources(resources, kind) {
  const workloads = resources.filter((r) => podTemplateOf(r.obj));
  const target =
    workloads.find((r) => r.obj.metadata?.name === 'web') ??
    workloads.find((r) => podTemplateOf(r.obj).metadata?.annotations?.[ROLE_ANNOTATION] !== 'coordinator');
  if (!target) throw new Error('--break: no workload to break');
  const spec = podTemplateOf(target.obj).spec;
  if (kind === 'image-swap') {
    const other = workloads
      .filter((r) => r !== target)
      .flatMap((r) => podTemplateOf(r.obj).spec.containers ?? [])
      .find((c) => c.image !== spec.containers[0].image && !c.image.includes('/coordinator'));
    if (!other) throw new Error('--break image-swap: no other image to swap in');
    const was = spec.containers[0].image;
    spec.containers[0].image = other.image;
    return `${target.file}: ${target.obj.metadata.name}'s container ${spec.containers[0].name}: image ${was} -> ${other.image}`;
  }
  if (kind === 'no-initializer') {
    const before = spec.initContainers?.length ?? 0;
    spec.initContainers = (spec.initContainers ?? []).filter((c) => c.name !== INITIALIZER);
    if (spec.initContainers.length === before)
      throw new Error('--break no-initializer: no initializer to remove');
    return `${target.file}: ${target.obj.metadata.name}: init container ${INITIALIZER} removed`;
  }
  if (kind === 'kill-coordinator')
    return 'the Coordinator container is killed after verify and not restarted';
  throw new Error(`--break: unknown ${kind} (known: ${BREAKS.join(', ')})`);
}
