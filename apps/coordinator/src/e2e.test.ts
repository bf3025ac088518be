import { mkdtemp, readFile } from 'node:fs/promises';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { CoordinatorClient, verifiersForReferenceValues } from '@contrast-cc/api';
import { type RunningCoordinator, startCoordinator } from '@contrast-cc/authority/server';
import { deployment, MEASUREMENT, podIssuer, registry } from '@contrast-cc/authority/testing';
import { DirectoryHistoryStore } from '@contrast-cc/store';
import { afterAll, describe, expect, it } from 'vitest';
import { type Spawned, spawnTs } from './test-support/spawn.js';

// The initializer and the mesh proxy run as their own processes, from their sources, as in a pod.
const apps = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const initializerMain = path.join(apps, 'initializer/src/main.ts');
const meshMain = path.join(apps, 'service-mesh/src/main.ts');

const d = deployment(['web', 'db', 'cache']);
const children: Spawned[] = [];
const servers: Server[] = [];
let coordinator: RunningCoordinator | undefined;
let store: DirectoryHistoryStore | undefined;

afterAll(async () => {
  for (const c of children) c.child.kill('SIGKILL');
  for (const s of servers) s.close();
  await coordinator?.close();
  await store?.close();
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function exchange(socket: Socket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.once('data', (b) => {
      resolve(b.toString());
      socket.destroy();
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed without an answer')));
    socket.write(text);
  });
}

describe('end to end on loopback', () => {
  it('set manifest -> verify -> 3 initializers get certificates -> mesh traffic flows', async () => {
    store = await DirectoryHistoryStore.open(await mkdtemp(path.join(tmpdir(), 'e2e-store-')));
    coordinator = await startCoordinator({
      store,
      platforms: registry(),
      issuer: podIssuer(d.hashes.coordinator!),
      allowInsecure: true,
    });

    // The pods start first and wait for the manifest, as upstream's init containers do.
    const pods = await Promise.all(
      ['web', 'db', 'cache'].map(async (name) => {
        const outDir = await mkdtemp(path.join(tmpdir(), `pod-${name}-`));
        const p = spawnTs(initializerMain, {
          CONTRAST_COORDINATOR: `127.0.0.1:${coordinator!.port}`,
          CONTRAST_OUT_DIR: outDir,
          CONTRAST_ISSUER: 'fake',
          CONTRAST_ALLOW_INSECURE_RUNTIMES: '1',
          CONTRAST_FAKE_POLICY_HASH: d.hashes[name]!,
          CONTRAST_FAKE_MEASUREMENT: MEASUREMENT,
          CONTRAST_DEADLINE_SECONDS: '90',
        });
        children.push(p);
        return { name, outDir, p };
      }),
    );
    await Promise.all(pods.map((pod) => pod.p.waitFor((l) => l.msg === 'waiting for the Coordinator')));

    const rv = d.manifestJson.ReferenceValues as Parameters<typeof verifiersForReferenceValues>[1];
    const client = await CoordinatorClient.connect({
      host: '127.0.0.1',
      port: coordinator.port,
      verifiers: verifiersForReferenceValues(registry(), rv),
      coordinatorPolicyHashes: [d.hashes.coordinator!],
      allowInsecure: true,
    });
    const set = await client.setManifest({ manifest: d.manifest, policies: d.policies });
    const verified = await (
      await CoordinatorClient.connect({
        host: '127.0.0.1',
        port: coordinator.port,
        verifiers: verifiersForReferenceValues(registry(), rv),
        coordinatorPolicyHashes: [d.hashes.coordinator!],
        allowInsecure: true,
      })
    ).state();
    expect(Buffer.from(verified.manifests.at(-1)!, 'base64').equals(Buffer.from(d.manifest))).toBe(true);

    for (const pod of pods) expect(await pod.p.exited).toBe(0);
    for (const pod of pods) {
      expect(await readFile(path.join(pod.outDir, 'tls-config/coordinator-root-ca.pem'), 'utf8')).toBe(
        set.root_ca,
      );
      expect(await readFile(path.join(pod.outDir, 'secrets/workload-secret-seed'), 'utf8')).toMatch(
        /^[0-9a-f]{128}$/,
      );
    }

    // web serves on port P behind its proxy (pod IP 127.0.0.2); db's app reaches it through its egress.
    const [port, egressPort] = [await freePort(), await freePort()];
    const workload = createServer((s) => s.on('data', (b) => s.write(`web:${b.toString()}`)));
    await new Promise<void>((r) => workload.listen(port, '127.0.0.1', r));
    servers.push(workload);
    const web = pods[0]!;
    const db = pods[1]!;
    const webProxy = spawnTs(meshMain, {
      CONTRAST_TLS_DIR: path.join(web.outDir, 'tls-config'),
      CONTRAST_INGRESS_MTLS_PORTS: String(port),
      CONTRAST_INGRESS_LISTEN_ADDRESS: '127.0.0.2',
      CONTRAST_READY_FILE: '',
    });
    const dbProxy = spawnTs(meshMain, {
      CONTRAST_TLS_DIR: path.join(db.outDir, 'tls-config'),
      CONTRAST_INGRESS_PROXY_CONFIG: 'DISABLED',
      CONTRAST_EGRESS_PROXY_CONFIG: `web#127.0.0.3:${egressPort}#127.0.0.2:${port}`,
      CONTRAST_READY_FILE: '',
    });
    children.push(webProxy, dbProxy);
    await Promise.all([webProxy, dbProxy].map((p) => p.waitFor((l) => l.msg === 'listening')));

    expect(await exchange(netConnect({ host: '127.0.0.3', port: egressPort }), 'ping')).toBe('web:ping');
    // A client without a mesh certificate is refused by web's proxy.
    await expect(
      exchange(tlsConnect({ host: '127.0.0.2', port, rejectUnauthorized: false }), 'ping'),
    ).rejects.toThrow();
  }, 420_000);
});
