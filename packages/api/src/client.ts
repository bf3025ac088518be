import {
  constants,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  type KeyObject,
  randomBytes,
  X509Certificate,
} from 'node:crypto';
import { Agent, request as httpsRequest } from 'node:https';
import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import {
  ATTEST_PATH,
  type AttestedConnection,
  connectAttested,
  parseAttestResponse,
  verifyBoundEvidence,
} from '@contrast-cc/atls';
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
  meshCertChannelReportData,
  meshCertReportData,
  recoverSignedMessage,
  sealRecoverySecret,
  tlsExporterBinding,
} from './binding.js';
import { spkiOfCertificate } from './der.js';
import { ApiError, ApiErrorBodySchema } from './errors.js';
import { RECOVER_SHARES_PATH, type ReleasedSeedShareWire, sealRecoveryShares } from './recover-shares.js';
import {
  CapabilitiesResponseSchema,
  evidenceToWire,
  fromBase64,
  type MeshCertResponse,
  MeshCertResponseSchema,
  pemToDer,
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

/** The JSON value of `text`, or undefined when it is not JSON (the schema check then refuses it). */
function jsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
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
  return stateOfAttestAnswer(conn.attestResponse);
}

/**
 * The state fields of an attest answer as a `StateResponse`, or undefined when they do not parse
 * (the one parser for the client and peer recovery). `listsOptional`: missing `manifests` /
 * `policies` count as empty — peer recovery uses only the fields the state digest binds; the
 * client needs the lists and asks `/v1/state` instead.
 * @public
 */
