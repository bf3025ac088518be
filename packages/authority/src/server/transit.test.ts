// The Coordinator serves the transit API once active, with a certificate from its mesh CA; a
// workload's mesh certificate opens only its own key; after a restart and recovery by the
// seed-share owner the same ciphertext decrypts (keys come from the seed).
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { requestMeshCertificate } from '@contrast-cc/api';
import { openSeedShare, recoverSeed } from '@contrast-cc/certs';
import { DirectoryHistoryStore } from '@contrast-cc/store';
import { afterAll, describe, expect, it } from 'vitest';
import { deployment, keys, podIssuer, recoverRequest, registry } from '../testing/index.js';
import { type RunningCoordinator, startCoordinator } from './coordinator.js';

const d = deployment();
const platforms = registry();
const WEB_ID = 'apps/v1/Deployment/default/web';

async function start(dir: string): Promise<{ store: DirectoryHistoryStore; c: RunningCoordinator }> {
  const store = await DirectoryHistoryStore.open(dir, { pollIntervalMs: 50 });
  const c = await startCoordinator({
    store,
    platforms,
    issuer: podIssuer(d.hashes.coordinator!),
    allowInsecure: true,
    metricsPort: null,
    transit: { port: 0, refreshMs: 50 },
  });
  return { store, c };
}

async function until<T>(get: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const v = get();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A workload's mesh identity from the Coordinator (its initializer's request). */
async function meshIdentity(c: RunningCoordinator, name: string) {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const res = await requestMeshCertificate({
    host: c.host,
    port: c.port,
    issuer: podIssuer(d.hashes[name]!),
    publicKey: new Uint8Array((key.publicKey as KeyObject).export({ type: 'spki', format: 'der' })),
  });
  return {
    cert: res.cert_chain,
    key: (key.privateKey as KeyObject).export({ type: 'pkcs8', format: 'pem' }).toString(),
    ca: res.mesh_ca,
  };
}

function transit(
  c: RunningCoordinator,
  id: { cert: string; key: string; ca: string },
  op: string,
  name: string,
  body: unknown,
): Promise<{ status: number; json: { data?: Record<string, string>; errors?: string[] } }> {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port: c.transitPort,
        method: 'PUT',
        path: `/v1/transit/${op}/${name}`,
        ca: id.ca,
        cert: id.cert,
        key: id.key,
        servername: 'coordinator',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
      },
      (res) => {
        let data = '';
        res.on('data', (chunk) => {
          data += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(data) }));
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

describe('the Coordinator transit API', () => {
  const dirs: string[] = [];
  const running: { store: DirectoryHistoryStore; c: RunningCoordinator }[] = [];
  afterAll(async () => {
    for (const r of running) {
      await r.c.close();
      await r.store.close();
    }
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("serves once active, only the caller's own key, and decrypts after restart and recovery", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'coordinator-transit-'));
    dirs.push(dir);
    const first = await start(dir);
    running.push(first);
    expect(first.c.transitPort).toBeUndefined(); // not active yet: nothing listens
    const set = await first.c.authority.setManifest({ manifest: d.manifest, policies: d.policies });
    await until(() => first.c.transitPort, 'the transit listener');

    const web = await meshIdentity(first.c, 'web');
    const db = await meshIdentity(first.c, 'db');
    const plaintext = Buffer.from('vault root key').toString('base64');
    const enc = await transit(first.c, web, 'encrypt', WEB_ID, { plaintext });
    expect(enc.status).toBe(200);
    const ciphertext = enc.json.data!.ciphertext!;
    expect(ciphertext).toMatch(/^vault:v1:/);
    // Another workload's certificate cannot use web's key.
    const refused = await transit(first.c, db, 'decrypt', WEB_ID, { ciphertext });
    expect(refused.status).toBe(403);

    // Restart on the same store: stale, so no transit; the seed-share owner recovers it.
    await first.c.close();
    await first.store.close();
    running.pop();
    const second = await start(dir);
    running.push(second);
    expect(second.c.authority.status).toBe('stale');
    const doc = set.seedShareDocument!;
    const secret = recoverSeed(doc, [openSeedShare(doc, keys().seedOwnerPrivate)]);
    const a = second.c.authority;
    await a.recover(recoverRequest(a.createNonce(), a.channelSpki, secret));
    await until(() => second.c.transitPort, 'the transit listener after recovery');
    // The recovered Coordinator has a new mesh CA: the workload gets a new certificate (as its
    // initializer would after a restart), and the old ciphertext decrypts with the seed's key.
    const web2 = await meshIdentity(second.c, 'web');
    const dec = await transit(second.c, web2, 'decrypt', WEB_ID, { ciphertext });
    expect(dec.status).toBe(200);
    expect(dec.json.data!.plaintext).toBe(plaintext);
    // A certificate of the old mesh CA no longer gets through TLS.
    await expect(transit(second.c, web, 'decrypt', WEB_ID, { ciphertext })).rejects.toThrow();
  }, 120_000);
});
