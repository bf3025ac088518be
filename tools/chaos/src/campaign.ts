// The high-availability chaos campaign (issue 21): three Coordinator replicas (processes) on one
// shared store, a Service proxy in front, initializers (the real `runInitializer`, with its own
// retries and backoff) arriving throughout, and replicas SIGKILLed at random moments and restarted
// like a StatefulSet does. Checks: every initializer gets a certificate from the one mesh CA, every
// probe of every live replica serves the same root CA, mesh CA, transition and manifests, and each
// restarted replica recovers itself from a peer (nobody ever calls `recover`).
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CoordinatorClient,
  type CoordinatorExpectations,
  verifiersForReferenceValues,
} from '@contrast-cc/api';
import {
  deployment,
  freeLoopbackPort,
  keys,
  MEASUREMENT,
  ownerSignature,
  podIssuer,
  registry,
} from '@contrast-cc/authority/testing';
import { openSeedShare, recoverSeed } from '@contrast-cc/certs';
import { createLogger } from '@contrast-cc/core';
import { OUTPUT_FILES, runInitializer } from '@contrast-cc/mesh';
import { type FakeKubeApiServer, startFakeKubeApiServer } from '@contrast-cc/store/testing';
import {
  checkInitializerOutput,
  type Divergence,
  manifestsDigest,
  type Reference,
  StateMonitor,
} from './checks.js';
import { type Incarnation, Replica, type ReplicaPhase } from './replicas.js';
import { type ServiceProxy, startServiceProxy } from './service-proxy.js';

/** Options of {@link runChaos}. */
export interface ChaosOptions {
  /** SIGKILLs to deliver (>= 1). */
  kills: number;
  /** Initializers to run in total, arriving between the kills. */
  initializers: number;
  /** The shared store: a directory, or ConfigMaps on a loopback fake Kubernetes API. */
  store: 'dir' | 'configmap';
  /** Seed of the campaign's choices (gaps, victims, restart delays, arrivals). Default: random. */
  seed?: number;
  /**
   * Share of kills delivered without waiting for the replicas to be active again (default 0.3):
   * those can hit a replica that is still recovering, or a second replica while another one
   * recovers. The other kills wait until all three are active, then hit any one of them.
   */
  overlap?: number;
  /** Random wait before each kill, ms (default [500, 4000]). */
  gapMs?: [number, number];
  /** Random wait between a kill and the restart (the controller recreating the pod), ms (default [200, 1500]). */
  restartDelayMs?: [number, number];
  /** Pause between two state probes of one replica, ms (default 200). */
  probeIntervalMs?: number;
  /** The kubelet's readiness period, ms (default 500). */
  readinessPeriodMs?: number;
  /** Each initializer's deadline, ms (default 10 min: generous; the real one has none). */
  initializerDeadlineMs?: number;
  /** How long a restarted replica may take to recover before it counts as stuck, ms (default 5 min). */
  recoveryTimeoutMs?: number;
  /**
   * Manifest updates by the workload owner during the campaign (default 0), spread over the kills:
   * each adds a workload to the manifest (the pods' policies stay valid), is set on a random active
   * replica, and must reach every replica (all active at the new transition) before the next kill.
   */
  updates?: number;
  /**
   * ConfigMap store only: with each kill, the fake API server also ends every watch stream (as an
   * API server restart does) and answers the next 3 requests with 503 or 500.
   */
  kubeFaults?: boolean;
  /** Keep the run's directory (store, logs, pod outputs) even when the run passes. */
  keep?: boolean;
  /** Progress lines. */
  progress?: (line: string) => void;
}

/** One SIGKILL and what followed. */
export interface KillRecord {
  n: number;
  /** ms since the campaign started */
  atMs: number;
  victim: string;
  /** The victim's phase when it was killed (a replica can be killed while it recovers). */
  victimPhase: ReplicaPhase;
  /** Replicas active at that moment besides the victim. */
  othersActive: string[];
  /** Initializers in flight at that moment. */
  initializersInFlight: number;
  restartedAtMs?: number;
  /** Restart to `recovered from a peer Coordinator`, ms. */
  recoveryMs?: number;
  /** Of that: restart to listening (process start, module loading, store opened), ms. */
  startupMs?: number;
  /** Kill to recovered, ms. */
  downMs?: number;
  recoveredFrom?: string;
  outcome: 'recovered' | 'killed again before recovering' | 'stuck';
}

