import type { CliIo, ExitCode } from './io.js';

/** One `contrast <name>` command. */
export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Full help: usage, flags, an example. */
  help: string;
  run(args: string[], io: CliIo): Promise<ExitCode>;
}

/**
 * A command as the command list holds it: name and summary at hand, the implementation loaded
 * only when the command runs, so `contrast --help` stays fast.
 */
export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}
