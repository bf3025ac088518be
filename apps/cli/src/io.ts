import type { Logger } from '@contrast-cc/core';

/** Where a command writes. Tests pass buffers; the binary passes the process streams. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Working directory for relative paths. */
  cwd: string;
  env: Record<string, string | undefined>;
  /**
   * The global `--workspace-dir` (absolute): where default files are read and written. Unset:
   * the working directory.
   */
  workspace?: string;
  /** Where library log lines go, at the global `--log-level` (default warn): stderr. */
  logger?: Logger;
  /**
   * Stops a long-running command (port-forward) as Ctrl-C would. Unset: such a command listens
   * for SIGINT and SIGTERM itself while it runs.
   */
  signal?: AbortSignal;
}

/** Exit codes of every command: 0 done, 1 the operation failed, 2 bad usage or bad input. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
