// What the node installer does on a node, given the installer configuration the DaemonSet mounts
// (contrast-node-install.json and its sibling files): fetch every runtime file, check it against
// its digest, put the runtime directory /opt/edgeless/<handler>/ in place in one rename (nothing
// half-installed), write the Kata configuration, and merge the runtime into the containerd
// configuration (config version 2: containerd 1.6/1.7; version 3: containerd 2.x; K3s/RKE2
// `config.toml.tmpl`). A second run with the same configuration changes nothing. `uninstall`
// removes both again.

import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ContrastError, type Logger, noopLogger } from '@contrast-cc/core';
import { writeFilesAtomic } from '@contrast-cc/core/fs';
import { parse as parseToml, stringify as toToml } from 'smol-toml';
import { z } from 'zod';
import { type DownloadOptions, downloadFile, shownUrl } from './download.js';
import type { InstallerConfig } from './qemu-runtime.js';

const installerConfigSchema = z
  .object({
    platform: z.string().min(1),
    runtimeHandler: z
      .string()
      .regex(/^contrast-cc-[a-z0-9-]+-[0-9a-f]{8}$/, 'must be contrast-cc-<platform>-<8 hex>'),
    release: z.string(),
    files: z
      .array(
        z
          .object({
            url: z.string().regex(/^(https:\/\/|file:\/\/\/)\S+$/, 'must be an https:// or file:/// URL'),
            path: z.string().startsWith('/'),
            integrity: z
              .string()
              .regex(/^sha256-[A-Za-z0-9+/]{43}=$/, 'must be an SRI sha256 string')
              .refine((s) => s !== `sha256-${'A'.repeat(43)}=`, 'is all zeros: a placeholder, not a digest'),
            executable: z.boolean(),
          })
          .strict(),
      )
      .min(1),
    kataConfigPath: z.string().startsWith('/'),
    containerd: z
      .object({
        configPath: z.string().startsWith('/'),
        systemdUnits: z.array(z.string()),
        patches: z.object({ '2': z.string(), '3': z.string() }).strict(),
      })
      .strict(),
    debugRuntime: z.boolean(),
  })
  .strict();

/** Parses `contrast-node-install.json`; errors name the file and the field. @public */
export function parseInstallerConfig(text: string, file: string): InstallerConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ContrastError('invalid-argument', `${file}: not JSON: ${(error as Error).message}`, { file });
  }
  const parsed = installerConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || '(root)';
    throw new ContrastError('invalid-argument', `${file}: ${field}: ${issue?.message}`, { file, field });
  }
  const config = parsed.data;
  const root = `/opt/edgeless/${config.runtimeHandler}/`;
  for (const [i, f] of config.files.entries()) {
    if (!f.path.startsWith(root) || f.path.split('/').includes('..')) {
      throw new ContrastError('invalid-argument', `${file}: files.${i}.path: must be below ${root}`, {
        file,
        field: `files.${i}.path`,
      });
    }
  }
  if (!config.kataConfigPath.startsWith(root)) {
    throw new ContrastError('invalid-argument', `${file}: kataConfigPath: must be below ${root}`, {
      file,
      field: 'kataConfigPath',
    });
  }
  return config;
}

/** Where the containerd configuration lives and which config version a new one gets. @public */
export interface ContainerdTarget {
  /** Path on the node (below the host root); `.tmpl` = a K3s/RKE2 template (rendered config beside it). */
  configPath: string;
  /** systemd units to restart, the first existing one is used (empty: no restart). */
  systemdUnits: string[];
  /** Config version for a node without a configuration file yet (default 2). */
  newConfigVersion?: 2 | 3;
}

/** Presets of the distributions whose containerd configuration is a template. @public */
export const CONTAINERD_TARGETS: Readonly<Record<'containerd' | 'k3s' | 'rke2', ContainerdTarget>> = {
  containerd: { configPath: '/etc/containerd/config.toml', systemdUnits: ['containerd'] },
  k3s: {
    configPath: '/var/lib/rancher/k3s/agent/etc/containerd/config.toml.tmpl',
    systemdUnits: ['k3s', 'k3s-agent'],
  },
  rke2: {
    configPath: '/var/lib/rancher/rke2/agent/etc/containerd/config.toml.tmpl',
    systemdUnits: ['rke2-server', 'rke2-agent'],
  },
};

