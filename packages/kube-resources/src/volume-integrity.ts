import { isContrastError } from '@contrast-cc/core';
import {
  formatVolumeIntegritySpec,
  projectVolumeFiles,
  VOLUME_INTEGRITY_ENV,
  type VolumeIntegrity,
} from '@contrast-cc/mesh/volumes';
import { type Document, isMap, isSeq, type YAMLMap, type YAMLSeq } from 'yaml';
import { formatKubePath, type ResourceProblem } from './errors.js';
import type { ConfigObject, WorkloadRef } from './workloads.js';

/** Where the initializer sees the host's copy of a checked volume (read-only). */
export const VOLUME_SOURCE_DIR = '/contrast-volumes/source';
/** Where the initializer writes the checked copy (the workload's in-memory volume of that name). */
export const VOLUME_CHECKED_DIR = '/contrast-volumes/checked';

/** The initializer's part of ConfigMap/Secret volume integrity for one pod. */
export interface VolumeIntegrityPlan {
  /** The checked volumes (empty: nothing to check, the initializer stays an init container). */
  volumes: VolumeIntegrity[];
  /** The initializer's extra mounts: the host's copies (read-only) and the checked volumes. */
  initializerMounts: Record<string, unknown>[];
  /** Its `CONTRAST_VOLUME_INTEGRITY` variable. */
  env: { name: string; value: string } | undefined;
}

const SOURCE_PREFIX = 'contrast-src-';

/** The name of the volume that keeps the host's copy of checked volume `name`. */
export function sourceVolumeName(name: string): string {
  return `${SOURCE_PREFIX}${name}`;
}

/**
 * Undoes an earlier run's rewrite (generate runs again on its own output): volume `v` gets its
 * ConfigMap/Secret source back from `contrast-src-<v>`, which is removed.
 */
function restorePreviousRewrite(doc: Document, volumes: YAMLSeq): void {
  const byName = new Map<string, number>();
  volumes.items.forEach((item, i) => {
    if (isMap(item)) byName.set(String((item as YAMLMap).get('name')), i);
  });
  for (const [name, i] of [...byName]) {
    if (!name.startsWith(SOURCE_PREFIX)) continue;
    const target = byName.get(name.slice(SOURCE_PREFIX.length));
    if (target === undefined) continue;
    const { name: _n, ...source } = (volumes.items[i] as YAMLMap).toJSON() as Record<string, unknown>;
    volumes.items[target] = doc.createNode({ name: name.slice(SOURCE_PREFIX.length), ...source });
  }
  volumes.items = volumes.items.filter((item) => {
    if (!isMap(item)) return true;
    const name = String((item as YAMLMap).get('name'));
    return !(name.startsWith(SOURCE_PREFIX) && byName.has(name.slice(SOURCE_PREFIX.length)));
  });
}

function nameMatches(config: ConfigObject, kind: string, name: string, namespace: string): boolean {
  const md = (config.object.metadata ?? {}) as { name?: unknown; namespace?: unknown };
  return (
    config.kind === kind && md.name === name && (md.namespace === undefined || md.namespace === namespace)
  );
}

/**
 * Finds the pod's ConfigMap and Secret volumes whose object is in the input of `generate`, and
 * rewrites the pod so the workload only sees checked bytes: each such volume `v` becomes an
 * in-memory emptyDir of the same name (so every mount, subPath included, keeps working, now
 * read-only), the original source moves to `contrast-src-<v>`, mounted only into the initializer
 * at `/contrast-volumes/source/<v>`; the initializer checks it against the digests in its
 * environment (pinned by the policy) and copies the checked bytes to `/contrast-volumes/checked/<v>`
 * (the emptyDir). Volumes whose object is not in the input, projected volumes and optional
 * objects that are absent stay as they are and are named in `warnings` (problems with
 * `requireAll`). Nothing is rewritten when `rewrite` is false (the initializer is not injected).
 */
