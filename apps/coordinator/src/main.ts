#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { kubernetesPeers, type PeerSource, staticPeers } from '@contrast-cc/authority';
import { startCoordinator } from '@contrast-cc/authority/server';
import { createJsonLineLogger, createPlatformRegistry, type Logger, type Platform } from '@contrast-cc/core';
import { createFakePlatform, FakeVerifier } from '@contrast-cc/core/testing';
import { createPlatformCatalog, openGuestIssuer } from '@contrast-cc/platforms';
import {
  ConfigMapHistoryStore,
  createKubeApi,
  DirectoryHistoryStore,
  type HistoryStore,
  inCluster,
  inClusterConnection,
  type KubeApi,
  kubeApiFromConfig,
} from '@contrast-cc/store';
import type { V1OwnerReference, V1Pod } from '@kubernetes/client-node';
import { type CoordinatorConfig, collateralConfig, parseConfig, peerDiscovery } from './config.js';

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/**
 * How far V8 lets the old generation grow past its live size before the next full collection:
 * 3x. For a heap capped under 256 MB (ours: 128 MB, `COORDINATOR_NODE_OPTIONS`) V8 allows only
 * 1.3x, and under 200 concurrent initializers the connections' objects promoted out of the young
 * generation then brought a full collection about every 0.6 s (48-51 in a `coordinator-load` run,
 * each 6 ms of marking plus 4-5 ms of weak callbacks on the main thread, and marking threads
 * beside it); at 3x it was 8, the server CPU per certificate fell by about 3%, and the RSS peaks
 * rose by 10-20 MB (108 MB under load, 127 MB in the attest flood, against 180 MB). The 128 MB
 * cap is unchanged: near it V8 collects as before. Not settable in NODE_OPTIONS, so set here,
 * before the server starts.
 */
const HEAP_GROWING_PERCENT = 200;
setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);

/**
 * The young generation is collected, and freed ArrayBuffer memory swept, on the main thread only,
 * not split across V8's helper threads. The Coordinator's VM has one vCPU (it sets no CPU limit,
 * so the VM keeps Kata's `default_vcpus` of 1), and under load the main thread keeps every core
 * busy with TLS handshakes: helper threads only take turns with it, and splitting a 4 MB scavenge
 * across them costs more CPU in handing work out and waiting for it than it saves in pause (a few
 * ms, against request latencies of hundreds of ms at 200 concurrent). Measured 2026-12-07 with `coordinator-load` in alternating full runs: paired
 * ratio 0.853 / 0.833 / 0.844 without, 0.871 / 0.853 / 0.869 with (server CPU per certificate
 * -2.5%); RSS peaks unchanged. V8 reads both flags at each collection, so setting them here, after
 * startup, takes effect (as `--heap-growing-percent` above does).
 */
for (const flag of ['--no-parallel-scavenge', '--no-concurrent-array-buffer-sweeping'])
  setFlagsFromString(flag);

function jsonLogger(level: CoordinatorConfig['CONTRAST_LOG_LEVEL']): Logger {
  return createJsonLineLogger((text) => process.stdout.write(text), { level });
}

/**
 * The Kubernetes API. In a pod (service account mounted, no kubeconfig): a small REST client; the
 * generated @kubernetes/client-node (about 75 MB of RSS once imported, in a pod limited to 256Mi)
 * is loaded only for a kubeconfig (KUBECONFIG or ~/.kube/config, as its loadFromDefault looks).
 */
let kubeApi: Promise<KubeApi> | undefined;
function kube(): Promise<KubeApi> {
  kubeApi ??= (async () => {
    const home = process.env.HOME;
    const kubeconfig =
      (process.env.KUBECONFIG ?? '') !== '' || (home !== undefined && existsSync(`${home}/.kube/config`));
    if (!kubeconfig && inCluster()) return createKubeApi(inClusterConnection());
    const { KubeConfig } = await import('@kubernetes/client-node');
    const kc = new KubeConfig();
    kc.loadFromDefault();
    return kubeApiFromConfig(kc);
  })();
  return kubeApi;
}