export function stateOfAttestAnswer(
  r: AttestedConnection['attestResponse'],
  options: { listsOptional?: boolean } = {},
): StateResponse | undefined {
  const empty = options.listsOptional ? [] : undefined;
  const parsed = StateResponseSchema.safeParse({
    version: 'v1',
    status: r.status,
    ...(r.latest_transition !== undefined ? { latest_transition: r.latest_transition } : {}),
    ...(r.root_ca !== undefined ? { root_ca: r.root_ca } : {}),
    ...(r.mesh_ca !== undefined ? { mesh_ca: r.mesh_ca } : {}),
    manifests: r.manifests ?? empty,
    policies: r.policies ?? empty,
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

/** Input of {@link CoordinatorClient.recoverWithShares}. @public */
export interface RecoverWithSharesInput {
  /** At least k owners' released shares (secret: sent sealed, never logged). */
  shares: readonly ReleasedSeedShareWire[];
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
    // A request that may change the state (set, recover) makes the attested snapshot old news:
    // `state()` must ask again (and attest again) instead of answering with the state from before.
    if (body !== undefined) this.#unreadSnapshot = undefined;
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
   * A request that needs a nonce challenge: asks `path` with an empty body (the Coordinator answers
   * 401 `challenge_required` with a nonce), then sends `body(nonce)`; a nonce that expired
   * meanwhile is asked for again (up to 3 attempts).
   */
  async #challenged<S extends z.ZodType>(
    schema: S,
    path: string,
    what: string,
    body: (nonce: Uint8Array) => unknown,
  ): Promise<z.infer<S>> {
    for (let attempt = 0; ; attempt++) {
      let nonce: Uint8Array;
      try {
        await this.#call(schema, path, what, {});
        throw new ContrastError('internal', 'the Coordinator did not ask for a nonce');
      } catch (e) {
        if (!(e instanceof ApiError && e.apiCode === 'challenge_required' && e.nonce)) throw e;
        nonce = fromBase64(e.nonce);
      }
      try {
        return (await this.#call(schema, path, what, body(nonce))).value;
      } catch (e) {
        if (e instanceof ApiError && e.apiCode === 'challenge_required' && attempt < 2) continue;
        throw e;
      }
    }
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
    const force = input.force ?? false;
    return this.#challenged(RecoverResponseSchema, '/v1/recover', 'recover', (nonce) => {
      const sealed = sealRecoverySecret(this.#conn.spki, nonce, input.seed, input.salt);
      const message = recoverSignedMessage({ nonce, coordinatorSpki: this.#conn.spki, force, sealed });
      const signature = cryptoSign('sha256', message, {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 32,
      });
      return {
        nonce: toBase64(nonce),
        ephemeral_public_key: toBase64(sealed.ephemeralPublicKey),
        ciphertext: toBase64(sealed.ciphertext),
        owner_public_key: ownerHex,
        signature: toBase64(new Uint8Array(signature)),
        force,
      };
    });
  }

  /**
   * `POST /v1/recover/shares` (k-of-n recovery): fetches a nonce, seals the owners' released
   * shares to the attested TLS key and sends them; the Coordinator checks and combines them.
   * Throws {@link ApiError} when it refuses (too few, duplicate, foreign or tampered shares).
   */
  async recoverWithShares(input: RecoverWithSharesInput): Promise<RecoverResponse> {
    const force = input.force ?? false;
    return this.#challenged(RecoverResponseSchema, RECOVER_SHARES_PATH, 'recover', (nonce) => {
      const sealed = sealRecoveryShares(this.#conn.spki, nonce, input.shares);
      return {
        nonce: toBase64(nonce),
        ephemeral_public_key: toBase64(sealed.ephemeralPublicKey),
        ciphertext: toBase64(sealed.ciphertext),
        force,
      };
    });
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
  /**
   * Attest the Coordinator before anything else on this connection (see
   * {@link CoordinatorExpectations}). Without it, as upstream, the initializer does not verify the
   * Coordinator (only the binding of its TLS key keeps a relay out).
   */
  coordinator?: CoordinatorExpectations;
}

/**
 * What the initializer checks of the Coordinator before it sends evidence or accepts an answer:
 * the Coordinator's evidence for a fresh nonce must bind the TLS key of this very connection and
 * its state digest, meet `verifiers` (from the expected reference values), carry one of
 * `policyHashes`, and, when `rootCa` is given, the attested state's root CA must have that
 * certificate's key (the seed determines it). Every later answer must come over a connection with the attested key.
 * @public
 */
export interface CoordinatorExpectations {
  verifiers: readonly Verifier[];
  /** hex; the policy hashes of the `Role: coordinator` entries. */
  policyHashes: readonly string[];
  /** PEM of the root CA whose key the Coordinator's root CA must have (the same seed). */
  rootCa?: string;
  /** Accept simulated evidence. Default false. */
  allowInsecure?: boolean;
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

/** The largest mesh-certificate answer read (a chain, two CAs and a secret are a few KiB). */
const MAX_MESH_CERT_ANSWER = 1024 * 1024;

/**
 * A request body made once the request has its connection (TLS handshake done): it may bind
 * what only this connection has (its peer key, its TLS exporter). Gets the socket and the
 * peer's SPKI; what it throws fails the request with that error.
 */
type BodyOfConnection = (socket: TLSSocket, peerSpki: Uint8Array) => Promise<unknown>;

function post(
  agent: Agent,
  options: MeshCertificateOptions,
  path: string,
  body: Record<string, unknown> | BodyOfConnection,
): Promise<RawAnswer> {
  const deferred = typeof body === 'function' ? (body as BodyOfConnection) : undefined;
  const text = deferred ? '' : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    let tooLarge: ContrastError | undefined;
    let answered = false;
    const req = httpsRequest(
      {
        agent,
        host: options.host,
        port: options.port,
        ...(options.servername ? { servername: options.servername } : {}),
        method: 'POST',
        path,
        // A deferred body gets its Content-Length when it exists (see writeBody).
        headers: deferred
          ? { 'content-type': 'application/json' }
          : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
        timeout: options.timeoutMs ?? 30_000,
      },
      (res) => {
        answered = true;
        const peer =
          (tlsSocket && peerKeys.get(tlsSocket)) ??
          peerSpki((res.socket ?? tlsSocket) as TLSSocket | undefined);
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_MESH_CERT_ANSWER) {
            tooLarge ??= new ContrastError('io-error', `the answer exceeds ${MAX_MESH_CERT_ANSWER} bytes`);
            req.destroy(tooLarge);
            return;
          }
          chunks.push(c);
        });
        res.on('error', (e) => reject(tooLarge ?? e));
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
    let failure: unknown;
    const writeBody = (s: TLSSocket) => {
      if (!deferred || answered || req.destroyed) return;
      const peer = peerSpki(s);
      if (!peer) {
        req.destroy(new ContrastError('unavailable', 'the Coordinator presented no TLS certificate'));
        return;
      }
      deferred(s, peer).then(
        (value) => {
          if (answered || req.destroyed) return;
          const out = JSON.stringify(value);
          if (!req.headersSent) req.setHeader('content-length', Buffer.byteLength(out));
          req.end(out);
        },
        (e: unknown) => {
          failure = e;
          req.destroy(e instanceof Error ? e : new Error(String(e)));
        },
      );
    };
    req.on('socket', (socket) => {
      const s = socket as TLSSocket;
      tlsSocket = s;
      // A new connection: its peer and exporter exist once the handshake is done; a kept-alive
      // one has them already.
      if (peerKeys.has(s) || peerSpki(s) !== undefined) writeBody(s);
      else
        s.once('secureConnect', () => {
          peerSpki(s);
          writeBody(s);
        });
    });
    req.on('timeout', () =>
      req.destroy(new ContrastError('unavailable', 'the Coordinator did not answer in time')),
    );
    req.on('error', (e) =>
      reject(
        failure ??
          (e instanceof ContrastError
            ? e
            : new ContrastError('unavailable', `cannot reach the Coordinator: ${e.message}`)),
      ),
    );
    // A deferred body is written (headers with it) once the connection is up: the agent connects
    // without anything written, and head and body then travel in one TLS record.
    if (!deferred) req.end(text);
  });
}

/**
 * Attests the Coordinator on the agent's connection: posts a fresh 32-byte nonce to
 * `/v1/attest`, checks that the answer's state fields match the state digest it bound, verifies
 * the evidence against (channel label, nonce, the SPKI of this connection's certificate, that
 * digest) with the expected verifiers and policy hashes, and the pinned root CA. Returns the
 * attested SPKI; throws `attestation-failed` naming what did not match.
 */
async function attestCoordinator(
  agent: Agent,
  options: MeshCertificateOptions,
  expected: CoordinatorExpectations,
): Promise<Uint8Array> {
  const nonce = new Uint8Array(randomBytes(32));
  const answer = await post(agent, options, ATTEST_PATH, { nonce: toBase64(nonce) });
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch {
    throw new ContrastError(
      'attestation-failed',
      `the Coordinator's attest answer (HTTP ${answer.status}) is not JSON`,
    );
  }
  if (answer.status !== 200) {
    const err = ApiErrorBodySchema.safeParse(body);
    if (err.success) throw new ApiError(err.data, answer.status);
    throw new ContrastError('attestation-failed', `the Coordinator's attest answer is HTTP ${answer.status}`);
  }
  let parsed: ReturnType<typeof parseAttestResponse>;
  try {
    parsed = parseAttestResponse(body);
  } catch (cause) {
    throw new ContrastError('attestation-failed', `malformed attest answer: ${(cause as Error).message}`, {
      cause,
    });
  }
  const state = stateOfAttestAnswer(body as Record<string, unknown>);
  if (!state || !parsed.stateDigest || !bytesEqual(stateDigestOf(state), parsed.stateDigest)) {
    throw new ContrastError(
      'attestation-failed',
      'the attest answer does not carry the state its evidence binds',
      {
        field: 'stateDigest',
      },
    );
  }
  const allowed = expected.policyHashes.map((h) => h.toLowerCase());
  await verifyBoundEvidence({
    evidence: parsed.evidence,
    verifiers: expected.verifiers,
    nonce,
    publicKey: answer.peerSpki,
    stateDigest: parsed.stateDigest,
    allowInsecure: expected.allowInsecure ?? false,
    checkClaims: (claims) =>
      claims.policyDigest && allowed.includes(claims.policyDigest.toLowerCase())
        ? undefined
        : `the Coordinator's policy hash ${claims.policyDigest ?? '(none)'} is not one this pod expects`,
  });
  if (expected.rootCa) {
    // The key, not the certificate bytes: the seed determines the root key, while the root
    // certificate is re-issued (new validity) by manifest updates and recovery.
    const rootKey = (pem: string) =>
      new Uint8Array(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }));
    if (!state.root_ca || !bytesEqual(rootKey(state.root_ca), rootKey(expected.rootCa))) {
      throw new ContrastError(
        'attestation-failed',
        state.root_ca
          ? "the Coordinator's root CA is not the one this pod expects (another seed: another deployment)"
          : 'the Coordinator has no root CA yet (no manifest); this pod expects one',
        { field: 'root_ca' },
      );
    }
  }
  return answer.peerSpki;
}