/** Options of {@link installRuntime} and {@link uninstallRuntime}. @public */
export interface InstallOptions {
  /** The node's `/` as the installer sees it (the DaemonSet mounts it at `/host`). */
  hostRoot: string;
  config: InstallerConfig;
  /** The directory holding the installer ConfigMap's files (Kata configuration, patches). */
  configDir: string;
  /** Root for `file:///` URLs: the installer image's file system (default `/`). */
  imageRoot?: string;
  /** Downloads an https:// URL (default: {@link downloadFile} with `downloadOptions`). */
  download?: (url: string) => Promise<Uint8Array>;
  /** Retries, deadlines and the size limit of the default download (see {@link DownloadOptions}). */
  downloadOptions?: DownloadOptions;
  /** Overrides the configuration's containerd target (K3s, RKE2, another path). */
  containerd?: ContainerdTarget;
  logger?: Logger;
}

/** What a run changed. @public */
export interface InstallResult {
  runtimeDir: string;
  containerdConfigPath: string;
  /** The runtime directory was (re)placed (false: it was complete and identical). */
  filesChanged: boolean;
  /** The containerd configuration was written (false: it already held the runtime). */
  containerdChanged: boolean;
  /** The systemd units to restart so that containerd picks up the change (empty when unchanged). */
  restartUnits: string[];
}

const onHost = (hostRoot: string, p: string) => path.join(hostRoot, p);
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest();
const sriOf = (data: Uint8Array) => `sha256-${sha256(data).toString('base64')}`;

async function readIfExists(file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ContrastError('io-error', `cannot read ${file}: ${(error as Error).message}`, {
      file,
      cause: error,
    });
  }
}

async function fetchFile(o: InstallOptions, url: string, log: Logger): Promise<Uint8Array> {
  if (url.startsWith('file:///')) {
    const file = path.join(o.imageRoot ?? '/', decodeURIComponent(url.slice('file://'.length)));
    const data = await readIfExists(file);
    if (!data)
      throw new ContrastError('not-found', `${url}: no such file in the installer image (${file})`, { file });
    return data;
  }
  if (o.download) return o.download(url);
  return downloadFile(url, { logger: log, ...o.downloadOptions });
}

/** The runtime directory's files as they should be: path below the runtime root -> content, mode. */
async function wantedFiles(
  o: InstallOptions,
  runtimeRoot: string,
  log: Logger,
): Promise<Map<string, { data: Uint8Array; mode: number }>> {
  const want = new Map<string, { data: Uint8Array; mode: number }>();
  for (const f of o.config.files) {
    const data = await fetchFile(o, f.url, log);
    if (sriOf(data) !== f.integrity) {
      throw new ContrastError(
        'validation-failed',
        `${f.path}: ${shownUrl(f.url)} has digest ${sriOf(data)}, not ${f.integrity}: refused, nothing installed`,
        { field: 'files', file: f.path },
      );
    }
    want.set(path.relative(runtimeRoot, f.path), { data, mode: f.executable ? 0o755 : 0o644 });
  }
  const kataName = path.basename(o.config.kataConfigPath);
  const kata = await readIfExists(path.join(o.configDir, kataName));
  if (!kata) {
    throw new ContrastError(
      'invalid-argument',
      `${path.join(o.configDir, kataName)}: the Kata configuration is missing`,
      {
        file: path.join(o.configDir, kataName),
      },
    );
  }
  want.set(path.relative(runtimeRoot, o.config.kataConfigPath), { data: kata, mode: 0o644 });
  return want;
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const rel = path.join(prefix, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(path.join(dir, e.name), rel)));
    else out.push(rel);
  }
  return out.sort();
}

/** True when `dir` holds exactly the wanted files with the wanted content and modes. */
async function isInstalled(
  dir: string,
  want: Map<string, { data: Uint8Array; mode: number }>,
): Promise<boolean> {
  const have = await listFiles(dir);
  if (have.length !== want.size || have.some((f) => !want.has(f))) return false;
  for (const [rel, w] of want) {
    const file = path.join(dir, rel);
    const data = await readIfExists(file);
    if (!data?.equals(Buffer.from(w.data))) return false;
    if (((await stat(file)).mode & 0o777) !== w.mode) return false;
  }
  return true;
}

