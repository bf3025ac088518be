import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import {
  ApiError,
  type CoordinatorExpectations,
  createMeshCertAgent,
  type MeshCertResponse,
  requestMeshCertificate,
} from '@contrast-cc/api';
import { ContrastError, type Issuer, isContrastError, type Logger, noopLogger } from '@contrast-cc/core';
import { writeFilesAtomic } from '@contrast-cc/core/fs';
import type { InterceptionPlan } from './mesh-config.js';
import {
  applyTrafficRules,
  type CommandRunner,
  type TrafficRulesBackend,
  type TrafficRulesResult,
} from './traffic-rules.js';

/** The files the initializer writes, relative to its output directory (upstream layout). */
export const OUTPUT_FILES = Object.freeze({
  certChain: 'tls-config/certChain.pem',
  key: 'tls-config/key.pem',
  meshCa: 'tls-config/mesh-ca.pem',
  rootCa: 'tls-config/coordinator-root-ca.pem',
  workloadSecret: 'secrets/workload-secret-seed',
});

/** Options of {@link runInitializer}. */
export interface InitializerOptions {
  /** The Coordinator's mesh API (upstream `coordinator-ready.<ns>`). */
  host: string;
  port: number;
  /** The platform issuer in the guest. */
  issuer: Issuer;
  /** Where to write `tls-config/` and `secrets/` (upstream `/contrast`). */
  outDir: string;
  /** First retry delay (ms, default 1 s); doubles up to `maxDelayMs` (default 30 s), with jitter. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Give up after this long (ms); default: never. */
  deadlineMs?: number;
  signal?: AbortSignal;
  /** The clock of the backoff and the deadline (tests pass a virtual one; default: real time). */
  clock?: { now(): number; sleep(ms: number, signal?: AbortSignal): Promise<void> };
  logger?: Logger;
  /**
   * The pod's inbound traffic rules, installed before anything else (before the certificate is
   * requested): `plan` from `planInterception` (`null` removes them: ingress `DISABLED`). Absent:
   * no rules are touched (a pod without the service mesh). A failure is final.
   */
  trafficRules?: { plan: InterceptionPlan | null; backend?: TrafficRulesBackend; run?: CommandRunner };
  /**
   * Attest the Coordinator before sending it anything bound to this pod's evidence (see
   * `CoordinatorExpectations` of `@contrast-cc/api`): the expected policy hashes, verifiers from
   * the expected reference values and optionally the root CA, all from what this pod's own
   * evidence covers. A Coordinator that does not meet them gets no evidence; the initializer
   * retries (the host may route to the genuine one later) and, at the deadline, names the reason.
   */
  coordinator?: CoordinatorExpectations;
}

/** What {@link runInitializer} wrote. */
export interface InitializerResult {
  files: string[];
  attempts: number;
  /** The backend that installed the traffic rules, when asked to. */
  trafficRules?: TrafficRulesResult;
}

/** Refusals that will not heal by retrying the same request. */
function permanent(e: unknown): boolean {
  return e instanceof ApiError && e.apiCode === 'invalid_argument';
}

const realSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(new ContrastError('unavailable', 'aborted'));
      },
      { once: true },
    );
  });

/**
 * The initializer: makes a fresh P-256 key, asks the Coordinator for a mesh certificate with
 * evidence binding the key (retrying with backoff while the Coordinator has no manifest, is
 * recovering or unreachable), then writes the certificate chain, key, mesh CA, root CA and the
 * workload secret atomically. All attempts go through one keep-alive agent: a retry reuses the
 * open connection (a new one, with a full handshake, when the Coordinator has closed it
 * meanwhile); the agent is destroyed (its connection closed) before this returns or throws.
 */
