import path from 'node:path';
import { createLogger, LOG_LEVELS, type LogLevel } from '@contrast-cc/core';
import type { CommandEntry } from './command.js';
import { COMMANDS } from './commands/index.js';
import { type CliIo, EXIT, type ExitCode } from './io.js';
import { cliVersion } from './version.js';

function mainHelp(commands: readonly CommandEntry[]): string {
  const width = Math.max(8, ...commands.map((c) => c.name.length));
  const list = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n');
  return `contrast ${cliVersion()} — run confidential containers on Kubernetes and verify them.

Usage:
  contrast <command> [flags]
  contrast <command> --help     help for one command

Commands:
${list || '  (none yet: commands arrive as their packages land)'}
  ${'help'.padEnd(width)}  show this help
  ${'version'.padEnd(width)}  print the version

Flags:
  -h, --help                 show help
  -v, --version              print the version
      --log-level <level>    debug, info, warn (default) or error: library log lines on stderr
      --workspace-dir <dir>  where default files are read and written (manifest.json, the owner
                             keys, seed-shares.json, verify/); default the working directory
  (--log-level and --workspace-dir work with every command, before or after its name)

A deployment, step by step:
  contrast generate -p Metal-QEMU-SNP -a runtime-assets.json resources/
                                                    patch your YAML, write manifest.json
  contrast runtime -a runtime-assets.json | kubectl apply -f -
  kubectl apply -f resources/
  contrast set -c <coordinator-ip>:1314 resources/  attest the Coordinator, give it the manifest
  contrast verify -c <coordinator-ip>:1314          anyone can check what the deployment runs

Exit codes: 0 success, 1 the operation failed, 2 bad usage or bad input.
`;
}

/** The global flags, taken out of argv wherever they stand (up to a `--`). */
export function takeGlobalFlags(
  argv: readonly string[],
): { argv: string[]; logLevel?: LogLevel; workspaceDir?: string } | { error: string } {
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

/** Runs the CLI with `argv` (without node and script). Never throws; returns the exit code. */
export async function runCli(
  argvIn: string[],
  ioIn: CliIo,
  commands: readonly CommandEntry[] = COMMANDS,
): Promise<ExitCode> {
  const globals = takeGlobalFlags(argvIn);
  if ('error' in globals) {
    ioIn.stderr(`contrast: ${globals.error}\n`);
    return EXIT.usage;
  }
  const level = globals.logLevel ?? 'warn';
  const io: CliIo = {
    ...ioIn,
    ...(globals.workspaceDir !== undefined
      ? { workspace: path.resolve(ioIn.cwd, globals.workspaceDir) }
      : {}),
    logger:
      ioIn.logger ??
      createLogger(
        (r) => {
          const fields = Object.keys(r.fields).length > 0 ? ` ${JSON.stringify(r.fields)}` : '';
          ioIn.stderr(`[${r.level}] ${r.message}${fields}\n`);
        },
        { level },
      ),
  };
  const [first, ...rest] = globals.argv;
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    const topic = first === 'help' ? rest[0] : undefined;
    const entry = topic ? commands.find((c) => c.name === topic) : undefined;
    if (topic && !entry) {
      io.stderr(`contrast: unknown command "${topic}"; run "contrast --help" for the list\n`);
      return EXIT.usage;
    }
    io.stdout(entry ? (await entry.load()).help : mainHelp(commands));
    return first === undefined ? EXIT.usage : EXIT.ok;
  }
  if (first === '-v' || first === '--version' || first === 'version') {
    io.stdout(`${cliVersion()}\n`);
    return EXIT.ok;
  }
  const entry = commands.find((c) => c.name === first);
  if (!entry) {
    io.stderr(`contrast: unknown command "${first}"; run "contrast --help" for the list\n`);
    return EXIT.usage;
  }
  try {
    const cmd = await entry.load();
    if (rest.includes('-h') || rest.includes('--help')) {
      io.stdout(cmd.help);
      return EXIT.ok;
    }
    return await cmd.run(rest, io);
  } catch (error) {
    io.stderr(
      `contrast ${entry.name}: internal error: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return EXIT.failed;
  }
}
