import { ContrastError, setOwn } from '@contrast-cc/core';
import type { PolicySettings } from '../settings.js';
import type {
  ConfigInput,
  ContainerPolicy,
  ImageFacts,
  ImageSource,
  PodSpecInput,
  PolicyData,
} from '../types.js';
import { type GuestPullNeeds, guestPullUserProblem, resolveUser } from './user.js';

/** One container whose user/groups guest pull cannot see (see {@link guestPullUserProblem}). */
interface GuestPullFinding {
  field: string;
  container: string;
  image: string;
  needs: GuestPullNeeds;
}

/** One problem of a pod's input, at a field of the pod template (`spec.containers[0]...`). */
export interface PodInputProblem {
  field: string;
  message: string;
  /**
   * A value that resolves the problem, derived from the (digest-pinned) image: setting `value` at
   * `path` (inside the pod template) makes the policy describe what the image says.
   */
  fix?: { path: (string | number)[]; value: unknown; source: string };
}

/**
 * Every problem of one pod's input at once (validation-failed: bad input). `problems` name the
 * field in the pod template and, where the image answers it, the value that fixes it.
 */
export class PodInputError extends ContrastError {
  readonly problems: readonly PodInputProblem[];
  constructor(problems: readonly PodInputProblem[]) {
    super('validation-failed', problems.map((p) => `${p.field}: ${p.message}`).join('\n'), {
      field: problems[0]?.field,
    });
    this.name = 'PodInputError';
    this.problems = problems;
  }
}

/** True for a {@link PodInputError} (also across package copies). */
export function isPodInputError(e: unknown): e is PodInputError {
  return (
    e instanceof ContrastError &&
    e.name === 'PodInputError' &&
    Array.isArray((e as { problems?: unknown }).problems)
  );
}

/**
 * The guest-pull findings of one pod as problems: runAsUser/runAsGroup at the container's
 * securityContext (per image), the missing groups of all containers once at the pod's
 * securityContext.supplementalGroups (a pod-level field), keeping the groups already listed.
 */
function guestPullProblems(findings: readonly GuestPullFinding[], podSc: Obj): PodInputProblem[] {
  const out: PodInputProblem[] = [];
  const why = (f: GuestPullFinding) =>
    `guest pull: the runtime cannot read /etc/passwd and /etc/group of image ${f.image} (container ${JSON.stringify(f.container)})`;
  for (const f of findings) {
    const keys = (['runAsUser', 'runAsGroup'] as const).filter((k) => f.needs[k] !== undefined);
    for (const k of keys) {
      const value = f.needs[k] as number;
      out.push({
        field: `${f.field}.securityContext.${k}`,
        message: `${why(f)}: set ${k}: ${value} (container level, or spec.securityContext.${k} for every container of the pod)`,
        fix: {
          path: [...fieldPath(f.field), 'securityContext', k],
          value,
          source: `the image's ${k === 'runAsUser' ? '/etc/passwd' : '/etc/passwd and /etc/group'}`,
        },
      });
    }
  }
  const have = arr(podSc.supplementalGroups).filter((g): g is number => typeof g === 'number');
  const missing: number[] = [];
  const who: string[] = [];
  for (const f of findings) {
    const add = f.needs.supplementalGroups.filter((g) => !have.includes(g) && !missing.includes(g));
    if (f.needs.supplementalGroups.length > 0) who.push(JSON.stringify(f.container));
    missing.push(...add);
  }
  if (missing.length > 0) {
    const value = [...have, ...missing.sort((a, b) => a - b)];
    out.push({
      field: 'spec.securityContext.supplementalGroups',
      message: `guest pull: the runtime cannot read /etc/group of the images of container${who.length === 1 ? '' : 's'} ${who.join(', ')}: ${have.length > 0 ? 'add' : 'set'} ${missing.join(', ')} (pod level: supplementalGroups: [${value.join(', ')}])`,
      fix: {
        path: ['spec', 'securityContext', 'supplementalGroups'],
        value,
        source: "the images' /etc/group",
      },
    });
  }
  return out;
}

/** `spec.containers[1]` -> `['spec', 'containers', 1]`. */
function fieldPath(field: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of field.matchAll(/([^.[\]]+)|\[(\d+)\]/g))
    out.push(m[2] !== undefined ? Number(m[2]) : (m[1] as string));
  return out;
}

type Obj = Record<string, unknown>;

