import { createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ContrastError, type Issuer, type Logger, noopLogger, toContrastError } from '@contrast-cc/core';
import { ATLS_LABELS, NONCE_LENGTH, reportDataFor } from './binding.js';
import { ATTEST_PATH, type AttestResponse, encodeEvidence, fromB64, MAX_ATTEST_BODY } from './wire.js';

/** Options of {@link createAttestedServer}. @public */
export interface AttestedServerOptions {
  /** Produces evidence in the TEE (the platform's issuer). */
  issuer: Issuer;
  /** The TLS private key (PEM or KeyObject); its public key is what the evidence binds. */
  key: string | KeyObject;
  /** The TLS certificate (PEM, optionally followed by its chain) for that key. */
  cert: string;
  /** Domain-separation label; defaults to {@link ATLS_LABELS}.channel. */
  label?: string;
  /**
   * The server's current state, read once per challenge: `digest` is bound into the evidence and
   * `fields` are added to the response (e.g. manifests, root and mesh CA), so a client gets both
   * from one snapshot and can check that the fields hash to the attested digest.
   */
  state?: () => AttestedState | Promise<AttestedState>;
  /** Handles every request other than `POST /v1/attest`; 404 when absent. */
  handler?: (req: IncomingMessage, res: ServerResponse) => void;
  /**
   * A connection with no traffic for this long is closed (default 30 s), also one that completed
   * the TLS handshake and never sent a request. A handler that runs longer without writing
   * should answer within it.
   */
  idleTimeoutMs?: number;
  /** At most this many connections at once (default 1024); the server drops the ones beyond. */
  maxConnections?: number;
  /** Everything of a request (headers and body) must arrive within this (default 60 s). */
  requestTimeoutMs?: number;
  logger?: Logger;
}

/** Defaults of the connection limits of {@link createAttestedServer}. @public */
export const ATTESTED_SERVER_LIMITS = Object.freeze({
  idleTimeoutMs: 30_000,
  maxConnections: 1024,
  requestTimeoutMs: 60_000,
  /** A TLS handshake must finish within this. */
  handshakeTimeoutMs: 10_000,
});

/** One snapshot of the attested server's state. @public */
export interface AttestedState {
  /** Bound into REPORT_DATA and returned as `stateDigest`. */
  digest?: Uint8Array;
  /** Extra top-level response fields (not `version`, `evidence` or `stateDigest`). */
  fields?: Record<string, unknown>;
}

const RESERVED_FIELDS = new Set(['version', 'evidence', 'stateDigest', 'tls_spki']);

/**
 * CORS of the attest endpoint, and of nothing else: a verifier page on any origin may post a nonce
 * and read the answer (public: evidence, state, history; no credentials are involved). Every other
 * path answers without CORS headers, so a browser page cannot read it.
 */
const ATTEST_CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'POST',
  'access-control-allow-headers': 'content-type',
  'access-control-max-age': '600',
} as const;