/**
 * The initializer side of `POST /v1/mesh/cert`. With `coordinator`, it first attests the
 * Coordinator on the connection (see {@link CoordinatorExpectations}); nothing bound to the pod's
 * evidence is sent before that succeeded, and every answer must come with the attested key.
 * Then it asks for a nonce, has the issuer produce evidence binding (nonce, the certificate key,
 * the Coordinator's TLS key as seen on this connection) and posts it on the same keep-alive
 * connection. Without `coordinator` (upstream's behaviour) the Coordinator is not verified; the
 * binding keeps a relay from obtaining the answer. Throws {@link ApiError} for refusals
 * (`no_manifest`, `attestation_failed`, ...) and `attestation-failed` ContrastErrors when the
 * Coordinator does not meet the expectations.
 * @public
 */
export async function requestMeshCertificate(options: MeshCertificateOptions): Promise<MeshCertResponse> {
  const log = (options.logger ?? noopLogger).child({ component: 'mesh-cert-client' });
  const agent = options.agent ?? createMeshCertAgent();
  try {
    for (let round = 0; ; round++) {
      try {
        return await meshCertificateRound(agent, options, log);
      } catch (e) {
        // Behind a Service, the attested connection can close (its replica restarted, an idle
        // timeout) and the next one reach another replica: attest that one, as the first, instead
        // of failing the attempt as if the Coordinator had not passed (a pod would back off and
        // warn for nothing). Nothing bound to the pod's evidence was answered by the new one.
        if (round < 2 && e instanceof AttestedKeyChanged) {
          log.info('the connection reaches another Coordinator now; attesting it');
          continue;
        }
        throw e;
      }
    }
  } finally {
    if (!options.agent) agent.destroy();
  }
}

