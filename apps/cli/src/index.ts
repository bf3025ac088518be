export { runCli } from './cli.js';
export type { Command } from './command.js';
export { type CliIo, EXIT, type ExitCode } from './io.js';
