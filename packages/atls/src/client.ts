import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import {
  bytesEqual,
  ContrastError,
  type Evidence,
  type EvidenceClaims,
  type Logger,
  noopLogger,
  toHex,
  type Verifier,
  type VerifyFailure,
} from '@contrast-cc/core';
import { ATLS_LABELS, NONCE_LENGTH } from './binding.js';
import { attestationFailed, verifyBoundEvidence } from './verify.js';
import { ATTEST_PATH, parseAttestResponse } from './wire.js';

/** Options of {@link connectAttested}. @public */
export interface ConnectAttestedOptions {
  host: string;
  port: number;
  /** Verifiers built from the reference values the peer must meet (any one may accept). */
  verifiers: Verifier | readonly Verifier[];
  /** Domain-separation label; defaults to {@link ATLS_LABELS}.channel. */
  label?: string;
  /** The state digest the server must have bound; any bound digest is accepted when absent. */
  expectedStateDigest?: Uint8Array;
  /** Extra checks on the verified claims: return a message to reject, undefined to accept. */
  checkClaims?: (claims: EvidenceClaims) => string | undefined;
  /** Accept evidence from insecure (simulated) platforms. Default false. */
  allowInsecure?: boolean;
  /** TLS server name (SNI); defaults to the host when it is a name. */
  servername?: string;
  /** Connect and response timeout per request (default 30 s, as upstream). */
  timeoutMs?: number;
  /** The time for certificate/collateral validity checks of the verifier. */
  now?: Date;
  logger?: Logger;
}

/** A response read through the pinned channel. @public */
export interface AttestedResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Uint8Array;
  text(): string;
  json<T = unknown>(): T;
}

/** Request options of {@link AttestedConnection.fetch}. @public */
export interface AttestedRequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** The largest response body read (default 64 MiB); a larger one fails with `io-error`. */
  maxResponseBytes?: number;
}

/** A channel to an attested peer: every request re-checks that the TLS key is the attested one. @public */
export interface AttestedConnection {
  /** The verified claims of the peer. */
  readonly claims: EvidenceClaims;
  /** The DER SPKI of the peer's TLS key, bound by the evidence and pinned for every request. */
  readonly spki: Uint8Array;
  /** The state digest the evidence binds, when the server bound one. */
  readonly stateDigest: Uint8Array | undefined;
  /** The evidence as received. */
  readonly evidence: Evidence;
  /** The nonce this client sent for the evidence (with `spki` and `attestResponse`: what it proves). */
  readonly nonce: Uint8Array;
  /**
   * The whole attest response as received, including the server's state fields. Only
   * `stateDigest` is attested: check the fields against it before trusting them.
   */
  readonly attestResponse: Record<string, unknown>;
  /** Sends a request over a new TLS connection pinned to {@link AttestedConnection.spki}. */
  fetch(path: string, init?: AttestedRequestInit): Promise<AttestedResponse>;
}

interface Endpoint {
  host: string;
  port: number;
  servername: string | undefined;
  timeoutMs: number;
}

/** Opens TLS, reads the peer's SPKI and, when `pin` is given, refuses any other key. */
function openTls(ep: Endpoint, pin?: Uint8Array): Promise<{ socket: TLSSocket; spki: Uint8Array }> {
  return new Promise((resolve, reject) => {
    // The certificate chain is not what we trust: the evidence binding the key is. TLS still
    // proves that the peer holds the private key of the certificate it presents.
    const socket = tlsConnect({
      host: ep.host,
      port: ep.port,
      ...(ep.servername ? { servername: ep.servername } : {}),
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ALPNProtocols: ['http/1.1'],
    });
    const fail = (e: Error) => {
      socket.destroy();
      reject(e);
    };
    socket.setTimeout(ep.timeoutMs, () =>
      fail(
        new ContrastError(
          'unavailable',
          `no TLS connection to ${ep.host}:${ep.port} within ${ep.timeoutMs} ms`,
        ),
      ),
    );
    socket.once('error', (e) =>
      fail(new ContrastError('unavailable', `TLS connection to ${ep.host}:${ep.port} failed: ${e.message}`)),
    );
    socket.once('secureConnect', () => {
      const cert = socket.getPeerX509Certificate();
      if (!cert) return fail(attestationFailed('the peer presented no certificate'));
      const spki = new Uint8Array(cert.publicKey.export({ type: 'spki', format: 'der' }));
      if (pin && !bytesEqual(spki, pin)) {
        return fail(
          attestationFailed('the TLS peer key is not the attested key', {
            code: 'report-data-mismatch',
            message: 'pinned key mismatch',
            field: 'spki',
          }),
        );
      }
      socket.setTimeout(0);
      resolve({ socket, spki });
    });
  });
}

