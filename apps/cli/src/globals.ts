// The global flags every command takes (upstream's persistent flags): --log-level and
// --workspace-dir, before or after the command name.
import path from 'node:path';
import { createLogger, LOG_LEVELS, type LogLevel } from '@contrast-cc/core';
import type { CliIo } from './io.js';

export interface GlobalFlags {
  argv: string[];
  logLevel?: LogLevel;
  workspaceDir?: string;
}

/** The global flags, taken out of argv wherever they stand (up to a `--`). */
export function takeGlobalFlags(argv: readonly string[]): GlobalFlags | { error: string } {
  const out: string[] = [];
  let logLevel: LogLevel | undefined;
  let workspaceDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const m = /^--(log-level|workspace-dir)(?:=(.*))?$/.exec(arg);
    if (!m) {
      out.push(arg);
      continue;
    }
    let value = m[2];
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined || value.startsWith('-')) return { error: `--${m[1]} needs a value` };
      i++;
    }
    if (m[1] === 'log-level') {
      if (!(LOG_LEVELS as readonly string[]).includes(value)) {
        return { error: `--log-level ${value}: use one of ${LOG_LEVELS.join(', ')}` };
      }
      logLevel = value as LogLevel;
    } else {
      if (value === '') return { error: '--workspace-dir needs a directory' };
      workspaceDir = value;
    }
  }
  return {
    argv: out,
    ...(logLevel ? { logLevel } : {}),
    ...(workspaceDir !== undefined ? { workspaceDir } : {}),
  };
}

/** The io a command runs with: the workspace resolved, a stderr logger at the chosen level (default warn). */
export function withGlobals(io: CliIo, globals: Omit<GlobalFlags, 'argv'>): CliIo {
  const level = globals.logLevel ?? 'warn';
  return {
    ...io,
    ...(globals.workspaceDir !== undefined ? { workspace: path.resolve(io.cwd, globals.workspaceDir) } : {}),
    logger:
      io.logger ??
      createLogger(
        (r) => {
          const fields = Object.keys(r.fields).length > 0 ? ` ${JSON.stringify(r.fields)}` : '';
          io.stderr(`[${r.level}] ${r.message}${fields}\n`);
        },
        { level },
      ),
  };
}