export function planVolumeIntegrity(
  doc: Document,
  w: WorkloadRef,
  configs: readonly ConfigObject[],
  options: { rewrite: boolean; requireAll: boolean },
): { plan: VolumeIntegrityPlan; problems: ResourceProblem[]; warnings: ResourceProblem[] } {
  const specPath = [...w.podPath, 'spec'];
  const field = (rest: readonly PropertyKey[]) => formatKubePath(['documents', w.documentIndex, ...rest]);
  const problems: ResourceProblem[] = [];
  const warnings: ResourceProblem[] = [];
  const unchecked = (at: readonly PropertyKey[], message: string) =>
    (options.requireAll ? problems : warnings).push({ file: w.file.path, field: field(at), message });
  const plan: VolumeIntegrityPlan = { volumes: [], initializerMounts: [], env: undefined };
  const volumesNode = doc.getIn([...specPath, 'volumes'], true);
  if (!isSeq(volumesNode)) return { plan, problems, warnings };
  restorePreviousRewrite(doc, volumesNode);
  const rewrites: { index: number; name: string; source: Record<string, unknown> }[] = [];
  volumesNode.items.forEach((item, index) => {
    if (!isMap(item)) return;
    const v = (item as YAMLMap).toJSON() as Record<string, unknown>;
    const name = typeof v.name === 'string' ? v.name : '';
    const at = [...specPath, 'volumes', index];
    if (v.projected !== undefined) {
      const sources = ((v.projected as { sources?: unknown[] } | null)?.sources ?? []) as Record<
        string,
        unknown
      >[];
      if (sources.some((s) => s?.configMap !== undefined || s?.secret !== undefined)) {
        unchecked(
          at,
          `volume "${name}": projected ConfigMap/Secret volumes are not checked (mount them as configMap/secret volumes)`,
        );
      }
      return;
    }
    const key = v.configMap !== undefined ? 'configMap' : v.secret !== undefined ? 'secret' : undefined;
    if (!key) return;
    const kind = key === 'configMap' ? 'ConfigMap' : 'Secret';
    const src = (v[key] ?? {}) as {
      name?: unknown;
      secretName?: unknown;
      items?: { key: string; path: string; mode?: number }[] | null;
      defaultMode?: number | null;
      optional?: boolean;
    };
    const objName = String((key === 'configMap' ? src.name : src.secretName) ?? '');
    const config = configs.find((c) => nameMatches(c, kind, objName, w.namespace));
    if (!config) {
      unchecked(
        at,
        `volume "${name}": ${kind} "${objName}" is not in the input, so its contents are not checked (add it to the files given to generate)`,
      );
      return;
    }
    if (sourceVolumeName(name).length > 63) {
      problems.push({
        file: w.file.path,
        field: field([...at, 'name']),
        message: `volume "${name}": at most ${63 - SOURCE_PREFIX.length} characters for a checked ${kind} volume (its source becomes "${SOURCE_PREFIX}${name}")`,
      });
      return;
    }
    if (!options.rewrite) {
      unchecked(at, `volume "${name}": not checked, the pod has no initializer`);
      return;
    }
    let files: VolumeIntegrity['files'];
    try {
      files = projectVolumeFiles(kind, config.object, {
        items: src.items ?? null,
        defaultMode: src.defaultMode ?? null,
      });
    } catch (e) {
      const f = isContrastError(e) && e.field ? e.field : '';
      problems.push({
        file: w.file.path,
        field: f.startsWith('items') ? `${field([...at, key])}.${f}` : `${kind} ${objName}: ${f}`,
        message: (e as Error).message,
      });
      return;
    }
    plan.volumes.push({
      name,
      source: { kind, name: objName },
      from: `${VOLUME_SOURCE_DIR}/${name}`,
      to: `${VOLUME_CHECKED_DIR}/${name}`,
      files,
    });
    rewrites.push({ index, name, source: v });
  });
  if (problems.length > 0 || rewrites.length === 0) return { plan, problems, warnings };

  // Backwards, so the indexes stay right; each source right after its volume (a second run
  // restores and rewrites to the same order).
  for (const r of [...rewrites].reverse()) {
    const { name: _name, ...source } = r.source;
    volumesNode.items.splice(
      r.index,
      1,
      doc.createNode({ name: r.name, emptyDir: { medium: 'Memory' } }),
      doc.createNode({ name: sourceVolumeName(r.name), ...source }),
    );
  }
  for (const r of rewrites) {
    plan.initializerMounts.push(
      { name: sourceVolumeName(r.name), mountPath: `${VOLUME_SOURCE_DIR}/${r.name}`, readOnly: true },
      { name: r.name, mountPath: `${VOLUME_CHECKED_DIR}/${r.name}` },
    );
    // The workload's mounts of the volume stay read-only, as they were for the ConfigMap/Secret.
    for (const list of ['initContainers', 'containers'] as const) {
      const seq = doc.getIn([...specPath, list], true);
      if (!isSeq(seq)) continue;
      seq.items.forEach((_, i) => {
        const mounts = doc.getIn([...specPath, list, i, 'volumeMounts'], true);
        if (!isSeq(mounts)) return;
        mounts.items.forEach((m, j) => {
          if (isMap(m) && (m as YAMLMap).get('name') === r.name) {
            doc.setIn([...specPath, list, i, 'volumeMounts', j, 'readOnly'], true);
          }
        });
      });
    }
  }
  plan.env = {
    name: VOLUME_INTEGRITY_ENV,
    value: formatVolumeIntegritySpec({ volumes: plan.volumes, intervalSeconds: 10 }),
  };
  return { plan, problems, warnings };
}
