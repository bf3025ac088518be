import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, realpath, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ContrastError, delay, type Logger, noopLogger } from '@contrast-cc/core';
import { z } from 'zod';

/**
 * The environment variable of the initializer that carries the expected ConfigMap and Secret
 * volume contents. `contrast generate` writes it into the initializer container of the pod spec,
 * so the Kata agent policy pins it (the policy hash is in HOST_DATA / MRCONFIGID): a host that
 * changes a digest changes the policy, and the Coordinator refuses the pod.
 */
export const VOLUME_INTEGRITY_ENV = 'CONTRAST_VOLUME_INTEGRITY';

const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits (SHA-256)');
const RelativePath = z
  .string()
  .min(1)
  .refine(
    (p) => !p.startsWith('/') && !p.split('/').some((s) => s === '' || s === '.' || s === '..'),
    'must be a relative path without "", "." or ".." segments',
  );

/** One file a volume must hold. */
export const VolumeFileSchema = z.strictObject({
  path: RelativePath,
  sha256: Sha256Hex,
  /** The mode kubelet gives it (the volume's `defaultMode` or the item's `mode`); the copy gets it. */
  mode: z.number().int().min(0).max(0o777),
});
export type VolumeFile = z.infer<typeof VolumeFileSchema>;

/** One ConfigMap or Secret volume to check. */
export const VolumeIntegritySchema = z.strictObject({
  /** The pod's volume name. */
  name: z.string().min(1),
  /** Where it came from, for messages. */
  source: z.strictObject({ kind: z.enum(['ConfigMap', 'Secret']), name: z.string().min(1) }),
  /** Where the initializer sees the host-provided volume (read-only). */
  from: z.string().startsWith('/'),
  /**
   * Where the checked copy goes: an in-guest memory volume (emptyDir, medium Memory) that the
   * workload mounts in place of the ConfigMap/Secret. Without it the volume is only checked.
   */
  to: z.string().startsWith('/').optional(),
  files: z.array(VolumeFileSchema),
});
export type VolumeIntegrity = z.infer<typeof VolumeIntegritySchema>;

/** The value of {@link VOLUME_INTEGRITY_ENV}: JSON of this. */
export const VolumeIntegritySpecSchema = z.strictObject({
  volumes: z.array(VolumeIntegritySchema),
  /** How often the running initializer re-checks the host-provided volumes (seconds). */
  intervalSeconds: z.number().int().min(1).max(3600).default(10),
});
export type VolumeIntegritySpec = z.infer<typeof VolumeIntegritySpecSchema>;

/** Parses the environment variable's value; errors name it and the field. */
export function parseVolumeIntegritySpec(text: string): VolumeIntegritySpec {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ContrastError('invalid-argument', `${VOLUME_INTEGRITY_ENV}: not JSON`, {
      field: VOLUME_INTEGRITY_ENV,
      cause: e,
    });
  }
  const parsed = VolumeIntegritySpecSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = [
      VOLUME_INTEGRITY_ENV,
      ...issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)),
    ]
      .join('')
      .replace('.[', '[');
    throw new ContrastError('invalid-argument', `${field}: ${issue.message}`, { field });
  }
  return parsed.data;
}

