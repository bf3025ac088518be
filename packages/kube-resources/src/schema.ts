/**
 * Strict shapes of the workload objects `generate` rewrites. Field names are those of the
 * Kubernetes API (v1.34); an unknown or misspelt field is an error, as `kubectl apply
 * --validate=strict` would report it. Values we do not read are only checked to exist.
 * (A small declarative checker: this package does not depend on zod.)
 */

/** A problem at a path relative to the checked object. */
export interface ShapeIssue {
  path: (string | number)[];
  message: string;
}

type Shape =
  | { t: 'any' }
  | { t: 'string'; pattern?: RegExp; hint?: string }
  | { t: 'bool' }
  | { t: 'stringMap' }
  | { t: 'array'; of: Shape; min?: number }
  | { t: 'object'; fields: Record<string, Shape>; required?: readonly string[]; loose?: boolean };

const any: Shape = { t: 'any' };
const str: Shape = { t: 'string' };
const obj = (fields: Record<string, Shape>, required: readonly string[] = [], loose = false): Shape => ({
  t: 'object',
  fields,
  required,
  loose,
});
const arr = (of: Shape, min?: number): Shape => ({ t: 'array', of, min });
const anyOf = (...names: string[]) => Object.fromEntries(names.map((n) => [n, any]));

const ObjectMeta = obj({
  name: str,
  generateName: str,
  namespace: str,
  labels: { t: 'stringMap' },
  annotations: { t: 'stringMap' },
  ...anyOf(
    'uid',
    'resourceVersion',
    'generation',
    'creationTimestamp',
    'deletionTimestamp',
    'deletionGracePeriodSeconds',
    'ownerReferences',
    'finalizers',
    'managedFields',
    'selfLink',
  ),
});

const VolumeMount = obj(
  {
    name: str,
    mountPath: str,
    readOnly: { t: 'bool' },
    ...anyOf('recursiveReadOnly', 'subPath', 'subPathExpr', 'mountPropagation'),
  },
  ['name', 'mountPath'],
);

const EnvVar = obj({ name: str, value: str, valueFrom: any }, ['name']);

/**
 * An image reference as the distribution grammar allows it: `[host[:port]/]path[:tag][@sha256:digest]`,
 * path components lower-case.
 */
const IMAGE_REFERENCE =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$/;

const Container = obj(
  {
    name: str,
    image: { t: 'string', pattern: IMAGE_REFERENCE, hint: 'is not a valid image reference' },
    command: arr(str),
    args: arr(str),
    env: arr(EnvVar),
    volumeMounts: arr(VolumeMount),
    ...anyOf(
      'workingDir',
      'ports',
      'envFrom',
      'resources',
      'resizePolicy',
      'restartPolicy',
      'restartPolicyRules',
      'volumeDevices',
      'livenessProbe',
      'readinessProbe',
      'startupProbe',
      'lifecycle',
      'terminationMessagePath',
      'terminationMessagePolicy',
      'imagePullPolicy',
      'securityContext',
      'stdin',
      'stdinOnce',
      'tty',
    ),
  },
  ['name', 'image'],
);

const PodSpec = obj(
  {
    volumes: arr(obj({ name: str }, ['name'], true)),
    initContainers: arr(Container),
    containers: arr(Container, 1),
    runtimeClassName: str,
    ...anyOf(
      'ephemeralContainers',
      'restartPolicy',
      'terminationGracePeriodSeconds',
      'activeDeadlineSeconds',
      'dnsPolicy',
      'nodeSelector',
      'serviceAccountName',
      'serviceAccount',
      'automountServiceAccountToken',
      'nodeName',
      'hostNetwork',
      'hostPID',
      'hostIPC',
      'shareProcessNamespace',
      'securityContext',
      'imagePullSecrets',
      'hostname',
      'subdomain',
      'affinity',
      'schedulerName',
      'tolerations',
      'hostAliases',
      'priorityClassName',
      'priority',
      'dnsConfig',
      'readinessGates',
      'enableServiceLinks',
      'preemptionPolicy',
      'overhead',
      'topologySpreadConstraints',
      'setHostnameAsFQDN',
      'os',
      'hostUsers',
      'schedulingGates',
      'resourceClaims',
      'resources',
      'hostnameOverride',
    ),
  },
  ['containers'],
);

const PodTemplate = obj({ metadata: ObjectMeta, spec: PodSpec }, ['spec']);

const top = (spec: Shape) =>
  obj({ apiVersion: str, kind: str, metadata: ObjectMeta, spec, status: any }, [
    'apiVersion',
    'kind',
    'metadata',
    'spec',
  ]);
const controller = (...fields: string[]) =>
  top(obj({ template: PodTemplate, ...anyOf(...fields) }, ['template']));