export interface ChaosReport {
  seed: number;
  store: 'dir' | 'configmap';
  /** Each manifest update: when, on which replica, and how long until every replica served it. */
  updates: { n: number; atMs: number; via: string; attempts: number; propagatedMs?: number }[];
  /** Kills that also dropped the API server's watches and failed its next requests (`kubeFaults`). */
  kubeFaultRounds: number;
  kills: KillRecord[];
  initializers: {
    total: number;
    ok: number;
    failed: { n: number; error: string }[];
    attempts: { total: number; max: number; retried: number };
    /** Why initializers had to retry, counted. */
    retryReasons: Record<string, number>;
    peakInFlight: number;
    durationMs: { p50: number; p99: number; max: number };
  };
  probes: { samples: number; activeSamples: number; errors: number; comparisons: number; lagging: number };
  divergences: Divergence[];
  /** Replicas that did not come back, or came back another way than from a peer. */
  stuck: string[];
  /**
   * Replica processes that exited without being killed (restarted like the kubelet would). Any is
   * a failure, except a restart that found its port taken by another socket meanwhile (`portTaken`:
   * the harness's stable ports are loopback ports another process can grab; a cluster has none).
   */
  crashes: { replica: string; incarnation: number; exit: string; portTaken: boolean; stderr: string }[];
  recoveryMs: {
    count: number;
    p50: number;
    max: number;
    afterListeningP50: number;
    afterListeningMax: number;
  };
  proxy: ServiceProxy['stats'];
  /** Log files of replica incarnations that contain the seed (hex or base64): must be none. */
  secretsInLogs: string[];
  /** Warnings and errors the replicas logged (deduplicated, counted). */
  replicaProblems: Record<string, number>;
  wallMs: number;
  /** Where the logs are (kept when the run failed or `keep`). */
  dir?: string;
  passed: boolean;
}

/** mulberry32: the campaign's choices replay from the seed (the machine's timing does not). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `cond` every 100 ms; false when `ms` passed first. */
async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) return false;
    await sleep(100);
  }
  return true;
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

