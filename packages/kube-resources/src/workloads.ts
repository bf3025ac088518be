import type { Platform, PlatformRegistry } from '@contrast-cc/core';
import { isMap, isSeq } from 'yaml';
import { formatKubePath, type ResourceProblem } from './errors.js';
import type { ResourceFile } from './files.js';
import { checkWorkload, POD_TEMPLATE_PATHS } from './schema.js';

/** The runtime class users write to mean "the platform given with --reference-values". */
export const CONTRAST_RUNTIME_CLASS = 'contrast-cc';

/** One workload found in the inputs that `generate` rewrites. */
export interface WorkloadRef {
  file: ResourceFile;
  /** Index of the YAML document in the file. */
  documentIndex: number;
  /** Path of the object inside its document: `[]`, or `['items', 3]` inside a List. */
  objectPath: (string | number)[];
  /** Path of the pod template (metadata + spec) inside the document. */
  podPath: (string | number)[];
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  /** The object as plain data, as read (before any change). */
  object: Record<string, unknown>;
  /** The runtimeClassName as written. */
  runtimeClassName: string;
  /** The platform it runs on (from the runtime class name). */
  platform: Platform;
}

/** A ConfigMap or Secret found in the inputs (they feed env and volumes of the policy). */
export interface ConfigObject {
  kind: 'ConfigMap' | 'Secret';
  object: Record<string, unknown>;
  /** Where it was read: file path and `documents[i]...` location. */
  file: string;
  field: string;
}

export interface FindWorkloadsOptions {
  /** The platform `runtimeClassName: contrast-cc` stands for (`--reference-values`). */
  defaultPlatform?: Platform;
  /** The platforms `contrast-cc-<platform>` and hashed handler names resolve against. */
  registry?: PlatformRegistry;
}

export interface FoundResources {
  workloads: WorkloadRef[];
  configs: ConfigObject[];
  problems: ResourceProblem[];
  /** Not refused, but worth knowing (two ConfigMaps/Secrets of one name with different data). */
  warnings: ResourceProblem[];
}

/** RFC 1123 label, as Kubernetes requires of a namespace name. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Why `namespace` is not a namespace name Kubernetes accepts (a DNS label), or undefined. Catches
 * templating placeholders left in (upstream's `@@REPLACE_NAMESPACE@@`), which would otherwise end
 * up in the policy and the workload secret ID.
 */