/** Kubernetes' generateName suffix alphabet (k8s.io/apimachinery util/rand). */
export const GENERATE_NAME_SUFFIX_REGEX = '[bcdfghjklmnpqrstvwxz2456789]+';

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function obj(v: unknown): Obj {
  return isObj(v) ? v : {};
}
function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
function num(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n)) {
    throw new ContrastError('validation-failed', `expected an integer, got ${JSON.stringify(v)}`, { field });
  }
  return n;
}
function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}
export function regexEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** containerd's default mounts for a non-pause container (CRI defaults + the cgroup mount). */
function containerdMounts(privileged: boolean): Obj[] {
  const sys = privileged ? 'rw' : 'ro';
  return [
    { destination: '/proc', source: 'proc', type_: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      source: 'tmpfs',
      type_: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      source: 'devpts',
      type_: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/dev/mqueue', source: 'mqueue', type_: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', source: 'sysfs', type_: 'sysfs', options: ['nosuid', 'noexec', 'nodev', sys] },
    {
      destination: '/sys/fs/cgroup',
      source: 'cgroup',
      type_: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', sys],
    },
  ];
}

const CONTAINERD_MASKED = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
];
const CONTAINERD_READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface PolicyDataInput {
  pod: PodSpecInput;
  kind: string;
  images: ImageSource;
  settings: PolicySettings;
  configMaps?: ConfigInput[] | undefined;
  secrets?: ConfigInput[] | undefined;
  /**
   * Containers (by name, in this order) that must be created and started before the pod's other
   * containers: `contrast generate` passes the initializer and the service-mesh sidecar it
   * injected. Each of them requires the ones before it; every other container requires all.
   */
  startFirst?: readonly string[] | undefined;
  /**
   * Require every env variable the spec sets to be present (`env_required`). Default true. Kata's
   * rules do not (upstream's "absence of events" limitation); the Kata conformance harness turns
   * it off to check parity with them.
   */
  specEnvPresence?: boolean | undefined;
}

/** The sandbox-name regex per workload kind (generated names for controllers). */
export function sandboxNameRegex(kind: string, pod: PodSpecInput): string {
  const s = GENERATE_NAME_SUFFIX_REGEX;
  const name = pod.metadata?.name;
  const gen = pod.metadata?.generateName;
  switch (kind) {
    case 'Pod':
      if (name) return `^${regexEscape(name)}$`;
      if (gen) return `^${regexEscape(gen)}${s}$`;
      throw new ContrastError('validation-failed', 'a Pod needs metadata.name or metadata.generateName', {
        field: 'metadata.name',
      });
    case 'Deployment':
      return `^${regexEscape(name ?? '')}-${s}-${s}$`;
    case 'ReplicaSet':
    case 'ReplicationController':
    case 'DaemonSet':
    case 'Job':
      return `^${regexEscape(name ?? '')}-${s}$`;
    case 'CronJob':
      return `^${regexEscape(name ?? '')}-[0-9]+-${s}$`;
    case 'StatefulSet':
      return `^${regexEscape(name ?? '')}-[0-9]+$`;
    default:
      throw new ContrastError('invalid-argument', `unsupported workload kind ${JSON.stringify(kind)}`, {
        field: 'kind',
      });
  }
}

function addTag(image: string): string {
  const lastSlash = image.lastIndexOf('/');
  const tail = image.slice(lastSlash + 1);
  if (tail.includes(':') || tail.includes('@')) return image;
  return `${image}:latest`;
}

interface EnvContext {
  pod: PodSpecInput;
  namespace: string;
  configMaps: ConfigInput[];
  secrets: ConfigInput[];
}

function findConfig(
  list: ConfigInput[],
  name: string,
  kind: string,
  field: string,
  optional: boolean,
): Obj | undefined {
  const found = list.find((c) => c.metadata.name === name);
  if (!found) {
    if (optional) return undefined;
    throw new ContrastError('not-found', `${kind} ${JSON.stringify(name)} was not given as input`, { field });
  }
  const data: Obj = { ...(found.data ?? {}) };
  if (kind === 'Secret') {
    for (const [k, v] of Object.entries(found.data ?? {}))
      setOwn(data, k, Buffer.from(v, 'base64').toString('utf8'));
    for (const [k, v] of Object.entries(found.stringData ?? {})) setOwn(data, k, v);
  } else {
    for (const [k, v] of Object.entries(found.binaryData ?? {}))
      setOwn(data, k, Buffer.from(v, 'base64').toString('utf8'));
  }
  return data;
}