/** Runs one campaign; never throws for a failed check (the report says), always stops every process. */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  if (!(options.kills >= 1 && options.initializers >= 1))
    throw new Error('kills and initializers must be >= 1');
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const random = prng(seed);
  const between = ([lo, hi]: [number, number]) => lo + random() * (hi - lo);
  const gapMs = options.gapMs ?? [500, 4000];
  const restartDelayMs = options.restartDelayMs ?? [200, 1500];
  const probeInterval = options.probeIntervalMs ?? 200;
  const readinessPeriod = options.readinessPeriodMs ?? 500;
  const say = options.progress ?? (() => {});
  const recoveryTimeout = options.recoveryTimeoutMs ?? 300_000;
  const origin = performance.now();
  const clock = () => Math.round(performance.now() - origin);

  const root = await mkdtemp(path.join(tmpdir(), 'contrast-chaos-'));
  const logDir = path.join(root, 'logs');
  await mkdir(logDir);
  const d = deployment(['web', 'db', 'cache']);
  const workloads = ['web', 'db', 'cache'];
  const verifiers = verifiersForReferenceValues(registry(), d.manifestJson.ReferenceValues as never);
  const coordinatorPolicy = d.hashes.coordinator!;

  const replicas: Replica[] = [];
  let kube: FakeKubeApiServer | undefined;
  let proxy: ServiceProxy | undefined;
  let stopping = false;
  const background: Promise<unknown>[] = [];

  const kills: KillRecord[] = [];
  let monitor: StateMonitor | undefined;
  const stuck: string[] = [];
  const crashes: ChaosReport['crashes'] = [];
  /** The last kill of each replica that it has not recovered from yet. */
  const pendingKill = new Map<Replica, KillRecord>();
  let probeErrors = 0;
  const retryReasons: Record<string, number> = {};
  const failed: { n: number; error: string }[] = [];
  const durations: number[] = [];
  const attempts: number[] = [];
  let inFlight = 0;
  let peakInFlight = 0;
  let passed = false;
  let seed32: Uint8Array | undefined;
  let kubeFaultRounds = 0;
  const updates: ChaosReport['updates'] = [];
  const secrets = new Map<string, string>();

  try {
    // The shared store.
    const env: Record<string, string> = {
      CONTRAST_ISSUER: 'fake',
      CONTRAST_ALLOW_INSECURE_RUNTIMES: '1',
      CONTRAST_FAKE_POLICY_HASH: coordinatorPolicy,
      CONTRAST_FAKE_MEASUREMENT: MEASUREMENT,
      CONTRAST_LISTEN_ADDRESS: '127.0.0.1',
      CONTRAST_METRICS_PORT: '0',
      CONTRAST_TRANSIT_PORT: 'off',
      CONTRAST_LOG_LEVEL: 'info',
      // no pod to read an owner reference from
      HOSTNAME: '',
    };
    if (options.store === 'dir') {
      env.CONTRAST_STORE = 'dir';
      env.CONTRAST_STORE_DIR = path.join(root, 'store');
    } else {
      kube = await startFakeKubeApiServer();
      const kubeconfig = path.join(root, 'kubeconfig.json');
      await writeFile(kubeconfig, kube.kubeConfig().exportConfig());
      env.CONTRAST_STORE = 'configmap';
      env.CONTRAST_NAMESPACE = 'chaos';
      env.KUBECONFIG = kubeconfig;
    }

    // Three replicas with stable ports, each knowing the other two.
    const ports = [await freeLoopbackPort(), await freeLoopbackPort(), await freeLoopbackPort()];
    for (const [i, name] of ['coordinator-0', 'coordinator-1', 'coordinator-2'].entries()) {
      replicas.push(
        new Replica({
          name,
          apiPort: ports[i]!,
          peerPorts: ports.filter((_, j) => j !== i),
          env,
          logDir,
          clock,
          onLine: (r, line) => {
            if (line.msg === 'recovered from a peer Coordinator') recovered(r);
          },
        }),
      );
    }
    const [first, ...rest] = replicas as [Replica, Replica, Replica];
    // Like the StatefulSet's controller and the kubelet: a replica whose process ended is started
    // again, after a short random delay when killed, after 1 s when it exited on its own (a crash).
    const supervise = (r: Replica, inc: Incarnation) => {
      inc.exited.then(async (exit) => {
        if (stopping) return;
        if (!inc.killed) {
          const stderr = inc.problems
            .filter((p) => p.startsWith('stderr'))
            .join(' ')
            .slice(-400);
          const crash = {
            replica: r.name,
            incarnation: inc.n,
            exit: String(exit),
            portTaken: /EADDRINUSE/.test(stderr),
            stderr,
          };
          crashes.push(crash);
          say(`CRASH ${r.name}#${inc.n} (exit ${crash.exit}): ${stderr}`);
        }
        await sleep(inc.killed ? between(restartDelayMs) : 1000);
        if (stopping) return;
        const next = r.start();
        const record = pendingKill.get(r);
        if (record && record.restartedAtMs === undefined) record.restartedAtMs = clock();
        supervise(r, next);
      });
    };
    function recovered(r: Replica) {
      const inc = r.current;
      const record = pendingKill.get(r);
      if (!inc || inc.recoveredAt === undefined || !record) return;
      pendingKill.delete(r);
      record.outcome = 'recovered';
      record.recoveryMs = inc.recoveredAt - inc.startedAt;
      if (inc.listeningAt !== undefined) record.startupMs = inc.listeningAt - inc.startedAt;
      record.downMs = inc.recoveredAt - record.atMs;
      record.recoveredFrom = inc.recoveredFrom;
      say(
        `  ${r.name}#${inc.n} recovered from ${inc.recoveredFrom} in ${record.recoveryMs} ms after its restart`,
      );
    }
    const listening = (r: Replica, inc: Incarnation, ms: number) =>
      until(() => inc.listeningAt !== undefined || inc.exitedWith !== undefined, ms).then(
        () => r.current === inc && inc.listeningAt !== undefined,
      );
    // Probes give up after 15 s a request; the set and the final check wait longer (a busy machine).
    const connect = (port: number, timeoutMs = 15_000) =>
      CoordinatorClient.connect({
        host: '127.0.0.1',
        port,
        verifiers,
        coordinatorPolicyHashes: [coordinatorPolicy],
        allowInsecure: true,
        timeoutMs,
      });

    // The StatefulSet starts all three on an empty store; the workload owner sets the manifest
    // once, on the first; the other two see the history appear and recover from it.
    const inc0 = first.start();
    supervise(first, inc0);
    for (const r of rest) supervise(r, r.start());
    if (!(await listening(first, inc0, 120_000))) throw new Error(`${first.name} did not start`);
    const set = await (await connect(first.apiPort, 60_000)).setManifest({
      manifest: d.manifest,
      policies: d.policies,
    });
    first.activeBySet = true;
    if (set.seed_shares_doc) {
      const doc = set.seed_shares_doc;
      seed32 = recoverSeed(doc, [openSeedShare(doc, keys().seedOwnerPrivate)]).seed;
    }
    const setState = await (await connect(first.apiPort, 60_000)).state();
    const ref: Reference = {
      rootCa: set.root_ca,
      meshCa: set.mesh_ca,
      transition: set.transition_hash,
      manifests: manifestsDigest(setState),
    };
    say(`manifest set on ${first.name} (transition ${set.transition_hash.slice(0, 12)}…)`);
    for (const r of rest) {
      if (!(await until(() => r.phase === 'active', recoveryTimeout))) {
        throw new Error(`${r.name} did not recover from its peer at start`);
      }
    }
    say(
      `all replicas active (${rest.map((r) => `${r.name} in ${r.current!.recoveredAt! - r.current!.startedAt} ms`).join(', ')})`,
    );

    // The kubelet's readiness probes and the endpoints they leave in the Service.
    const ready = new Map<Replica, boolean>();
    background.push(
      (async () => {
        while (!stopping) {
          await Promise.all(replicas.map(async (r) => ready.set(r, await r.ready())));
          await sleep(readinessPeriod);
        }
      })(),
    );
    proxy = await startServiceProxy(() =>
      replicas.filter((r) => ready.get(r)).map((r) => ({ name: r.name, port: r.apiPort })),
    );
    const service = proxy;

    // Probes: every live replica, continuously, attested; every answer against the reference and
    // against the other replicas' latest active answers.
    const stateMonitor = new StateMonitor(ref, clock, (d) =>
      say(`DIVERGENCE ${d.replica}#${d.incarnation}: ${d.what}`),
    );
    monitor = stateMonitor;
    const isActive = (name: string) => replicas.find((r) => r.name === name)?.phase === 'active';
    const observe = (r: Replica, inc: number, state: Parameters<StateMonitor['observe']>[2]) =>
      stateMonitor.observe(r.name, inc, state, isActive);
    for (const r of replicas) {
      background.push(
        (async () => {
          while (!stopping) {
            const inc = r.current;
            if (!inc || inc.listeningAt === undefined) {
              await sleep(50);
              continue;
            }
            let client: CoordinatorClient;
            try {
              client = await connect(r.apiPort);
            } catch {
              if (r.current === inc) probeErrors++;
              await sleep(probeInterval);
              continue;
            }
            while (!stopping && r.current === inc) {
              try {
                observe(r, inc.n, await client.state());
              } catch {
                if (r.current === inc) probeErrors++;
                break;
              }
              await sleep(probeInterval);
            }
          }
        })(),
      );
    }

    // One initializer: the real client code with its own retries, through the Service.
    const expectations: CoordinatorExpectations = {
      verifiers,
      policyHashes: [coordinatorPolicy],
      allowInsecure: true,
    };
    const initializerLog = createLogger((rec) => {
      if (
        rec.message === 'waiting for the Coordinator' ||
        rec.message.startsWith('the Coordinator did not pass')
      ) {
        // `attestation-failed: <why>` keeps its why (no secrets in it); other reasons are codes.
        const reason = String(rec.fields?.reason ?? 'unknown').slice(0, 200);
        retryReasons[reason] = (retryReasons[reason] ?? 0) + 1;
      }
    });
    const runOne = async (n: number) => {
      const workload = workloads[n % workloads.length]!;
      const outDir = path.join(root, 'pods', String(n));
      const t0 = performance.now();
      inFlight++;
      peakInFlight = Math.max(peakInFlight, inFlight);
      try {
        const result = await runInitializer({
          host: '127.0.0.1',
          port: service.port,
          issuer: podIssuer(d.hashes[workload]!),
          outDir,
          coordinator: expectations,
          deadlineMs: options.initializerDeadlineMs ?? 600_000,
          logger: initializerLog,
        });
        attempts.push(result.attempts);
        const read = (f: string) => readFile(path.join(outDir, f), 'utf8');
        const [certChain, meshCa, rootCa, key, workloadSecret] = await Promise.all([
          read(OUTPUT_FILES.certChain),
          read(OUTPUT_FILES.meshCa),
          read(OUTPUT_FILES.rootCa),
          read(OUTPUT_FILES.key),
          read(OUTPUT_FILES.workloadSecret),
        ]);
        const problem = checkInitializerOutput(
          { certChain, meshCa, rootCa, key, workloadSecret },
          workload,
          stateMonitor.references,
          secrets,
        );
        if (problem) throw new Error(problem);
        durations.push(performance.now() - t0);
      } catch (e) {
        failed.push({ n, error: (e as Error)?.message ?? String(e) });
        say(`initializer ${n} FAILED: ${(e as Error)?.message}`);
      } finally {
        inFlight--;
        if (!options.keep) await rm(outDir, { recursive: true, force: true });
      }
    };

    // The campaign: most kills wait until all replicas are active again (see `overlap`); then a
    // random gap, at whose end this kill's share of the initializers arrives at random moments;
    // then one replica is killed, any replica that is up as long as another one is active (a replica can only recover from an active peer: killing the last
    // one would need the seed-share owner, which this test must never need).
    const runs: Promise<void>[] = [];
    let launched = 0;
    const overlap = options.overlap ?? 0.3;
    const updateCount = options.updates ?? 0;
    const updateBefore = new Set(
      Array.from({ length: updateCount }, (_, i) =>
        Math.round(((i + 1) * options.kills) / (updateCount + 1)),
      ),
    );
    let previousTransition = set.transition_hash;
    for (let k = 0; k < options.kills; k++) {
      if (updateBefore.has(k) && updates.length < updateCount) {
        // The owner updates the manifest on an active replica; every replica must follow.
        await until(() => replicas.some((r) => r.phase === 'active' && ready.get(r)), recoveryTimeout);
        const candidates = replicas.filter((r) => r.phase === 'active' && ready.get(r));
        const via = candidates[Math.floor(random() * candidates.length)]!;
        const n = updates.length + 1;
        const next = deployment([...workloads, ...Array.from({ length: n }, (_, i) => `extra${i + 1}`)]);
        stateMonitor.beginUpdate();
        let update: { root_ca: string; mesh_ca: string; transition_hash: string } | undefined;
        let state: Awaited<ReturnType<CoordinatorClient['state']>> | undefined;
        let attempts = 0;
        while (!update || !state) {
          attempts++;
          try {
            const client = await connect(via.apiPort, 60_000);
            update = await client.setManifest({
              manifest: next.manifest,
              policies: next.policies,
              signature: ownerSignature(next.manifest, previousTransition),
            });
            state = await client.state();
          } catch (e) {
            // As an owner re-running `contrast set` would: first look whether it landed (the
            // harness is the only writer: any other transition is this update).
            const landed = await connect(via.apiPort, 60_000)
              .then((c) => c.state())
              .catch(() => undefined);
            const t = landed?.latest_transition?.transition_hash;
            if (
              landed?.status === 'active' &&
              t &&
              t !== previousTransition &&
              landed.root_ca &&
              landed.mesh_ca
            ) {
              update = { root_ca: landed.root_ca, mesh_ca: landed.mesh_ca, transition_hash: t };
              state = landed;
              break;
            }
            update = undefined;
            if (attempts >= 5) {
              stateMonitor.abortUpdate();
              throw e;
            }
            say(`update ${n}: the set failed (${(e as Error).message}); the owner tries again`);
            await sleep(2000);
          }
        }
        previousTransition = update.transition_hash;
        const record: ChaosReport['updates'][number] = { n, atMs: clock(), via: via.name, attempts };
        updates.push(record);
        stateMonitor.advance({
          rootCa: update.root_ca,
          meshCa: update.mesh_ca,
          transition: update.transition_hash,
          manifests: manifestsDigest(state),
        });
        say(`update ${n}: set on ${via.name} (transition ${update.transition_hash.slice(0, 12)}…)`);
        if (!(await until(() => replicas.every((r) => stateMonitor.current(r.name)), recoveryTimeout))) {
          stuck.push(
            `update ${n} did not reach ${replicas
              .filter((r) => !stateMonitor.current(r.name))
              .map((r) => r.name)
              .join(', ')}`,
          );
          throw new Error('a manifest update did not reach every replica');
        }
        record.propagatedMs = clock() - record.atMs;
        say(`  every replica serves update ${n} after ${record.propagatedMs} ms`);
      }
      const overlapping = random() < overlap;
      if (!overlapping) {
        if (!(await until(() => replicas.every((r) => r.phase === 'active'), recoveryTimeout))) {
          stuck.push(...replicas.filter((r) => r.phase !== 'active').map((r) => `${r.name} (${r.phase})`));
          throw new Error('the replicas did not all become active again');
        }
      }
      const gap = between(gapMs);
      const share = Math.ceil((options.initializers - launched) / (options.kills - k));
      for (let j = 0; j < share; j++) {
        const n = launched++;
        // in the second part of the gap: most are in flight when the kill comes
        const at = gap * (0.6 + 0.4 * random());
        runs.push(sleep(at).then(() => runOne(n)));
      }
      await sleep(gap);
      // An overlapping kill hits, two times out of three, a restarted replica in its recovery: as soon
      // as it listens (stale, asking its peers) and before it is active.
      const restarting = replicas.find((r) => r.phase === 'starting');
      if (overlapping && restarting && random() < 0.67) {
        await until(() => restarting.phase !== 'starting', 120_000);
      }
      const recovering = replicas.filter(
        (r) => r.phase === 'stale' && replicas.some((o) => o !== r && o.phase === 'active'),
      );
      // Any replica that is up (serving, or stale and recovering), never the last active one.
      const eligible = () =>
        replicas.filter(
          (r) =>
            (r.phase === 'active' || r.phase === 'stale') &&
            replicas.some((o) => o !== r && o.phase === 'active'),
        );
      if (!(await until(() => eligible().length > 0, recoveryTimeout))) {
        stuck.push(...replicas.filter((r) => r.phase !== 'active').map((r) => r.name));
        throw new Error('no replica could be killed: the others never became active again');
      }
      const candidates =
        overlapping && recovering.length > 0 && recovering[0]!.phase === 'stale' ? recovering : eligible();
      const victim = candidates[Math.floor(random() * candidates.length)]!;
      const record: KillRecord = {
        n: k + 1,
        atMs: clock(),
        victim: victim.name,
        victimPhase: victim.phase,
        othersActive: replicas.filter((o) => o !== victim && o.phase === 'active').map((o) => o.name),
        initializersInFlight: inFlight,
        outcome: 'stuck',
      };
      kills.push(record);
      const earlier = pendingKill.get(victim);
      if (earlier) earlier.outcome = 'killed again before recovering';
      pendingKill.set(victim, record);
      await victim.kill();
      if (kube && options.kubeFaults) {
        kube.dropWatches();
        kube.failNext({ count: 3, status: random() < 0.5 ? 503 : 500 });
        kubeFaultRounds++;
      }
      stateMonitor.forget(victim.name);
      ready.set(victim, false);
      say(
        `kill ${record.n}/${options.kills}: ${victim.name} (${record.victimPhase}; active: ${record.othersActive.join(', ') || 'none'}; ${record.initializersInFlight} initializers in flight)`,
      );
    }
    await Promise.all(runs);
    // The end state: every replica active again (from a peer), and every probe agreeing.
    if (!(await until(() => replicas.every((r) => r.phase === 'active'), recoveryTimeout))) {
      stuck.push(...replicas.filter((r) => r.phase !== 'active').map((r) => `${r.name} (${r.phase})`));
    }
    for (const k of kills) if (k.outcome === 'stuck') stuck.push(`${k.victim} after kill ${k.n}`);
    for (const c of crashes) {
      if (!c.portTaken) stuck.push(`${c.replica}#${c.incarnation} crashed (exit ${c.exit})`);
    }
    for (const r of replicas) {
      const s = await (await connect(r.apiPort, 60_000)).state();
      observe(r, r.current?.n ?? -1, s);
      if (s.status !== 'active') stuck.push(`${r.name} is ${s.status} at the end`);
    }
    passed = failed.length === 0 && stateMonitor.divergences.length === 0 && stuck.length === 0;
  } catch (e) {
    say(`campaign aborted: ${(e as Error)?.message ?? String(e)}`);
    stuck.push(`campaign aborted: ${(e as Error)?.message ?? String(e)}`);
  } finally {
    stopping = true;
    await Promise.all(replicas.map((r) => r.stop()));
    await proxy?.close();
    await Promise.allSettled(background);
    await kube?.close();
  }
  // The seed (the secret every replica holds) in no replica's log: hex or base64, any incarnation.
  const secretsInLogs: string[] = [];
  if (seed32 !== undefined) {
    const forms = [Buffer.from(seed32).toString('hex'), Buffer.from(seed32).toString('base64')];
    for (const file of await readdir(logDir)) {
      const text = await readFile(path.join(logDir, file), 'utf8');
      if (forms.some((f) => text.includes(f))) secretsInLogs.push(file);
    }
    seed32.fill(0);
  }

  const problems: Record<string, number> = {};
  for (const r of replicas) {
    for (const inc of r.incarnations) for (const p of inc.problems) problems[p] = (problems[p] ?? 0) + 1;
  }
  const recoveries = kills
    .flatMap((k) => (k.recoveryMs === undefined ? [] : [k.recoveryMs]))
    .sort((a, b) => a - b);
  const afterListening = kills
    .flatMap((k) =>
      k.recoveryMs === undefined || k.startupMs === undefined ? [] : [k.recoveryMs - k.startupMs],
    )
    .sort((a, b) => a - b);
  const sortedDurations = [...durations].sort((a, b) => a - b).map(Math.round);
  const report: ChaosReport = {
    seed,
    store: options.store,
    kubeFaultRounds,
    updates,
    kills,
    initializers: {
      total: options.initializers,
      ok: durations.length,
      failed,
      attempts: {
        total: attempts.reduce((a, b) => a + b, 0),
        max: Math.max(0, ...attempts),
        retried: attempts.filter((a) => a > 1).length,
      },
      retryReasons,
      peakInFlight,
      durationMs: {
        p50: percentile(sortedDurations, 50),
        p99: percentile(sortedDurations, 99),
        max: sortedDurations.at(-1) ?? 0,
      },
    },
    probes: {
      ...(monitor?.counts ?? { samples: 0, activeSamples: 0, comparisons: 0, lagging: 0 }),
      errors: probeErrors,
    },
    divergences: monitor?.divergences ?? [],
    stuck,
    crashes,
    secretsInLogs,
    recoveryMs: {
      count: recoveries.length,
      p50: percentile(recoveries, 50),
      max: recoveries.at(-1) ?? 0,
      afterListeningP50: percentile(afterListening, 50),
      afterListeningMax: afterListening.at(-1) ?? 0,
    },
    proxy: proxy?.stats ?? { accepted: 0, refused: 0, upstreamErrors: 0, routed: {} },
    replicaProblems: problems,
    wallMs: clock(),
    passed: passed && durations.length === options.initializers && secretsInLogs.length === 0,
  };
  if (!report.passed || options.keep) report.dir = root;
  else await rm(root, { recursive: true, force: true });
  return report;
}

