export { runCli } from './cli.js';
export type { Command, CommandEntry } from './command.js';
export { COMMANDS } from './commands/index.js';
export { type CliIo, EXIT, type ExitCode } from './io.js';
