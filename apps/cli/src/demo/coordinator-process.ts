// The demo's Coordinator as a process of its own: `contrast demo --internal-coordinator ...` (not
// in the help: only the demo starts it). It runs the real Coordinator (@contrast-cc/authority/server)
// on 127.0.0.1 with a directory history store and the Simulated-TDX issuer, prints one JSON line
// `{"port":N,"pid":N,"status":"uninitialized"|"stale"|"active"}` once it listens, then one JSON
// line per event: `{"event":"status","status":S}` when its status changes and
// `{"event":"recovered","from":"host:port","durationMs":N,"attempts":N}` when its peer recovery
// loop recovered it from a peer (the authority's onRecovered hook: the peer as given in --peers,
// IPv6 in brackets; how long it was stale as the loop saw it; attempts). Its log goes to
// stderr, one line per record (`<level> <message> <fields as JSON>`; the Coordinator never logs a
// secret). With `--peers host:port,...` it runs peer recovery (HA): while stale it asks those
// replicas for the secrets. It stops on SIGTERM/SIGINT or when its stdin closes (the demo died),
// closing the server and the store.
// The kube-free entries: `@contrast-cc/authority` itself also holds the Kubernetes peer source,
// which must stay out of the CLI bundle (its tsup config forbids @kubernetes/client-node).
import { type PeerAddress, parsePeerList, staticPeers } from '@contrast-cc/authority/peers';
import { type PeerRecoveredEvent, startCoordinator } from '@contrast-cc/authority/server';
import { createLogger, fromHex, isContrastError, type LogRecord, noopLogger } from '@contrast-cc/core';
import { DirectoryHistoryStore } from '@contrast-cc/store';
import { type CliIo, EXIT, type ExitCode } from '../io.js';
import { cliPlatformRegistry } from '../platforms.js';
import { parseFlags, usageError } from '../util.js';

/** The flag that turns `contrast demo` into the demo's Coordinator process. */
export const INTERNAL_COORDINATOR_FLAG = '--internal-coordinator';

/** Peer recovery tuned for one machine: the first retry soon, never long waits. */
const DEMO_PEER_RECOVERY = { minDelayMs: 200, maxDelayMs: 2000, idleCheckMs: 200, timeoutMs: 10_000 };

/** `host:port` of a peer, IPv6 in brackets (as it is written in `--peers`). */
export function peerText(peer: PeerAddress): string {
  return peer.host.includes(':') ? `[${peer.host}]:${peer.port}` : `${peer.host}:${peer.port}`;
}

/**
 * The peers of `--peers`: the authority's peer list (`parsePeerList`: comma-separated `host:port`,
 * `[ipv6]:port`), and on top of it the demo's own rule: loopback only (127.0.0.1, [::1]); the demo
 * never talks to another address. Errors are usage errors naming the entry (`--peers[i]`).
 */
export function parseDemoPeers(text: string): PeerAddress[] {
  let peers: PeerAddress[];
  try {
    peers = parsePeerList(text);
  } catch (e) {
    if (!isContrastError(e)) throw e;
    // The parser names the entry `peers[i]` (its position in the text) or the list `peers`.
    throw usageError(
      e.field && e.field !== 'peers'
        ? `--${e.field}: ${e.message}`
        : `--peers ${JSON.stringify(text)}: give host:port entries separated by commas`,
    );
  }
  // Positions in the text, as the parser counts them (it skips empty entries).
  const positions = text.split(',').flatMap((entry, i) => (entry.trim() === '' ? [] : [i]));
  peers.forEach((peer, k) => {
    if (peer.host !== '127.0.0.1' && peer.host !== '::1') {
      throw usageError(
        `--peers[${positions[k]}]: ${JSON.stringify(peerText(peer))} is not a loopback address (127.0.0.1:PORT or [::1]:PORT)`,
      );
    }
  });
  return peers;
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
  const peers = values.peers === undefined ? undefined : staticPeers(parseDemoPeers(values.peers));
  const platforms = cliPlatformRegistry({ simulatorDir: values['simulator-dir'] });
  const tdx = platforms.get('Simulated-TDX');
  const createIssuer = tdx.attestation.createIssuer;
  if (!createIssuer) throw new Error('Simulated-TDX has no issuer');

  const event = (e: Record<string, unknown>) => io.stdout(`${JSON.stringify(e)}\n`);
  // Events come after the first line (the port): one that fires earlier waits for it.
  let listening = false;
  const early: Record<string, unknown>[] = [];
  const onRecovered = (e: PeerRecoveredEvent) => {
    const line = {
      event: 'recovered',
      from: peerText(e.peer),
      durationMs: e.durationMs,
      attempts: e.attempts,
    };
    if (listening) event(line);
    else early.push(line);
  };
  const logger = createLogger(
    (record: LogRecord) => {
      const fields = Object.keys(record.fields).length > 0 ? ` ${JSON.stringify(record.fields)}` : '';
      io.stderr(`${record.level} ${record.message}${fields}\n`);
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
      ...(peers ? { peers, peerRecovery: { ...DEMO_PEER_RECOVERY, onRecovered } } : {}),
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
  for (const line of early.splice(0)) event(line);
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
