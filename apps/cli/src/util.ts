// Small helpers every command shares: reading input files with errors that name file and flag,
// flag parsing that turns mistakes into usage errors, and the one place exit codes are decided.
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { isContrastError } from '@contrast-cc/core';
import { type CliIo, EXIT, type ExitCode } from './io.js';

/** An expected failure of a command: printed as `contrast <cmd>: <message>`, exits with `code`. */
export class CliFailure extends Error {
  constructor(
    message: string,
    readonly code: ExitCode,
  ) {
    super(message);
  }
}

/** Bad usage or bad input: exit 2. */
export const usageError = (message: string): CliFailure => new CliFailure(message, EXIT.usage);
/** The operation failed: exit 1. */
export const operationFailed = (message: string): CliFailure => new CliFailure(message, EXIT.failed);

/** parseArgs with strict flags; a mistake becomes a usage error. */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: T,
  allowPositionals = false,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: boolean }>> {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals });
  } catch (e) {
    throw usageError((e as Error).message);
  }
}

/**
 * Where a default file (manifest.json, the owner keys, seed-shares.json, verify/) lives: in the
 * workspace given with the global `--workspace-dir`, else in the working directory. Returned
 * relative to the working directory when it can be, so messages name it as the user would.
 */
export function workspaceFile(io: CliIo, name: string): string {
  if (!io.workspace) return name;
  const abs = path.resolve(io.workspace, name);
  const rel = path.relative(io.cwd, abs);
  return rel === '' ? '.' : path.isAbsolute(rel) ? abs : rel;
}

/** A path relative to the command's working directory. */
export function resolveIn(io: CliIo, file: string): string {
  return path.resolve(io.cwd, file);
}

/**
 * contrast's per-user cache directory (for image layer facts and other downloads), by the
 * platform's convention:
 *   - $CONTRAST_CACHE_DIR when set (relative to the working directory), on every platform;
 *   - Linux and other Unix: $XDG_CACHE_HOME/contrast, else ~/.cache/contrast;
 *   - macOS: $XDG_CACHE_HOME/contrast when set, else ~/Library/Caches/contrast;
 *   - Windows: %LOCALAPPDATA%\contrast\cache, else <home>\AppData\Local\contrast\cache.
 * A relative $XDG_CACHE_HOME or %LOCALAPPDATA% is ignored (the XDG spec says so; a relative
 * Windows one is a mistake). `platform` and `homedir` are for tests.
 */
export function userCacheDir(
  io: Pick<CliIo, 'cwd' | 'env'>,
  options: { platform?: NodeJS.Platform; homedir?: string } = {},
): string {
  const platform = options.platform ?? process.platform;
  const p = platform === 'win32' ? path.win32 : path.posix;
  const env = io.env;
  if (env.CONTRAST_CACHE_DIR) return p.resolve(io.cwd, env.CONTRAST_CACHE_DIR);
  const home = options.homedir ?? os.homedir();
  const absolute = (v: string | undefined): string | undefined => (v && p.isAbsolute(v) ? v : undefined);
  if (platform === 'win32') {
    const local = absolute(env.LOCALAPPDATA) ?? p.join(home, 'AppData', 'Local');
    return p.join(local, 'contrast', 'cache');
  }
  const xdg = absolute(env.XDG_CACHE_HOME);
  if (xdg) return p.join(xdg, 'contrast');
  if (platform === 'darwin') return p.join(home, 'Library', 'Caches', 'contrast');
  return p.join(home, '.cache', 'contrast');
}

/** Reads an input file; a missing or unreadable file is bad input naming the flag and the file. */
export async function readInput(io: CliIo, file: string, flag: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(resolveIn(io, file)));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw usageError(
      `${flag} ${file}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? 'error'})`}`,
    );
  }
}

/** Like readInput, but undefined when the file does not exist (for optional defaults). */
export async function readOptional(io: CliIo, file: string, flag: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await readFile(resolveIn(io, file)));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw usageError(`${flag} ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/**
 * Runs a command body and maps what it throws to output and an exit code: CliFailure as is,
 * local ContrastError input problems (invalid-argument, validation-failed, not-found) as 2, other
 * ContrastErrors and every Coordinator answer (ApiError) as 1.
 */
export async function runCommand(name: string, io: CliIo, body: () => Promise<ExitCode>): Promise<ExitCode> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof CliFailure) {
      io.stderr(`contrast ${name}: ${e.message}\n`);
      if (e.code === EXIT.usage) io.stderr(`Run "contrast ${name} --help" for usage.\n`);
      return e.code;
    }
    if (isContrastError(e)) {
      io.stderr(`contrast ${name}: ${e.describe()}\n`);
      // Local input problems are bad input (2); what a Coordinator answered (ApiError) is a failed operation (1).
      const fromServer = 'apiCode' in e;
      const badInput =
        e.code === 'invalid-argument' || e.code === 'validation-failed' || e.code === 'not-found';
      return badInput && !fromServer ? EXIT.usage : EXIT.failed;
    }
    throw e;
  }
}

/** `3m`, `90s`, `1m30s`, `500ms` or `0` (no waiting) -> milliseconds; bad input names the flag. */
export function parseWait(text: string, flag: string): number {
  const t = text.trim();
  if (t === '0') return 0;
  const m = /^(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/.exec(t);
  if (!m || t === '' || (m[1] === undefined && m[2] === undefined && m[3] === undefined)) {
    throw usageError(`${flag} "${text}" is not a duration like 3m, 90s, 1m30s or 0`);
  }
  return (Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 1000 + Number(m[3] ?? 0);
}
