// Peer recovery, stale side: attest an active peer, prove our own evidence, receive the sealed
// secrets, check them against the shared store and become active. Plus the background loop.
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import {
  ApiError,
  ApiErrorBodySchema,
  evidenceToWire,
  fromBase64,
  openPeerSecret,
  PEER_RECOVER_PATH,
  type PeerRecoverResponse,
  PeerRecoverResponseSchema,
  type PeerSecret,
  peerRecoverReportData,
  type StateResponse,
  stateDigestOf,
  stateOfAttestAnswer,
  toBase64,
  verifiersForReferenceValues,
} from '@contrast-cc/api';
import { type AttestedConnection, connectAttested } from '@contrast-cc/atls';
import {
  bytesEqual,
  ContrastError,
  type EvidenceClaims,
  type Issuer,
  isContrastError,
  type Logger,
  noopLogger,
  type PlatformRegistry,
} from '@contrast-cc/core';
import { parseManifest } from '@contrast-cc/manifest';
import { History, type HistoryStore } from '@contrast-cc/store';
import type { Authority } from './authority.js';
import { AuthorityError } from './errors.js';
import type { PeerAddress, PeerSource } from './peers/peer-list.js';
import { AUTHORITY_ERROR_WIRE } from './server/errors.js';

/**
 * The outcome of one attempt against one peer (the `result` label of
 * `contrast_peer_recoveries_total`).
 * @public
 */
export type PeerRecoveryResult =
  /** Recovered: this replica is active. */
  | 'success'
  /** Discovery found no peer. */
  | 'no_peers'
  /** The peer is not active, or at another transition than the store (it may be catching up). */
  | 'peer_not_ready'
  /** The peer's evidence did not pass (reference values, coordinator policy, binding). */
  | 'attestation_failed'
  /** The peer refused our evidence (403: not a coordinator policy, reference values). */
  | 'refused'
  /** The handed-over secrets do not match the store's history (wrong seed, root CA, mesh CA). */
  | 'mismatch'
  /** Discovery or the peer could not be reached. */
  | 'unavailable'
  /** Anything else (malformed answers, internal errors). */
  | 'error';

/** @public */
export const PEER_RECOVERY_RESULTS: readonly PeerRecoveryResult[] = [
  'success',
  'no_peers',
  'peer_not_ready',
  'attestation_failed',
  'refused',
  'mismatch',
  'unavailable',
  'error',
];