/** The largest attest response read (it may carry manifests and policies). */
const MAX_ATTEST_RESPONSE = 64 * 1024 * 1024;

/** The largest response body {@link AttestedConnection.fetch} reads unless told otherwise. */
const MAX_RESPONSE = 64 * 1024 * 1024;

/**
 * One request on an open TLS socket, with one deadline for all of it (`ep.timeoutMs` from now
 * until the last byte of the response). The socket is already connected when it is handed to
 * `http.request`, so the request's own `timeout` option would never be armed: the timer here is.
 */
function send(
  socket: TLSSocket,
  ep: Endpoint,
  path: string,
  init: AttestedRequestInit = {},
  maxBytes = init.maxResponseBytes ?? MAX_RESPONSE,
): Promise<AttestedResponse> {
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const settle =
      <A extends unknown[]>(fn: (...a: A) => void) =>
      (...a: A) => {
        clearTimeout(timer);
        fn(...a);
      };
    resolve = settle(resolve);
    reject = settle(reject);
    // The first reason we abort for wins over the socket errors the abort itself causes.
    let failure: ContrastError | undefined;
    const abort = (e: ContrastError) => {
      failure ??= e;
      req.destroy(e);
    };
    const fail = (e: Error) =>
      reject(failure ?? (e instanceof ContrastError ? e : new ContrastError('io-error', e.message)));
    const body =
      init.body === undefined
        ? undefined
        : typeof init.body === 'string'
          ? Buffer.from(init.body)
          : Buffer.from(init.body);
    const req = httpRequest(
      {
        createConnection: () => socket,
        method: init.method ?? (body ? 'POST' : 'GET'),
        path,
        headers: {
          host: `${isIP(ep.host) === 6 ? `[${ep.host}]` : ep.host}:${ep.port}`,
          connection: 'close',
          ...(body ? { 'content-length': String(body.length) } : {}),
          ...init.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) {
            // The server's fault, not the caller's input: io-error (the CLI exits 1, not 2).
            abort(new ContrastError('io-error', `the response exceeds ${maxBytes} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          const bytes = new Uint8Array(Buffer.concat(chunks));
          const text = () => new TextDecoder().decode(bytes);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: bytes,
            text,
            json: <T>() => JSON.parse(text()) as T,
          });
        });
        res.on('error', fail);
      },
    );
    timer = setTimeout(
      () => abort(new ContrastError('unavailable', `no response within ${ep.timeoutMs} ms`)),
      ep.timeoutMs,
    );
    req.on('error', fail);
    req.end(body);
  });
}

/** Options of {@link fetchAttestation}. @public */
export interface FetchAttestationOptions {
  host: string;
  port: number;
  /** TLS server name (SNI); defaults to the host when it is a name. */
  servername?: string;
  /** Connect and response timeout (default 30 s). */
  timeoutMs?: number;
}

/** What one attestation request returned, unverified. @public */
export interface FetchedAttestation {
  /** The fresh nonce sent. */
  nonce: Uint8Array;
  /** DER SPKI of the TLS key the server presented on that connection. */
  spki: Uint8Array;
  /** The JSON answer of `POST /v1/attest`, as received. */
  response: Record<string, unknown>;
}

function endpointOf(options: FetchAttestationOptions): Endpoint {
  return {
    host: options.host,
    port: options.port,
    servername: options.servername ?? (isIP(options.host) ? undefined : options.host),
    timeoutMs: options.timeoutMs ?? 30_000,
  };
}

/**
 * Opens TLS, reads the server's SPKI and posts a fresh 32-byte nonce to `/v1/attest` on that
 * connection. Returns what came back WITHOUT verifying it (see {@link connectAttested}, or the
 * api package's `verifyCoordinatorAttestation`). Throws `unavailable` or `attestation-failed`
 * (HTTP refusal, not JSON).
 * @public
 */
export async function fetchAttestation(options: FetchAttestationOptions): Promise<FetchedAttestation> {
  const ep = endpointOf(options);
  const nonce = new Uint8Array(randomBytes(NONCE_LENGTH));
  const { socket, spki } = await openTls(ep);
  const res = await send(
    socket,
    ep,
    ATTEST_PATH,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ nonce: Buffer.from(nonce).toString('base64') }),
    },
    MAX_ATTEST_RESPONSE,
  );
  if (res.status !== 200) {
    throw attestationFailed(`the server refused the attestation request (HTTP ${res.status})`);
  }
  let response: unknown;
  try {
    response = res.json();
  } catch {
    throw attestationFailed('malformed attest response: not JSON', {
      code: 'malformed',
      message: 'malformed attest response',
    });
  }
  if (typeof response !== 'object' || response === null || Array.isArray(response)) {
    throw attestationFailed('malformed attest response: not a JSON object', {
      code: 'malformed',
      message: 'malformed attest response',
    });
  }
  return { nonce, spki, response: response as Record<string, unknown> };
}

/**
 * Attests a server created with {@link createAttestedServer} and returns a channel pinned to its
 * key. Steps: open TLS and read the peer's SPKI; post a fresh 32-byte nonce to `/v1/attest` on
 * that connection; compute the expected REPORT_DATA from (label, nonce, that SPKI, the returned
 * state digest); verify the evidence with the verifiers against it; check insecure platforms,
 * the expected state digest and `checkClaims`. Only then is the connection returned. Throws
 * `attestation-failed` (with the verifier's reason as `cause`) or `unavailable`.
 * @public
 */
export async function connectAttested(options: ConnectAttestedOptions): Promise<AttestedConnection> {
  const log = (options.logger ?? noopLogger).child({ component: 'atls-client' });
  const ep = endpointOf(options);
  const label = options.label ?? ATLS_LABELS.channel;
  const { nonce, spki, response: raw } = await fetchAttestation(options);
  let parsed: ReturnType<typeof parseAttestResponse>;
  try {
    parsed = parseAttestResponse(raw);
  } catch (e) {
    throw attestationFailed(`malformed attest response: ${(e as Error).message}`, {
      code: 'malformed',
      message: 'malformed attest response',
      ...((e as ContrastError).field ? { field: (e as ContrastError).field as string } : {}),
    });
  }
  const { evidence, stateDigest } = parsed;
  const spkiHash = createHash('sha256').update(spki).digest('hex');
  let claims: EvidenceClaims;
  try {
    claims = await verifyBoundEvidence({
      evidence,
      verifiers: options.verifiers,
      nonce,
      publicKey: spki,
      label,
      ...(stateDigest ? { stateDigest } : {}),
      ...(options.expectedStateDigest ? { expectedStateDigest: options.expectedStateDigest } : {}),
      ...(options.allowInsecure ? { allowInsecure: true } : {}),
      ...(options.checkClaims ? { checkClaims: options.checkClaims } : {}),
      ...(options.now ? { now: options.now } : {}),
    });
  } catch (e) {
    const reason = (e as ContrastError).cause as VerifyFailure | undefined;
    log.warn('peer attestation failed', { code: reason?.code, field: reason?.field, spkiSha256: spkiHash });
    throw e;
  }
  log.info('attested peer', {
    kind: claims.kind,
    measurement: claims.measurement,
    insecure: claims.insecure,
    spkiSha256: spkiHash,
    stateDigest: stateDigest ? toHex(stateDigest) : undefined,
  });

  return {
    claims,
    spki,
    stateDigest,
    evidence,
    nonce,
    attestResponse: raw,
    async fetch(path, init) {
      const { socket: pinned } = await openTls(ep, spki);
      return send(pinned, ep, path, init);
    },
  };
}
