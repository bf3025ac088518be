import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import {
  API_VERSIONS,
  apiFailure,
  BODY_LIMITS,
  type EvidenceWire,
  evidenceFromWire,
  fromBase64,
  MeshCertRequestSchema,
  PEER_RECOVER_PATH,
  PeerRecoverRequestSchema,
  parseRequest,
  RECOVER_SHARES_PATH,
  RecoverRequestSchema,
  RecoverSharesRequestSchema,
  SetManifestRequestSchema,
  type StateResponse,
  tlsExporterBinding,
  toBase64,
} from '@contrast-cc/api';
import { ContrastError, type Evidence, type Logger, parseJsonBounded, toHex } from '@contrast-cc/core';
import { isStoreIntegrityError } from '@contrast-cc/store';
import type { Authority } from '../authority.js';
import type { AuthorityState } from '../types.js';
import { toWireError } from './errors.js';
import type { CoordinatorMetrics } from './metrics.js';

/** The wire form of the state (served by `GET /v1/state` and inside the attest response). */
export function stateToWire(s: AuthorityState): StateResponse {
  return {
    version: 'v1',
    status: s.status,
    ...(s.transitionHash && s.signature
      ? { latest_transition: { transition_hash: s.transitionHash, signature: toBase64(s.signature) } }
      : {}),
    ...(s.rootCaPem ? { root_ca: s.rootCaPem } : {}),
    ...(s.meshCaPem ? { mesh_ca: s.meshCaPem } : {}),
    manifests: s.manifests.map(toBase64),
    policies: s.policies.map(toBase64),
  };
}

const ROUTES: Record<string, { method: string; limit: number }> = {
  '/capabilities': { method: 'GET', limit: 0 },
  '/v1/state': { method: 'GET', limit: 0 },
  '/v1/manifest': { method: 'POST', limit: BODY_LIMITS.manifest },
  '/v1/recover': { method: 'POST', limit: BODY_LIMITS.default },
  [RECOVER_SHARES_PATH]: { method: 'POST', limit: BODY_LIMITS.recoverShares },
  '/v1/mesh/cert': { method: 'POST', limit: BODY_LIMITS.default },
  [PEER_RECOVER_PATH]: { method: 'POST', limit: BODY_LIMITS.default },
};

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** Bounds of the JSON of a request body, checked before parsing (see `parseJsonBounded`). */
const BODY_JSON = {
  /** Our request schemas nest at most 3 levels (object > evidence > extras). */
  maxDepth: 8,
  /** `POST /v1/manifest` may list up to 10,000 policies; the others have a handful of fields. */
  manifestValues: 20_000,
  defaultValues: 1_000,
};

/**
 * Request bytes buffered at once across all requests. A request whose declared length does not
 * fit is refused with 503 before a byte is read; a chunked one is cut off when it stops fitting.
 */
