import { isIPv4 } from 'node:net';
import { ContrastError } from '@contrast-cc/core';
import { parseHostPort, parsePort } from './address.js';

/** How an ingress port is served. `mtls`: TLS with a mesh client certificate required. */
export type IngressMode = 'mtls' | 'tls' | 'plain';

/** One ingress port. */
export interface IngressRule {
  name: string;
  port: number;
  mode: IngressMode;
}

/** One egress listener: the app connects to `listen`, the proxy opens mTLS to `remote`. */
export interface EgressRule {
  name: string;
  listenHost: string;
  listenPort: number;
  remoteHost: string;
  remotePort: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Parses the upstream ingress annotation grammar: `<name>#<port>#<disableTLS bool>` entries
 * joined by `##`, or `DISABLED`. `name#port#false` terminates TLS without requiring a client
 * certificate; `name#port#true` passes plain TCP. Upstream's default (every other port needs a
 * mesh client certificate) is enforced by TPROXY rules; this proxy has no interception, so those
 * ports are listed explicitly in `mtlsPorts`.
 * Returns `null` for `DISABLED`.
 */
export function parseIngressConfig(text: string, mtlsPorts: readonly number[] = []): IngressRule[] | null {
  const field = 'CONTRAST_INGRESS_PROXY_CONFIG';
  if (text.trim() === 'DISABLED') return null;
  const rules: IngressRule[] = mtlsPorts.map((port) => ({
    name: `mtls-${port}`,
    port,
    mode: 'mtls' as const,
  }));
  if (text.trim() !== '') {
    text.split('##').forEach((entry, i) => {
      const parts = entry.split('#');
      const f = `${field}[${i}]`;
      if (parts.length !== 3) {
        throw new ContrastError('invalid-argument', `"${entry}" is not <name>#<port>#<disableTLS>`, {
          field: f,
        });
      }
      const [name, port, disable] = parts as [string, string, string];
      if (!NAME.test(name))
        throw new ContrastError('invalid-argument', `"${name}" is not a valid name`, { field: f });
      if (disable !== 'true' && disable !== 'false') {
        throw new ContrastError('invalid-argument', `disableTLS must be true or false, got "${disable}"`, {
          field: f,
        });
      }
      rules.push({ name, port: parsePort(port, f), mode: disable === 'true' ? 'plain' : 'tls' });
    });
  }
  const seen = new Set<number>();
  for (const r of rules) {
    if (seen.has(r.port)) {
      throw new ContrastError('invalid-argument', `port ${r.port} is configured twice`, { field });
    }
    seen.add(r.port);
  }
  return rules;
}

/**
 * Parses the upstream egress annotation grammar: `<name>#<listenIP>:<listenPort>#<host>:<port>`
 * joined by `##`. The listen address must be in 127.0.0.0/8 (only the pod's own apps may use it).
 */
export function parseEgressConfig(text: string): EgressRule[] {
  if (text.trim() === '') return [];
  return text.split('##').map((entry, i) => {
    const f = `CONTRAST_EGRESS_PROXY_CONFIG[${i}]`;
    const parts = entry.split('#');
    if (parts.length !== 3) {
      throw new ContrastError(
        'invalid-argument',
        `"${entry}" is not <name>#<listenIP>:<port>#<host>:<port>`,
        {
          field: f,
        },
      );
    }
    const [name, listen, remote] = parts as [string, string, string];
    if (!NAME.test(name))
      throw new ContrastError('invalid-argument', `"${name}" is not a valid name`, { field: f });
    const l = parseHostPort(listen, f);
    if (!isIPv4(l.host) || !l.host.startsWith('127.')) {
      throw new ContrastError('invalid-argument', `listen address ${l.host} is not in 127.0.0.0/8`, {
        field: f,
      });
    }
    const r = parseHostPort(remote, f);
    return { name, listenHost: l.host, listenPort: l.port, remoteHost: r.host, remotePort: r.port };
  });
}
