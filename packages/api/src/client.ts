import {
  constants,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  type KeyObject,
} from 'node:crypto';
import { Agent, request as httpsRequest } from 'node:https';
import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import { type AttestedConnection, connectAttested } from '@contrast-cc/atls';
import {
  bytesEqual,
  ContrastError,
  type EvidenceClaims,
  type Issuer,
  type Logger,
  noopLogger,
  type Verifier,
} from '@contrast-cc/core';
import type { z } from 'zod';
import {
  coordinatorStateDigest,
  meshCertReportData,
  recoverSignedMessage,
  sealRecoverySecret,
} from './binding.js';
import { spkiOfCertificate } from './der.js';
import { ApiError, ApiErrorBodySchema } from './errors.js';
import {
  CapabilitiesResponseSchema,
  evidenceToWire,
  fromBase64,
  type MeshCertResponse,
  MeshCertResponseSchema,
  type RecoverResponse,
  RecoverResponseSchema,
  type SetManifestResponse,
  SetManifestResponseSchema,
  type StateResponse,
  StateResponseSchema,
  toBase64,
} from './schemas.js';

function parseBody<S extends z.ZodType>(schema: S, status: number, text: string, what: string): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ContrastError(
      'invalid-argument',
      `${what}: the Coordinator answered HTTP ${status} without JSON`,
    );
  }
  if (status < 200 || status >= 300) {
    const err = ApiErrorBodySchema.safeParse(json);
    if (err.success) throw new ApiError(err.data, status);
    throw new ContrastError('invalid-argument', `${what}: the Coordinator answered HTTP ${status}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ContrastError(
      'invalid-argument',
      `${what}: malformed response: ${issue?.message ?? 'invalid'}`,
      {
        field: issue?.path.join('.') ?? '',
      },
    );
  }
  return parsed.data;
}

function pemToDer(pem: string): Uint8Array {
  const b64 = pem
    .replace(/-----BEGIN CERTIFICATE-----/, '')
    .replace(/-----END CERTIFICATE-----[\s\S]*$/, '')
    .replace(/\s+/g, '');
  return fromBase64(b64);
}

/** The digest a state answer must match (what the attestation bound). @public */
export function stateDigestOf(state: StateResponse): Uint8Array {
  return coordinatorStateDigest({
    status: state.status,
    transitionHash: state.latest_transition?.transition_hash,
    rootCaDer: state.root_ca ? pemToDer(state.root_ca) : undefined,
    meshCaDer: state.mesh_ca ? pemToDer(state.mesh_ca) : undefined,
  });
}

/** The state fields of an attest answer, when they parse. */
function snapshotOf(conn: AttestedConnection): StateResponse | undefined {
  const r = conn.attestResponse;
  const parsed = StateResponseSchema.safeParse({
    version: 'v1',
    status: r.status,
    ...(r.latest_transition !== undefined ? { latest_transition: r.latest_transition } : {}),
    ...(r.root_ca !== undefined ? { root_ca: r.root_ca } : {}),
    ...(r.mesh_ca !== undefined ? { mesh_ca: r.mesh_ca } : {}),
    manifests: r.manifests,
    policies: r.policies,
  });
  return parsed.success ? parsed.data : undefined;
}

/** Options of {@link CoordinatorClient.connect}. @public */
export interface CoordinatorClientOptions {
  host: string;
  port: number;
  /** Verifiers from the reference values the Coordinator must meet (see `verifiersForReferenceValues`). */
  verifiers: readonly Verifier[];
  /**
   * Policy hashes (hex) the Coordinator's evidence must bind: the manifest's `Role: coordinator`
   * entries. Checked when given; without it any policy passes (print a warning in the CLI).
   */
  coordinatorPolicyHashes?: readonly string[];
  /** Accept simulated evidence. Default false. */
  allowInsecure?: boolean;
  timeoutMs?: number;
  logger?: Logger;
}

/** Input of {@link CoordinatorClient.setManifest}. @public */
export interface SetManifestInput {
  manifest: Uint8Array;
  policies: readonly Uint8Array[];
  /** `--atomic`: hex of the transition this update must follow (64 zeros for the first). */
  previousTransitionHash?: string;
  /** A workload owner signature over the new transition hash. */
  signature?: Uint8Array;
}

/** Input of {@link CoordinatorClient.recover}. @public */
export interface RecoverInput {
  seed: Uint8Array;
  salt: Uint8Array;
  /** The seed-share owner's RSA private key (PEM or KeyObject). */
  ownerPrivateKey: string | KeyObject;
  force?: boolean;
}

/**
 * A client of the Coordinator API that attests the Coordinator first (nonce challenge on the
 * TLS connection; the evidence binds the TLS key and the state digest), then talks to it only
 * over connections pinned to the attested key. Every state it reads is checked against the
 * attested state digest.
 * @public
 */
export class CoordinatorClient {
  readonly #options: CoordinatorClientOptions;
  readonly #log: Logger;
  #conn: AttestedConnection;
  #unreadSnapshot: StateResponse | undefined;

  private constructor(options: CoordinatorClientOptions, conn: AttestedConnection) {
    this.#options = options;
    this.#log = (options.logger ?? noopLogger).child({ component: 'coordinator-client' });
    this.#conn = conn;
    this.#unreadSnapshot = snapshotOf(conn);
  }

  /** Attests the Coordinator and returns a client pinned to its key. Throws `attestation-failed`. */
  static async connect(options: CoordinatorClientOptions): Promise<CoordinatorClient> {
    return new CoordinatorClient(options, await CoordinatorClient.#attest(options));
  }

  static #attest(options: CoordinatorClientOptions): Promise<AttestedConnection> {
    const allowed = options.coordinatorPolicyHashes?.map((h) => h.toLowerCase());
    return connectAttested({
      host: options.host,
      port: options.port,
      verifiers: options.verifiers,
      allowInsecure: options.allowInsecure ?? false,
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      checkClaims: (claims: EvidenceClaims) => {
        if (!allowed) return undefined;
        if (!claims.policyDigest || !allowed.includes(claims.policyDigest.toLowerCase())) {
          return `the Coordinator's policy hash ${claims.policyDigest ?? '(none)'} is not a coordinator policy of the manifest`;
        }
        return undefined;
      },
    });
  }

  /** The verified claims of the Coordinator. */
  get claims(): EvidenceClaims {
    return this.#conn.claims;
  }

  /** DER SPKI of the Coordinator's attested TLS key. */
  get spki(): Uint8Array {
    return this.#conn.spki;
  }

  async #call<S extends z.ZodType>(
    schema: S,
    path: string,
    what: string,
    body?: unknown,
  ): Promise<{ status: number; value: z.infer<S> }> {
    const res = await this.#conn.fetch(path, {
      method: body === undefined ? 'GET' : 'POST',
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    return { status: res.status, value: parseBody(schema, res.status, res.text(), what) };
  }

  /** `GET /capabilities`. */
  async capabilities(): Promise<string[]> {
    return (await this.#call(CapabilitiesResponseSchema, '/capabilities', 'capabilities')).value.apiVersions;
  }

  /**
   * The Coordinator's state and history, checked against the attested state digest. When the
   * state changed since the attestation, the Coordinator is attested again (up to 3 times).
   */
  async state(): Promise<StateResponse> {
    for (let attempt = 0; ; attempt++) {
      // The attest answer carries the state snapshot the evidence bound; use it once, then ask.
      const fromAttest = this.#unreadSnapshot;
      this.#unreadSnapshot = undefined;
      const value = fromAttest ?? (await this.#call(StateResponseSchema, '/v1/state', 'state')).value;
      const bound = this.#conn.stateDigest;
      if (bound && bytesEqual(stateDigestOf(value), bound)) return value;
      if (attempt >= 2) {
        throw new ContrastError('attestation-failed', 'the state does not match the attested state digest', {
          field: 'stateDigest',
        });
      }
      this.#log.info('state changed since attestation; attesting again');
      this.#conn = await CoordinatorClient.#attest(this.#options);
      this.#unreadSnapshot = snapshotOf(this.#conn);
    }
  }

  /** `POST /v1/manifest`. Throws {@link ApiError} (e.g. `invalid_signature`, `manifest_conflict`). */
  async setManifest(input: SetManifestInput): Promise<SetManifestResponse> {
    const body = {
      manifest: toBase64(input.manifest),
      policies: input.policies.map(toBase64),
      ...(input.previousTransitionHash ? { previous_transition_hash: input.previousTransitionHash } : {}),
      ...(input.signature ? { signature: toBase64(input.signature) } : {}),
    };
    return (await this.#call(SetManifestResponseSchema, '/v1/manifest', 'set manifest', body)).value;
  }

  /**
   * `POST /v1/recover`: fetches a nonce, seals seed and salt to the attested TLS key, signs the
   * request with the seed-share owner key and sends it.
   */
  async recover(input: RecoverInput): Promise<RecoverResponse> {
    const key =
      typeof input.ownerPrivateKey === 'string'
        ? createPrivateKey(input.ownerPrivateKey)
        : input.ownerPrivateKey;
    if (key.asymmetricKeyType !== 'rsa') {
      throw new ContrastError('invalid-argument', 'the seed-share owner key must be an RSA key', {
        field: 'ownerPrivateKey',
      });
    }
    const ownerHex = Buffer.from(createPublicKey(key).export({ type: 'pkcs1', format: 'der' })).toString(
      'hex',
    );
    for (let attempt = 0; ; attempt++) {
      let nonce: Uint8Array;
      try {
        await this.#call(RecoverResponseSchema, '/v1/recover', 'recover', {});
        throw new ContrastError('internal', 'the Coordinator did not ask for a nonce');
      } catch (e) {
        if (!(e instanceof ApiError && e.apiCode === 'challenge_required' && e.nonce)) throw e;
        nonce = fromBase64(e.nonce);
      }
      const force = input.force ?? false;
      const sealed = sealRecoverySecret(this.#conn.spki, nonce, input.seed, input.salt);
      const message = recoverSignedMessage({ nonce, coordinatorSpki: this.#conn.spki, force, sealed });
      const signature = cryptoSign('sha256', message, {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 32,
      });
      try {
        const { value } = await this.#call(RecoverResponseSchema, '/v1/recover', 'recover', {
          nonce: toBase64(nonce),
          ephemeral_public_key: toBase64(sealed.ephemeralPublicKey),
          ciphertext: toBase64(sealed.ciphertext),
          owner_public_key: ownerHex,
          signature: toBase64(new Uint8Array(signature)),
          force,
        });
        return value;
      } catch (e) {
        if (e instanceof ApiError && e.apiCode === 'challenge_required' && attempt < 2) continue;
        throw e;
      }
    }
  }
}

/** Options of {@link requestMeshCertificate}. @public */
export interface MeshCertificateOptions {
  host: string;
  port: number;
  /** The platform issuer in the guest. */
  issuer: Issuer;
  /** SPKI DER of the key the certificate is for (the workload's fresh key). */
  publicKey: Uint8Array;
  /** TLS server name; defaults to the host. */
  servername?: string;
  timeoutMs?: number;
  logger?: Logger;
  /**
   * A keep-alive agent the caller owns, to reuse one connection across calls, e.g. an
   * initializer's retries while the Coordinator has no manifest yet: make it with
   * {@link createMeshCertAgent} (an agent that checks the server certificate, or caches TLS
   * sessions, fails: resumed sessions carry no certificate to bind). Default: a fresh agent per
   * call, one connection for the nonce challenge and the certificate request, closed at the end.
   */
  agent?: Agent;
}

interface RawAnswer {
  status: number;
  text: string;
  peerSpki: Uint8Array;
}

// The peer's SPKI is read once per socket (a keep-alive connection carries several requests) from
// the DER of its certificate: cheaper than building an X509Certificate and exporting its key. It is
// read as soon as the handshake completes: a response can be handled after its socket closed (the
// server's keep-alive timeout on a slow client), and a closed socket no longer knows its peer.
const peerKeys = new WeakMap<TLSSocket, Uint8Array>();
function peerSpki(socket: TLSSocket | undefined): Uint8Array | undefined {
  if (!socket) return undefined;
  let spki = peerKeys.get(socket);
  if (!spki) {
    const raw = socket.getPeerCertificate?.(false)?.raw;
    if (!raw || raw.length === 0) return undefined;
    try {
      spki = spkiOfCertificate(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength));
    } catch {
      return undefined;
    }
    peerKeys.set(socket, spki);
  }
  return spki;
}

// One TLS client context for every mesh-certificate connection of this process: building a
// context per connection costs more CPU than the rest of the client's handshake. Contexts hold no
// sessions here (node's client session cache lives in each Agent), so connections stay independent.
let meshCertContext: SecureContext | undefined;
/**
 * A keep-alive agent for {@link requestMeshCertificate}: one connection at a time, the
 * Coordinator's certificate not checked by TLS (its key is bound by the evidence instead, read from
 * the certificate of each connection) and no TLS session cache: a resumed session carries no
 * certificate, so a connection the Coordinator closed meanwhile is replaced by a full handshake.
 * Pass it as `agent` to reuse one connection across calls (e.g. an initializer's retries), and
 * destroy it when done. @public
 */
export function createMeshCertAgent(): Agent {
  meshCertContext ??= createSecureContext({ minVersion: 'TLSv1.2' });
  return new Agent({
    keepAlive: true,
    maxSockets: 1,
    maxCachedSessions: 0,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2',
    secureContext: meshCertContext,
  });
}

function post(
  agent: Agent,
  options: MeshCertificateOptions,
  path: string,
  body: unknown,
): Promise<RawAnswer> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        agent,
        host: options.host,
        port: options.port,
        ...(options.servername ? { servername: options.servername } : {}),
        method: 'POST',
        path,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
        timeout: options.timeoutMs ?? 30_000,
      },
      (res) => {
        const peer =
          (tlsSocket && peerKeys.get(tlsSocket)) ??
          peerSpki((res.socket ?? tlsSocket) as TLSSocket | undefined);
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          if (!peer) {
            reject(new ContrastError('unavailable', 'the Coordinator presented no TLS certificate'));
            return;
          }
          resolve({
            status: res.statusCode ?? 0,
            text: Buffer.concat(chunks).toString('utf8'),
            peerSpki: peer,
          });
        });
      },
    );
    let tlsSocket: TLSSocket | undefined;
    req.on('socket', (socket) => {
      const s = socket as TLSSocket;
      tlsSocket = s;
      if (!peerKeys.has(s) && peerSpki(s) === undefined) s.once('secureConnect', () => peerSpki(s));
    });
    req.on('timeout', () =>
      req.destroy(new ContrastError('unavailable', 'the Coordinator did not answer in time')),
    );
    req.on('error', (e) =>
      reject(
        e instanceof ContrastError
          ? e
          : new ContrastError('unavailable', `cannot reach the Coordinator: ${e.message}`),
      ),
    );
    req.end(text);
  });
}