export async function runInitializer(options: InitializerOptions): Promise<InitializerResult> {
  const log = (options.logger ?? noopLogger).child({ component: 'initializer' });
  // The rules first: the workload containers start only after this container (the pod's policy
  // enforces the order), and from here on every inbound port goes to the proxy or is refused.
  const trafficRules = options.trafficRules
    ? await applyTrafficRules({
        plan: options.trafficRules.plan,
        logger: log,
        ...(options.trafficRules.backend ? { backend: options.trafficRules.backend } : {}),
        ...(options.trafficRules.run ? { run: options.trafficRules.run } : {}),
      })
    : undefined;
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
  const clock = options.clock ?? { now: Date.now, sleep: realSleep };
  const started = clock.now();
  let delay = options.initialDelayMs ?? 1000;
  const maxDelay = options.maxDelayMs ?? 30_000;
  let response: MeshCertResponse | undefined;
  let attempts = 0;
  // One connection for all attempts; a connection the Coordinator closed meanwhile (its keep-alive
  // timeout is shorter than the backoff) is replaced by a full handshake (see createMeshCertAgent).
  const agent = createMeshCertAgent();
  try {
    while (!response) {
      attempts++;
      try {
        response = await requestMeshCertificate({
          host: options.host,
          port: options.port,
          issuer: options.issuer,
          publicKey: spki,
          agent,
          logger: log,
          ...(options.coordinator ? { coordinator: options.coordinator } : {}),
        });
      } catch (e) {
        if (permanent(e)) throw e;
        const reason =
          e instanceof ApiError
            ? e.apiCode
            : isContrastError(e)
              ? e.code === 'attestation-failed'
                ? `${e.code}: ${e.message}`
                : e.code
              : 'error';
        // The jittered wait is what the deadline is checked against: never sleep past it.
        const wait = Math.round(delay * (0.75 + Math.random() / 2));
        if (options.deadlineMs !== undefined && clock.now() - started + wait > options.deadlineMs) {
          throw new ContrastError(
            'unavailable',
            `no mesh certificate after ${attempts} attempts (last: ${reason})`,
            {
              cause: e,
            },
          );
        }
        if (isContrastError(e) && e.code === 'attestation-failed') {
          log.warn('the Coordinator did not pass attestation; nothing was sent to it', {
            reason,
            attempt: attempts,
            retryInMs: wait,
          });
        } else {
          log.info('waiting for the Coordinator', { reason, attempt: attempts, retryInMs: wait });
        }
        await clock.sleep(wait, options.signal);
        delay = Math.min(maxDelay, delay * 2);
      }
    }
  } finally {
    agent.destroy();
  }
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  // The key first and the chain last: all are written before any is renamed into place, and the
  // renames keep this order, so a reader that sees the chain finds everything else.
  const writes: { name: string; data: string; mode?: number }[] = [
    { name: OUTPUT_FILES.key, data: keyPem, mode: 0o600 },
    { name: OUTPUT_FILES.meshCa, data: response.mesh_ca },
    { name: OUTPUT_FILES.rootCa, data: response.root_ca },
    // The workload secret is the workload's, and workloads run as their image's user (the shop's
    // api as 1000): readable by the pod's containers. The boundary is the pod VM (a memory-backed
    // emptyDir, only the pod's policy-pinned containers mount it), not a file mode; found by the
    // container end-to-end run (tools/e2e), where 0600 root-owned made the api exit with EACCES.
    ...(response.workload_secret
      ? [{ name: OUTPUT_FILES.workloadSecret, data: response.workload_secret, mode: 0o644 }]
      : []),
    { name: OUTPUT_FILES.certChain, data: response.cert_chain },
  ];
  await writeFilesAtomic(
    writes.map((w) => ({ path: path.join(options.outDir, w.name), data: w.data, mode: w.mode ?? 0o644 })),
    { createDirectories: true },
  );
  const files = writes.map((w) => w.name);
  log.info('wrote mesh certificate', { files, attempts });
  return { files, attempts, ...(trafficRules ? { trafficRules } : {}) };
}
