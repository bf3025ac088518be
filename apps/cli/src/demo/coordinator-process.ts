// The demo's Coordinator as a process of its own: `contrast demo --internal-coordinator ...` (not
// in the help: only the demo starts it). It runs the real Coordinator (@contrast-cc/authority/server)
// on 127.0.0.1 with a directory history store and the Simulated-TDX issuer, prints one JSON line
// `{"port":N,"pid":N}` once it listens, and stops on SIGTERM/SIGINT or when its stdin closes (the
// demo died), closing the server and the store.
import { startCoordinator } from '@contrast-cc/authority/server';
import { fromHex, noopLogger } from '@contrast-cc/core';
import { DirectoryHistoryStore } from '@contrast-cc/store';
import { type CliIo, EXIT, type ExitCode } from '../io.js';
import { cliPlatformRegistry } from '../platforms.js';
import { parseFlags, usageError } from '../util.js';

/** The flag that turns `contrast demo` into the demo's Coordinator process. */
export const INTERNAL_COORDINATOR_FLAG = '--internal-coordinator';

/** The arguments of the Coordinator process, after `demo`. */
export function coordinatorProcessArgs(o: { storeDir: string; simulatorDir: string; policyHash: string }) {
  return [
    INTERNAL_COORDINATOR_FLAG,
    '--store',
    o.storeDir,
    '--simulator-dir',
    o.simulatorDir,
    '--policy-hash',
    o.policyHash,
  ];
}

export async function runCoordinatorProcess(args: string[], io: CliIo): Promise<ExitCode> {
  const { values } = parseFlags(args, {
    'internal-coordinator': { type: 'boolean' },
    store: { type: 'string' },
    'simulator-dir': { type: 'string' },
    'policy-hash': { type: 'string' },
  });
  if (!values.store || !values['simulator-dir'] || !values['policy-hash']) {
    throw usageError('--store, --simulator-dir and --policy-hash are required');
  }
  const hostData = fromHex(values['policy-hash'], { field: '--policy-hash', length: 32 });
  const platforms = cliPlatformRegistry({ simulatorDir: values['simulator-dir'] });
  const tdx = platforms.get('Simulated-TDX');
  const createIssuer = tdx.attestation.createIssuer;
  if (!createIssuer) throw new Error('Simulated-TDX has no issuer');
  const store = await DirectoryHistoryStore.open(values.store);
  let coordinator: Awaited<ReturnType<typeof startCoordinator>>;
  try {
    coordinator = await startCoordinator({
      store,
      platforms,
      issuer: createIssuer({ logger: noopLogger, hostData }),
      allowInsecure: true,
      host: '127.0.0.1',
      port: 0,
      metricsPort: null,
    });
  } catch (e) {
    await store.close();
    throw e;
  }
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
    process.stdin.on('end', () => resolve());
    process.stdin.on('close', () => resolve());
    process.stdin.resume();
  });
  io.stdout(`${JSON.stringify({ port: coordinator.port, pid: process.pid })}\n`);
  await stopped;
  await coordinator.close();
  await store.close();
  process.stdin.destroy();
  return EXIT.ok;
}