function fieldRefValue(path: string, ctx: EnvContext, field: string): string {
  const md = ctx.pod.metadata ?? {};
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (m) {
    const map = (m[1] === 'labels' ? md.labels : md.annotations) ?? {};
    return map[m[2] as string] ?? '';
  }
  switch (path) {
    case 'metadata.name':
      return '$(sandbox-name)';
    case 'metadata.namespace':
      return ctx.namespace;
    case 'metadata.uid':
      return '$(pod-uid)';
    case 'spec.nodeName':
      return '$(node-name)';
    case 'spec.serviceAccountName':
      return str(ctx.pod.spec.serviceAccountName) ?? 'default';
    case 'status.podIP':
    case 'status.podIPs':
      return '$(pod-ip)';
    case 'status.hostIP':
    case 'status.hostIPs':
      return '$(host-ip)';
    default:
      throw new ContrastError('validation-failed', `unsupported fieldRef.fieldPath ${JSON.stringify(path)}`, {
        field,
      });
  }
}

function substituteVars(s: string, env: Map<string, string>): string {
  // Kubernetes $(VAR) expansion: $$ escapes, unknown references stay as written.
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (all, name: string | undefined) => {
    if (all === '$$') return '$';
    if (name !== undefined && env.has(name)) return env.get(name) as string;
    return all;
  });
}

/**
 * The container's environment as the runtime passes it (image env, HOSTNAME, envFrom, env, TERM);
 * the names the spec itself sets (env, envFrom) are added to `specNames`.
 */
function containerEnv(
  c: Obj,
  facts: ImageFacts,
  ctx: EnvContext,
  field: string,
  tty: boolean,
  specNames: Set<string>,
): string[] {
  const out: string[] = [];
  const values = new Map<string, string>();
  const fromSpec = (name: string, value: string): void => {
    specNames.add(name);
    push(name, value);
  };
  const push = (name: string, value: string): void => {
    const i = out.findIndex((e) => e.startsWith(`${name}=`));
    if (i >= 0) out.splice(i, 1);
    out.push(`${name}=${value}`);
    values.set(name, value);
  };
  const imageEnv = facts.config.Env ?? [DEFAULT_PATH];
  for (const e of imageEnv) {
    const eq = e.indexOf('=');
    push(eq < 0 ? e : e.slice(0, eq), eq < 0 ? '' : e.slice(eq + 1));
  }
  push('HOSTNAME', '$(host-name)');
  arr(c.envFrom).forEach((ef, i) => {
    const f = `${field}.envFrom[${i}]`;
    const e = obj(ef);
    const prefix = str(e.prefix) ?? '';
    const cm = obj(e.configMapRef);
    const sec = obj(e.secretRef);
    const data = cm.name
      ? findConfig(
          ctx.configMaps,
          String(cm.name),
          'ConfigMap',
          `${f}.configMapRef.name`,
          cm.optional === true,
        )
      : sec.name
        ? findConfig(ctx.secrets, String(sec.name), 'Secret', `${f}.secretRef.name`, sec.optional === true)
        : undefined;
    for (const [k, v] of Object.entries(data ?? {})) fromSpec(`${prefix}${k}`, String(v));
  });
  arr(c.env).forEach((ev, i) => {
    const f = `${field}.env[${i}]`;
    const e = obj(ev);
    const name = str(e.name);
    if (!name) throw new ContrastError('validation-failed', 'env entry needs a name', { field: `${f}.name` });
    if (e.valueFrom === undefined) {
      fromSpec(name, substituteVars(str(e.value) ?? '', values));
      return;
    }
    const vf = obj(e.valueFrom);
    if (vf.fieldRef)
      fromSpec(name, fieldRefValue(String(obj(vf.fieldRef).fieldPath), ctx, `${f}.valueFrom.fieldRef`));
    else if (vf.resourceFieldRef) fromSpec(name, '$(resource-field)');
    else if (vf.configMapKeyRef || vf.secretKeyRef) {
      const isCm = Boolean(vf.configMapKeyRef);
      const ref = obj(isCm ? vf.configMapKeyRef : vf.secretKeyRef);
      const data = findConfig(
        isCm ? ctx.configMaps : ctx.secrets,
        String(ref.name),
        isCm ? 'ConfigMap' : 'Secret',
        `${f}.valueFrom.${isCm ? 'configMapKeyRef' : 'secretKeyRef'}.name`,
        ref.optional === true,
      );
      const v = data?.[String(ref.key)];
      if (v !== undefined) fromSpec(name, String(v));
    } else {
      throw new ContrastError('validation-failed', 'unsupported env valueFrom', { field: `${f}.valueFrom` });
    }
  });
  if (tty) push('TERM', 'xterm');
  return out;
}