class AttemptError extends Error {
  constructor(
    readonly result: PeerRecoveryResult,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** Options of {@link recoverFromPeer}. @public */
export interface RecoverFromPeerOptions {
  authority: Authority;
  /** The shared history store: the manifest to attest the peer against comes from its latest transition. */
  store: HistoryStore;
  /** This replica's evidence issuer. */
  issuer: Issuer;
  platforms: PlatformRegistry;
  allowInsecure?: boolean;
  /** Connect and answer timeout per request (default 15 s, as upstream's first attempt). */
  timeoutMs?: number;
  /**
   * Deadline of one attempt against one peer, all its requests together (default 45 s); a peer
   * that is slower counts as `unavailable`. Also bounds `findActivePeer`, which asks all peers at
   * once.
   */
  attemptTimeoutMs?: number;
  logger?: Logger;
}

const DEFAULT_ATTEMPT_TIMEOUT_MS = 45_000;

/** `work`, or `unavailable` when it has not settled by `until` (performance.now() time). */
function within<T>(work: Promise<T>, until: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new AttemptError('unavailable', `${what}: no answer within the attempt's deadline`)),
      Math.max(0, until - performance.now()),
    );
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

const deadlineOf = (options: RecoverFromPeerOptions) =>
  performance.now() + (options.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS);

/** What one attempt gave. @public */
export interface PeerAttempt {
  result: PeerRecoveryResult;
  /** Why it failed (no secrets). */
  message?: string;
  /**
   * The wire code of a refusal, or the verifier's reason code. With `success`:
   * `already_recovered` when this replica was active already (recovered another way meanwhile).
   */
  code?: string;
}

function certDer(pem: string, field: string): Uint8Array {
  try {
    return new Uint8Array(new X509Certificate(pem).raw);
  } catch {
    throw new AttemptError('error', `the peer sent a ${field} that does not parse`);
  }
}

function snapshotOf(conn: AttestedConnection): StateResponse {
  const state = stateOfAttestAnswer(conn.attestResponse, { listsOptional: true });
  if (!state) throw new AttemptError('error', 'the peer sent a malformed state');
  if (!conn.stateDigest || !bytesEqual(stateDigestOf(state), conn.stateDigest)) {
    throw new AttemptError('attestation_failed', 'the peer state does not match its attested state digest');
  }
  return state;
}

async function postJson(conn: AttestedConnection, body: unknown): Promise<{ status: number; json: unknown }> {
  const res = await conn.fetch(PEER_RECOVER_PATH, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  try {
    return { status: res.status, json: res.json() };
  } catch {
    throw new AttemptError('error', `the peer answered HTTP ${res.status} without JSON`);
  }
}

function refusal(status: number, json: unknown): AttemptError {
  const body = ApiErrorBodySchema.safeParse(json);
  if (!body.success) return new AttemptError('error', `the peer answered HTTP ${status}`);
  const e = new ApiError(body.data, status);
  const result: PeerRecoveryResult =
    e.apiCode === 'needs_recovery' || e.apiCode === 'no_manifest'
      ? 'peer_not_ready'
      : status === 403
        ? 'refused'
        : status === 503
          ? 'unavailable'
          : 'error';
  return new AttemptError(result, `the peer refused (${e.apiCode}): ${e.message}`, e.apiCode);
}

/**
 * Steps 1-2 of a peer recovery: the store's latest transition and manifest (unverified), and an
 * attested channel to a peer whose evidence meets the manifest's reference values with a
 * coordinator policy, `active` at that transition (else `peer_not_ready`).
 */
async function attestPeer(options: RecoverFromPeerOptions, peer: PeerAddress, log: Logger) {
  const history = new History({ store: options.store, logger: log });
  const latest = await history.getLatest({ verify: false });
  if (!latest) throw new AttemptError('peer_not_ready', 'the store has no history to recover');
  const { manifest } = parseManifest(await history.getManifest(latest.manifestHash));
  const coordinators = Object.entries(manifest.Policies)
    .filter(([, entry]) => entry.Role === 'coordinator')
    .map(([hash]) => hash.toLowerCase());
  const verifiers = verifiersForReferenceValues(options.platforms, manifest.ReferenceValues, log);

  let conn: AttestedConnection;
  try {
    conn = await connectAttested({
      host: peer.host,
      port: peer.port,
      verifiers,
      allowInsecure: options.allowInsecure ?? false,
      timeoutMs: options.timeoutMs ?? 15_000,
      logger: log,
      checkClaims: (claims: EvidenceClaims) =>
        claims.policyDigest && coordinators.includes(claims.policyDigest.toLowerCase())
          ? undefined
          : `policy hash ${claims.policyDigest ?? '(none)'} is not a coordinator policy of the manifest`,
    });
  } catch (e) {
    if (isContrastError(e) && e.code === 'attestation-failed') {
      const reason = e.cause as { code?: string } | undefined;
      throw new AttemptError('attestation_failed', e.message, reason?.code);
    }
    throw new AttemptError(
      isContrastError(e) && e.code !== 'unavailable' && e.code !== 'io-error' ? 'error' : 'unavailable',
      (e as Error).message,
    );
  }
  const state = snapshotOf(conn);
  if (state.status !== 'active') {
    throw new AttemptError('peer_not_ready', `the peer is ${state.status}`);
  }
  const transition = state.latest_transition;
  if (transition?.transition_hash !== latest.transitionHash) {
    throw new AttemptError('peer_not_ready', 'the peer is at another transition than the store');
  }
  return { conn, state: { ...state, latest_transition: transition }, latest };
}

/**
 * Whether one of the peers is an attested, active Coordinator at the store's latest transition
 * (the check behind refusing a seed-share owner's recovery without `force`). Returns the first
 * such peer, or undefined. Never throws.
 * @public
 */
export async function findActivePeer(
  options: RecoverFromPeerOptions & { peers: PeerSource },
): Promise<PeerAddress | undefined> {
  const log = (options.logger ?? noopLogger).child({ component: 'peer-recovery' });
  let peers: PeerAddress[];
  try {
    peers = await options.peers.peers(
      AbortSignal.timeout(options.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS),
    );
  } catch {
    return undefined;
  }
  // All peers at once, under one deadline: a hung peer costs at most that, not a turn each.
  const until = deadlineOf(options);
  try {
    return await Promise.any(
      peers.map((peer) =>
        within(attestPeer(options, peer, log), until, `peer ${peer.host}`).then(() => peer),
      ),
    );
  } catch {
    // none active, attestable and reachable in time: no peer that could recover us
    return undefined;
  }
}

/**
 * One peer recovery attempt against one peer (see the README, "Peer recovery"):
 * 1. read the latest transition and its manifest from the store (unverified: no seed yet);
 * 2. attest the peer over `@contrast-cc/atls` with the manifest's reference values; its policy
 *    hash must be a `Role: coordinator` policy; its attested state must be `active` at the store's
 *    latest transition;
 * 3. ask for a nonce, then send a fresh ephemeral P-256 key and our evidence binding
 *    (nonce, ephemeral key, the peer's TLS key);
 * 4. open the sealed seed, salt and mesh CA key; `Authority.recoverFromPeer` checks them against
 *    the store (latest signature, root CA reproduced, mesh CA key) and adopts the peer's root,
 *    intermediate and mesh CA certificates (checked by `restoreCaHierarchy`), then becomes active.
 * Never throws; the result names what happened. Secrets are zeroed after use and never logged.
 * @public
 */
export async function recoverFromPeer(
  options: RecoverFromPeerOptions,
  peer: PeerAddress,
): Promise<PeerAttempt> {
  const log = (options.logger ?? noopLogger).child({ component: 'peer-recovery' });
  let secret: PeerSecret | undefined;
  const until = deadlineOf(options);
  const step = <T>(work: Promise<T>) => within(work, until, `peer ${peer.host}`);
  try {
    const { conn, state } = await step(attestPeer(options, peer, log));
    const challenge = await step(postJson(conn, {}));
    const nonceB64 = ApiErrorBodySchema.safeParse(challenge.json).data?.nonce;
    if (challenge.status !== 401 || !nonceB64) throw refusal(challenge.status, challenge.json);
    const nonce = fromBase64(nonceB64);
    const ephemeral = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ephemeralSpki = new Uint8Array(ephemeral.publicKey.export({ type: 'spki', format: 'der' }));
    const evidence = await options.issuer.issue(await peerRecoverReportData(nonce, ephemeralSpki, conn.spki));
    const answer = await step(
      postJson(conn, {
        nonce: nonceB64,
        ephemeral_public_key: toBase64(ephemeralSpki),
        evidence: evidenceToWire(evidence),
      }),
    );
    if (answer.status !== 200) throw refusal(answer.status, answer.json);
    const parsed = PeerRecoverResponseSchema.safeParse(answer.json);
    if (!parsed.success) throw new AttemptError('error', 'the peer sent a malformed answer');
    const res: PeerRecoverResponse = parsed.data;
    // The answer must describe the state the peer attested (its CAs and transition).
    if (
      res.transition_hash !== state.latest_transition.transition_hash ||
      res.root_ca !== state.root_ca ||
      res.mesh_ca !== state.mesh_ca
    ) {
      throw new AttemptError('peer_not_ready', 'the peer changed its state during the exchange');
    }
    try {
      secret = openPeerSecret(ephemeral.privateKey, nonce, {
        ephemeralPublicKey: fromBase64(res.sealed_ephemeral_public_key),
        ciphertext: fromBase64(res.sealed_secret),
      });
    } catch (e) {
      throw new AttemptError('mismatch', (e as Error).message);
    }
    try {
      await options.authority.recoverFromPeer({
        secret,
        transitionHash: res.transition_hash,
        rootCaDer: certDer(res.root_ca, 'root CA'),
        meshCaDer: certDer(res.mesh_ca, 'mesh CA'),
        // A peer built before this field sends none: the authority then issues its own intermediate.
        ...(res.intermediate_ca !== undefined
          ? { intermediateCaDer: certDer(res.intermediate_ca, 'intermediate CA') }
          : {}),
      });
    } catch (e) {
      if (e instanceof AttemptError) throw e;
      // The local authority's refusal, in the wire vocabulary the attempts report.
      const code = e instanceof AuthorityError ? AUTHORITY_ERROR_WIRE[e.kind].code : undefined;
      if (code === 'already_recovered') {
        return { result: 'success', message: 'already active', code: 'already_recovered' };
      }
      throw new AttemptError(
        code === 'manifest_conflict' ? 'peer_not_ready' : code === 'permission_denied' ? 'mismatch' : 'error',
        (e as Error).message,
        code,
      );
    }
    return { result: 'success' };
  } catch (e) {
    if (e instanceof AttemptError) {
      return { result: e.result, message: e.message, ...(e.code ? { code: e.code } : {}) };
    }
    const unavailable = isContrastError(e) && (e.code === 'unavailable' || e.code === 'io-error');
    return { result: unavailable ? 'unavailable' : 'error', message: (e as Error)?.message ?? String(e) };
  } finally {
    secret?.seed.fill(0);
    secret?.meshCaKey.fill(0);
  }
}

/** Options of {@link startPeerRecovery}. @public */
export interface PeerRecoveryLoopOptions extends RecoverFromPeerOptions {
  peers: PeerSource;
  /** First retry delay after a failed round (default 1 s); doubles per failed round. */
  minDelayMs?: number;
  /** Longest delay between rounds (default 30 s). */
  maxDelayMs?: number;
  /** How often the status is looked at while not stale (default 1 s; no network). */
  idleCheckMs?: number;
  /** Source of jitter in [0, 1) (default Math.random). */
  random?: () => number;
  /** Called with every attempt's result (metrics). */
  onResult?: (result: PeerRecoveryResult) => void;
  /**
   * Called once each time the loop recovered this replica from a peer (it is active now), after
   * the `recovered from a peer Coordinator` log record. Not called when the replica became active
   * another way. A throwing or rejecting hook is logged (warn) and does not stop the loop.
   */
  onRecovered?: (event: PeerRecoveredEvent) => void | Promise<void>;
}

/** What {@link PeerRecoveryLoopOptions.onRecovered} gets (no secrets). @public */
export interface PeerRecoveredEvent {
  /** The peer that handed over the secrets, as the peer source gave it. */
  peer: PeerAddress;
  /**
   * How long this replica was stale as the loop saw it: from the start of the first round of this
   * stale period to the successful attempt's end (ms, monotonic clock).
   */
  durationMs: number;
  /** Attempts against peers in this stale period, the successful one included (>= 1). */
  attempts: number;
}

/** A running peer recovery loop. @public */
export interface PeerRecoveryLoop {
  /** Ends a wait early: the next round starts now when stale (e.g. after a watch event). */
  kick(): void;
  /** Stops the loop and waits for the current round to end. */
  stop(): Promise<void>;
}

/**
 * The delay before retry round `failures` (1, 2, ...): exponential from `minMs`, capped at `maxMs`,
 * with "equal jitter" (between half and all of it) so replicas restarted together spread out.
 * @public
 */
export function peerRetryDelay(failures: number, minMs: number, maxMs: number, random: () => number): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.max(0, Math.min(failures - 1, 30)));
  return Math.round(base / 2 + random() * (base / 2));
}

