import { randomBytes } from 'node:crypto';
import { type FSWatcher, watch as fsWatch } from 'node:fs';
import * as fs from 'node:fs/promises';
import path from 'node:path';
import { ContrastError, isContrastError, type Logger, noopLogger } from '@contrast-cc/core';
import {
  assertBytes,
  assertHash,
  assertKind,
  assertSignedLatest,
  checkBlob,
  decodeSignedLatest,
  encodeSignedLatest,
  sha256Hex,
  storeIntegrityError,
} from './hash.js';
import { callListener } from './listener.js';
import type { BlobKind, HistoryStore, LatestListener, SignedLatest, VersionedLatest } from './types.js';

/** @public */
export interface DirectoryStoreOptions {
  logger?: Logger;
  /** How often a watch re-reads the pointer in addition to fs.watch events (ms). Default 500. */
  pollIntervalMs?: number;
  /** Temp files older than this are removed when the store opens (ms). Default 10 minutes. */
  staleTempMs?: number;
}

/** Directory of each blob kind under the store root. */
const KIND_DIR: Record<BlobKind, string> = {
  manifest: 'manifests',
  policy: 'policies',
  transition: 'transitions',
};
const LATEST_DIR = 'latest';
/** Pointer versions are file names: zero-padded decimal so they sort as numbers. */
const VERSION_WIDTH = 16;
const VERSION_FILE = /^[0-9]{16}$/;
const VERSION_TEXT = /^[1-9][0-9]{0,15}$/;
const TEMP_PREFIX = '.tmp-';
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

function errno(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? (error as NodeJS.ErrnoException).code : undefined;
}

function ioError(message: string, cause: unknown, file?: string): ContrastError {
  return new ContrastError('io-error', message, { cause, file });
}

/** Writes `bytes` to a new temp file in `dir`, fsyncs it, and returns its path. */
async function writeTemp(dir: string, bytes: Uint8Array): Promise<string> {
  const tmp = path.join(dir, `${TEMP_PREFIX}${process.pid}-${randomBytes(8).toString('hex')}`);
  const handle = await fs.open(tmp, 'wx', FILE_MODE);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return tmp;
}

/** Makes a directory entry change (rename, link, unlink) durable. */
async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * The history store in a local directory (the embedded default).
 *
 * Layout (see README): `manifests/<sha256>`, `policies/<sha256>`, `transitions/<sha256>` hold
 * blobs; `latest/<16-digit version>` holds every version of the latest pointer, the highest being
 * current. Every file is written to a temp file in its final directory, fsynced, then renamed
 * (blobs) or hard-linked (pointer versions) into place and the directory fsynced, so a reader or
 * a restart after kill -9 sees either the old or the new file, never a partial one.
 *
 * Compare-and-swap of the pointer is `link(tmp, latest/<expected+1>)`, which fails with EEXIST if
 * any writer (in this or another process) got there first; pointer versions are never deleted, so
 * "expected exists and expected+1 does not" is exactly "expected is current".
 * @public
 */
export class DirectoryHistoryStore implements HistoryStore {
  readonly root: string;
  readonly #logger: Logger;
  readonly #pollMs: number;
  readonly #closers = new Set<() => void>();
  #closed = false;

  private constructor(root: string, options: DirectoryStoreOptions) {
    this.root = root;
    this.#logger = (options.logger ?? noopLogger).child({ component: 'store', backend: 'directory' });
    this.#pollMs = options.pollIntervalMs ?? 500;
  }

  /** Opens (creating if needed) a store rooted at `root`. */
  static async open(root: string, options: DirectoryStoreOptions = {}): Promise<DirectoryHistoryStore> {
    if (typeof root !== 'string' || root === '') {
      throw new ContrastError('invalid-argument', 'the store directory must be a non-empty path', {
        field: 'root',
      });
    }
    const abs = path.resolve(root);
    const store = new DirectoryHistoryStore(abs, options);
    try {
      await fs.mkdir(abs, { recursive: true, mode: DIR_MODE });
      for (const sub of [...Object.values(KIND_DIR), LATEST_DIR]) {
        await fs.mkdir(path.join(abs, sub), { recursive: true, mode: DIR_MODE });
      }
      await syncDir(abs);
      // Make the root's own entry durable too (best effort: the parent may not be readable).
      await syncDir(path.dirname(abs)).catch(() => {});
    } catch (cause) {
      throw ioError('cannot create the store directory', cause, abs);
    }
    await store.#removeStaleTemps(options.staleTempMs ?? 10 * 60_000);
    return store;
  }