/** The canonical text of a spec (sorted files): what `generate` writes. */
export function formatVolumeIntegritySpec(spec: VolumeIntegritySpec): string {
  return JSON.stringify({
    volumes: spec.volumes.map((v) => ({
      ...v,
      files: [...v.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    })),
    intervalSeconds: spec.intervalSeconds,
  });
}

/** Why a volume does not match. */
export interface VolumeProblem {
  volume: string;
  file: string;
  kind: 'changed' | 'missing' | 'extra' | 'not-a-file';
}

export type VolumeCheckResult = { ok: true; files: number } | { ok: false; problems: VolumeProblem[] };

/** A problem as one line: `volume "config" (ConfigMap app-config): app.conf changed`. */
export function describeVolumeProblem(p: VolumeProblem, spec?: VolumeIntegritySpec): string {
  const v = spec?.volumes.find((x) => x.name === p.volume);
  const what = v ? `volume "${p.volume}" (${v.source.kind} ${v.source.name})` : `volume "${p.volume}"`;
  const how = {
    changed: 'changed (its SHA-256 is not the one in the policy)',
    missing: 'is missing',
    extra: 'is not in the policy (extra file)',
    'not-a-file': 'is not a regular file or points outside the volume',
  }[p.kind];
  return `${what}: ${p.file} ${how}`;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * Reads every regular file of a kubelet-projected volume, relative to `root`. Kubelet's atomic
 * writer keeps the data in a hidden `..<timestamp>` directory behind the `..data` symlink, with a
 * symlink per key at the top: names starting with `..` at the top level are its bookkeeping and
 * skipped; every other symlink is followed, and must stay inside `root`.
 */
async function readVolume(
  root: string,
  volume: string,
): Promise<{ files: Map<string, Buffer>; problems: VolumeProblem[] }> {
  const files = new Map<string, Buffer>();
  const problems: VolumeProblem[] = [];
  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch {
    problems.push({ volume, file: `${root} (the volume itself)`, kind: 'missing' });
    return { files, problems };
  }
  const walk = async (dir: string, rel: string, top: boolean): Promise<void> => {
    const entries = (await readdir(dir)).sort();
    for (const name of entries) {
      if (top && name.startsWith('..')) continue;
      const relPath = rel ? `${rel}/${name}` : name;
      const full = path.join(dir, name);
      let target: string;
      try {
        target = (await lstat(full)).isSymbolicLink() ? await realpath(full) : full;
      } catch {
        problems.push({ volume, file: relPath, kind: 'not-a-file' });
        continue;
      }
      if (target !== realRoot && !target.startsWith(realRoot + path.sep)) {
        problems.push({ volume, file: relPath, kind: 'not-a-file' });
        continue;
      }
      const st = await stat(target);
      if (st.isDirectory()) await walk(target, relPath, false);
      else if (st.isFile()) files.set(relPath, await readFile(target));
      else problems.push({ volume, file: relPath, kind: 'not-a-file' });
    }
  };
  await walk(realRoot, '', true);
  return { files, problems };
}

/** Compares one volume with its expected files; returns the bytes read (for the copy). */
async function checkOne(
  v: VolumeIntegrity,
): Promise<{ files: Map<string, Buffer>; problems: VolumeProblem[] }> {
  const { files, problems } = await readVolume(v.from, v.name);
  const expected = new Map(v.files.map((f) => [f.path, f]));
  for (const f of v.files) {
    const got = files.get(f.path);
    if (!got) {
      if (!problems.some((p) => p.file === f.path))
        problems.push({ volume: v.name, file: f.path, kind: 'missing' });
    } else if (sha256(got) !== f.sha256) {
      problems.push({ volume: v.name, file: f.path, kind: 'changed' });
    }
  }
  for (const name of files.keys()) {
    if (!expected.has(name)) problems.push({ volume: v.name, file: name, kind: 'extra' });
  }
  return { files, problems };
}

/** Checks every volume of `spec` (reading only); all problems, not just the first. */
export async function checkVolumes(spec: VolumeIntegritySpec): Promise<VolumeCheckResult> {
  const problems: VolumeProblem[] = [];
  let count = 0;
  for (const v of spec.volumes) {
    const r = await checkOne(v);
    problems.push(...r.problems);
    count += r.files.size;
  }
  return problems.length === 0 ? { ok: true, files: count } : { ok: false, problems };
}

/**
 * Before the workload starts: checks every volume and, when all match, writes the checked bytes
 * (not a second read of the host's files) to each volume's `to` with the expected modes
 * (temporary file, then rename). Nothing is written when any volume differs. A mismatch is a
 * `permission-denied` ContrastError whose message lists each file and what is wrong.
 */
export async function verifyAndCopyVolumes(
  spec: VolumeIntegritySpec,
  options: { logger?: Logger } = {},
): Promise<{ files: number }> {
  const log = (options.logger ?? noopLogger).child({ component: 'volume-integrity' });
  const checked: { v: VolumeIntegrity; files: Map<string, Buffer> }[] = [];
  const problems: VolumeProblem[] = [];
  for (const v of spec.volumes) {
    const r = await checkOne(v);
    problems.push(...r.problems);
    checked.push({ v, files: r.files });
  }
  if (problems.length > 0) throw volumeError(problems, spec);
  let count = 0;
  for (const { v, files } of checked) {
    if (v.to === undefined) continue;
    for (const f of v.files) {
      const dest = path.join(v.to, f.path);
      await mkdir(path.dirname(dest), { recursive: true });
      const tmp = `${dest}.contrast-tmp`;
      await writeFile(tmp, files.get(f.path)!, { mode: f.mode });
      await rename(tmp, dest);
      count++;
    }
  }
  log.info('ConfigMap/Secret volumes match the policy', {
    volumes: spec.volumes.map((v) => v.name),
    copied: count,
  });
  return { files: count };
}

/** The error for a failed check: every problem named, one per line. */
export function volumeError(problems: VolumeProblem[], spec?: VolumeIntegritySpec): ContrastError {
  return new ContrastError(
    'permission-denied',
    `ConfigMap/Secret volumes differ from the policy:\n${problems.map((p) => `  ${describeVolumeProblem(p, spec)}`).join('\n')}`,
    {
      field: `${VOLUME_INTEGRITY_ENV}.volumes[${spec?.volumes.findIndex((v) => v.name === problems[0]?.volume) ?? 0}]`,
    },
  );
}

/** Options of {@link watchVolumes}. */
export interface WatchVolumesOptions {
  /** Called once with the problems of the first check that fails; the watch then ends. */
  onViolation: (problems: VolumeProblem[]) => void | Promise<void>;
  signal?: AbortSignal;
  logger?: Logger;
  /** Waits between checks; default `setTimeout` for `spec.intervalSeconds` (a seam for tests). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * After the workload started: re-checks the host-provided volumes every `spec.intervalSeconds`
 * until `signal` aborts. The first check that fails calls `onViolation` (a change is detected at
 * most one interval after it reached the guest) and ends the watch. Resolves when it ends.
 */
export async function watchVolumes(spec: VolumeIntegritySpec, options: WatchVolumesOptions): Promise<void> {
  const log = (options.logger ?? noopLogger).child({ component: 'volume-integrity' });
  const sleep = options.sleep ?? delay;
  while (!options.signal?.aborted) {
    await sleep(spec.intervalSeconds * 1000, options.signal);
    if (options.signal?.aborted) return;
    let result: VolumeCheckResult;
    try {
      result = await checkVolumes(spec);
    } catch (e) {
      // A volume that can no longer be read is a violation too (fail closed).
      log.error('cannot re-check ConfigMap/Secret volumes', { error: String((e as Error).message) });
      result = {
        ok: false,
        problems: spec.volumes.map((v) => ({
          volume: v.name,
          file: '(unreadable)',
          kind: 'missing' as const,
        })),
      };
    }
    if (!result.ok) {
      for (const p of result.problems) log.error(describeVolumeProblem(p, spec));
      await options.onViolation(result.problems);
      return;
    }
  }
}

/** The parts of a pod's `configMap` / `secret` volume source that decide the projected files. */
export interface ProjectedSource {
  items?: { key: string; path: string; mode?: number }[] | null;
  defaultMode?: number | null;
}

/** The data of a ConfigMap (`data` UTF-8, `binaryData` base64) or Secret (`data` base64, `stringData` UTF-8). */
export interface KubeDataObject {
  data?: Record<string, string> | null;
  binaryData?: Record<string, string> | null;
  stringData?: Record<string, string> | null;
}

/** Kubernetes' default mode of projected ConfigMap/Secret files (0644). */
export const DEFAULT_VOLUME_FILE_MODE = 0o644;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The files kubelet projects for a ConfigMap or Secret volume, with their digests and modes: every
 * key at its own name, or with `items` only the listed keys at their `path`s. Errors are
 * `invalid-argument` with `field` relative to the object (`data.<key>`) or the volume source
 * (`items[i].key`): the caller prefixes file and path.
 */
export function projectVolumeFiles(
  kind: 'ConfigMap' | 'Secret',
  object: KubeDataObject,
  source: ProjectedSource,
): VolumeFile[] {
  const bytes = new Map<string, Buffer>();
  const decode = (field: string, key: string, value: unknown): Buffer => {
    if (typeof value !== 'string' || (value.length % 4 !== 0 && value.length > 0) || !BASE64.test(value)) {
      throw new ContrastError('invalid-argument', `${field}.${key}: not base64`, {
        field: `${field}.${key}`,
      });
    }
    return Buffer.from(value, 'base64');
  };
  const text = (field: string, key: string, value: unknown): Buffer => {
    if (typeof value !== 'string') {
      throw new ContrastError('invalid-argument', `${field}.${key}: must be a string`, {
        field: `${field}.${key}`,
      });
    }
    return Buffer.from(value, 'utf8');
  };
  if (kind === 'ConfigMap') {
    for (const [k, v] of Object.entries(object.data ?? {})) bytes.set(k, text('data', k, v));
    for (const [k, v] of Object.entries(object.binaryData ?? {})) {
      if (bytes.has(k)) {
        throw new ContrastError('invalid-argument', `binaryData.${k}: also in data`, {
          field: `binaryData.${k}`,
        });
      }
      bytes.set(k, decode('binaryData', k, v));
    }
  } else {
    for (const [k, v] of Object.entries(object.data ?? {})) bytes.set(k, decode('data', k, v));
    // The API server merges stringData into data on write (stringData wins).
    for (const [k, v] of Object.entries(object.stringData ?? {})) bytes.set(k, text('stringData', k, v));
  }
  const defaultMode = source.defaultMode ?? DEFAULT_VOLUME_FILE_MODE;
  const files: VolumeFile[] = [];
  if (source.items && source.items.length > 0) {
    source.items.forEach((item, i) => {
      const got = bytes.get(item.key);
      if (!got) {
        throw new ContrastError(
          'invalid-argument',
          `items[${i}].key: "${item.key}" is not a key of the ${kind}`,
          {
            field: `items[${i}].key`,
          },
        );
      }
      const p = RelativePath.safeParse(item.path);
      if (!p.success) {
        throw new ContrastError('invalid-argument', `items[${i}].path: ${p.error.issues[0]!.message}`, {
          field: `items[${i}].path`,
        });
      }
      files.push({ path: item.path, sha256: sha256(got), mode: item.mode ?? defaultMode });
    });
  } else {
    for (const [k, v] of bytes) files.push({ path: k, sha256: sha256(v), mode: defaultMode });
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