export function namespaceProblem(namespace: unknown): string | undefined {
  if (namespace === undefined) return undefined;
  if (typeof namespace !== 'string') return 'must be a string';
  if (namespace.length <= 63 && DNS_LABEL.test(namespace)) return undefined;
  const hint = /@@|\{\{|\$\{|<|%/.test(namespace) ? ' (an unfilled template placeholder?)' : '';
  return `${JSON.stringify(namespace)} is not a valid namespace: it must be a DNS label (lower-case letters, digits and '-', at most 63 characters)${hint}`;
}

/** One warning per ConfigMap/Secret namespace/name given twice with different content. */
function duplicateConfigWarnings(configs: readonly ConfigObject[]): ResourceProblem[] {
  const seen = new Map<string, ConfigObject>();
  const out: ResourceProblem[] = [];
  for (const c of configs) {
    const meta = (c.object.metadata ?? {}) as { name?: unknown; namespace?: unknown };
    const key = `${c.kind}/${String(meta.namespace ?? 'default')}/${String(meta.name)}`;
    const first = seen.get(key);
    if (!first) {
      seen.set(key, c);
      continue;
    }
    const content = (o: Record<string, unknown>) =>
      canonicalJson({ data: o.data ?? {}, binaryData: o.binaryData ?? {}, stringData: o.stringData ?? {} });
    if (content(first.object) === content(c.object)) continue;
    out.push({
      file: c.file,
      field: c.field,
      message: `${c.kind} ${String(meta.namespace ?? 'default')}/${String(meta.name)} is also given in ${first.file}: ${first.field} with different data; the policy uses the first one`,
    });
  }
  return out;
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isObject(v)) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function getPath(value: unknown, path: readonly (string | number)[]): unknown {
  let cur = value;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur;
}

/** Whether a runtime class name asks for Contrast at all. */
export function isContrastRuntimeClass(name: string, registry?: PlatformRegistry): boolean {
  return (
    name === CONTRAST_RUNTIME_CLASS ||
    name.startsWith(`${CONTRAST_RUNTIME_CLASS}-`) ||
    registry?.findByRuntimeClassName(name) !== undefined
  );
}

/**
 * The platform a runtime class name stands for: `contrast-cc` is the default platform; a
 * platform's own RuntimeClass name is that platform; `contrast-cc-<id or alias>` and a stale
 * `contrast-cc-<id>-<8 hex>` (an older runtime hash) name the platform by id.
 */
export function resolveRuntimeClass(
  name: string,
  options: FindWorkloadsOptions,
): { platform: Platform } | { error: string } {
  if (name === CONTRAST_RUNTIME_CLASS) {
    if (options.defaultPlatform) return { platform: options.defaultPlatform };
    return { error: 'runtimeClassName "contrast-cc" needs a platform: pass --reference-values <platform>' };
  }
  const all = [
    ...(options.registry?.list() ?? []),
    ...(options.defaultPlatform ? [options.defaultPlatform] : []),
  ];
  const exact = all.find((p) => p.runtime.runtimeClassNames.includes(name));
  if (exact) return { platform: exact };
  const suffix = name.slice(CONTRAST_RUNTIME_CLASS.length + 1);
  const byId = (id: string) =>
    all.find((p) => p.id.toLowerCase() === id.toLowerCase() || p.aliases.includes(id.toLowerCase()));
  const direct = byId(suffix);
  if (direct) return { platform: direct };
  const stale = /^(.*)-[0-9a-f]{8}$/.exec(suffix);
  const old = stale ? byId(stale[1]!) : undefined;
  if (old) return { platform: old };
  const known = all.map((p) => p.id).join(', ') || 'none';
  return { error: `runtimeClassName "${name}" names no known platform (known: ${known})` };
}

/**
 * Finds every workload (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet,
 * ReplicationController, Job, CronJob, also inside a List) whose runtimeClassName asks for
 * Contrast, checks it against the strict schema, and collects ConfigMaps and Secrets. Every other
 * object passes through untouched.
 */
export function findWorkloads(files: readonly ResourceFile[], options: FindWorkloadsOptions): FoundResources {
  const workloads: WorkloadRef[] = [];
  const configs: ConfigObject[] = [];
  const problems: ResourceProblem[] = [];
  const warnings: ResourceProblem[] = [];

  const visit = (
    file: ResourceFile,
    documentIndex: number,
    objectPath: (string | number)[],
    value: unknown,
  ) => {
    const where = (rest: readonly PropertyKey[] = []) =>
      formatKubePath(['documents', documentIndex, ...objectPath, ...rest]);
    if (value === null || value === undefined) return;
    if (!isObject(value)) {
      problems.push({ file: file.path, field: where(), message: 'a Kubernetes object must be a mapping' });
      return;
    }
    const kind = value.kind;
    if (typeof kind !== 'string') {
      problems.push({ file: file.path, field: where(['kind']), message: 'is required (a string)' });
      return;
    }
    if (kind === 'List' || (kind.endsWith('List') && Array.isArray(value.items))) {
      if (!Array.isArray(value.items)) {
        problems.push({ file: file.path, field: where(['items']), message: 'a List needs an items list' });
        return;
      }
      value.items.forEach((item, i) => {
        visit(file, documentIndex, [...objectPath, 'items', i], item);
      });
      return;
    }
    if (kind === 'ConfigMap' || kind === 'Secret') {
      const ns = namespaceProblem((value.metadata as { namespace?: unknown } | undefined)?.namespace);
      if (ns) {
        problems.push({ file: file.path, field: where(['metadata', 'namespace']), message: ns });
        return;
      }
      configs.push({ kind, object: value, file: file.path, field: where() || `documents[${documentIndex}]` });
      return;
    }
    const templatePath = POD_TEMPLATE_PATHS[kind];
    const rc = templatePath ? getPath(value, [...templatePath, 'spec', 'runtimeClassName']) : undefined;
    if (!templatePath || typeof rc !== 'string' || !isContrastRuntimeClass(rc, options.registry)) {
      // Passed through unchanged, but kubectl will refuse it: said now rather than at apply time.
      const ns = namespaceProblem((value.metadata as { namespace?: unknown } | undefined)?.namespace);
      if (ns) {
        warnings.push({
          file: file.path,
          field: where(['metadata', 'namespace']),
          message: `${ns}; generate passes this ${kind} through unchanged, but Kubernetes will refuse it`,
        });
      }
      return;
    }

    const issues = checkWorkload(kind, value);
    if (issues.length > 0) {
      for (const issue of issues) {
        problems.push({ file: file.path, field: where(issue.path), message: `${issue.message} (${kind})` });
      }
      return;
    }
    const metadata = value.metadata as { name?: string; namespace?: string; generateName?: string };
    const nsProblem = namespaceProblem(metadata.namespace);
    if (nsProblem) {
      problems.push({ file: file.path, field: where(['metadata', 'namespace']), message: nsProblem });
      return;
    }
    const name = metadata.name ?? metadata.generateName;
    if (!name) {
      problems.push({ file: file.path, field: where(['metadata', 'name']), message: 'is required' });
      return;
    }
    const resolved = resolveRuntimeClass(rc, options);
    if ('error' in resolved) {
      problems.push({
        file: file.path,
        field: where([...templatePath, 'spec', 'runtimeClassName']),
        message: resolved.error,
      });
      return;
    }
    workloads.push({
      file,
      documentIndex,
      objectPath,
      podPath: [...objectPath, ...templatePath],
      apiVersion: String(value.apiVersion),
      kind,
      name,
      namespace: metadata.namespace ?? 'default',
      object: value,
      runtimeClassName: rc,
      platform: resolved.platform,
    });
  };

  for (const file of files) {
    file.documents.forEach((doc, i) => {
      if (doc.contents === null) return;
      if (!isMap(doc.contents) && !isSeq(doc.contents)) {
        problems.push({
          file: file.path,
          field: `documents[${i}]`,
          message: 'a Kubernetes object must be a mapping',
        });
        return;
      }
      visit(file, i, [], doc.toJS({ maxAliasCount: 100 }));
    });
  }
  return { workloads, configs, problems, warnings: [...warnings, ...duplicateConfigWarnings(configs)] };
}
