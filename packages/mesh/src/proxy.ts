import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, connect as netConnect, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { createServer as createTlsServer, connect as tlsConnect } from 'node:tls';
import { ContrastError, type Logger, noopLogger } from '@contrast-cc/core';
import type { EgressRule, IngressRule } from './annotations.js';
import type { InterceptionPlan } from './mesh-config.js';

/** The mesh credentials the initializer wrote. */
export interface MeshCredentials {
  keyPem: string;
  certChainPem: string;
  meshCaPem: string;
}

/** Reads `key.pem`, `certChain.pem` and `mesh-ca.pem` from the initializer's tls-config directory. */
export async function readMeshCredentials(dir: string): Promise<MeshCredentials> {
  const read = (f: string) =>
    readFile(path.join(dir, f), 'utf8').catch((cause: unknown) => {
      throw new ContrastError('io-error', `cannot read ${f}`, { cause, file: path.join(dir, f) });
    });
  return {
    keyPem: await read('key.pem'),
    certChainPem: await read('certChain.pem'),
    meshCaPem: await read('mesh-ca.pem'),
  };
}

/** Options of {@link startMeshProxy}. */
export interface MeshProxyOptions {
  credentials: MeshCredentials;
  ingress: readonly IngressRule[];
  egress: readonly EgressRule[];
  /**
   * Intercepted mode (what the traffic rules of the initializer set up): one listener per
   * redirected port on its `proxyPort`, on every address of the pod; plain-text ports are not
   * proxied (the rules let them through to the workload). `ingress` is then ignored.
   */
  interception?: InterceptionPlan;
  /**
   * Direct mode (no traffic rules, e.g. tests and the demo on loopback): each ingress rule gets a
   * listener on this address and its own port.
   */
  ingressListenHost?: string;
  /** Where the workload listens; default 127.0.0.1. */
  workloadHost?: string;
  /**
   * The admin interface (upstream's Envoy admin port): HTTP `GET /ready`, `/stats` (JSON) and
   * `/stats/prometheus`, on every address in intercepted mode (the traffic rules decide who
   * reaches it: mTLS unless the ingress annotation names the port), on 127.0.0.1 in direct mode.
   */
  adminPort?: number;
  /**
   * A connection with no bytes either way for this long is closed (default 1 hour, as Envoy's
   * TCP proxy); 0 keeps idle connections open.
   */
  idleTimeoutMs?: number;
  /** An egress connection whose mTLS handshake with the remote is not done in this long fails (default 5 s, as Envoy's). */
  connectTimeoutMs?: number;
  logger?: Logger;
}

/** Per-rule connection counters of the proxy. */
export interface ProxyStats {
  /** Connections forwarded (after the TLS handshake, where there is one). */
  forwarded: number;
  /** TLS clients refused (no or a foreign client certificate, not TLS at all, ...). */
  refused: number;
}

/** A running proxy. */
export interface MeshProxy {
  /** Bound ports by rule name (the proxy listener's port; in intercepted mode the proxyPort). */
  ports: Record<string, number>;
  stats: Record<string, ProxyStats>;
  close(): Promise<void>;
}

/**
 * Relays two connections both ways. A half-close is passed on: a client that ends its sending side
 * still gets the rest of the answer (the sockets are half-open capable, and each side's end ends
 * the other's sending side only). An error on either side, or `idleTimeoutMs` without a byte
 * either way, closes both.
 */
function pipe(a: Socket, b: Socket, log: Logger, rule: string, idleTimeoutMs: number) {
  const closeBoth = (e?: Error) => {
    if (e) log.debug('connection error', { rule, error: e.message });
    a.destroy();
    b.destroy();
  };
  a.on('error', closeBoth);
  b.on('error', closeBoth);
  a.pipe(b);
  b.pipe(a);
  // Closed for good (both directions done, or torn down): the other side finishes what it sends.
  a.on('close', () => b.end());
  b.on('close', () => a.end());
  if (idleTimeoutMs > 0) {
    for (const s of [a, b])
      s.setTimeout(idleTimeoutMs, () => closeBoth(new Error(`idle for ${idleTimeoutMs} ms`)));
  }
}

function listen(server: Server | HttpServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}

/** Listens on every address: `::` (IPv4 too), or 0.0.0.0 where the pod has no IPv6. */
async function listenEverywhere(server: Server | HttpServer, port: number): Promise<number> {
  try {
    return await listen(server, port, '::');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL') throw e;
    return listen(server, port, '0.0.0.0');
  }
}