/** The report as the lines the CLI prints. */
export function formatReport(r: ChaosReport): string {
  const count = (f: (k: KillRecord) => boolean) => r.kills.filter(f).length;
  const phases = new Map<string, number>();
  for (const k of r.kills) phases.set(k.victimPhase, (phases.get(k.victimPhase) ?? 0) + 1);
  const victims = [...phases].map(([p, c]) => `${c} ${p}`).join(', ');
  const lines = [
    `chaos (${r.store} store${r.kubeFaultRounds > 0 ? `, ${r.kubeFaultRounds} API server faults` : ''}, seed ${r.seed}): ${r.passed ? 'PASSED' : 'FAILED'} in ${(r.wallMs / 1000).toFixed(1)} s`,
    `  kills: ${r.kills.length} (victims: ${victims}); recovered from a peer: ${count((k) => k.outcome === 'recovered')}, killed again before recovering: ${count((k) => k.outcome === 'killed again before recovering')}, stuck: ${count((k) => k.outcome === 'stuck')}`,
    `  recovery (restart -> recovered from a peer): ${r.recoveryMs.count} times, p50 ${r.recoveryMs.p50} ms, max ${r.recoveryMs.max} ms; from listening to recovered: p50 ${r.recoveryMs.afterListeningP50} ms, max ${r.recoveryMs.afterListeningMax} ms`,
    `  initializers: ${r.initializers.ok}/${r.initializers.total} got their certificate, ${r.initializers.failed.length} failed; attempts ${r.initializers.attempts.total} (max ${r.initializers.attempts.max}, ${r.initializers.attempts.retried} retried); peak in flight ${r.initializers.peakInFlight}; duration p50 ${r.initializers.durationMs.p50} ms, p99 ${r.initializers.durationMs.p99} ms, max ${r.initializers.durationMs.max} ms`,
    `  retry reasons: ${JSON.stringify(r.initializers.retryReasons)}`,
    `  probes: ${r.probes.samples} attested state samples (${r.probes.activeSamples} active, ${r.probes.comparisons} cross-replica comparisons, ${r.probes.errors} errors while a replica was up)`,
    `  divergences: ${r.divergences.length}${r.updates.length > 0 ? `; manifest updates: ${r.updates.map((u) => `#${u.n} on ${u.via}${u.attempts > 1 ? ` (${u.attempts} attempts)` : ''}, every replica after ${u.propagatedMs ?? '-'} ms`).join('; ')}; answers of the previous generation while an update propagated: ${r.probes.lagging}` : ''}`,
    `  service proxy: ${r.proxy.accepted} connections, ${r.proxy.refused} refused (no ready replica), ${r.proxy.upstreamErrors} reset (replica gone), routed ${JSON.stringify(r.proxy.routed)}`,
  ];
  for (const k of r.kills) {
    lines.push(
      `    kill ${k.n} at ${(k.atMs / 1000).toFixed(1)} s: ${k.victim} (${k.victimPhase}), ${k.initializersInFlight} in flight -> ${k.outcome}${k.recoveryMs !== undefined ? ` from ${k.recoveredFrom} in ${k.recoveryMs} ms (${k.startupMs} ms to listen; down ${k.downMs} ms)` : ''}`,
    );
  }
  for (const d of r.divergences)
    lines.push(`  DIVERGENCE at ${d.atMs} ms: ${d.replica}#${d.incarnation}: ${d.what}`);
  for (const f of r.initializers.failed) lines.push(`  FAILED initializer ${f.n}: ${f.error}`);
  for (const s of r.stuck) lines.push(`  STUCK: ${s}`);
  for (const f of r.secretsInLogs) lines.push(`  SEED IN LOG: ${f}`);
  for (const c of r.crashes) {
    lines.push(
      `  CRASH ${c.replica}#${c.incarnation} (exit ${c.exit}${c.portTaken ? ', port taken meanwhile' : ''}): ${c.stderr}`,
    );
  }
  const problems = Object.entries(r.replicaProblems);
  if (problems.length > 0) {
    lines.push('  replica warnings/errors:');
    for (const [p, c] of problems.sort((a, b) => b[1] - a[1]).slice(0, 15)) lines.push(`    ${c} x ${p}`);
  }
  if (r.dir) lines.push(`  logs: ${r.dir}/logs`);
  return lines.join('\n');
}
