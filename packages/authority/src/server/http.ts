import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  API_VERSIONS,
  apiFailure,
  BODY_LIMITS,
  evidenceFromWire,
  fromBase64,
  MeshCertRequestSchema,
  PEER_RECOVER_PATH,
  PeerRecoverRequestSchema,
  parseRequest,
  RecoverRequestSchema,
  SetManifestRequestSchema,
  type StateResponse,
  toApiError,
  toBase64,
} from '@contrast-cc/api';
import { type Logger, toHex } from '@contrast-cc/core';
import type { Authority, AuthorityState } from '../authority.js';
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

function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    return Promise.reject(apiFailure('unsupported_media_type', 'Content-Type must be application/json'));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(apiFailure('payload_too_large', `the body exceeds ${limit} bytes`));
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (size > limit) return;
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(apiFailure('invalid_argument', 'the body is not valid JSON'));
      }
    });
  });
}

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined)
    throw apiFailure('invalid_argument', `${field} is required with a nonce`, { field });
  return value;
}

/**
 * The Coordinator API on top of an {@link Authority}: routing, body limits, zod validation and
 * the mapping of typed errors to HTTP statuses. `POST /v1/attest` is served by the attested
 * server in front of this handler.
 */
export function createApiHandler(authority: Authority, metrics: CoordinatorMetrics, logger: Logger) {
  const log = logger.child({ component: 'api' });

  async function dispatch(route: string, req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    switch (route) {
      case '/capabilities':
        return { status: 200, body: { apiVersions: [...API_VERSIONS] } };
      case '/v1/state':
        return { status: 200, body: stateToWire(await authority.state()) };
      case '/v1/manifest': {
        const r = parseRequest(SetManifestRequestSchema, await readJson(req, BODY_LIMITS.manifest));
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
        const r = parseRequest(RecoverRequestSchema, await readJson(req, BODY_LIMITS.default));
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
      case '/v1/mesh/cert': {
        const r = parseRequest(MeshCertRequestSchema, await readJson(req, BODY_LIMITS.default));
        if (r.nonce === undefined)
          throw apiFailure('challenge_required', 'a mesh certificate needs a nonce challenge');
        const ev = required(r.evidence, 'evidence');
        const out = await authority.issueMeshCertificate({
          nonce: fromBase64(r.nonce),
          publicKey: fromBase64(required(r.public_key, 'public_key')),
          evidence: evidenceFromWire(ev),
        });
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
        const r = parseRequest(PeerRecoverRequestSchema, await readJson(req, BODY_LIMITS.default));
        if (r.nonce === undefined)
          throw apiFailure('challenge_required', 'peer recovery needs a nonce challenge');
        const ev = required(r.evidence, 'evidence');
        const out = await authority.handOverToPeer({
          nonce: fromBase64(r.nonce),
          ephemeralPublicKey: fromBase64(required(r.ephemeral_public_key, 'ephemeral_public_key')),
          evidence: evidenceFromWire(ev),
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
        const { status, body } = toApiError(error);
        if (body.code === 'internal') {
          log.error('request failed', { route, error: (error as Error)?.message });
        } else if (body.code === 'challenge_required') {
          log.debug('challenge', { route });
        } else {
          log.info('request refused', { route, code: body.code, field: body.field });
        }
        if (body.code === 'challenge_required') {
          try {
            body.nonce = toBase64(authority.createNonce());
          } catch (e) {
            const busy = toApiError(e);
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
