// The pod attests the Coordinator: runInitializer against real Coordinators (startCoordinator of
// @contrast-cc/authority, fake platform evidence) — the genuine one, also after a manifest update,
// and impostors with another seed, another Coordinator policy or evidence from another trust root.
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CoordinatorClient,
  type CoordinatorExpectations,
  createMeshCertAgent,
  requestMeshCertificate,
  type SetManifestResponse,
  verifiersForReferenceValues,
} from '@contrast-cc/api';
import { staticPeers } from '@contrast-cc/authority';
import { type RunningCoordinator, startCoordinator } from '@contrast-cc/authority/server';
import {
  deployment,
  MEASUREMENT,
  ownerSignature,
  podIssuer,
  registry,
  tempStore,
} from '@contrast-cc/authority/testing';
import type { Evidence, Issuer } from '@contrast-cc/core';
import { FakeIssuer } from '@contrast-cc/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInitializer } from './initializer.js';

const d = deployment(['web']);
const d2 = deployment(['web'], { tag: '-v2' });
const platforms = registry();
const running: { close(): Promise<void> }[] = [];

/** A Coordinator with its own store and seed; `issuer` decides what its evidence says. */
async function coordinatorWith(issuer: Issuer): Promise<RunningCoordinator> {
  const store = await tempStore();
  const c = await startCoordinator({ store, platforms, issuer, allowInsecure: true });
  running.push(c, store);
  return c;
}

async function setManifest(c: RunningCoordinator, dep = d, previous?: string): Promise<SetManifestResponse> {
  const client = await CoordinatorClient.connect({
    host: c.host,
    port: c.port,
    verifiers: verifiersForReferenceValues(platforms, d.manifestJson.ReferenceValues as never),
    allowInsecure: true,
  });
  return client.setManifest({
    manifest: dep.manifest,
    policies: dep.policies,
    ...(previous ? { signature: ownerSignature(dep.manifest, previous) } : {}),
  });
}

/** Counts the evidence the pod issues: none may be issued for an impostor. */
class CountingIssuer implements Issuer {
  readonly kind: string;
  issued = 0;
  constructor(private readonly inner: Issuer) {
    this.kind = inner.kind;
  }
  issue(reportData: Uint8Array): Promise<Evidence> {
    this.issued++;
    return this.inner.issue(reportData);
  }
}

let genuine: RunningCoordinator;
let first: SetManifestResponse;
let expected: CoordinatorExpectations;

beforeAll(async () => {
  genuine = await coordinatorWith(podIssuer(d.hashes.coordinator!));
  first = await setManifest(genuine);
  // What generate puts into the pod's initializer (covered by the pod's policy): the Coordinator
  // policy hash, the reference values, and the root CA of this deployment.
  expected = {
    verifiers: verifiersForReferenceValues(platforms, d.manifestJson.ReferenceValues as never),
    policyHashes: [d.hashes.coordinator!],
    rootCa: first.root_ca,
    allowInsecure: true,
  };
});

const dirs: string[] = [];
afterAll(async () => {
  for (const r of running.splice(0).reverse()) await r.close();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'contrast-pod-'));
  dirs.push(d);
  return d;
}

async function initialize(c: RunningCoordinator, policy: string, deadlineMs = 20_000) {
  const outDir = await tempDir();
  const issuer = new CountingIssuer(podIssuer(policy));
  const run = runInitializer({
    host: c.host,
    port: c.port,
    issuer,
    outDir,
    coordinator: expected,
    initialDelayMs: 20,
    maxDelayMs: 50,
    deadlineMs,
  });
  return { outDir, issuer, run };
}