function prometheusText(stats: Record<string, ProxyStats>): string {
  const lines = [
    '# HELP contrast_mesh_forwarded_total Connections the mesh proxy forwarded, per rule.',
    '# TYPE contrast_mesh_forwarded_total counter',
    ...Object.entries(stats).map(([r, s]) => `contrast_mesh_forwarded_total{rule="${r}"} ${s.forwarded}`),
    '# HELP contrast_mesh_refused_total TLS clients the mesh proxy refused, per rule.',
    '# TYPE contrast_mesh_refused_total counter',
    ...Object.entries(stats).map(([r, s]) => `contrast_mesh_refused_total{rule="${r}"} ${s.refused}`),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * The service-mesh proxy: per ingress port a listener that terminates TLS with the mesh
 * certificate (`mtls`: a client certificate from the mesh CA is required; `tls`: none required)
 * or passes plain TCP (direct mode only), forwarding to the workload on loopback on that port;
 * per egress rule a loopback listener that opens mTLS to the remote with the mesh certificate,
 * trusting only the mesh CA; optionally the admin interface.
 */
export async function startMeshProxy(options: MeshProxyOptions): Promise<MeshProxy> {
  const log = (options.logger ?? noopLogger).child({ component: 'service-mesh' });
  const { keyPem, certChainPem, meshCaPem } = options.credentials;
  const workloadHost = options.workloadHost ?? '127.0.0.1';
  const idleTimeoutMs = options.idleTimeoutMs ?? 3_600_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  const servers: (Server | HttpServer)[] = [];
  const ports: Record<string, number> = {};
  const stats: Record<string, ProxyStats> = {};
  const closeAll = () =>
    Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(
      () => undefined,
    );

  const listeners: { rule: IngressRule; port: number }[] = options.interception
    ? options.interception.redirects.map((r) => ({ rule: r, port: r.proxyPort }))
    : options.ingress.map((r) => ({ rule: r, port: r.port }));
  if (!options.interception && options.ingress.length > 0 && !options.ingressListenHost) {
    throw new ContrastError('invalid-argument', 'direct mode needs ingressListenHost', {
      field: 'ingressListenHost',
    });
  }
  try {
    for (const { rule, port } of listeners) {
      const counters: ProxyStats = { forwarded: 0, refused: 0 };
      stats[rule.name] = counters;
      const forward = (client: Socket) => {
        counters.forwarded++;
        // Half-open from here on, not during a TLS handshake: a client that gives up mid-handshake
        // must not leave a half-open socket behind (it would wait for the handshake timeout).
        client.allowHalfOpen = true;
        const upstream = netConnect({ host: workloadHost, port: rule.port, allowHalfOpen: true });
        pipe(client, upstream, log, rule.name, idleTimeoutMs);
      };
      const server =
        rule.mode === 'plain'
          ? createNetServer({ allowHalfOpen: true }, forward)
          : createTlsServer(
              {
                key: keyPem,
                cert: certChainPem,
                ca: meshCaPem,
                requestCert: rule.mode === 'mtls',
                rejectUnauthorized: rule.mode === 'mtls',
                minVersion: 'TLSv1.2',
              },
              forward,
            );
      server.on('tlsClientError', (e: Error) => {
        counters.refused++;
        log.info('refused a TLS client', { rule: rule.name, error: e.message });
      });
      servers.push(server);
      ports[rule.name] = options.interception
        ? await listenEverywhere(server, port)
        : await listen(server, port, options.ingressListenHost!);
    }

    for (const rule of options.egress) {
      const counters: ProxyStats = { forwarded: 0, refused: 0 };
      stats[rule.name] = counters;
      const server = createNetServer({ allowHalfOpen: true }, (local) => {
        const remote = tlsConnect({
          host: rule.remoteHost,
          port: rule.remotePort,
          key: keyPem,
          cert: certChainPem,
          ca: meshCaPem,
          // Mesh peers are identified by their mesh CA certificate, not by a host name (as upstream's Envoy).
          checkServerIdentity: () => undefined,
          minVersion: 'TLSv1.2',
        });
        // A remote that does not answer (a black-holed address) fails the connection in
        // connectTimeoutMs instead of the kernel's minutes.
        const connecting = setTimeout(
          () => remote.destroy(new Error(`no mTLS connection within ${connectTimeoutMs} ms`)),
          connectTimeoutMs,
        );
        remote.once('secureConnect', () => {
          clearTimeout(connecting);
          // Half-open once connected (as the ingress side), so a half-close passes through.
          remote.allowHalfOpen = true;
          counters.forwarded++;
        });
        remote.once('close', () => clearTimeout(connecting));
        remote.once('error', () => counters.refused++);
        pipe(local, remote, log, rule.name, idleTimeoutMs);
      });
      servers.push(server);
      ports[rule.name] = await listen(server, rule.listenPort, rule.listenHost);
    }

    if (options.adminPort !== undefined) {
      const admin = createHttpServer((req, res) => {
        const url = req.url ?? '/';
        if (req.method !== 'GET') {
          res.writeHead(405).end();
        } else if (url === '/ready') {
          res.writeHead(200, { 'content-type': 'text/plain' }).end('ready\n');
        } else if (url === '/stats') {
          res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify({ stats })}\n`);
        } else if (url === '/stats/prometheus') {
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(prometheusText(stats));
        } else {
          res.writeHead(404).end();
        }
      });
      servers.push(admin);
      ports.admin = options.interception
        ? await listenEverywhere(admin, options.adminPort)
        : await listen(admin, options.adminPort, '127.0.0.1');
    }
  } catch (e) {
    await closeAll();
    throw e;
  }
  log.info('mesh proxy ready', { ports });
  return { ports, stats, close: closeAll };
}