/**
 * The initializer side of `POST /v1/mesh/cert`: asks for a nonce, has the issuer produce
 * evidence binding (nonce, the certificate key, the Coordinator's TLS key as seen on this
 * connection) and posts it on the same keep-alive connection. As upstream, the initializer does
 * not attest the Coordinator; the binding keeps a relay from obtaining the answer. Throws
 * {@link ApiError} for refusals (`no_manifest`, `attestation_failed`, ...).
 * @public
 */
export async function requestMeshCertificate(options: MeshCertificateOptions): Promise<MeshCertResponse> {
  const log = (options.logger ?? noopLogger).child({ component: 'mesh-cert-client' });
  const agent = options.agent ?? createMeshCertAgent();
  try {
    let answer = await post(agent, options, '/v1/mesh/cert', {});
    for (let attempt = 0; ; attempt++) {
      if (answer.status !== 401) {
        parseBody(MeshCertResponseSchema, answer.status, answer.text, 'mesh certificate');
        throw new ContrastError('internal', 'the Coordinator did not ask for a nonce');
      }
      const challenge = ApiErrorBodySchema.safeParse(JSON.parse(answer.text));
      if (!challenge.success || challenge.data.code !== 'challenge_required' || !challenge.data.nonce) {
        parseBody(MeshCertResponseSchema, answer.status, answer.text, 'mesh certificate');
        throw new ContrastError('internal', 'malformed challenge');
      }
      const nonce = fromBase64(challenge.data.nonce);
      const reportData = await meshCertReportData(nonce, options.publicKey, answer.peerSpki);
      const evidence = await options.issuer.issue(reportData);
      const next = await post(agent, options, '/v1/mesh/cert', {
        nonce: challenge.data.nonce,
        public_key: toBase64(options.publicKey),
        evidence: evidenceToWire(evidence),
      });
      if (next.status === 401 && attempt < 3) {
        log.info('the nonce was not accepted (another replica or expired); retrying');
        answer = next;
        continue;
      }
      return parseBody(MeshCertResponseSchema, next.status, next.text, 'mesh certificate');
    }
  } finally {
    if (!options.agent) agent.destroy();
  }
}