describe('the initializer attests the Coordinator', () => {
  it('accepts the genuine Coordinator, also after a manifest update that keeps the Coordinator', async () => {
    const pod = await initialize(genuine, d.hashes.web!);
    await pod.run;
    expect(await readFile(path.join(pod.outDir, 'tls-config/coordinator-root-ca.pem'), 'utf8')).toBe(
      first.root_ca,
    );
    const update = await setManifest(genuine, d2, first.transition_hash);
    expect(update.mesh_ca).not.toBe(first.mesh_ca);
    const after = await initialize(genuine, d2.hashes.web!);
    await after.run;
    expect(await readFile(path.join(after.outDir, 'tls-config/mesh-ca.pem'), 'utf8')).toBe(update.mesh_ca);
  });

  const impostors: [string, () => Promise<RunningCoordinator>, RegExp][] = [
    [
      'another seed (a second Coordinator with the same policy, set up on its own)',
      async () => {
        const c = await coordinatorWith(podIssuer(d.hashes.coordinator!));
        await setManifest(c);
        return c;
      },
      /root CA is not the one this pod expects/,
    ],
    [
      'another Coordinator policy hash',
      async () => {
        const c = await coordinatorWith(podIssuer('cc'.repeat(32)));
        await setManifest(c);
        return c;
      },
      /policy hash c{64} is not one this pod expects/,
    ],
    [
      'evidence from another trust root',
      async () => {
        const foreignKey = new Uint8Array(32).fill(7);
        // Not set up: the CLI's verifiers (default trust root) would refuse it too.
        return coordinatorWith(
          new FakeIssuer({ measurement: MEASUREMENT, policyDigest: d.hashes.coordinator!, key: foreignKey }),
        );
      },
      /evidence rejected/,
    ],
  ];

  it.each(impostors)(
    'refuses an impostor with %s: no evidence sent, no file written, the reason named',
    async (_, make, why) => {
      const impostor = await make();
      const pod = await initialize(impostor, d.hashes.web!, 300);
      const err = await pod.run.catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'unavailable' });
      expect((err as Error).message).toMatch(/attestation-failed/);
      expect((err as Error).message).toMatch(why);
      expect(pod.issuer.issued).toBe(0);
      expect(await readdir(pod.outDir)).toEqual([]);
    },
  );

  it('without a root CA to pin, still refuses another policy or trust root (the seed is then not pinned)', async () => {
    const unpinned = { ...expected };
    delete unpinned.rootCa;
    const impostor = await coordinatorWith(podIssuer('cc'.repeat(32)));
    await setManifest(impostor);
    const outDir = await tempDir();
    const err = await runInitializer({
      host: impostor.host,
      port: impostor.port,
      issuer: podIssuer(d.hashes.web!),
      outDir,
      coordinator: unpinned,
      initialDelayMs: 20,
      deadlineMs: 200,
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/policy hash c{64} is not one this pod expects/);
    expect(await readdir(outDir)).toEqual([]);
  });
});

describe('behind a Service: the attested connection closes and the next one reaches another replica', () => {
  it('attests the other replica and gets the certificate from it (no failed attempt)', async () => {
    // Two replicas of one deployment: B shares A's store and recovered from A (same seed).
    const store = await tempStore();
    const a = await startCoordinator({
      store,
      platforms,
      issuer: podIssuer(d.hashes.coordinator!),
      allowInsecure: true,
    });
    running.push(a);
    const set = await setManifest(a);
    const b = await startCoordinator({
      store,
      platforms,
      issuer: podIssuer(d.hashes.coordinator!),
      allowInsecure: true,
      peers: staticPeers([{ host: '127.0.0.1', port: a.port }]),
      peerRecovery: { minDelayMs: 20, maxDelayMs: 100, idleCheckMs: 20 },
    });
    running.push(b, store);
    for (let i = 0; i < 500 && b.authority.status !== 'active'; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(b.authority.status).toBe('active');

    // The Service: the first connection goes to A, every later one to B.
    const sockets: Socket[] = [];
    let connections = 0;
    const service = createServer((client) => {
      const upstream = connect({ host: '127.0.0.1', port: connections++ === 0 ? a.port : b.port });
      sockets.push(client, upstream);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', () => resolve()));
    running.push({
      close: () => {
        for (const s of sockets) s.destroy();
        return new Promise<void>((resolve) => service.close(() => resolve()));
      },
    });

    // The attested connection (to A) is closed right after the attestation's answer.
    const agent = createMeshCertAgent();
    agent.once('free', (socket: Socket) => socket.destroy());
    const issuer = new CountingIssuer(podIssuer(d.hashes.web!));
    try {
      const res = await requestMeshCertificate({
        host: '127.0.0.1',
        port: (service.address() as { port: number }).port,
        issuer,
        publicKey: new Uint8Array(
          generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
            type: 'spki',
            format: 'der',
          }),
        ),
        agent,
        coordinator: { ...expected, rootCa: set.root_ca },
      });
      expect(connections).toBe(2);
      // B answered: its mesh CA is the one A handed over; the pod issued evidence once (for B).
      expect(new X509Certificate(res.cert_chain).verify(new X509Certificate(set.mesh_ca).publicKey)).toBe(
        true,
      );
      expect(issuer.issued).toBe(1);
    } finally {
      agent.destroy();
    }
  });
});