export class BodyBudget {
  #used = 0;
  constructor(readonly max: number) {}
  get used(): number {
    return this.#used;
  }
  take(bytes: number): boolean {
    if (this.#used + bytes > this.max) return false;
    this.#used += bytes;
    return true;
  }
  give(bytes: number): void {
    this.#used -= bytes;
  }
}

/**
 * Default of {@link ApiHandlerOptions.maxBufferedBytes}: one manifest-sized body plus 1 MiB for
 * the small requests beside it. A manifest body in flight costs about five times its size
 * (buffer, text, parsed string, decoded bytes, the manifest's own text); two at once took the
 * process over 290 MB RSS under the hostile burst of `apps/coordinator/src/heap-cap.test.ts`.
 */
export const DEFAULT_MAX_BUFFERED_BYTES = BODY_LIMITS.manifest + 1024 * 1024;

/** Options of {@link createApiHandler}. */
export interface ApiHandlerOptions {
  /** Request body bytes held in memory at once, over all requests (default 17 MiB). */
  maxBufferedBytes?: number;
  /**
   * Accept `POST /v1/mesh/cert` evidence bound to the request's TLS 1.3 connection (RFC 9266
   * tls-exporter, `meshCertChannelReportData`) in place of a nonce: one request per certificate
   * and no nonce minted (default true). `false` answers such a request with the nonce challenge,
   * as servers before channel binding did.
   */
  meshCertChannelBinding?: boolean;
}

/** An error answer after which the connection is closed (the rest of the body is not read). */
function closing(error: ContrastError): ContrastError {
  (error as ContrastError & { closeConnection?: boolean }).closeConnection = true;
  return error;
}

/**
 * Reads and parses a JSON body: media type first, then the declared length against the route's
 * limit and the shared budget (nothing read when either refuses), the bytes as they arrive
 * against both, and the JSON's shape (depth, number of values) before `JSON.parse` builds it.
 */
async function readJson(req: IncomingMessage, limit: number, maxValues: number, budget: BodyBudget) {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw closing(apiFailure('unsupported_media_type', 'Content-Type must be application/json'));
  }
  const tooLarge = () => closing(apiFailure('payload_too_large', `the body exceeds ${limit} bytes`));
  const busy = () => closing(apiFailure('unavailable', 'too many request bytes in flight; retry later'));
  const declared = req.headers['content-length'];
  let reserved = 0;
  if (declared !== undefined) {
    const length = Number(declared);
    if (!Number.isSafeInteger(length) || length < 0)
      throw closing(apiFailure('invalid_argument', 'bad Content-Length'));
    if (length > limit) throw tooLarge();
    if (!budget.take(length)) throw busy();
    reserved = length;
  }
  try {
    const bytes = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const stop = (e: ContrastError) => {
        req.removeAllListeners('data');
        req.pause();
        reject(e);
      };
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > limit) return stop(tooLarge());
        if (size > reserved) {
          if (!budget.take(size - reserved)) return stop(busy());
          reserved = size;
        }
        chunks.push(c);
      });
      req.on('error', () => reject(closing(apiFailure('invalid_argument', 'the request body was cut off'))));
      // One chunk (a small body usually arrives in one TLS record) is used as it is: no copy.
      req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    });
    try {
      return parseJsonBounded(bytes, { maxDepth: BODY_JSON.maxDepth, maxValues, field: 'body' });
    } catch (e) {
      throw apiFailure('invalid_argument', (e as Error).message, { field: 'body' });
    }
  } finally {
    budget.give(reserved);
  }
}

function required<T>(value: T | undefined, field: string, withWhat = 'a nonce'): T {
  if (value === undefined)
    throw apiFailure('invalid_argument', `${field} is required with ${withWhat}`, { field });
  return value;
}

/** What an attested-key request's evidence is bound to: a nonce we handed out, or its TLS connection. */
type KeyBinding = { nonce: Uint8Array } | { channelBinding: Uint8Array };

/**
 * The binding, key and evidence of an attested-key request (mesh certificate, peer recovery: one
 * schema factory, `attestedKeyRequestSchema`). With a nonce, evidence and the contract's key
 * field are required. Without one, evidence bound to the connection is accepted when `channel`
 * gives the connection's binding (mesh certificates on TLS 1.3); otherwise the answer is the
 * nonce challenge (also to evidence without a nonce: a client that tried the channel binding
 * then uses that nonce).
 */
function attestedKeyParts<K extends string>(
  r: { nonce?: string | undefined; evidence?: EvidenceWire | undefined } & { [P in K]?: string | undefined },
  keyField: K,
  what: string,
  channel?: () => Uint8Array | undefined,
): { binding: KeyBinding; key: Uint8Array; evidence: Evidence } {
  if (r.nonce === undefined) {
    const channelBinding = r.evidence !== undefined ? channel?.() : undefined;
    if (!channelBinding) throw apiFailure('challenge_required', `${what} needs a nonce challenge`);
    return {
      binding: { channelBinding },
      key: fromBase64(required<string>(r[keyField] as string | undefined, keyField, 'evidence')),
      evidence: evidenceFromWire(r.evidence!),
    };
  }
  const ev = required(r.evidence, 'evidence');
  return {
    binding: { nonce: fromBase64(r.nonce) },
    key: fromBase64(required<string>(r[keyField] as string | undefined, keyField)),
    evidence: evidenceFromWire(ev),
  };
}