function execCommands(c: Obj): string[][] {
  const out: string[][] = [];
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    const cmd = arr(obj(obj(c[probe]).exec).command);
    if (cmd.length > 0) out.push(cmd.map(String));
  }
  const lc = obj(c.lifecycle);
  for (const hook of ['postStart', 'preStop']) {
    const cmd = arr(obj(obj(lc[hook]).exec).command);
    if (cmd.length > 0) out.push(cmd.map(String));
  }
  return out;
}

function capabilities(sc: Obj, privileged: boolean, common: Obj): Obj {
  let caps: string[] = privileged
    ? [...(arr(common.privileged_caps) as string[])]
    : [...(arr(common.default_caps) as string[])];
  const c = obj(sc.capabilities);
  const norm = (x: unknown): string => {
    const s = String(x).toUpperCase();
    return s.startsWith('CAP_') ? s : `CAP_${s}`;
  };
  const drop = arr(c.drop).map(norm);
  if (drop.includes('CAP_ALL')) caps = [];
  else caps = caps.filter((x) => !drop.includes(x));
  for (const a of arr(c.add).map(norm)) {
    if (a === 'CAP_ALL') caps = [...(arr(common.privileged_caps) as string[])];
    else if (!caps.includes(a)) caps.push(a);
  }
  return { Ambient: [], Bounding: caps, Effective: caps, Inheritable: [], Permitted: caps };
}

interface VolumeResult {
  mounts: Obj[];
  storages: Obj[];
}

function volumeMounts(
  c: Obj,
  spec: Obj,
  settings: PolicySettings,
  field: string,
  ctx: EnvContext,
): VolumeResult {
  const volumes = arr(spec.volumes).map(obj);
  const templates = obj(settings.volumes);
  const cluster = obj(settings.cluster_config);
  const mounts: Obj[] = [];
  const storages: Obj[] = [];
  const fsGroup = obj(spec.securityContext).fsGroup;
  const fsGroupSpec = typeof fsGroup === 'number' ? { group_id: fsGroup, group_change_policy: 0 } : null;
  arr(c.volumeMounts).forEach((vmRaw, i) => {
    const vm = obj(vmRaw);
    const f = `${field}.volumeMounts[${i}]`;
    const name = str(vm.name);
    const vol = volumes.find((v) => v.name === name);
    if (!vol) {
      throw new ContrastError(
        'validation-failed',
        `volumeMount refers to unknown volume ${JSON.stringify(name)}`,
        {
          field: `${f}.name`,
        },
      );
    }
    const dest = str(vm.mountPath) ?? '';
    const ro = vm.readOnly === true;
    // Kata bind-mounts volumes rprivate inside the guest whatever the requested propagation.
    const propagation = 'rprivate';
    if (vol.emptyDir !== undefined) {
      const medium = str(obj(vol.emptyDir).medium);
      const type = str(cluster.emptydir_type) ?? 'shared-fs';
      if (medium === 'Memory') {
        const t = obj(templates.emptyDir_memory);
        mounts.push({
          destination: dest,
          source: `${t.mount_source}${name}$`,
          type_: t.mount_type,
          options: ['rbind', propagation, ro ? 'ro' : 'rw'],
        });
      } else if (type === 'block-encrypted' || type === 'block-plain') {
        const t = obj(templates[type === 'block-encrypted' ? 'emptyDir_encrypted' : 'emptyDir_plain']);
        mounts.push({
          destination: dest,
          source: `^${t.mount_point}$`,
          type_: t.mount_type,
          options: ['rbind', propagation, ro ? 'ro' : 'rw'],
        });
        if (!storages.some((s) => s.volume_name === name)) {
          storages.push({
            driver: 'blk',
            driver_options: t.driver_options,
            source: '^[0-9]+/[0-9]+$',
            fstype: t.fstype,
            options: t.options,
            mount_point: `^${t.mount_point}$`,
            fs_group: fsGroupSpec,
            shared: t.shared,
            volume_name: name,
          });
        }
      } else {
        const t = obj(templates.emptyDir);
        mounts.push({
          destination: dest,
          source: `${t.mount_source}${name}$`,
          type_: 'local',
          options: ['rbind', propagation, ro ? 'ro' : 'rw'],
        });
      }
    } else if (
      vol.configMap !== undefined ||
      vol.secret !== undefined ||
      vol.projected !== undefined ||
      vol.downwardAPI !== undefined
    ) {
      const t = obj(templates.configMap);
      mounts.push({
        destination: dest,
        source: `${t.mount_source}${regexEscape(name ?? '')}$`,
        type_: 'bind',
        options: ['rbind', 'rprivate', 'ro'],
      });
    } else if (vol.hostPath !== undefined) {
      const hp = obj(vol.hostPath);
      mounts.push({
        destination: dest,
        source: `^$(cpath)/$(bundle-id)-[a-z0-9]{16}-${regexEscape(
          String(hp.path ?? '')
            .split('/')
            .pop() ?? '',
        )}$`,
        type_: 'bind',
        options: ['rbind', propagation, ro ? 'ro' : 'rw'],
      });
    } else if (vol.persistentVolumeClaim !== undefined || vol.ephemeral !== undefined) {
      mounts.push({
        destination: dest,
        source: '^$(spath)/',
        type_: 'bind',
        options: ['rbind', propagation, ro ? 'ro' : 'rw'],
      });
    } else {
      throw new ContrastError(
        'validation-failed',
        `unsupported volume type in volume ${JSON.stringify(name)}`,
        {
          field: `spec.volumes[${volumes.indexOf(vol)}]`,
        },
      );
    }
  });
  void ctx;
  return { mounts, storages };
}