/**
 * Connections whose TLS exporter already bought a certificate: the Coordinator issues one per
 * connection binding, so a later request on the same kept-alive connection uses the nonce flow.
 */
const channelBindingSpent = new WeakSet<TLSSocket>();

/** What {@link meshCertificateRound} throws when an answer came with another key than the attested one. */
class AttestedKeyChanged extends ContrastError {}

/** One attestation (when asked) and certificate exchange over the agent's connection. */
async function meshCertificateRound(
  agent: Agent,
  options: MeshCertificateOptions,
  log: Logger,
): Promise<MeshCertResponse> {
  const attested = options.coordinator
    ? await attestCoordinator(agent, options, options.coordinator)
    : undefined;
  // Another connection (the attested one was closed) to a server with another key.
  const keyChanged = () =>
    new AttestedKeyChanged(
      'attestation-failed',
      "the Coordinator's TLS key changed after it was attested; not sending evidence to it",
      { field: 'spki' },
    );
  const fromAttested = (a: RawAnswer): RawAnswer => {
    if (attested && !bytesEqual(a.peerSpki, attested)) throw keyChanged();
    return a;
  };
  // One request when the connection is TLS 1.3: the evidence binds this connection's TLS
  // exporter instead of a nonce the Coordinator would first have to hand out. On TLS 1.2, on a
  // connection whose binding already bought a certificate, or when the Coordinator answers with
  // a nonce challenge anyway (a server without channel binding), the nonce flow below follows.
  let bound: TLSSocket | undefined;
  let answer = fromAttested(
    await post(agent, options, '/v1/mesh/cert', async (socket, peer) => {
      // Another server than the attested one: nothing bound goes out; the challenge it answers
      // fails the check below, and the connection stays usable for attesting that server.
      if (attested && !bytesEqual(peer, attested)) return {};
      const exporter = channelBindingSpent.has(socket) ? undefined : tlsExporterBinding(socket);
      if (!exporter) return {};
      const reportData = await meshCertChannelReportData(exporter, options.publicKey, peer);
      const evidence = await options.issuer.issue(reportData);
      bound = socket;
      return { public_key: toBase64(options.publicKey), evidence: evidenceToWire(evidence) };
    }),
  );
  if (bound && answer.status === 200) {
    const out = parseBody(MeshCertResponseSchema, answer.status, answer.text, 'mesh certificate');
    channelBindingSpent.add(bound);
    return out;
  }
  if (bound && answer.status === 401) {
    log.debug('the Coordinator asked for a nonce instead of the channel binding; using it');
  }
  for (let attempt = 0; ; attempt++) {
    if (answer.status !== 401) {
      parseBody(MeshCertResponseSchema, answer.status, answer.text, 'mesh certificate');
      throw new ContrastError('internal', 'the Coordinator did not ask for a nonce');
    }
    const challenge = ApiErrorBodySchema.safeParse(jsonOrUndefined(answer.text));
    if (!challenge.success || challenge.data.code !== 'challenge_required' || !challenge.data.nonce) {
      parseBody(MeshCertResponseSchema, answer.status, answer.text, 'mesh certificate');
      throw new ContrastError('internal', 'malformed challenge');
    }
    const nonce = fromBase64(challenge.data.nonce);
    const reportData = await meshCertReportData(nonce, options.publicKey, answer.peerSpki);
    const evidence = await options.issuer.issue(reportData);
    const next = fromAttested(
      await post(agent, options, '/v1/mesh/cert', {
        nonce: challenge.data.nonce,
        public_key: toBase64(options.publicKey),
        evidence: evidenceToWire(evidence),
      }),
    );
    if (next.status === 401 && attempt < 3) {
      log.info('the nonce was not accepted (another replica or expired); retrying');
      answer = next;
      continue;
    }
    return parseBody(MeshCertResponseSchema, next.status, next.text, 'mesh certificate');
  }
}