/** Config version of a containerd configuration text (1 when absent, as containerd reads it). */
function configVersion(doc: Record<string, unknown>): number {
  return typeof doc.version === 'number' ? doc.version : 1;
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function deepMerge(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    out[k] = isTable(v) && isTable(out[k]) ? deepMerge(out[k] as Record<string, unknown>, v) : v;
  }
  return out;
}

function parseConfig(text: string, file: string): Record<string, unknown> {
  try {
    return parseToml(text) as Record<string, unknown>;
  } catch (error) {
    throw new ContrastError(
      'invalid-argument',
      `${file}: not a TOML containerd configuration: ${(error as Error).message}`,
      {
        file,
        cause: error,
      },
    );
  }
}

/**
 * The base a containerd configuration patch is merged into: the file itself, or for a K3s/RKE2
 * template that is not plain TOML (or absent) the configuration the distribution rendered beside
 * it (`config.toml`), as upstream's node installer does; a node without any starts from
 * `{ version }`.
 */
async function containerdBase(
  file: string,
  target: ContainerdTarget,
): Promise<{ current?: Record<string, unknown>; doc: Record<string, unknown> }> {
  const existing = await readIfExists(file);
  if (existing !== undefined) {
    const text = existing.toString('utf8');
    if (!file.endsWith('.tmpl') || !text.includes('{{')) {
      const doc = parseConfig(text, file);
      return { current: doc, doc };
    }
  }
  if (file.endsWith('.tmpl')) {
    const rendered = file.slice(0, -'.tmpl'.length);
    const text = await readIfExists(rendered);
    if (text !== undefined) return { doc: parseConfig(text.toString('utf8'), rendered) };
  }
  return { doc: { version: target.newConfigVersion ?? 2 } };
}

/**
 * The config version of a containerd configuration the runtime can be merged into: 2
 * (containerd 1.x) or 3 (containerd 2.x). Version 1 is refused: migrate first.
 */
function patchVersion(doc: Record<string, unknown>, file: string): '2' | '3' {
  const version = configVersion(doc);
  if (version !== 2 && version !== 3) {
    throw new ContrastError(
      'invalid-argument',
      `${file}: containerd config version ${version} is not supported (2: containerd 1.x, 3: containerd 2.x); migrate it with "containerd config migrate"`,
      { file, field: 'version' },
    );
  }
  return version === 2 ? '2' : '3';
}

/**
 * Merges a containerd configuration patch (TOML text for the configuration's version) into
 * `doc`: tables are merged key by key, values of the patch win.
 * @public
 */
export function mergeContainerdConfig(doc: Record<string, unknown>, patch: string): Record<string, unknown> {
  return deepMerge(doc, parseToml(patch) as Record<string, unknown>);
}

/** Removes the runtime `handler` and its snapshotter proxy plugin from a containerd configuration. @public */
export function removeFromContainerdConfig(
  doc: Record<string, unknown>,
  handler: string,
): Record<string, unknown> {
  const out = structuredClone(doc);
  const drop = (obj: unknown, keys: string[], last: string) => {
    let t = obj;
    for (const k of keys) {
      if (!isTable(t)) return;
      t = t[k];
    }
    if (isTable(t)) delete t[last];
  };
  drop(out, ['proxy_plugins'], `nydus-${handler}`);
  drop(out, ['plugins', 'io.containerd.grpc.v1.cri', 'containerd', 'runtimes'], handler);
  drop(out, ['plugins', 'io.containerd.cri.v1.runtime', 'containerd', 'runtimes'], handler);
  return out;
}

const same = (a: Record<string, unknown>, b: Record<string, unknown>) => toToml(a) === toToml(b);

async function writeContainerd(file: string, doc: Record<string, unknown>): Promise<void> {
  await writeFilesAtomic([{ path: file, data: toToml(doc) }], { createDirectories: true });
}

/**
 * Installs the runtime on the node below `hostRoot`. Every file is fetched and checked before
 * anything on the node changes; a digest mismatch throws `validation-failed` naming the file and
 * leaves the node as it was. The runtime directory appears in one rename; the containerd
 * configuration is written atomically and only when it lacks the runtime.
 * @public
 */