const JOB_FIELDS = [
  'parallelism',
  'completions',
  'activeDeadlineSeconds',
  'podFailurePolicy',
  'successPolicy',
  'backoffLimit',
  'backoffLimitPerIndex',
  'maxFailedIndexes',
  'selector',
  'manualSelector',
  'ttlSecondsAfterFinished',
  'completionMode',
  'suspend',
  'podReplacementPolicy',
  'managedBy',
];

const WORKLOAD_SHAPES: Record<string, Shape> = {
  Pod: top(PodSpec),
  Deployment: controller(
    'replicas',
    'selector',
    'strategy',
    'minReadySeconds',
    'revisionHistoryLimit',
    'paused',
    'progressDeadlineSeconds',
  ),
  StatefulSet: controller(
    'replicas',
    'selector',
    'volumeClaimTemplates',
    'serviceName',
    'podManagementPolicy',
    'updateStrategy',
    'revisionHistoryLimit',
    'minReadySeconds',
    'persistentVolumeClaimRetentionPolicy',
    'ordinals',
  ),
  DaemonSet: controller('selector', 'updateStrategy', 'minReadySeconds', 'revisionHistoryLimit'),
  ReplicaSet: controller('replicas', 'minReadySeconds', 'selector'),
  ReplicationController: controller('replicas', 'minReadySeconds', 'selector'),
  Job: controller(...JOB_FIELDS),
  CronJob: top(
    obj(
      {
        schedule: str,
        jobTemplate: obj(
          {
            metadata: ObjectMeta,
            spec: obj({ template: PodTemplate, ...anyOf(...JOB_FIELDS) }, ['template']),
          },
          ['spec'],
        ),
        ...anyOf(
          'timeZone',
          'startingDeadlineSeconds',
          'concurrencyPolicy',
          'suspend',
          'successfulJobsHistoryLimit',
          'failedJobsHistoryLimit',
        ),
      },
      ['schedule', 'jobTemplate'],
    ),
  ),
};

/** Where the pod template sits inside each workload kind. */
export const POD_TEMPLATE_PATHS: Record<string, readonly string[]> = {
  Pod: [],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `a ${typeof v}`;
}

function check(shape: Shape, value: unknown, path: (string | number)[], out: ShapeIssue[]): void {
  switch (shape.t) {
    case 'any':
      return;
    case 'string':
      if (typeof value !== 'string') out.push({ path, message: `must be a string, got ${typeName(value)}` });
      else if (shape.pattern && !shape.pattern.test(value)) {
        out.push({ path, message: `${shape.hint ?? 'has the wrong format'}: ${JSON.stringify(value)}` });
      }
      return;
    case 'bool':
      if (typeof value !== 'boolean')
        out.push({ path, message: `must be true or false, got ${typeName(value)}` });
      return;
    case 'stringMap':
      if (value === null) return;
      if (typeof value !== 'object' || Array.isArray(value)) {
        out.push({ path, message: `must be a mapping, got ${typeName(value)}` });
        return;
      }
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') {
          out.push({
            path: [...path, k],
            message: `must be a string, got ${typeName(v)} (quote it in YAML)`,
          });
        }
      }
      return;
    case 'array':
      if (value === null && !shape.min) return;
      if (!Array.isArray(value)) {
        out.push({ path, message: `must be a list, got ${typeName(value)}` });
        return;
      }
      if (shape.min && value.length < shape.min)
        out.push({ path, message: `needs at least ${shape.min} entry` });
      value.forEach((v, i) => {
        check(shape.of, v, [...path, i], out);
      });
      return;
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        out.push({ path, message: `must be a mapping, got ${typeName(value)}` });
        return;
      }
      const rec = value as Record<string, unknown>;
      for (const key of shape.required ?? []) {
        if (rec[key] === undefined || rec[key] === null)
          out.push({ path: [...path, key], message: 'is required' });
      }
      for (const [key, v] of Object.entries(rec)) {
        const field = shape.fields[key];
        if (!field) {
          if (!shape.loose) out.push({ path: [...path, key], message: 'unknown field' });
          continue;
        }
        if (v === undefined || (v === null && (field.t !== 'string' || shape.required?.includes(key))))
          continue;
        check(field, v, [...path, key], out);
      }
      return;
    }
  }
}

/** Checks a workload object of a known kind; returns every issue (empty when valid). */
export function checkWorkload(kind: string, value: unknown): ShapeIssue[] {
  const shape = WORKLOAD_SHAPES[kind];
  if (!shape) return [{ path: ['kind'], message: `unsupported workload kind ${kind}` }];
  const out: ShapeIssue[] = [];
  check(shape, value, [], out);
  return out;
}
