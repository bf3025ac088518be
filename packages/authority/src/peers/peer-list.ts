// Peer addresses and the static peer source: no Kubernetes client here, so this file (and the
// `@contrast-cc/authority/peers` entry around it) can go into bundles that must not carry
// @kubernetes/client-node (the CLI). The Kubernetes source is in ../peer-source.ts.
import { isIP } from 'node:net';
import { ContrastError } from '@contrast-cc/core';

/** One peer Coordinator's API address. @public */
export interface PeerAddress {
  host: string;
  port: number;
  /** A name for logs (the pod name in Kubernetes). */
  name?: string;
}

/** Finds the other Coordinator replicas. Called once per recovery round. @public */
export interface PeerSource {
  /** What the source is, for logs (`static`, `kubernetes`). */
  readonly kind: string;
  /** The current peers (not this replica). Throws (e.g. `unavailable`) when discovery fails. */
  peers(signal?: AbortSignal): Promise<PeerAddress[]>;
}

function parseOne(text: string, field: string): PeerAddress {
  const t = text.trim();
  const m = t.match(/^\[([0-9a-fA-F:.]+)\]:(\d+)$/) ?? t.match(/^([^:\s[\]]+):(\d+)$/);
  const host = m?.[1];
  const port = Number(m?.[2]);
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ContrastError(
      'invalid-argument',
      `${JSON.stringify(t)} is not host:port (IPv6 as [addr]:port, port 1-65535)`,
      { field },
    );
  }
  if (host.includes(':') && isIP(host) !== 6) {
    throw new ContrastError('invalid-argument', `${JSON.stringify(host)} is not an IPv6 address`, { field });
  }
  return { host, port };
}

/**
 * Parses a comma-separated peer list: `host:port`, `[ipv6]:port` (IPv6 hosts come back without
 * brackets). Empty entries (a trailing comma) are skipped; a list with no entry is refused. Throws
 * `invalid-argument` naming the entry by its position in the text (`peers[i]`).
 * @public
 */
export function parsePeerList(text: string): PeerAddress[] {
  const out: PeerAddress[] = [];
  text.split(',').forEach((part, i) => {
    if (part.trim() !== '') out.push(parseOne(part, `peers[${i}]`));
  });
  if (out.length === 0) {
    throw new ContrastError('invalid-argument', 'the peer list is empty', { field: 'peers' });
  }
  return out;
}

/**
 * A fixed list of peers (`host:port` strings or addresses).
 * @public
 */
export function staticPeers(list: readonly (string | PeerAddress)[]): PeerSource {
  const peers = list.map((p, i) => {
    if (typeof p === 'string') return parseOne(p, `peers[${i}]`);
    if (!p?.host || !Number.isInteger(p.port) || p.port < 1 || p.port > 65535) {
      throw new ContrastError('invalid-argument', 'a peer needs a host and a port 1-65535', {
        field: `peers[${i}]`,
      });
    }
    return { ...p };
  });
  return {
    kind: 'static',
    peers: async () => peers.map((p) => ({ ...p })),
  };
}