export async function installRuntime(o: InstallOptions): Promise<InstallResult> {
  const log = (o.logger ?? noopLogger).child({
    component: 'node-installer',
    handler: o.config.runtimeHandler,
  });
  const runtimeRoot = `/opt/edgeless/${o.config.runtimeHandler}`;
  const runtimeDir = onHost(o.hostRoot, runtimeRoot);
  const target = o.containerd ?? {
    configPath: o.config.containerd.configPath,
    systemdUnits: o.config.containerd.systemdUnits,
  };
  const containerdFile = onHost(o.hostRoot, target.configPath);

  // 1. Everything fetched and checked, and the containerd configuration computed, before any write.
  const want = await wantedFiles(o, runtimeRoot, log);
  const base = await containerdBase(containerdFile, target);
  const patchFile = path.join(
    o.configDir,
    o.config.containerd.patches[patchVersion(base.doc, containerdFile)],
  );
  const patch = await readIfExists(patchFile);
  if (!patch) {
    throw new ContrastError(
      'invalid-argument',
      `${patchFile}: the containerd configuration patch is missing`,
      {
        file: patchFile,
      },
    );
  }
  const merged = mergeContainerdConfig(base.doc, patch.toString('utf8'));
  const containerdChanged = base.current === undefined || !same(base.current, merged);

  // 2. The runtime directory, staged next to its place and renamed into it.
  let filesChanged = false;
  if (!(await isInstalled(runtimeDir, want))) {
    const parent = path.dirname(runtimeDir);
    await mkdir(parent, { recursive: true, mode: 0o755 });
    const staging = path.join(
      parent,
      `.${o.config.runtimeHandler}.${randomBytes(6).toString('hex')}.staging`,
    );
    try {
      for (const [rel, w] of want) {
        const file = path.join(staging, rel);
        await mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
        await writeFile(file, w.data, { mode: w.mode, flag: 'wx' });
      }
      // An incomplete or different directory of the same handler is moved aside, then replaced.
      const old = (await exists(runtimeDir)) ? `${staging}.old` : undefined;
      if (old) await rename(runtimeDir, old);
      await rename(staging, runtimeDir);
      if (old) await rm(old, { recursive: true, force: true });
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      throw error;
    }
    filesChanged = true;
    log.info('runtime files installed', { dir: runtimeRoot, files: want.size });
  } else {
    log.info('runtime files already installed', { dir: runtimeRoot });
  }

  // 3. containerd.
  if (containerdChanged) {
    await writeContainerd(containerdFile, merged);
    log.info('containerd configuration updated', { file: target.configPath, version: configVersion(merged) });
  }
  return {
    runtimeDir,
    containerdConfigPath: containerdFile,
    filesChanged,
    containerdChanged,
    restartUnits: containerdChanged ? [...target.systemdUnits] : [],
  };
}

/** Removes the runtime directory and the runtime's containerd entries (idempotent). @public */
export async function uninstallRuntime(
  o: Omit<InstallOptions, 'configDir' | 'imageRoot' | 'download'>,
): Promise<InstallResult> {
  const runtimeDir = onHost(o.hostRoot, `/opt/edgeless/${o.config.runtimeHandler}`);
  const target = o.containerd ?? {
    configPath: o.config.containerd.configPath,
    systemdUnits: o.config.containerd.systemdUnits,
  };
  const containerdFile = onHost(o.hostRoot, target.configPath);
  const filesChanged = await exists(runtimeDir);
  if (filesChanged) await rm(runtimeDir, { recursive: true, force: true });
  const current = await readIfExists(containerdFile);
  let containerdChanged = false;
  if (
    current !== undefined &&
    !(containerdFile.endsWith('.tmpl') && current.toString('utf8').includes('{{'))
  ) {
    const doc = parseConfig(current.toString('utf8'), containerdFile);
    const cleaned = removeFromContainerdConfig(doc, o.config.runtimeHandler);
    if (!same(doc, cleaned)) {
      await writeContainerd(containerdFile, cleaned);
      containerdChanged = true;
    }
  }
  return {
    runtimeDir,
    containerdConfigPath: containerdFile,
    filesChanged,
    containerdChanged,
    restartUnits: containerdChanged ? [...target.systemdUnits] : [],
  };
}
