// The demo's Coordinator as a process of its own: `contrast demo --internal-coordinator ...` (not
// in the help: only the demo starts it). It runs the real Coordinator (@contrast-cc/authority/server)
// on 127.0.0.1 with a directory history store and the Simulated-TDX issuer, prints one JSON line
// `{"port":N,"pid":N,"status":"uninitialized"|"stale"|"active"}` once it listens, then one JSON
// line per event: `{"event":"status","status":S}` when its status changes and
// `{"event":"recovered","from":"host:port"}` when it recovered itself from a peer. Its log goes to
// stderr, one line per record (`<level> <message> <fields as JSON>`; the Coordinator never logs a
// secret). With `--peers host:port,...` it runs peer recovery (HA): while stale it asks those
// replicas for the secrets. It stops on SIGTERM/SIGINT or when its stdin closes (the demo died),
// closing the server and the store.
// Types only: the package's entry also holds the Kubernetes peer source, which must stay out of the
// CLI bundle (its tsup config forbids @kubernetes/client-node).
import type { PeerAddress, PeerSource } from '@contrast-cc/authority';
import { startCoordinator } from '@contrast-cc/authority/server';
import { createLogger, fromHex, type LogRecord, noopLogger } from '@contrast-cc/core';
import { DirectoryHistoryStore } from '@contrast-cc/store';
import { type CliIo, EXIT, type ExitCode } from '../io.js';
import { cliPlatformRegistry } from '../platforms.js';
import { parseFlags, usageError } from '../util.js';

/** The flag that turns `contrast demo` into the demo's Coordinator process. */
export const INTERNAL_COORDINATOR_FLAG = '--internal-coordinator';

/** The authority's log message when the peer recovery loop recovered this replica (fields.peer). */
const RECOVERED_FROM_PEER = 'recovered from a peer Coordinator';

/** Peer recovery tuned for one machine: the first retry soon, never long waits. */
const DEMO_PEER_RECOVERY = { minDelayMs: 200, maxDelayMs: 2000, idleCheckMs: 200, timeoutMs: 10_000 };

/**
 * The peers of `--peers`: a comma-separated list of loopback `host:port` (127.0.0.1, [::1]); the
 * demo never talks to another address. Errors name the entry (`--peers[i]`).
 */
export function parseDemoPeers(text: string): PeerAddress[] {
  const entries = text.split(',').map((p) => p.trim());
  if (entries.length === 0 || entries.some((p) => p === '')) {
    throw usageError(`--peers ${JSON.stringify(text)}: give host:port entries separated by commas`);
  }
  return entries.map((entry, i) => {
    const m = /^(127\.0\.0\.1|\[::1\]):(\d{1,5})$/.exec(entry);
    const port = Number(m?.[2]);
    if (!m || port < 1 || port > 65535) {
      throw usageError(
        `--peers[${i}] ${JSON.stringify(entry)}: not a loopback host:port (127.0.0.1:PORT or [::1]:PORT, port 1-65535)`,
      );
    }
    return { host: m[1] === '[::1]' ? '::1' : '127.0.0.1', port };
  });
}

/** A fixed list of peers for the Coordinator's peer recovery loop. */
function fixedPeers(list: readonly PeerAddress[]): PeerSource {
  return { kind: 'static', peers: async () => list.map((p) => ({ ...p })) };
}

/** The arguments of the Coordinator process, after `demo`. */
export function coordinatorProcessArgs(o: {
  storeDir: string;
  simulatorDir: string;
  policyHash: string;
  /** Peer replicas (`host:port`): turns on peer recovery. */
  peers?: readonly string[];
}) {
  return [
    INTERNAL_COORDINATOR_FLAG,
    '--store',
    o.storeDir,
    '--simulator-dir',
    o.simulatorDir,
    '--policy-hash',
    o.policyHash,
    ...(o.peers && o.peers.length > 0 ? ['--peers', o.peers.join(',')] : []),
  ];
}

export async function runCoordinatorProcess(args: string[], io: CliIo): Promise<ExitCode> {
  const { values } = parseFlags(args, {
    'internal-coordinator': { type: 'boolean' },
    store: { type: 'string' },
    'simulator-dir': { type: 'string' },
    'policy-hash': { type: 'string' },
    peers: { type: 'string' },
  });
  if (!values.store || !values['simulator-dir'] || !values['policy-hash']) {
    throw usageError('--store, --simulator-dir and --policy-hash are required');
  }
  const hostData = fromHex(values['policy-hash'], { field: '--policy-hash', length: 32 });
  const peers = values.peers === undefined ? undefined : fixedPeers(parseDemoPeers(values.peers));
  const platforms = cliPlatformRegistry({ simulatorDir: values['simulator-dir'] });
  const tdx = platforms.get('Simulated-TDX');
  const createIssuer = tdx.attestation.createIssuer;
  if (!createIssuer) throw new Error('Simulated-TDX has no issuer');

  const event = (e: Record<string, unknown>) => io.stdout(`${JSON.stringify(e)}\n`);
  let listening = false;
  let recoveredBeforeListening: string | undefined;
  const logger = createLogger(
    (record: LogRecord) => {
      const fields = Object.keys(record.fields).length > 0 ? ` ${JSON.stringify(record.fields)}` : '';
      io.stderr(`${record.level} ${record.message}${fields}\n`);
      if (record.message === RECOVERED_FROM_PEER && typeof record.fields.peer === 'string') {
        if (listening) event({ event: 'recovered', from: record.fields.peer });
        else recoveredBeforeListening = record.fields.peer;
      }
    },
    { level: 'info' },
  );

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
      logger,
      ...(peers ? { peers, peerRecovery: DEMO_PEER_RECOVERY } : {}),
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
  // The status when it starts listening: a recovery needs network round trips, so a replica
  // started on a store with a history is still stale here even with peers.
  let status = coordinator.authority.status;
  event({ port: coordinator.port, pid: process.pid, status });
  listening = true;
  if (recoveredBeforeListening) event({ event: 'recovered', from: recoveredBeforeListening });
  const watch = setInterval(() => {
    const now = coordinator.authority.status;
    if (now !== status) {
      status = now;
      event({ event: 'status', status });
    }
  }, 50);
  await stopped;
  clearInterval(watch);
  await coordinator.close();
  await store.close();
  process.stdin.destroy();
  return EXIT.ok;
}