/** A running (or ready to listen) attested server. @public */
export interface AttestedServer {
  /** The underlying node https server. */
  readonly server: Server;
  /** DER SPKI of the TLS key the evidence binds. */
  readonly spki: Uint8Array;
  /** Listens (loopback by default) and resolves with the bound port. */
  listen(port?: number, host?: string): Promise<{ host: string; port: number }>;
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, code: string, message: string) {
  sendJson(res, status, { version: 'v1', code, error: message });
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * An HTTPS server whose evidence binds its TLS key. A client posts a fresh nonce to
 * `POST /v1/attest` (`{"nonce": base64(32 bytes)}`, `Content-Type: application/json`, at most
 * 1 KiB) on the TLS connection it wants to trust; the server answers with evidence whose
 * REPORT_DATA is `reportDataFor({label, nonce, publicKey: SPKI of the TLS key, stateDigest})`.
 * Every other request goes to `handler`.
 * @public
 */
export function createAttestedServer(options: AttestedServerOptions): AttestedServer {
  const log = (options.logger ?? noopLogger).child({ component: 'atls-server' });
  const label = options.label ?? ATLS_LABELS.channel;
  let key: KeyObject;
  try {
    key = typeof options.key === 'string' ? createPrivateKey(options.key) : options.key;
  } catch {
    throw new ContrastError('invalid-argument', 'not a valid private key', { field: 'key' });
  }
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(options.cert);
  } catch {
    throw new ContrastError('invalid-argument', 'not a PEM certificate', { field: 'cert' });
  }
  if (!leaf.publicKey.equals(createPublicKey(key))) {
    throw new ContrastError('invalid-argument', 'the certificate is not for this key', { field: 'cert' });
  }
  const spki = new Uint8Array(leaf.publicKey.export({ type: 'spki', format: 'der' }));

  const attest = async (req: IncomingMessage, res: ServerResponse) => {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      return sendError(res, 415, 'unsupported_media_type', 'Content-Type must be application/json');
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    const body = declared > MAX_ATTEST_BODY ? undefined : await readBody(req, MAX_ATTEST_BODY);
    if (body === undefined) {
      res.setHeader('connection', 'close');
      res.on('finish', () => req.socket.destroy());
      return sendError(res, 413, 'payload_too_large', 'body exceeds 1 KiB');
    }
    let nonce: Uint8Array;
    try {
      const parsed: unknown = JSON.parse(body.toString('utf8'));
      const field =
        typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>).nonce : undefined;
      nonce = fromB64(field, 'nonce');
      if (nonce.length !== NONCE_LENGTH) throw new Error('length');
    } catch {
      return sendError(res, 400, 'invalid_argument', `nonce must be base64 of exactly ${NONCE_LENGTH} bytes`);
    }
    try {
      const state = (await options.state?.()) ?? {};
      const stateDigest = state.digest;
      const fields = state.fields ?? {};
      const reserved = Object.keys(fields).find((k) => RESERVED_FIELDS.has(k));
      if (reserved) throw new ContrastError('internal', `state field "${reserved}" is reserved`);
      const reportData = await reportDataFor({
        label,
        nonce,
        publicKey: spki,
        ...(stateDigest ? { stateDigest } : {}),
      });
      const evidence = await options.issuer.issue(reportData);
      const response: AttestResponse = {
        ...fields,
        version: 'v1',
        evidence: encodeEvidence(evidence),
        ...(stateDigest ? { stateDigest: Buffer.from(stateDigest).toString('base64') } : {}),
        // The key the evidence binds, for verifiers that cannot see the TLS handshake (browsers).
        tls_spki: Buffer.from(spki).toString('base64'),
      };
      log.debug('issued evidence', { kind: evidence.kind });
      sendJson(res, 200, response);
    } catch (e) {
      const err = toContrastError(e);
      log.error('issuing evidence failed', { code: err.code, error: err.message });
      sendError(res, 500, 'internal', 'issuing evidence failed');
    }
  };

  const tlsKey = key.export({ type: 'pkcs8', format: 'pem' }) as string;
  const limits = {
    ...ATTESTED_SERVER_LIMITS,
    ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
    ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
    ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
  };
  const server = createServer(
    {
      key: tlsKey,
      cert: options.cert,
      minVersion: 'TLSv1.2',
      handshakeTimeout: Math.min(limits.handshakeTimeoutMs, limits.idleTimeoutMs),
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: Math.min(limits.requestTimeoutMs, 20_000),
    },
    (req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (path === ATTEST_PATH) {
        for (const [name, value] of Object.entries(ATTEST_CORS)) res.setHeader(name, value);
        if (req.method === 'OPTIONS') {
          res.writeHead(204);
          res.end();
          return;
        }
        if (req.method !== 'POST') {
          res.setHeader('allow', 'POST');
          return sendError(res, 405, 'method_not_allowed', 'use POST');
        }
        attest(req, res).catch(() => {
          if (!res.headersSent) sendError(res, 500, 'internal', 'internal error');
        });
        return;
      }
      if (options.handler) return options.handler(req, res);
      sendError(res, 404, 'not_found', 'not found');
    },
  );
  // Idle connections (before the first request too) are closed; beyond the cap, dropped.
  server.setTimeout(limits.idleTimeoutMs);
  // Between two requests of one connection the same idle limit applies, not node's 5 s keep-alive
  // default: an initializer makes its evidence between the nonce challenge and the certificate
  // request on one connection, and on a busy node that can take longer than 5 s (the second
  // request then met a closed socket: "socket hang up").
  server.keepAliveTimeout = limits.idleTimeoutMs;
  server.maxConnections = limits.maxConnections;
  server.on('tlsClientError', (err) => log.debug('TLS handshake failed', { error: err.message }));

  return {
    server,
    spki,
    listen(port = 0, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const addr = server.address() as AddressInfo;
          log.info('attested server listening', { host: addr.address, port: addr.port });
          resolve({ host: addr.address, port: addr.port });
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
