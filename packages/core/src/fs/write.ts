// The one atomic file writer of the monorepo (Node only: this subpath imports node:fs; the main
// entry of @contrast-cc/core stays free of Node built-ins).
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ContrastError } from '../errors.js';

/** One file to write. */
export interface FileWrite {
  path: string;
  data: string | Uint8Array;
  /** Mode of a new file (default 0644; e.g. 0600 for keys). An existing file keeps its mode unless this is given. */
  mode?: number;
}

/** Options of {@link writeFilesAtomic}. */
export interface WriteFilesOptions {
  /** Create missing parent directories (mode 0755). Default false: a missing directory is an error. */
  createDirectories?: boolean;
}

function tempNameFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Makes the renames in `dir` durable; platforms that cannot open a directory (Windows) skip it. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EACCES' && code !== 'EINVAL') throw error;
  } finally {
    await handle?.close();
  }
}

function ioError(file: string | undefined, error: unknown): ContrastError {
  return new ContrastError('io-error', `cannot write ${file}: ${(error as Error).message}`, {
    cause: error,
    ...(file ? { file } : {}),
  });
}

/**
 * Writes every file atomically and all-or-nothing as far as a file system allows: first each
 * file's content goes to a temporary file next to it (created exclusively, fsynced), then all are
 * renamed into place in the given order (so a reader that sees the last file finds the others),
 * then each directory is fsynced. If any temporary write fails, the temporary files are removed
 * and no target is touched. Errors are `io-error` ContrastErrors naming the file, never the data.
 */
export async function writeFilesAtomic(
  writes: readonly FileWrite[],
  options: WriteFilesOptions = {},
): Promise<void> {
  const temps: { tmp: string; target: string }[] = [];
  const removeTemps = () => Promise.all(temps.map((t) => rm(t.tmp, { force: true }).catch(() => undefined)));
  let current: string | undefined;
  try {
    for (const w of writes) {
      current = w.path;
      if (options.createDirectories) await mkdir(path.dirname(w.path), { recursive: true, mode: 0o755 });
      const tmp = tempNameFor(w.path);
      const existingMode = await stat(w.path).then(
        (st) => st.mode & 0o777,
        () => undefined,
      );
      const handle = await open(tmp, 'wx', w.mode ?? existingMode ?? 0o644);
      temps.push({ tmp, target: w.path });
      try {
        await handle.writeFile(w.data);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
  } catch (error) {
    await removeTemps();
    throw ioError(current, error);
  }
  for (const t of temps) {
    try {
      await rename(t.tmp, t.target);
    } catch (error) {
      await removeTemps();
      throw ioError(t.target, error);
    }
  }
  try {
    for (const dir of new Set(temps.map((t) => path.dirname(t.target)))) await syncDirectory(dir);
  } catch (error) {
    throw ioError(temps[0]?.target, error);
  }
}
