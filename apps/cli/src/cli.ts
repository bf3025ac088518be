import type { CommandEntry } from './command.js';
import { COMMANDS } from './commands/index.js';
import { takeGlobalFlags, withGlobals } from './globals.js';
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
  -v, --version [--json]     print the version, the container images this build deploys and
                             each platform's runtime handler and reference values
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
  (no address reachable from here? contrast port-forward svc/coordinator 1314, then -c 127.0.0.1:1314)
  contrast verify -c <coordinator-ip>:1314          anyone can check what the deployment runs

Exit codes: 0 success, 1 the operation failed, 2 bad usage or bad input.
`;
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
  const io = withGlobals(ioIn, globals);
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
    // The version alone stays instant; the images and platforms are loaded only for this.
    const { versionInfo, formatVersionInfo } = await import('./version-info.js');
    try {
      const info = versionInfo(io);
      io.stdout(rest.includes('--json') ? `${JSON.stringify(info, null, 2)}\n` : formatVersionInfo(info));
    } catch (error) {
      io.stdout(`contrast ${cliVersion()}\n`);
      io.stderr(`contrast --version: ${error instanceof Error ? error.message : String(error)}\n`);
      return EXIT.failed;
    }
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

export { takeGlobalFlags } from './globals.js';