/**
 * The raw block devices of a container (`volumeDevices`) as the agent sees them in a
 * CreateContainerRequest: one OCI `Linux.Devices` entry (`Path` = `devicePath`, `Type` "b") and
 * one agent `devices` entry (`container_path` = `devicePath`) each. Major and minor numbers are the
 * host's (the runtime hot-plugs the device, the agent rewrites them to the guest's), so the policy
 * binds path and type only. Each device must name a volume of the pod (claim templates included)
 * and a path no other device of the container uses.
 */
function blockDevices(c: Obj, spec: Obj, field: string): { linux: Obj[]; agent: Obj[] } {
  const volumes = new Set(arr(spec.volumes).map((v) => str(obj(v).name)));
  const linux: Obj[] = [];
  const agent: Obj[] = [];
  arr(c.volumeDevices).forEach((raw, i) => {
    const d = obj(raw);
    const f = `${field}.volumeDevices[${i}]`;
    const name = str(d.name);
    if (!name || !volumes.has(name)) {
      throw new ContrastError(
        'validation-failed',
        `volumeDevices: ${JSON.stringify(name ?? '')} is not a volume of the pod`,
        { field: `${f}.name` },
      );
    }
    const path = str(d.devicePath);
    if (!path?.startsWith('/dev/') || path.includes('..')) {
      throw new ContrastError('validation-failed', 'volumeDevices: devicePath must be a path under /dev/', {
        field: `${f}.devicePath`,
      });
    }
    if (linux.some((l) => l.Path === path)) {
      throw new ContrastError('validation-failed', `volumeDevices: ${path} is used twice`, {
        field: `${f}.devicePath`,
      });
    }
    linux.push({ Path: path, Type: 'b' });
    agent.push({ container_path: path });
  });
  return { linux, agent };
}

function mergeMounts(base: Obj[], extra: Obj[]): Obj[] {
  const out = base.filter((m) => !extra.some((e) => e.destination === m.destination));
  return [...out, ...extra];
}