/**
 * The Coordinator API on top of an {@link Authority}: routing, body limits, zod validation and
 * the mapping of typed errors to HTTP statuses. `POST /v1/attest` is served by the attested
 * server in front of this handler.
 */
export function createApiHandler(
  authority: Authority,
  metrics: CoordinatorMetrics,
  logger: Logger,
  options: ApiHandlerOptions = {},
) {
  const log = logger.child({ component: 'api' });
  const budget = new BodyBudget(options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES);
  const channelBinding = options.meshCertChannelBinding ?? true;
  // Connections whose channel binding bought a certificate (or is buying one now): one
  // certificate per connection binding, as one per nonce. Another request on such a connection
  // gets the nonce challenge. A failed attempt gives the binding back (nothing was issued).
  const channelSpent = new WeakSet<object>();
  const channelOf = (req: IncomingMessage) => () => {
    if (!channelBinding) return undefined;
    const value = tlsExporterBinding(req.socket as TLSSocket);
    if (value && channelSpent.has(req.socket)) {
      throw apiFailure(
        'challenge_required',
        "this connection's channel binding was used for a certificate; a further one needs a nonce",
      );
    }
    return value;
  };
  const readBody = (req: IncomingMessage, route: keyof typeof ROUTES) =>
    readJson(
      req,
      ROUTES[route]!.limit,
      route === '/v1/manifest' ? BODY_JSON.manifestValues : BODY_JSON.defaultValues,
      budget,
    );

  async function dispatch(route: string, req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    switch (route) {
      case '/capabilities':
        return { status: 200, body: { apiVersions: [...API_VERSIONS] } };
      case '/v1/state':
        return { status: 200, body: stateToWire(await authority.state()) };
      case '/v1/manifest': {
        const r = parseRequest(SetManifestRequestSchema, await readBody(req, '/v1/manifest'));
        const out = await authority.setManifest({
          manifest: fromBase64(r.manifest),
          policies: r.policies.map(fromBase64),
          ...(r.previous_transition_hash ? { previousTransitionHash: r.previous_transition_hash } : {}),
          ...(r.signature ? { signature: fromBase64(r.signature) } : {}),
        });
        return {
          status: 200,
          body: {
            version: 'v1',
            root_ca: out.rootCaPem,
            mesh_ca: out.meshCaPem,
            transition_hash: out.transitionHash,
            ...(out.seedShareDocument ? { seed_shares_doc: out.seedShareDocument } : {}),
          },
        };
      }
      case '/v1/recover': {
        const r = parseRequest(RecoverRequestSchema, await readBody(req, '/v1/recover'));
        if (r.nonce === undefined) throw apiFailure('challenge_required', 'recovery needs a nonce challenge');
        const out = await authority.recover({
          nonce: fromBase64(r.nonce),
          ephemeralPublicKey: fromBase64(required(r.ephemeral_public_key, 'ephemeral_public_key')),
          ciphertext: fromBase64(required(r.ciphertext, 'ciphertext')),
          ownerPublicKey: required(r.owner_public_key, 'owner_public_key'),
          signature: fromBase64(required(r.signature, 'signature')),
          force: r.force ?? false,
        });
        return { status: 200, body: { version: 'v1', root_ca: out.rootCaPem, mesh_ca: out.meshCaPem } };
      }
      case RECOVER_SHARES_PATH: {
        const r = parseRequest(RecoverSharesRequestSchema, await readBody(req, RECOVER_SHARES_PATH));
        if (r.nonce === undefined) throw apiFailure('challenge_required', 'recovery needs a nonce challenge');
        const out = await authority.recoverWithShares({
          nonce: fromBase64(r.nonce),
          ephemeralPublicKey: fromBase64(required(r.ephemeral_public_key, 'ephemeral_public_key')),
          ciphertext: fromBase64(required(r.ciphertext, 'ciphertext')),
          force: r.force ?? false,
        });
        return { status: 200, body: { version: 'v1', root_ca: out.rootCaPem, mesh_ca: out.meshCaPem } };
      }
      case '/v1/mesh/cert': {
        const r = parseRequest(MeshCertRequestSchema, await readBody(req, '/v1/mesh/cert'));
        const { binding, key, evidence } = attestedKeyParts(
          r,
          'public_key',
          'a mesh certificate',
          channelOf(req),
        );
        const socket = req.socket;
        const onChannel = 'channelBinding' in binding;
        if (onChannel) channelSpent.add(socket);
        let out: Awaited<ReturnType<Authority['issueMeshCertificate']>>;
        try {
          out = await authority.issueMeshCertificate({ ...binding, publicKey: key, evidence });
        } catch (e) {
          if (onChannel) channelSpent.delete(socket);
          throw e;
        }
        // The CA logs every issued certificate at info (serial, SANs); this adds the policy at debug.
        log.debug('issued mesh certificate', { policyHash: out.policyHash, kind: out.claims.kind });
        return {
          status: 200,
          body: {
            version: 'v1',
            cert_chain: out.certChainPem,
            mesh_ca: out.meshCaPem,
            root_ca: out.rootCaPem,
            ...(out.workloadSecret ? { workload_secret: toHex(out.workloadSecret) } : {}),
          },
        };
      }
      case PEER_RECOVER_PATH: {
        const r = parseRequest(PeerRecoverRequestSchema, await readBody(req, PEER_RECOVER_PATH));
        // Peer recovery keeps the nonce flow (rare; no channel binding offered).
        const { binding, key, evidence } = attestedKeyParts(r, 'ephemeral_public_key', 'peer recovery');
        if (!('nonce' in binding)) throw new ContrastError('internal', 'peer recovery without a nonce');
        const out = await authority.handOverToPeer({
          nonce: binding.nonce,
          ephemeralPublicKey: key,
          evidence,
        });
        return {
          status: 200,
          body: {
            version: 'v1',
            transition_hash: out.transitionHash,
            root_ca: out.rootCaPem,
            mesh_ca: out.meshCaPem,
            intermediate_ca: out.intermediateCaPem,
            sealed_ephemeral_public_key: toBase64(out.sealed.ephemeralPublicKey),
            sealed_secret: toBase64(out.sealed.ciphertext),
          },
        };
      }
      default:
        throw apiFailure('not_found', 'no such endpoint');
    }
  }

  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0]!;
    const spec = ROUTES[path];
    const route = spec ? path : 'other';
    const method = req.method ?? 'GET';
    const end = metrics.latency.startTimer({ route, method });
    const finish = (status: number, body: unknown, headers?: Record<string, string>) => {
      send(res, status, body, headers);
      end();
      metrics.requests.inc({ route, method, code: String(status) });
    };
    if (spec && spec.method !== method) {
      finish(
        405,
        { version: 'v1', code: 'method_not_allowed', error: `use ${spec.method}` },
        { allow: spec.method },
      );
      return;
    }
    dispatch(route === 'other' ? path : route, req).then(
      ({ status, body }) => finish(status, body),
      (error: unknown) => {
        // What the store holds failed a check (corrupted, missing): the server's problem (500),
        // never the caller's input (it used to answer 400 or 404).
        if (isStoreIntegrityError(error)) {
          log.error('the history store failed an integrity check', {
            route,
            field: error.field,
            error: error.message,
          });
          error = new ContrastError('internal', 'the history store failed an integrity check', {
            cause: error,
          });
        }
        const { status, body } = toWireError(error);
        if (body.code === 'internal') {
          log.error('request failed', { route, error: (error as Error)?.message });
        } else if (body.code === 'challenge_required') {
          log.debug('challenge', { route });
        } else {
          log.info('request refused', { route, code: body.code, field: body.field });
        }
        if ((error as { closeConnection?: boolean }).closeConnection) {
          // The rest of the body stays unread: answer, then drop the connection.
          res.shouldKeepAlive = false;
          res.on('finish', () => req.socket.destroy());
        }
        if (body.code === 'challenge_required') {
          try {
            body.nonce = toBase64(authority.createNonce(req.socket.remoteAddress));
          } catch (e) {
            const busy = toWireError(e);
            finish(busy.status, busy.body);
            return;
          }
          finish(status, body, { 'www-authenticate': `contrast-attestation-v1 nonce="${body.nonce}"` });
          return;
        }
        finish(status, body);
      },
    );
  };
}
