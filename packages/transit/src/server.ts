import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ContrastError, type Logger } from '@contrast-cc/core';
import type { TransitEngine } from './engine.js';
import { createTransitHandler } from './http.js';

/** The TLS material of the transit listener. @public */
export interface TransitTlsCredentials {
  /** The server's certificate chain (PEM), issued by the mesh CA so clients trust it with mesh-ca.pem. */
  cert: string;
  /** Its private key (PEM). */
  key: string;
  /** The CA certificates (PEM) a client certificate must chain to: the current mesh CA. */
  clientCa: string;
}

/** Options of {@link startTransitServer}. @public */
export interface TransitServerOptions {
  engine: TransitEngine;
  credentials: TransitTlsCredentials;
  logger: Logger;
  /** Default 8200 (Vault's and upstream's port); 0 picks a free one. */
  port?: number;
  /** Default 0.0.0.0 in a pod; tests pass a loopback address. */
  host?: string;
  maxBodyBytes?: number;
  /** Idle sockets are closed after this long (default 30 s). */
  idleTimeoutMs?: number;
  /** At most this many connections at once (default 256). */
  maxConnections?: number;
}

/** A running transit listener. @public */
export interface RunningTransitServer {
  readonly address: string;
  readonly port: number;
  /** Replaces the certificate, key and client CA (after a manifest update rotated the mesh CA). */
  updateCredentials(credentials: TransitTlsCredentials): void;
  close(): Promise<void>;
}

function tlsOptions(c: TransitTlsCredentials) {
  return { cert: c.cert, key: c.key, ca: c.clientCa };
}

/**
 * Serves the transit API over HTTPS with mutual TLS: a client must present a certificate that
 * chains to the mesh CA (TLS refuses anything else before a byte of HTTP is read), and may use
 * only the key named by its WorkloadSecretID.
 * @public
 */
export async function startTransitServer(options: TransitServerOptions): Promise<RunningTransitServer> {
  const handler = createTransitHandler({
    engine: options.engine,
    logger: options.logger,
    ...(options.maxBodyBytes !== undefined ? { maxBodyBytes: options.maxBodyBytes } : {}),
  });
  const server: Server = createServer(
    {
      ...tlsOptions(options.credentials),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
    },
    (req, res) => void handler(req, res),
  );
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.setTimeout(options.idleTimeoutMs ?? 30_000, (socket) => socket.destroy());
  server.maxConnections = options.maxConnections ?? 256;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (cause) =>
      reject(
        new ContrastError('io-error', `transit API cannot listen on port ${options.port ?? 8200}`, { cause }),
      ),
    );
    server.listen(options.port ?? 8200, options.host ?? '0.0.0.0', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  options.logger.info('transit API listening', { address: addr.address, port: addr.port });
  return {
    address: addr.address,
    port: addr.port,
    updateCredentials(credentials) {
      server.setSecureContext(tlsOptions(credentials));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
