import { randomBytes } from 'node:crypto';
import { rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ContrastError } from '@contrast-cc/core';
import type { PatchedFile } from './pipeline.js';

/** One file to write. */
export interface FileWrite {
  path: string;
  data: string | Uint8Array;
  /** File mode for new files (e.g. 0o600 for keys). */
  mode?: number;
}

/**
 * Writes every file atomically and all-or-nothing as far as a file system allows: first each
 * file's content goes to a temporary file next to it, then all are renamed into place. If any
 * temporary write fails, the temporary files are removed and no target is touched. An existing
 * file keeps its mode unless `mode` is given.
 */
export async function writeFilesAtomic(writes: readonly FileWrite[]): Promise<void> {
  const temps: { tmp: string; target: string }[] = [];
  try {
    for (const w of writes) {
      const tmp = path.join(
        path.dirname(w.path),
        `.${path.basename(w.path)}.${randomBytes(6).toString('hex')}.tmp`,
      );
      temps.push({ tmp, target: w.path });
      // An existing file keeps its mode; a new one gets the given mode (default 0644).
      const existingMode = await stat(w.path).then(
        (st) => st.mode & 0o777,
        () => undefined,
      );
      await writeFile(tmp, w.data, { mode: w.mode ?? existingMode ?? 0o644, flag: 'wx' });
    }
  } catch (error) {
    await Promise.all(temps.map((t) => rm(t.tmp, { force: true })));
    throw new ContrastError('io-error', `cannot write ${temps.at(-1)?.target}: ${(error as Error).message}`, {
      cause: error,
      file: temps.at(-1)?.target,
    });
  }
  for (const t of temps) {
    try {
      await rename(t.tmp, t.target);
    } catch (error) {
      await Promise.all(temps.map((x) => rm(x.tmp, { force: true })));
      throw new ContrastError('io-error', `cannot write ${t.target}: ${(error as Error).message}`, {
        cause: error,
        file: t.target,
      });
    }
  }
}

/**
 * All patched resources as one YAML stream (for `-o FILE`): every input file in order, separated
 * by `---`.
 */
export function joinResourceFiles(files: readonly PatchedFile[]): string {
  let out = '';
  for (const f of files) {
    let text = f.text;
    if (text.trim() === '') continue;
    if (!text.endsWith('\n')) text += '\n';
    if (out !== '' && !/^---/.test(text)) out += '---\n';
    out += text;
  }
  return out;
}
