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