/**
 * Runs peer recovery in the background: while the authority is `stale`, a round asks the peer
 * source and tries each peer (in a random order) until one recovers us; after a failed round it
 * waits {@link peerRetryDelay}. While `active` or `uninitialized` it only looks at the status
 * (every `idleCheckMs`), so a replica that goes stale again (another replica updated the
 * manifest, the history was replaced) recovers again. Logs at info without secrets.
 * @public
 */
export function startPeerRecovery(options: PeerRecoveryLoopOptions): PeerRecoveryLoop {
  const log = (options.logger ?? noopLogger).child({ component: 'peer-recovery' });
  const minDelay = options.minDelayMs ?? 1000;
  const maxDelay = options.maxDelayMs ?? 30_000;
  const idle = options.idleCheckMs ?? 1000;
  const random = options.random ?? Math.random;
  if (!(minDelay > 0 && maxDelay >= minDelay && idle > 0)) {
    throw new ContrastError('invalid-argument', 'peer recovery delays must be positive and min <= max', {
      field: 'peerRecovery',
    });
  }
  let stopped = false;
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });
  const record = (result: PeerRecoveryResult) => {
    try {
      options.onResult?.(result);
    } catch {
      // metrics must not break recovery
    }
  };
  // The current stale period: when its first round started, and the attempts made in it.
  let staleSince: number | undefined;
  let attempts = 0;
  const hookFailed = (e: unknown) =>
    log.warn('the onRecovered hook failed', { error: (e as Error)?.message ?? String(e) });
  const recovered = (peer: PeerAddress) => {
    const hook = options.onRecovered;
    if (!hook) return;
    const event: PeerRecoveredEvent = {
      peer: { ...peer },
      durationMs: Math.max(0, Math.round(performance.now() - (staleSince ?? performance.now()))),
      attempts,
    };
    try {
      const r = hook(event);
      if (r && typeof r.then === 'function') r.then(undefined, hookFailed);
    } catch (e) {
      hookFailed(e);
    }
  };

  // Aborted by stop(): a discovery request in flight ends with it.
  const halt = new AbortController();

  async function round(): Promise<boolean> {
    let peers: PeerAddress[];
    try {
      peers = await options.peers.peers(halt.signal);
    } catch (e) {
      record('unavailable');
      log.warn('peer discovery failed', { source: options.peers.kind, error: (e as Error).message });
      return false;
    }
    if (peers.length === 0) {
      record('no_peers');
      log.info('no peer Coordinator to recover from', { source: options.peers.kind });
      return false;
    }
    // A random order spreads the load when many replicas restart at once.
    const order = peers
      .map((p) => ({ p, k: random() }))
      .sort((a, b) => a.k - b.k)
      .map((x) => x.p);
    for (const peer of order) {
      if (stopped || options.authority.status !== 'stale') return true;
      const at = `${peer.host}:${peer.port}`;
      const attempt = await recoverFromPeer(options, peer);
      attempts++;
      record(attempt.result);
      if (attempt.result === 'success' && attempt.code === 'already_recovered') {
        log.info('active already: recovered another way during the attempt', { peer: at, name: peer.name });
        return true;
      }
      if (attempt.result === 'success') {
        log.info('recovered from a peer Coordinator', { peer: at, name: peer.name, attempts });
        recovered(peer);
        return true;
      }
      log.info('peer recovery attempt failed', {
        peer: at,
        name: peer.name,
        result: attempt.result,
        code: attempt.code,
        reason: attempt.message,
      });
    }
    return options.authority.status !== 'stale';
  }

  const running = (async () => {
    let failures = 0;
    while (!stopped) {
      if (options.authority.status !== 'stale') {
        failures = 0;
        staleSince = undefined;
        await sleep(idle);
        continue;
      }
      if (staleSince === undefined) {
        staleSince = performance.now();
        attempts = 0;
      }
      let ok = false;
      try {
        ok = await round();
      } catch (e) {
        log.error('peer recovery round failed', { error: (e as Error).message });
      }
      if (ok || stopped) {
        failures = 0;
        staleSince = undefined;
        continue;
      }
      failures++;
      const delay = peerRetryDelay(failures, minDelay, maxDelay, random);
      log.info('still stale; next peer recovery round', { inMs: delay, failedRounds: failures });
      await sleep(delay);
    }
  })();

  log.info('peer recovery started', { source: options.peers.kind });
  return {
    kick() {
      wake?.();
    },
    async stop() {
      stopped = true;
      halt.abort();
      wake?.();
      await running;
      log.info('peer recovery stopped');
    },
  };
}
