import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoordinatorClient, verifiersForReferenceValues } from '@contrast-cc/api';
import { type Deployment, MEASUREMENT, registry } from '@contrast-cc/authority/testing';
import { type Spawned, spawnTs, waitListening } from './spawn.js';

const main = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../main.ts');

/** A Coordinator process (this app's main.ts from source) and where it listens. */
export interface CoordinatorProcess {
  p: Spawned;
  port: number;
  metricsPort: number;
}

/**
 * The environment of a Coordinator for a test deployment: the fake issuer with the deployment's
 * coordinator policy hash and measurement, a directory store, loopback, API and metrics ports
 * chosen by the system.
 */
export function fakeCoordinatorEnv(d: Deployment, storeDir: string): Record<string, string> {
  return {
    CONTRAST_ISSUER: 'fake',
    CONTRAST_ALLOW_INSECURE_RUNTIMES: '1',
    CONTRAST_FAKE_POLICY_HASH: d.hashes.coordinator!,
    CONTRAST_FAKE_MEASUREMENT: MEASUREMENT,
    CONTRAST_STORE: 'dir',
    CONTRAST_STORE_DIR: storeDir,
    CONTRAST_LISTEN_ADDRESS: '127.0.0.1',
    CONTRAST_API_PORT: '0',
    CONTRAST_METRICS_PORT: '0',
    CONTRAST_TRANSIT_PORT: '0',
  };
}

/** A client that attests the Coordinator on 127.0.0.1:`port` against the deployment's reference values. */
export function attestedClient(d: Deployment, port: number): Promise<CoordinatorClient> {
  return CoordinatorClient.connect({
    host: '127.0.0.1',
    port,
    verifiers: verifiersForReferenceValues(registry(), d.manifestJson.ReferenceValues as never),
    coordinatorPolicyHashes: [d.hashes.coordinator!],
    allowInsecure: true,
  });
}

/**
 * Starts Coordinator processes of one test file for a deployment, with {@link fakeCoordinatorEnv}
 * and info logs, unless `env` says otherwise (e.g. `CONTRAST_API_PORT`, `CONTRAST_PEERS`).
 * `killAll()` (for afterAll) SIGKILLs every process started.
 */
export function coordinatorProcesses(d: Deployment) {
  const running: Spawned[] = [];
  return {
    async start(storeDir: string, env: Record<string, string> = {}): Promise<CoordinatorProcess> {
      const p = spawnTs(main, { ...fakeCoordinatorEnv(d, storeDir), CONTRAST_LOG_LEVEL: 'info', ...env });
      running.push(p);
      const line = await waitListening(p);
      return { p, port: line.port as number, metricsPort: line.metricsPort as number };
    },
    /** A client that attests the Coordinator at `port` against the deployment's reference values. */
    client(port: number): Promise<CoordinatorClient> {
      return attestedClient(d, port);
    },
    killAll(): void {
      for (const p of running) p.child.kill('SIGKILL');
    },
  };
}