async function ownerReference(api: KubeApi, namespace: string, pod: string | undefined, log: Logger) {
  if (!pod) return undefined;
  try {
    const p = await api.request<V1Pod>(
      'GET',
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}`,
      { signal: AbortSignal.timeout(10_000) },
    );
    const owner = p.metadata?.ownerReferences?.find((o) => o.kind === 'StatefulSet');
    if (!owner) return undefined;
    const ref: V1OwnerReference = {
      apiVersion: owner.apiVersion,
      kind: owner.kind,
      name: owner.name,
      uid: owner.uid,
    };
    return ref;
  } catch (e) {
    log.warn('cannot read the own pod; ConfigMaps get no owner reference', { error: (e as Error).message });
    return undefined;
  }
}

async function openStore(c: CoordinatorConfig, log: Logger): Promise<HistoryStore> {
  const backend = c.CONTRAST_STORE ?? (c.KUBERNETES_SERVICE_HOST ? 'configmap' : 'dir');
  if (backend === 'dir') return DirectoryHistoryStore.open(c.CONTRAST_STORE_DIR, { logger: log });
  const api = await kube();
  const namespace = c.CONTRAST_NAMESPACE ?? readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim();
  const owner = await ownerReference(api, namespace, c.HOSTNAME, log);
  return new ConfigMapHistoryStore({
    kube: api,
    namespace,
    logger: log,
    ...(owner ? { ownerReference: owner } : {}),
  });
}

/** The peers for automatic recovery (`CONTRAST_PEERS`), or undefined when off. */
async function openPeers(c: CoordinatorConfig, log: Logger): Promise<PeerSource | undefined> {
  const discovery = peerDiscovery(c);
  log.info('peer recovery', { mode: discovery.mode });
  if (discovery.mode === 'off') return undefined;
  if (discovery.mode === 'static') return staticPeers(discovery.peers);
  return kubernetesPeers({
    kube: await kube(),
    namespace: c.CONTRAST_NAMESPACE ?? readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim(),
    ...(c.HOSTNAME ? { selfPodName: c.HOSTNAME } : {}),
    logger: log,
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      listen: { type: 'string' },
      port: { type: 'string' },
      'metrics-port': { type: 'string' },
      store: { type: 'string' },
      'store-dir': { type: 'string' },
    },
  });
  const env: Record<string, string | undefined> = { ...process.env };
  if (values.listen) env.CONTRAST_LISTEN_ADDRESS = values.listen;
  if (values.port) env.CONTRAST_API_PORT = values.port;
  if (values['metrics-port']) env.CONTRAST_METRICS_PORT = values['metrics-port'];
  if (values.store) env.CONTRAST_STORE = values.store;
  if (values['store-dir']) env.CONTRAST_STORE_DIR = values['store-dir'];
  const config = parseConfig(env);
  const log = jsonLogger(config.CONTRAST_LOG_LEVEL);

  // The one list of platforms (the CLI uses the same), with this deployment's collateral sources.
  // The simulated platforms trust the roots in $CONTRAST_SIMULATOR_DIR (default <tmp>/contrast-simulator).
  const catalog = createPlatformCatalog({
    collateral: { ...collateralConfig(config), logger: log },
    simulated: config.CONTRAST_ALLOW_INSECURE_RUNTIMES,
  });
  log.info('collateral sources', { sources: catalog.collateral.summary });
  const platforms: Platform[] = [...catalog.platforms];
  if (config.CONTRAST_ALLOW_INSECURE_RUNTIMES && config.CONTRAST_ISSUER === 'fake') {
    platforms.push(
      createFakePlatform({
        attestation: {
          ...createFakePlatform().attestation,
          createVerifier: ({ referenceValues }) => {
            const rv = referenceValues as { TrustedMeasurement?: string };
            return new FakeVerifier(rv.TrustedMeasurement ? { measurement: rv.TrustedMeasurement } : {});
          },
        },
      }),
    );
  }
  const store = await openStore(config, log);
  const issuer = await openGuestIssuer(config, {
    logger: log,
    subject: 'Coordinator',
    thimUrl: config.CONTRAST_THIM_URL,
  });
  const peers = await openPeers(config, log);
  const running = await startCoordinator({
    store,
    platforms: createPlatformRegistry(platforms),
    issuer,
    host: config.CONTRAST_LISTEN_ADDRESS,
    port: config.CONTRAST_API_PORT,
    metricsPort: config.CONTRAST_METRICS_PORT === 'off' ? null : config.CONTRAST_METRICS_PORT,
    allowInsecure: config.CONTRAST_ALLOW_INSECURE_RUNTIMES,
    ...(peers ? { peers } : {}),
    transit:
      config.CONTRAST_TRANSIT_PORT === 'off'
        ? null
        : { port: config.CONTRAST_TRANSIT_PORT, sans: transitSans(config) },
    logger: log,
  });
  log.info('listening', {
    port: running.port,
    metricsPort: running.metricsPort,
    transitPort: config.CONTRAST_TRANSIT_PORT,
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    const force = setTimeout(() => process.exit(1), 20_000);
    force.unref();
    running
      .close()
      .then(() => store.close())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: unknown) => {
  process.stderr.write(`coordinator: ${(e as Error)?.message ?? String(e)}\n`);
  process.exit(1);
});

/** The names workloads reach the transit API by: the Services, short and fully qualified. */
function transitSans(config: CoordinatorConfig): string[] {
  const names = ['coordinator-ready', 'coordinator'];
  const ns = config.CONTRAST_NAMESPACE;
  const out = [...names, 'localhost', '127.0.0.1', '::1'];
  if (ns) for (const n of names) out.push(`${n}.${ns}`, `${n}.${ns}.svc`, `${n}.${ns}.svc.cluster.local`);
  return out;
}
