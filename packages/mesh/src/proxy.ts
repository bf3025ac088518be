import { readFile } from 'node:fs/promises';
import { createServer as createNetServer, connect as netConnect, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { createServer as createTlsServer, connect as tlsConnect } from 'node:tls';
import { ContrastError, type Logger, noopLogger } from '@contrast-cc/core';
import type { EgressRule, IngressRule } from './annotations.js';

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
  /** Address the ingress listeners bind (the pod IP; a loopback address in tests). */
  ingressListenHost: string;
  /** Where the workload listens; default 127.0.0.1. */
  workloadHost?: string;
  logger?: Logger;
}

/** A running proxy. */
export interface MeshProxy {
  /** Bound ports by rule name. */
  ports: Record<string, number>;
  close(): Promise<void>;
}

function pipe(a: Socket, b: Socket, log: Logger, rule: string) {
  const closeBoth = (e?: Error) => {
    if (e) log.debug('connection error', { rule, error: e.message });
    a.destroy();
    b.destroy();
  };
  a.on('error', closeBoth);
  b.on('error', closeBoth);
  a.pipe(b);
  b.pipe(a);
  a.on('close', () => b.end());
  b.on('close', () => a.end());
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}

/**
 * The service-mesh proxy: per ingress rule a listener that terminates TLS with the mesh
 * certificate (`mtls`: a client certificate from the mesh CA is required; `tls`: none required)
 * or passes plain TCP, forwarding to the workload on the same port; per egress rule a loopback
 * listener that opens mTLS to the remote with the mesh certificate, trusting only the mesh CA.
 */
export async function startMeshProxy(options: MeshProxyOptions): Promise<MeshProxy> {
  const log = (options.logger ?? noopLogger).child({ component: 'service-mesh' });
  const { keyPem, certChainPem, meshCaPem } = options.credentials;
  const workloadHost = options.workloadHost ?? '127.0.0.1';
  const servers: Server[] = [];
  const ports: Record<string, number> = {};

  for (const rule of options.ingress) {
    const forward = (client: Socket) => {
      const upstream = netConnect({ host: workloadHost, port: rule.port });
      pipe(client, upstream, log, rule.name);
    };
    const server =
      rule.mode === 'plain'
        ? createNetServer(forward)
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
    server.on('tlsClientError', (e: Error) =>
      log.info('refused a TLS client', { rule: rule.name, error: e.message }),
    );
    ports[rule.name] = await listen(server, rule.port, options.ingressListenHost);
    servers.push(server);
  }

  for (const rule of options.egress) {
    const server = createNetServer((local) => {
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
      pipe(local, remote, log, rule.name);
    });
    ports[rule.name] = await listen(server, rule.listenPort, rule.listenHost);
    servers.push(server);
  }
  log.info('mesh proxy ready', { ports });
  return {
    ports,
    close: () =>
      Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(
        () => undefined,
      ),
  };
}
