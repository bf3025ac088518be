import { mkdtemp, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from '../command.js';
import { INTERNAL_COORDINATOR_FLAG, runCoordinatorProcess } from '../demo/coordinator-process.js';
import { Cleanup } from '../demo/processes.js';
import { DEMO_STEPS, runDemo } from '../demo/run.js';
import { type CliIo, EXIT, type ExitCode } from '../io.js';
import { parseFlags, resolveIn, runCommand, usageError } from '../util.js';

const HELP = `contrast demo — a whole Contrast deployment on this machine, in under a minute.

On the simulator platform (Simulated-TDX: INSECURE, for learning only), with no cluster: writes the
example shop app into the workspace, runs "contrast generate", starts a Coordinator as a separate
process with its history in the workspace, runs "contrast set" and "contrast verify", starts an
initializer and a service-mesh proxy per pod, sends a request from web to api through the mesh,
shows that a client without a mesh certificate is refused, crashes and restarts the Coordinator
and recovers it with "contrast recover" (same root CA), then shows high availability: a second
Coordinator replica on the same store recovers by itself from the first, the first is crashed and
recovers by itself from the second, and still issues mesh certificates. Everything listens on
loopback only, and everything it starts is stopped at the end, on failure and on Ctrl-C.

Usage:
  contrast demo [--workspace DIR] [--json] [--verbose]

Flags:
  -w, --workspace <dir>   an empty or new directory for the files (default: a new temporary one)
      --json              print one JSON summary instead of the progress lines
      --verbose           also show the Coordinator processes' log lines as they come (else
                          they are shown only when a step fails)
  -h, --help              show this help

Examples:
  contrast demo --workspace ./contrast-demo
  contrast demo --json > summary.json      # one JSON summary: steps' results, pids, files

It leaves in the workspace: manifest.json, verify/coordinator-root-ca.pem, verify/mesh-ca.pem (and
the manifest history), seed-shares.json, the owner keys, deployment/ (the patched YAML), pods/ and
ha/ (replica B's verify/ and the mesh certificate from the restarted replica A).

Exit codes: 0 the demo ran through, 1 a step failed (the output says which), 2 bad usage (e.g. the
workspace is not empty).
`;

/** Dependencies of `contrast demo`: how to start this CLI again as a process (for the Coordinator). */
export interface DemoCommandDeps {
  /** Default: this process's node, its execArgv and its script (the `contrast` bin). */
  self?: readonly string[];
  /** How long an HA replica may take to recover from its peer (default 30 s). */
  peerRecoveryTimeoutMs?: number;
}

async function prepareWorkspace(io: CliIo, dir: string | undefined): Promise<string> {
  if (dir === undefined) return mkdtemp(path.join(tmpdir(), 'contrast-demo-'));
  const abs = resolveIn(io, dir);
  const st = await stat(abs).catch(() => undefined);
  if (st && !st.isDirectory()) throw usageError(`--workspace ${dir}: not a directory`);
  if (st && (await readdir(abs)).length > 0) {
    throw usageError(`--workspace ${dir}: not empty; give an empty or new directory`);
  }
  return abs;
}

async function run(args: string[], io: CliIo, deps: DemoCommandDeps): Promise<ExitCode> {
  if (args.includes(INTERNAL_COORDINATOR_FLAG)) return runCoordinatorProcess(args, io);
  const { values, positionals } = parseFlags(args, {
    workspace: { type: 'string', short: 'w' },
    json: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  });
  if (positionals.length > 0) throw usageError(`unexpected argument "${positionals[0]}"`);
  const workspace = await prepareWorkspace(io, values.workspace);
  const self = deps.self ?? [process.execPath, ...process.execArgv, process.argv[1] ?? 'contrast'];

  // Ctrl-C or SIGTERM: stop everything started so far, then exit as the signal asks.
  const cleanup = new Cleanup();
  const onSignal = (signal: NodeJS.Signals) => {
    io.stderr(`\ncontrast demo: ${signal}: stopping everything the demo started ...\n`);
    void cleanup.stopAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const summary = await runDemo({
      workspace,
      json: values.json,
      verbose: values.verbose,
      ...(deps.peerRecoveryTimeoutMs ? { peerRecoveryTimeoutMs: deps.peerRecoveryTimeoutMs } : {}),
      self,
      io,
      cleanup,
    });
    if (values.json) io.stdout(`${JSON.stringify(summary, null, 2)}\n`);
    if (!summary.ok) {
      io.stderr(
        `contrast demo: FAILED: ${summary.error ?? `cleanup: ${summary.cleanup.errors.join('; ')}`}\n` +
          `(everything it started is stopped; the workspace ${workspace} shows how far it got)\n`,
      );
      return EXIT.failed;
    }
    if (!values.json) io.stdout(`\ndemo: done (${DEMO_STEPS} steps).\n`);
    return EXIT.ok;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** `contrast demo`. */
export function createDemoCommand(deps: DemoCommandDeps = {}): Command {
  return {
    name: 'demo',
    summary: 'run a whole deployment on this machine (simulator, no cluster) and explain it',
    help: HELP,
    run: (args, io) => runCommand('demo', io, () => run(args, io, deps)),
  };
}