  async #removeStaleTemps(maxAgeMs: number): Promise<void> {
    const now = Date.now();
    for (const sub of [...Object.values(KIND_DIR), LATEST_DIR]) {
      const dir = path.join(this.root, sub);
      for (const name of await fs.readdir(dir)) {
        if (!name.startsWith(TEMP_PREFIX)) continue;
        const file = path.join(dir, name);
        try {
          const st = await fs.stat(file);
          if (now - st.mtimeMs >= maxAgeMs) {
            await fs.unlink(file);
            this.#logger.debug('removed a stale temp file', { file });
          }
        } catch (error) {
          if (errno(error) !== 'ENOENT') this.#logger.warn('cannot remove a temp file', { file });
        }
      }
    }
  }

  #check(): void {
    if (this.#closed) throw new ContrastError('precondition-failed', 'the store is closed');
  }

  #blobPath(kind: BlobKind, hash: string): string {
    return path.join(this.root, KIND_DIR[kind], hash);
  }

  async putBlob(kind: BlobKind, bytes: Uint8Array): Promise<string> {
    this.#check();
    assertKind(kind);
    assertBytes(bytes, 'bytes');
    const hash = sha256Hex(bytes);
    const file = this.#blobPath(kind, hash);
    // Already there and intact: nothing to do (blobs are immutable). A corrupt copy is replaced.
    try {
      if (sha256Hex(await fs.readFile(file)) === hash) return hash;
      this.#logger.warn('replacing a corrupted blob', { kind, hash });
    } catch (error) {
      if (errno(error) !== 'ENOENT') throw ioError(`cannot read ${kind} ${hash}`, error, file);
    }
    const dir = path.dirname(file);
    try {
      const tmp = await writeTemp(dir, bytes);
      await fs.rename(tmp, file);
      await syncDir(dir);
    } catch (cause) {
      throw ioError(`cannot write ${kind} ${hash}`, cause, file);
    }
    return hash;
  }

  async getBlob(kind: BlobKind, hash: string): Promise<Uint8Array> {
    this.#check();
    assertKind(kind);
    assertHash(hash, 'hash');
    const file = this.#blobPath(kind, hash);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await fs.readFile(file));
    } catch (error) {
      if (errno(error) === 'ENOENT') {
        throw storeIntegrityError('not-found', `no ${kind} with hash ${hash}`, `${kind}/${hash}`);
      }
      throw ioError(`cannot read ${kind} ${hash}`, error, file);
    }
    return checkBlob(kind, hash, bytes);
  }

  async hasBlob(kind: BlobKind, hash: string): Promise<boolean> {
    this.#check();
    assertKind(kind);
    assertHash(hash, 'hash');
    try {
      await fs.access(this.#blobPath(kind, hash));
      return true;
    } catch {
      return false;
    }
  }

  /** The highest pointer version on disk, or 0 when there is none. */
  async #currentVersion(): Promise<number> {
    let max = 0;
    for (const name of await fs.readdir(path.join(this.root, LATEST_DIR))) {
      if (!VERSION_FILE.test(name)) continue;
      const n = Number(name);
      if (n > max) max = n;
    }
    return max;
  }

  #versionPath(n: number): string {
    return path.join(this.root, LATEST_DIR, String(n).padStart(VERSION_WIDTH, '0'));
  }

  async getLatest(): Promise<VersionedLatest | null> {
    this.#check();
    let version: number;
    let bytes: Uint8Array;
    try {
      version = await this.#currentVersion();
      if (version === 0) return null;
      bytes = new Uint8Array(await fs.readFile(this.#versionPath(version)));
    } catch (cause) {
      throw ioError('cannot read the latest pointer', cause, path.join(this.root, LATEST_DIR));
    }
    return { value: decodeSignedLatest(bytes, `latest/${version}`), version: String(version) };
  }

  async setLatest(value: SignedLatest, expectedVersion: string | null): Promise<string> {
    this.#check();
    assertSignedLatest(value);
    let expected = 0;
    if (expectedVersion !== null) {
      if (typeof expectedVersion !== 'string' || !VERSION_TEXT.test(expectedVersion)) {
        throw new ContrastError('invalid-argument', 'not a version of this store', {
          field: 'expectedVersion',
        });
      }
      expected = Number(expectedVersion);
    }
    const dir = path.join(this.root, LATEST_DIR);
    const next = expected + 1;
    const conflict = () =>
      new ContrastError(
        'conflict',
        expectedVersion === null
          ? 'the latest pointer already exists'
          : `the latest pointer is no longer at version ${expectedVersion}`,
        { field: 'expectedVersion' },
      );
    try {
      if (expected > 0) {
        // Versions are never deleted: if `expected` is absent, it was never written.
        try {
          await fs.access(this.#versionPath(expected));
        } catch {
          throw conflict();
        }
      }
      const tmp = await writeTemp(dir, encodeSignedLatest(value));
      try {
        await fs.link(tmp, this.#versionPath(next));
      } catch (error) {
        if (errno(error) === 'EEXIST') throw conflict();
        throw error;
      } finally {
        await fs.unlink(tmp).catch(() => {});
      }
      await syncDir(dir);
    } catch (error) {
      if (isContrastError(error)) throw error;
      throw ioError('cannot write the latest pointer', error, dir);
    }
    this.#logger.debug('moved the latest pointer', { version: next, transitionHash: value.transitionHash });
    return String(next);
  }

  async watchLatest(onChange: LatestListener, signal: AbortSignal): Promise<void> {
    this.#check();
    if (signal.aborted) return;
    let last: string | null | undefined;
    let running = false;
    let again = false;
    const poll = async (): Promise<void> => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        do {
          again = false;
          if (signal.aborted || this.#closed) return;
          let current: VersionedLatest | null;
          try {
            current = await this.getLatest();
          } catch (error) {
            this.#logger.warn('watch: cannot read the latest pointer', { error: String(error) });
            continue;
          }
          const version = current?.version ?? null;
          if (version !== last && !signal.aborted) {
            last = version;
            callListener(onChange, current, this.#logger);
          }
        } while (again);
      } finally {
        running = false;
      }
    };
    let watcher: FSWatcher | undefined;
    try {
      watcher = fsWatch(path.join(this.root, LATEST_DIR), { persistent: false }, () => void poll());
      watcher.on('error', () => {});
    } catch {
      this.#logger.debug('fs.watch unavailable; polling only');
    }
    const timer = setInterval(() => void poll(), this.#pollMs);
    timer.unref();
    const stop = () => {
      clearInterval(timer);
      watcher?.close();
      this.#closers.delete(stop);
    };
    this.#closers.add(stop);
    signal.addEventListener('abort', stop, { once: true });
    await poll();
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const stop of [...this.#closers]) stop();
  }
}