async function containerPolicy(
  input: PolicyDataInput,
  c: Obj,
  field: string,
  isPause: boolean,
  pauseImage: string,
  sandboxName: string,
  namespace: string,
  guestPull?: GuestPullFinding[],
): Promise<ContainerPolicy> {
  const settings = input.settings;
  const common = obj(settings.common);
  const spec = input.pod.spec;
  const image = isPause ? pauseImage : str(c.image);
  if (!image)
    throw new ContrastError('validation-failed', 'container needs an image', { field: `${field}.image` });
  const podScForUsers = obj(spec.securityContext);
  const scForUsers = obj(c.securityContext);
  const users =
    (scForUsers.runAsUser ?? podScForUsers.runAsUser) !== undefined &&
    (scForUsers.runAsGroup ?? podScForUsers.runAsGroup) === undefined;
  const facts = await input.images.resolve(image, { users });
  // A pinned image: the facts must describe exactly that digest (the policy binds it).
  const at = image.indexOf('@');
  if (!isPause && at > 0 && facts.digest !== image.slice(at + 1)) {
    throw new ContrastError(
      'validation-failed',
      `container ${JSON.stringify(c.name)}: the image is pinned to ${image.slice(at + 1)}, but ${image.slice(0, at)} resolves to ${facts.digest}`,
      { field: `${field}.image` },
    );
  }
  const podSc = obj(spec.securityContext);
  const sc = obj(c.securityContext);
  const privileged = !isPause && sc.privileged === true;
  const template = clone(obj(isPause ? settings.pause_container : settings.other_container));
  const ctx: EnvContext = {
    pod: input.pod,
    namespace,
    configMaps: input.configMaps ?? [],
    secrets: input.secrets ?? [],
  };

  // Args: command(+args), else Entrypoint + args, else Entrypoint + Cmd.
  let args: string[];
  const specEnvNames = new Set<string>();
  const envList = isPause
    ? (facts.config.Env ?? [DEFAULT_PATH])
    : containerEnv(c, facts, ctx, field, c.tty === true, specEnvNames);
  const envMap = new Map(envList.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  if (isPause) args = [...(facts.config.Entrypoint ?? []), ...(facts.config.Cmd ?? [])];
  else {
    const command = arr(c.command).map(String);
    const cargs = arr(c.args).map(String);
    if (command.length > 0) args = [...command, ...cargs];
    else if (cargs.length > 0) args = [...(facts.config.Entrypoint ?? []), ...cargs];
    else args = [...(facts.config.Entrypoint ?? []), ...(facts.config.Cmd ?? [])];
    args = args.map((a) => substituteVars(a, envMap));
  }
  if (isPause && template.Process && Array.isArray(obj(template.Process).Args) && args.length === 0) {
    args = arr(obj(template.Process).Args).map(String);
  }

  const user = resolveUser({
    imageUser: facts.config.User,
    passwd: facts.passwd,
    group: facts.group,
    // The pause container takes the pod-level runAsUser/runAsGroup (sc is empty for it).
    runAsUser: num(sc.runAsUser ?? podSc.runAsUser, `${field}.securityContext.runAsUser`),
    runAsGroup: num(sc.runAsGroup ?? podSc.runAsGroup, `${field}.securityContext.runAsGroup`),
    supplementalGroups: isPause
      ? undefined
      : arr(podSc.supplementalGroups).map(
          (g, i) => num(g, `spec.securityContext.supplementalGroups[${i}]`) as number,
        ),
    fsGroup: isPause ? undefined : num(podSc.fsGroup, 'spec.securityContext.fsGroup'),
    field: `${field}.image`,
  });

  if (!isPause && obj(settings.cluster_config).guest_pull === true) {
    const needed = guestPullUserProblem({
      imageUser: facts.config.User,
      passwd: facts.passwd,
      group: facts.group,
      runAsUser: num(sc.runAsUser ?? podSc.runAsUser, `${field}.securityContext.runAsUser`),
      runAsGroup: num(sc.runAsGroup ?? podSc.runAsGroup, `${field}.securityContext.runAsGroup`),
      supplementalGroups: arr(podSc.supplementalGroups).map(
        (g, i) => num(g, `spec.securityContext.supplementalGroups[${i}]`) as number,
      ),
      fsGroup: num(podSc.fsGroup, 'spec.securityContext.fsGroup'),
      field: `${field}.securityContext`,
    });
    if (needed) guestPull?.push({ field, container: String(c.name), image, needs: needed });
  }

  const process: Obj = {
    Terminal: !isPause && c.tty === true,
    User: user,
    Args: args,
    Env: envList,
    Cwd: facts.config.WorkingDir || '/',
    Capabilities: capabilities(sc, privileged, common),
    NoNewPrivileges: isPause ? true : sc.allowPrivilegeEscalation === false,
  };

  const vols = isPause ? { mounts: [], storages: [] } : volumeMounts(c, spec, settings, field, ctx);
  const blocks = isPause ? { linux: [], agent: [] } : blockDevices(c, spec, field);
  const templateMounts = arr(template.Mounts)
    .map(obj)
    .map((m) =>
      m.source === undefined
        ? { ...m, source: `$(sfprefix)${regexEscape(String(m.destination).split('/').pop() ?? '')}$` }
        : m,
    )
    .map((m) => {
      const options = arr(m.options).map(String);
      if (
        isPause ||
        m.type_ !== 'bind' ||
        options.includes('ro') ||
        options.includes('rw') ||
        options.length === 1
      )
        return m;
      return { ...m, options: [...options, 'rw'] };
    });
  template.Mounts = templateMounts;
  let mounts = mergeMounts(containerdMounts(privileged), arr(template.Mounts).map(obj));
  mounts = mergeMounts(mounts, vols.mounts);
  if (!isPause) {
    for (const dest of Object.keys(facts.config.Volumes ?? {})) {
      if (mounts.some((m) => m.destination === dest)) continue;
      const t = obj(obj(settings.volumes).image_volume);
      mounts.push({
        destination: dest,
        source: `${t.mount_source}${regexEscape(dest.split('/').pop() ?? '')}$`,
        type_: t.mount_type,
        options: t.options,
      });
    }
  }

  const annotations: Obj = { ...obj(template.Annotations) };
  for (const [k, v] of Object.entries(input.pod.metadata?.annotations ?? {})) {
    if (
      k === 'io.katacontainers.config.hypervisor.cc_init_data' ||
      k === 'io.katacontainers.config.agent.policy'
    )
      continue;
    setOwn(annotations, k, v);
  }
  annotations['io.kubernetes.cri.sandbox-name'] = sandboxName;
  // No namespace in the YAML: the workload may run in any namespace (recorded in state on first use).
  annotations['io.kubernetes.cri.sandbox-namespace'] =
    input.pod.metadata?.namespace === undefined ? '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' : namespace;
  if (!isPause) {
    annotations['io.kubernetes.cri.container-name'] = String(c.name ?? '');
    annotations['io.kubernetes.cri.image-name'] = addTag(image);
  } else {
    annotations['nerdctl/network-namespace'] =
      '^/var/run/netns/cni-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
  }
  const sortedAnno: Obj = {};
  for (const k of Object.keys(annotations).sort()) setOwn(sortedAnno, k, annotations[k]);

  const tLinux = obj(template.Linux);
  const sysctl: Obj = { ...obj(tLinux.Sysctl) };
  arr(podSc.sysctls).forEach((s) => {
    const o = obj(s);
    setOwn(sysctl, String(o.name), String(o.value));
  });
  const linux: Obj = {
    Namespaces: [
      { Type: 'ipc', Path: '' },
      { Type: 'uts', Path: '' },
      { Type: 'mount', Path: '' },
    ],
    MaskedPaths: isPause ? arr(tLinux.MaskedPaths) : privileged ? [] : CONTAINERD_MASKED,
    ReadonlyPaths: isPause ? arr(tLinux.ReadonlyPaths) : privileged ? [] : CONTAINERD_READONLY,
    Devices: blocks.linux,
    Sysctl: sysctl,
  };
  if (isPause && spec.hostNetwork === true)
    linux.Namespaces = (linux.Namespaces as Obj[]).filter((n) => n.Type !== 'uts');

  const storages: Obj[] = [];
  if (obj(settings.cluster_config).guest_pull === true) {
    storages.push({
      driver: 'image_guest_pull',
      driver_options: [],
      source: isPause ? 'pause' : image,
      fstype: 'overlay',
      options: [],
      mount_point: '$(root_path)',
      fs_group: null,
      shared: false,
    });
  }
  storages.push(...vols.storages);

  const root = obj(template.Root);
  const oci: Obj = {
    Version: obj(settings.kata_config).oci_version ?? '1.1.0',
    Process: process,
    Root: {
      Path: root.Path ?? '$(root_path)',
      Readonly: isPause ? root.Readonly === true : sc.readOnlyRootFilesystem === true,
    },
    Mounts: mounts,
    Annotations: sortedAnno,
    Linux: linux,
  };
  return {
    OCI: oci,
    env_regex: envRegexes(envList, namespace),
    storages,
    devices: blocks.agent,
    sandbox_pidns: false,
    exec_commands: isPause ? [] : execCommands(c),
    gpus: isPause ? 0 : gpuCount(c, settings),
    // As written in the YAML (Contrast semantics): the rules compare the digest part, so the
    // binding is only as strong as the pinning in the YAML (the kube pipeline pins every image
    // by digest before it calls generatePolicy).
    image: isPause ? 'pause' : image,
    source_path: isPause ? 'pause' : field,
    // The variables the spec sets must be present (not only known): a host cannot drop one.
    ...(specEnvNames.size > 0 && input.specEnvPresence !== false ? { env_required: [...specEnvNames] } : {}),
  };
}

const ENV_PLACEHOLDERS: Record<string, string> = {
  '$(pod-ip)': '$(ipv4_a)',
  '$(host-ip)': '$(ipv4_a)',
  '$(node-name)': '$(dns_label)',
  '$(sandbox-name)': '$(dns_label)',
  '$(pod-uid)': '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}',
  '$(resource-field)': '[0-9]+(\\.[0-9]+)?[a-zA-Z]*',
};

/** Regexes for env entries whose values are only known at run time (downward API). */
function envRegexes(env: string[], _namespace: string): string[] {
  const out: string[] = [];
  for (const e of env) {
    if (!Object.keys(ENV_PLACEHOLDERS).some((p) => e.includes(p))) continue;
    let re = regexEscape(e);
    for (const [p, r] of Object.entries(ENV_PLACEHOLDERS)) re = re.split(regexEscape(p)).join(r);
    out.push(`^${re}$`);
  }
  return out;
}

/** GPUs requested through the settings' pass-through resource keys (e.g. nvidia.com/pgpu). */
function gpuCount(c: Obj, settings: PolicySettings): number {
  const keys = arr(obj(obj(obj(settings.devices).vfio).nvidia).pgpu_resource_keys).map(String);
  const res = obj(c.resources);
  let n = 0;
  for (const k of keys) {
    const v = obj(res.limits)[k] ?? obj(res.requests)[k];
    if (v !== undefined) n += Number(v);
  }
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

/** Builds `policy_data` for one pod template. Containers: pause, init containers, app containers. */
export async function buildPolicyData(input: PolicyDataInput): Promise<PolicyData> {
  const { pod, settings } = input;
  if (!isObj(pod.spec))
    throw new ContrastError('validation-failed', 'pod template has no spec', { field: 'spec' });
  const namespace = pod.metadata?.namespace ?? 'default';
  const sandboxName = sandboxNameRegex(input.kind, pod);
  const pauseImage = str(obj(settings.cluster_config).pause_container_image);
  if (!pauseImage) {
    throw new ContrastError('invalid-argument', 'settings lack cluster_config.pause_container_image', {
      field: 'cluster_config.pause_container_image',
    });
  }
  const containers: ContainerPolicy[] = [];
  const guestPull: GuestPullFinding[] = [];
  containers.push(await containerPolicy(input, {}, 'pause', true, pauseImage, sandboxName, namespace));
  for (const [key, list] of [
    ['initContainers', arr(pod.spec.initContainers)],
    ['containers', arr(pod.spec.containers)],
  ] as const) {
    for (let i = 0; i < list.length; i++) {
      containers.push(
        await containerPolicy(
          input,
          obj(list[i]),
          `spec.${key}[${i}]`,
          false,
          pauseImage,
          sandboxName,
          namespace,
          guestPull,
        ),
      );
    }
  }
  if (guestPull.length > 0)
    throw new PodInputError(guestPullProblems(guestPull, obj(pod.spec.securityContext)));
  if (arr(pod.spec.containers).length === 0) {
    throw new ContrastError('validation-failed', 'pod template has no containers', {
      field: 'spec.containers',
    });
  }
  const first = input.startFirst ?? [];
  for (const name of first) {
    if (!arr(pod.spec.initContainers).some((c) => obj(c).name === name)) {
      throw new ContrastError(
        'validation-failed',
        `startFirst names ${JSON.stringify(name)}, which is not an init container`,
        {
          field: 'spec.initContainers',
        },
      );
    }
  }
  for (const c of containers.slice(1)) {
    const name = obj(c.OCI.Annotations)['io.kubernetes.cri.container-name'];
    const at = first.indexOf(String(name));
    const required = at === -1 ? [...first] : first.slice(0, at);
    if (required.length > 0) c.required_started = required;
  }
  return {
    containers,
    common: obj(settings.common),
    sandbox: obj(settings.sandbox),
    request_defaults: obj(settings.request_defaults),
    devices: obj(settings.devices),
    cluster_config: obj(settings.cluster_config),
  };
}
