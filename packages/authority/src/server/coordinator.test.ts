import { createHash, generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import {
  ApiError,
  CoordinatorClient,
  fromBase64,
  meshCertReportData,
  requestMeshCertificate,
  toBase64,
  verifiersForReferenceValues,
} from '@contrast-cc/api';
import { openSeedShare, signTransitionAsOwner, transitionHash } from '@contrast-cc/certs';
import { fromHex, isContrastError } from '@contrast-cc/core';
import { DirectoryHistoryStore } from '@contrast-cc/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployment, keys, podIssuer, registry } from '../testing/index.js';
import { type RunningCoordinator, startCoordinator } from './coordinator.js';

const d = deployment();
/** The update the third test sets; the later tests run against it. */
const d2 = deployment(['web', 'db', 'cache', 'api'], { tag: '-v2' });
const platforms = registry();
let store: DirectoryHistoryStore;
let coordinator: RunningCoordinator;

beforeAll(async () => {
  store = await DirectoryHistoryStore.open(await mkdtemp(path.join(tmpdir(), 'coordinator-')), {
    pollIntervalMs: 50,
  });
  coordinator = await startCoordinator({
    store,
    platforms,
    issuer: podIssuer(d.hashes.coordinator!),
    allowInsecure: true,
  });
});

afterAll(async () => {
  await coordinator?.close();
  await store?.close();
});

function connect(options: { measurement?: string; coordinatorPolicy?: string } = {}) {
  const rv = structuredClone(d.manifestJson.ReferenceValues) as Parameters<
    typeof verifiersForReferenceValues
  >[1];
  if (options.measurement) rv.snp![0]!.TrustedMeasurement = options.measurement;
  return CoordinatorClient.connect({
    host: coordinator.host,
    port: coordinator.port,
    verifiers: verifiersForReferenceValues(platforms, rv),
    coordinatorPolicyHashes: [options.coordinatorPolicy ?? d.hashes.coordinator!],
    allowInsecure: true,
  });
}

const spki = (k: ReturnType<typeof generateKeyPairSync>) =>
  new Uint8Array((k.publicKey as KeyObject).export({ type: 'spki', format: 'der' }));

async function meshCert(name: string) {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const res = await requestMeshCertificate({
    host: coordinator.host,
    port: coordinator.port,
    issuer: podIssuer(d.hashes[name]!),
    publicKey: spki(key),
  });
  return { key, res };
}

async function metrics(): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${coordinator.metricsPort}/metrics`);
  return r.text();
}

// Node hands out the peer certificate once per socket: remember it for the keep-alive reuse.
const peerKeys = new WeakMap<TLSSocket, Uint8Array>();

/** Posts raw JSON over one keep-alive connection; returns status, body and the server's SPKI. */
function rawPost(agent: Agent, body: unknown, path = '/v1/mesh/cert') {
  const text = JSON.stringify(body);
  return new Promise<{ status: number; json: Record<string, unknown>; spki: Uint8Array }>(
    (resolve, reject) => {
      const req = request(
        {
          agent,
          host: coordinator.host,
          port: coordinator.port,
          method: 'POST',
          path,
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          const sock = res.socket as TLSSocket;
          if (!peerKeys.has(sock)) {
            const cert = sock.getPeerX509Certificate()!;
            peerKeys.set(sock, new Uint8Array(cert.publicKey.export({ type: 'spki', format: 'der' })));
          }
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const peer = peerKeys.get(sock)!;
            resolve({
              status: res.statusCode!,
              json: JSON.parse(Buffer.concat(chunks).toString()),
              spki: peer,
            });
          });
        },
      );
      req.on('error', reject);
      req.end(text);
    },
  );
}

describe('Coordinator API over attested TLS', () => {
  it('serves capabilities and probes; is not ready while uninitialized', async () => {
    const client = await connect();
    expect(await client.capabilities()).toEqual(['v1']);
    expect((await client.state()).status).toBe('uninitialized');
    expect((await fetch(`http://127.0.0.1:${coordinator.metricsPort}/probe/readiness`)).status).toBe(503);
    expect((await fetch(`http://127.0.0.1:${coordinator.metricsPort}/probe/liveness`)).status).toBe(200);
    const refused = await meshCert('web').catch((e) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused.apiCode).toBe('no_manifest');
    expect(refused.status).toBe(412);
  });

  it('refuses a Coordinator with another measurement or another policy', async () => {
    const wrongMeasurement = await connect({ measurement: 'cd'.repeat(48) }).catch((e) => e);
    expect(isContrastError(wrongMeasurement) && wrongMeasurement.code).toBe('attestation-failed');
    const wrongPolicy = await connect({ coordinatorPolicy: d.hashes.web! }).catch((e) => e);
    expect(isContrastError(wrongPolicy) && wrongPolicy.code).toBe('attestation-failed');
  });

  it('sets the manifest (TOFU), verifies it, issues certificates to 3 initializers, and gates updates', async () => {
    const client = await connect();
    const set = await client.setManifest({ manifest: d.manifest, policies: d.policies });
    expect(set.seed_shares_doc?.SeedShares).toHaveLength(1);
    expect(openSeedShare(set.seed_shares_doc!, keys().seedOwnerPrivate)).toHaveLength(64);
    // The same client then shows the new state, not the one it attested before the set.
    const after = await client.state();
    expect(after.status).toBe('active');
    expect(after.latest_transition?.transition_hash).toBe(set.transition_hash);

    // verify: the attested state carries the manifest history and CAs.
    const verifier = await connect();
    const state = await verifier.state();
    expect(state.status).toBe('active');
    expect(Buffer.from(fromBase64(state.manifests[0]!)).equals(Buffer.from(d.manifest))).toBe(true);
    expect(state.root_ca).toBe(set.root_ca);
    expect(state.latest_transition?.transition_hash).toBe(set.transition_hash);
    expect(state.policies).toHaveLength(4);

    const certs = await Promise.all(['web', 'db', 'cache'].map(meshCert));
    for (const { res } of certs) {
      const leaf = new X509Certificate(res.cert_chain);
      expect(leaf.verify(new X509Certificate(res.mesh_ca).publicKey)).toBe(true);
      expect(res.root_ca).toBe(set.root_ca);
      expect(res.workload_secret).toMatch(/^[0-9a-f]{128}$/);
    }
    expect(new Set(certs.map((c) => c.res.workload_secret)).size).toBe(3);

    // Update without a signature: 403.
    const unsigned = await client
      .setManifest({ manifest: d2.manifest, policies: d2.policies })
      .catch((e) => e);
    expect(unsigned.status).toBe(403);
    expect(unsigned.apiCode).toBe('invalid_signature');
    // With the owner signature over the new transition (as `contrast sign` makes it).
    const next = transitionHash(
      fromHex(createHash('sha256').update(d2.manifest).digest('hex')),
      fromHex(set.transition_hash),
    );
    const signature = signTransitionAsOwner(next, keys().ownerPrivate);
    const updated = await client.setManifest({
      manifest: d2.manifest,
      policies: d2.policies,
      signature,
      previousTransitionHash: set.transition_hash,
    });
    expect(updated.mesh_ca).not.toBe(set.mesh_ca);
    expect(updated.seed_shares_doc).toBeUndefined();
    // Replaying the same signed update is a conflict, not a second update.
    const replay = await client
      .setManifest({
        manifest: d2.manifest,
        policies: d2.policies,
        signature,
        previousTransitionHash: set.transition_hash,
      })
      .catch((e) => e);
    expect(replay.status).toBe(412);
    expect(replay.apiCode).toBe('manifest_conflict');
    expect(await metrics()).toMatch(/contrast_coordinator_manifest_generation 2/);
    expect((await fetch(`http://127.0.0.1:${coordinator.metricsPort}/probe/readiness`)).status).toBe(200);
  });

  it('reuses a caller-owned keep-alive agent across certificate requests (one TLS connection)', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
    let connections = 0;
    const create = agent.createConnection.bind(agent);
    agent.createConnection = ((...args: Parameters<typeof create>) => {
      connections++;
      return create(...args);
    }) as typeof agent.createConnection;
    try {
      const keys = [0, 1].map(() => generateKeyPairSync('ec', { namedCurve: 'P-256' }));
      const results = [];
      for (const key of keys) {
        results.push(
          await requestMeshCertificate({
            host: coordinator.host,
            port: coordinator.port,
            issuer: podIssuer(d2.hashes.web!),
            publicKey: spki(key),
            agent,
          }),
        );
      }
      expect(connections).toBe(1);
      for (const [i, res] of results.entries()) {
        const leaf = new X509Certificate(res.cert_chain);
        expect(
          leaf.publicKey.export({ type: 'spki', format: 'der' }).equals(Buffer.from(spki(keys[i]!))),
        ).toBe(true);
      }
    } finally {
      agent.destroy();
    }
  });

  it('refuses replayed evidence and unknown policy hashes', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
    try {
      const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const challenge = await rawPost(agent, {});
      expect(challenge.status).toBe(401);
      const nonce = fromBase64(challenge.json.nonce as string);
      const evidence = await podIssuer(d2.hashes.web!).issue(
        await meshCertReportData(nonce, spki(key), challenge.spki),
      );
      const body = {
        nonce: challenge.json.nonce,
        public_key: toBase64(spki(key)),
        evidence: { kind: evidence.kind, data: toBase64(evidence.data) },
      };
      expect((await rawPost(agent, body)).status).toBe(200);
      const replay = await rawPost(agent, body);
      expect(replay.status).toBe(401);
      expect(replay.json.code).toBe('challenge_required');

      const c2 = await rawPost(agent, {});
      const n2 = fromBase64(c2.json.nonce as string);
      const foreign = await podIssuer('ee'.repeat(32)).issue(
        await meshCertReportData(n2, spki(key), c2.spki),
      );
      const unknown = await rawPost(agent, {
        nonce: c2.json.nonce,
        public_key: toBase64(spki(key)),
        evidence: { kind: foreign.kind, data: toBase64(foreign.data) },
      });
      expect(unknown.status).toBe(403);
      expect(unknown.json.code).toBe('permission_denied');

      const c3 = await rawPost(agent, {});
      const n3 = fromBase64(c3.json.nonce as string);
      const badMeasurement = await podIssuer(d2.hashes.web!, 'cd'.repeat(48)).issue(
        await meshCertReportData(n3, spki(key), c3.spki),
      );
      const bad = await rawPost(agent, {
        nonce: c3.json.nonce,
        public_key: toBase64(spki(key)),
        evidence: { kind: badMeasurement.kind, data: toBase64(badMeasurement.data) },
      });
      expect(bad.status).toBe(403);
      expect(bad.json.code).toBe('attestation_failed');
      expect(await metrics()).toMatch(
        /contrast_meshapi_attestation_failures_total\{reason="measurement-mismatch"\} 1/,
      );

      const malformed = await rawPost(agent, { nonce: 'not base64!' });
      expect(malformed.status).toBe(400);
      expect(malformed.json.field).toBe('nonce');
    } finally {
      agent.destroy();
    }
  });
});
