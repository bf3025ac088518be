import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ContrastError } from '@contrast-cc/core';
import { applyJsonPatch, type JsonPatchOp } from './json-patch.js';

/**
 * genpolicy-settings.json, as a plain JSON document. The generator reads the keys it knows
 * (`pause_container`, `other_container`, `volumes`, `devices`, `sandbox`, `common`, `kata_config`,
 * `cluster_config`, `request_defaults`, `mount_destinations`) and keeps the rest untouched.
 */
export type PolicySettings = Record<string, unknown>;

/** Applies sorted JSON-patch drop-ins (already parsed, `[name, ops]`) to base settings. */
export function applySettingsDropIns(
  base: PolicySettings,
  dropIns: ReadonlyArray<readonly [string, readonly JsonPatchOp[]]>,
): PolicySettings {
  let out = base;
  const sorted = [...dropIns].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (const [name, ops] of sorted) {
    if (!Array.isArray(ops)) {
      throw new ContrastError('invalid-argument', 'a settings drop-in must be a JSON array of patch ops', {
        file: name,
      });
    }
    try {
      out = applyJsonPatch(out, ops, name);
    } catch (e) {
      throw new ContrastError('invalid-argument', `settings drop-in ${name} does not apply`, {
        cause: e,
        file: name,
      });
    }
  }
  return out;
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ContrastError('io-error', `cannot read ${file}`, { cause: e, file });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ContrastError('invalid-argument', `not valid JSON: ${(e as Error).message}`, {
      cause: e,
      file,
    });
  }
}

/**
 * Loads settings like genpolicy's `-j`: a file, or a directory holding `genpolicy-settings.json`
 * plus `genpolicy-settings.d/*.json` drop-ins applied in file-name order.
 */
export async function loadPolicySettings(fileOrDir: string): Promise<PolicySettings> {
  const st = await stat(fileOrDir).catch((e: unknown) => {
    throw new ContrastError('not-found', `settings path ${fileOrDir} not found`, {
      cause: e,
      file: fileOrDir,
    });
  });
  if (!st.isDirectory()) {
    const doc = await readJson(fileOrDir);
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
      throw new ContrastError('invalid-argument', 'settings must be a JSON object', { file: fileOrDir });
    }
    return doc as PolicySettings;
  }
  const base = await loadPolicySettings(path.join(fileOrDir, 'genpolicy-settings.json'));
  const dDir = path.join(fileOrDir, 'genpolicy-settings.d');
  const names = await readdir(dDir).catch(() => [] as string[]);
  const dropIns: Array<[string, JsonPatchOp[]]> = [];
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    dropIns.push([name, (await readJson(path.join(dDir, name))) as JsonPatchOp[]]);
  }
  return applySettingsDropIns(base, dropIns);
}
