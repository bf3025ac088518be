import { createHash, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CoordinatorClient,
  type MeshCertResponse,
  requestMeshCertificate,
  type SetManifestResponse,
  verifiersForReferenceValues,
} from '@contrast-cc/api';
import {
  createCaHierarchy,
  generateMeshCaKey,
  openSeedShare,
  recoverSeed,
  SeedEngine,
  signTransitionAsOwner,
  transitionHash,
} from '@contrast-cc/certs';
import { fromHex, type Issuer } from '@contrast-cc/core';
import { createMemoryLogger, type MemoryLogger } from '@contrast-cc/core/testing';
import { DirectoryHistoryStore } from '@contrast-cc/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authority } from './authority.js';
import {
  findActivePeer,
  type PeerRecoveredEvent,
  peerRetryDelay,
  recoverFromPeer,
  startPeerRecovery,
} from './peer-recovery.js';
import { type PeerAddress, type PeerSource, staticPeers } from './peers/peer-list.js';
import { type RunningCoordinator, startCoordinator } from './server/coordinator.js';
import {
  channelKey,
  deployment,
  keys,
  podIssuer,
  recoverRequest,
  registry,
  waitFor,
} from './testing/index.js';

const d = deployment();
// The update keeps the coordinator policy (replicas running it stay trusted) and adds a workload.
const d2 = deployment(['web', 'db', 'cache', 'api']);
const platforms = registry();
const coordinatorIssuer = () => podIssuer(d.hashes.coordinator!);

interface Replica {
  name: string;
  c: RunningCoordinator;
  store: DirectoryHistoryStore;
  log: MemoryLogger;
  /** What the onRecovered hook got, in order. */
  recovered: PeerRecoveredEvent[];
}

const replicas = new Set<Replica>();
const stores: DirectoryHistoryStore[] = [];
let sharedDir: string;

/** Every running replica except the asking one: what the Kubernetes source gives in a cluster. */
function clusterPeers(self: () => Replica | undefined): PeerSource {
  return {
    kind: 'test-cluster',
    peers: async () =>
      [...replicas]
        .filter((r) => r !== self())
        .map((r): PeerAddress => ({ host: r.c.host, port: r.c.port, name: r.name })),
  };
}

async function openStore(dir: string): Promise<DirectoryHistoryStore> {
  const store = await DirectoryHistoryStore.open(dir, { pollIntervalMs: 50 });
  stores.push(store);
  return store;
}

async function startReplica(
  name: string,
  options: { issuer?: Issuer; dir?: string; peers?: PeerSource | null; join?: boolean } = {},
): Promise<Replica> {
  const store = await openStore(options.dir ?? sharedDir);
  const log = createMemoryLogger();
  const recovered: PeerRecoveredEvent[] = [];
  let self: Replica | undefined;
  const c = await startCoordinator({
    store,
    platforms,
    issuer: options.issuer ?? coordinatorIssuer(),
    allowInsecure: true,
    ...(options.peers === null ? {} : { peers: options.peers ?? clusterPeers(() => self) }),
    peerRecovery: {
      minDelayMs: 40,
      maxDelayMs: 200,
      idleCheckMs: 40,
      timeoutMs: 5000,
      onRecovered: (e) => {
        recovered.push(e);
      },
    },
    logger: log.logger,
  });
  self = { name, c, store, log, recovered };
  if (options.join !== false) replicas.add(self);
  return self;
}

async function stopReplica(r: Replica): Promise<void> {
  replicas.delete(r);
  await r.c.close();
}

const client = (r: Replica) =>
  CoordinatorClient.connect({
    host: r.c.host,
    port: r.c.port,
    verifiers: verifiersForReferenceValues(platforms, d.manifestJson.ReferenceValues as never),
    coordinatorPolicyHashes: [d.hashes.coordinator!],
    allowInsecure: true,
  });

async function meshCert(r: Replica, workload = 'web'): Promise<MeshCertResponse> {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return requestMeshCertificate({
    host: r.c.host,
    port: r.c.port,
    issuer: podIssuer(d.hashes[workload]!),
    publicKey: new Uint8Array(key.publicKey.export({ type: 'spki', format: 'der' })),
  });
}

async function metrics(r: Replica): Promise<string> {
  return (await fetch(`http://127.0.0.1:${r.c.metricsPort}/metrics`)).text();
}

function counter(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

const spkiOf = (pem: string) =>
  new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }).toString('hex');
const der = (pem: string) => Buffer.from(new X509Certificate(pem).raw);
const chainOf = (r: MeshCertResponse) =>
  r.cert_chain.split(/(?<=-----END CERTIFICATE-----\n)/).filter(Boolean);

let a: Replica;
let b: Replica;
let set: SetManifestResponse;
let seedHex: string;
let secret: { seed: Uint8Array; salt: Uint8Array };

beforeAll(async () => {
  sharedDir = await mkdtemp(path.join(tmpdir(), 'peer-recovery-'));
});

afterAll(async () => {
  for (const r of [...replicas]) await stopReplica(r).catch(() => undefined);
  for (const s of stores) await s.close().catch(() => undefined);
});

describe('automatic peer recovery of Coordinator replicas on one store', () => {
  it('a replica that starts stale recovers from the active one; both chain to the same root CA', async () => {
    a = await startReplica('a');
    set = await (await client(a)).setManifest({ manifest: d.manifest, policies: d.policies });
    const doc = set.seed_shares_doc!;
    secret = recoverSeed(doc, [openSeedShare(doc, keys().seedOwnerPrivate)]);
    seedHex = Buffer.from(secret.seed).toString('hex');

    const startedB = performance.now();
    b = await startReplica('b');
    expect(b.log.records.find((r) => r.message === 'opened')?.fields?.status).toBe('stale');
    await waitFor(() => b.c.authority.status === 'active', 10_000);
    // The hook named the peer B recovered from, once; A was never stale, so it has no event.
    await waitFor(() => b.recovered.length === 1, 5000);
    expect(b.recovered).toEqual([
      { peer: { host: a.c.host, port: a.c.port, name: 'a' }, durationMs: expect.any(Number), attempts: 1 },
    ]);
    // Bounded by the same clock around it, not by a guess of how fast a loaded machine is.
    expect(b.recovered[0]!.durationMs).toBeGreaterThan(0);
    expect(b.recovered[0]!.durationMs).toBeLessThanOrEqual(Math.ceil(performance.now() - startedB));
    expect(a.recovered).toEqual([]);

    const stateA = await (await client(a)).state();
    const stateB = await (await client(b)).state();
    expect(stateB.latest_transition?.transition_hash).toBe(set.transition_hash);
    // The seed reproduced A's root CA certificate byte for byte; B adopted A's mesh CA
    // certificate (not only its key): one mesh CA certificate per manifest generation.
    expect(stateB.root_ca).toBe(stateA.root_ca);
    expect(stateB.mesh_ca).toBe(stateA.mesh_ca);
    expect(Buffer.from(b.c.authority.stateBinding().meshCaDer!)).toEqual(
      Buffer.from(a.c.authority.stateBinding().meshCaDer!),
    );

    const fromA = await meshCert(a, 'web');
    const fromB = await meshCert(b, 'db');
    const root = new X509Certificate(set.root_ca);
    for (const res of [fromA, fromB]) {
      const [leaf, intermediate] = chainOf(res).map((p) => new X509Certificate(p));
      expect(intermediate!.verify(root.publicKey)).toBe(true);
      expect(leaf!.verify(intermediate!.publicKey)).toBe(true);
      expect(der(res.root_ca).equals(der(set.root_ca))).toBe(true);
    }
    // Both replicas present the same intermediate in the chains they issue.
    expect(chainOf(fromB)[1]).toBe(chainOf(fromA)[1]);
    expect(fromB.mesh_ca).toBe(fromA.mesh_ca);
    // A workload holding A's mesh CA accepts B's certificates and vice versa.
    expect(new X509Certificate(fromB.cert_chain).verify(new X509Certificate(fromA.mesh_ca).publicKey)).toBe(
      true,
    );
    expect(new X509Certificate(fromA.cert_chain).verify(new X509Certificate(fromB.mesh_ca).publicKey)).toBe(
      true,
    );
    // Workload secrets are the same on both replicas (same seed).
    expect((await meshCert(b, 'web')).workload_secret).toBe(fromA.workload_secret);

    expect(counter(await metrics(b), 'contrast_peer_recoveries_total', 'result="success"')).toBe(1);
    expect((await fetch(`http://127.0.0.1:${b.c.metricsPort}/probe/readiness`)).status).toBe(200);
    expect(
      counter(
        await metrics(a),
        'contrast_http_server_handled_total',
        'route="/v1/peer/recover",method="POST",code="200"',
      ),
    ).toBe(1);
  });

  it('refuses (403) a replica whose policy hash is not a coordinator of the manifest; it stays stale', async () => {
    const before = counter(
      await metrics(a),
      'contrast_http_server_handled_total',
      'route="/v1/peer/recover",method="POST",code="403"',
    );
    const rogue = await startReplica('rogue', { issuer: podIssuer(d.hashes.web!), join: false });
    await waitFor(() => rogue.log.records.filter((r) => r.fields?.result === 'refused').length >= 2, 10_000);
    expect(rogue.c.authority.status).toBe('stale');
    expect(rogue.recovered).toEqual([]);
    const refusedLine = rogue.log.records.find((r) => r.fields?.result === 'refused');
    expect(refusedLine?.fields?.code).toBe('permission_denied');
    expect(
      counter(await metrics(rogue), 'contrast_peer_recoveries_total', 'result="refused"'),
    ).toBeGreaterThanOrEqual(2);
    const after = counter(
      await metrics(a),
      'contrast_http_server_handled_total',
      'route="/v1/peer/recover",method="POST",code="403"',
    );
    expect(after).toBeGreaterThan(before);
    expect(a.log.records.some((r) => r.message === 'refused a peer: not a coordinator policy')).toBe(true);
    // Wrong measurement: refused by A's reference values (attestation_failed, 403).
    const wrongVm = await startReplica('wrong-vm', {
      issuer: podIssuer(d.hashes.coordinator!, 'cd'.repeat(48)),
      peers: null,
      join: false,
    });
    const attempt = await recoverFromPeer(
      {
        authority: wrongVm.c.authority,
        store: wrongVm.store,
        issuer: podIssuer(d.hashes.coordinator!, 'cd'.repeat(48)),
        platforms,
        allowInsecure: true,
      },
      { host: a.c.host, port: a.c.port },
    );
    expect(attempt).toMatchObject({ result: 'refused', code: 'attestation_failed' });
    expect(wrongVm.c.authority.status).toBe('stale');
    await stopReplica(rogue);
    await stopReplica(wrongVm);
  });

  it('refuses a man-in-the-middle peer: wrong evidence, a non-coordinator policy, or another seed', async () => {
    const victim = await startReplica('victim', { peers: null, join: false });
    expect(victim.c.authority.status).toBe('stale');
    const attemptAgainst = (peer: Replica) =>
      recoverFromPeer(
        {
          authority: victim.c.authority,
          store: victim.store,
          issuer: coordinatorIssuer(),
          platforms,
          allowInsecure: true,
        },
        { host: peer.c.host, port: peer.c.port },
      );
    // Impostors run their own history (their own store) with the same manifest, so they are active.
    const impostor = async (name: string, issuer: Issuer) => {
      const r = await startReplica(name, {
        issuer,
        dir: await mkdtemp(path.join(tmpdir(), 'impostor-')),
        peers: null,
        join: false,
      });
      await r.c.authority.setManifest({ manifest: d.manifest, policies: d.policies });
      return r;
    };
    const wrongMeasurement = await impostor(
      'mitm-measurement',
      podIssuer(d.hashes.coordinator!, 'cd'.repeat(48)),
    );
    expect(await attemptAgainst(wrongMeasurement)).toMatchObject({
      result: 'attestation_failed',
      code: 'measurement-mismatch',
    });
    const workloadPolicy = await impostor('mitm-policy', podIssuer(d.hashes.web!));
    expect(await attemptAgainst(workloadPolicy)).toMatchObject({ result: 'attestation_failed' });
    // Genuine evidence and a coordinator policy, but its own seed: the seed does not verify the
    // shared store's latest transition signature, so the secrets are refused.
    const otherSeed = await impostor('mitm-seed', coordinatorIssuer());
    const mismatch = await attemptAgainst(otherSeed);
    expect(mismatch).toMatchObject({ result: 'mismatch', code: 'permission_denied' });
    expect(mismatch.message).toMatch(/latest transition signature/);
    expect(victim.c.authority.status).toBe('stale');
    // Nothing listening: unavailable.
    const closed = await impostor('gone', coordinatorIssuer());
    const port = closed.c.port;
    await stopReplica(closed);
    const gone = await recoverFromPeer(
      {
        authority: victim.c.authority,
        store: victim.store,
        issuer: coordinatorIssuer(),
        platforms,
        allowInsecure: true,
      },
      { host: '127.0.0.1', port },
    );
    expect(gone.result).toBe('unavailable');
    // A stale peer cannot help.
    expect((await attemptAgainst(victim)).result).toBe('peer_not_ready');
    for (const r of [wrongMeasurement, workloadPolicy, otherSeed]) await stopReplica(r);
    // And a genuine peer works for the same victim.
    expect((await attemptAgainst(a)).result).toBe('success');
    expect(victim.c.authority.status).toBe('active');
    await stopReplica(victim);
  });

  it("adopts the peer's CA certificates only after checking them: another key or another root is refused", async () => {
    // Authority.recoverFromPeer with the genuine seed and salt, and a hierarchy built the way the
    // peer built it: the seed reproduces A's root (same notBefore), the mesh CA key is ours.
    const store = await openStore(sharedDir);
    const authority = await Authority.open({
      store,
      platforms,
      channelKey: channelKey(),
      allowInsecure: true,
    });
    expect(authority.status).toBe('stale');
    const engine = new SeedEngine(secret.seed, secret.salt);
    const rootNotBefore = new Date(new X509Certificate(set.root_ca).validFrom);
    const meshKey = generateMeshCaKey();
    const genuine = await createCaHierarchy(engine, { rootNotBefore, meshCaKey: meshKey });
    expect(Buffer.from(genuine.root.der).equals(der(set.root_ca))).toBe(true);
    const foreignKey = await createCaHierarchy(engine, { rootNotBefore });
    const foreignRoot = await createCaHierarchy(SeedEngine.generate(), { meshCaKey: meshKey });
    const input = () => ({
      secret: {
        seed: Uint8Array.from(secret.seed),
        salt: Uint8Array.from(secret.salt),
        meshCaKey: new Uint8Array(meshKey.export({ type: 'pkcs8', format: 'der' })),
      },
      transitionHash: set.transition_hash,
      rootCaDer: genuine.root.der,
      meshCaDer: genuine.meshCa.der,
      intermediateCaDer: genuine.intermediate.der,
    });
    const refusal = (over: object) =>
      authority.recoverFromPeer({ ...input(), ...over }).then(
        () => undefined,
        (e: { kind?: string; field?: string; message: string }) => ({
          kind: e.kind,
          field: e.field,
          message: e.message,
        }),
      );
    expect(await refusal({ meshCaDer: foreignKey.meshCa.der })).toEqual({
      kind: 'permission-denied',
      field: 'mesh_ca',
      message:
        "the peer's mesh_ca certificate is refused: the certificate is for another key than the mesh CA key",
    });
    expect(await refusal({ intermediateCaDer: foreignKey.intermediate.der })).toMatchObject({
      kind: 'permission-denied',
      field: 'intermediate_ca',
    });
    expect(await refusal({ intermediateCaDer: foreignRoot.intermediate.der })).toEqual({
      kind: 'permission-denied',
      field: 'intermediate_ca',
      message:
        "the peer's intermediate_ca certificate is refused: the certificate is not signed by the root CA",
    });
    expect(await refusal({ rootCaDer: foreignRoot.root.der })).toMatchObject({
      kind: 'permission-denied',
      field: 'root_ca',
    });
    expect(await refusal({ meshCaDer: Uint8Array.of(0x30, 0x00) })).toMatchObject({
      kind: 'permission-denied',
      field: 'mesh_ca',
    });
    expect(authority.status).toBe('stale');
    // The checked certificates are adopted as they are.
    await authority.recoverFromPeer(input());
    expect(authority.status).toBe('active');
    const state = authority.stateBinding();
    expect(Buffer.from(state.meshCaDer!).equals(Buffer.from(genuine.meshCa.der))).toBe(true);
    expect(Buffer.from(state.rootCaDer!).equals(Buffer.from(genuine.root.der))).toBe(true);
    authority.close();
  });

  it('a peer that sends an intermediate of another root or key is refused (mismatch) and the replica stays stale', async () => {
    // A serves genuine evidence and state but a foreign intermediate (as a compromised peer could).
    const authorityA = a.c.authority as Authority & { handOverToPeer: Authority['handOverToPeer'] };
    const handOver = authorityA.handOverToPeer.bind(authorityA);
    const foreign = await createCaHierarchy(SeedEngine.generate());
    authorityA.handOverToPeer = async (p) => ({
      ...(await handOver(p)),
      intermediateCaPem: foreign.intermediate.pem,
    });
    try {
      const victim = await startReplica('victim-ca', {
        peers: staticPeers([{ host: a.c.host, port: a.c.port, name: 'a' }]),
        join: false,
      });
      await waitFor(
        () => victim.log.records.filter((r) => r.fields?.result === 'mismatch').length >= 2,
        10_000,
      );
      const failed = victim.log.records.find((r) => r.fields?.result === 'mismatch');
      expect(failed?.fields).toMatchObject({ peer: `${a.c.host}:${a.c.port}`, code: 'permission_denied' });
      expect(String(failed?.fields?.reason)).toMatch(/intermediate_ca certificate is refused/);
      expect(victim.c.authority.status).toBe('stale');
      expect(victim.recovered).toEqual([]);
      expect(
        counter(await metrics(victim), 'contrast_peer_recoveries_total', 'result="mismatch"'),
      ).toBeGreaterThanOrEqual(2);
      // A peer of an older version sends no intermediate: the mesh CA certificate is still A's,
      // the intermediate is a new one for the same key, signed by the root, with a warning.
      authorityA.handOverToPeer = async (p) => {
        const { intermediateCaPem: _, ...older } = await handOver(p);
        return older as Awaited<ReturnType<Authority['handOverToPeer']>>;
      };
      await waitFor(() => victim.c.authority.status === 'active', 10_000);
      const stateV = victim.c.authority.stateBinding();
      expect(Buffer.from(stateV.meshCaDer!)).toEqual(Buffer.from(a.c.authority.stateBinding().meshCaDer!));
      expect(victim.log.records.some((r) => r.level === 'warn' && /no intermediate CA/.test(r.message))).toBe(
        true,
      );
      const [, intermediate] = chainOf(await meshCert(victim, 'web'));
      expect(intermediate).not.toBe(chainOf(await meshCert(a, 'web'))[1]);
      const inter = new X509Certificate(intermediate!);
      expect(inter.verify(new X509Certificate(set.root_ca).publicKey)).toBe(true);
      expect(inter.publicKey.equals(new X509Certificate(Buffer.from(stateV.meshCaDer!)).publicKey)).toBe(
        true,
      );
      await stopReplica(victim);
    } finally {
      delete (authorityA as Partial<typeof authorityA>).handOverToPeer;
    }
    expect(authorityA.handOverToPeer).toBe(Authority.prototype.handOverToPeer);
  });

  it('a manifest update by A makes B stale; B recovers again at the new transition', async () => {
    const next = transitionHash(
      fromHex(createHash('sha256').update(d2.manifest).digest('hex')),
      fromHex(set.transition_hash),
    );
    const updated = await (await client(a)).setManifest({
      manifest: d2.manifest,
      policies: d2.policies,
      signature: signTransitionAsOwner(next, keys().ownerPrivate),
      previousTransitionHash: set.transition_hash,
    });
    await waitFor(
      () => b.log.records.some((r) => r.message === 'another Coordinator changed the history; going stale'),
      10_000,
    );
    await waitFor(() => b.c.authority.status === 'active' && b.c.authority.generation === 2, 10_000);
    // A new stale period: a second event, from A again, counting only this period's attempts.
    await waitFor(() => b.recovered.length === 2, 5000);
    expect(b.recovered[1]).toMatchObject({ peer: { host: a.c.host, port: a.c.port, name: 'a' } });
    expect(b.recovered[1]!.attempts).toBeGreaterThanOrEqual(1);
    const stateB = b.c.authority.stateBinding();
    expect(stateB.transitionHash).toBe(updated.transition_hash);
    // The rotated mesh CA certificate is A's new one, byte for byte.
    expect(Buffer.from(stateB.meshCaDer!).equals(der(updated.mesh_ca))).toBe(true);
    expect(spkiOf(updated.mesh_ca)).toBe(
      new X509Certificate(Buffer.from(stateB.meshCaDer!)).publicKey
        .export({ type: 'spki', format: 'der' })
        .toString('hex'),
    );
    const cert = await meshCert(b, 'web');
    expect(new X509Certificate(cert.cert_chain).verify(new X509Certificate(updated.mesh_ca).publicKey)).toBe(
      true,
    );
    expect(der(cert.root_ca).equals(der(updated.root_ca))).toBe(true);
    expect(counter(await metrics(b), 'contrast_peer_recoveries_total', 'result="success"')).toBe(2);
  });

  it('A restarted without its secrets while B is active recovers from B', async () => {
    const rootBefore = a.c.authority.stateBinding().rootCaDer!;
    const transition = a.c.authority.stateBinding().transitionHash;
    await stopReplica(a);
    const restarted = await startReplica('a-restarted');
    expect(restarted.log.records.find((r) => r.message === 'opened')?.fields?.status).toBe('stale');
    await waitFor(() => restarted.c.authority.status === 'active', 10_000);
    await waitFor(() => restarted.recovered.length === 1, 5000);
    expect(restarted.recovered[0]!.peer).toEqual({ host: b.c.host, port: b.c.port, name: 'b' });
    const state = restarted.c.authority.stateBinding();
    expect(state.transitionHash).toBe(transition);
    expect(Buffer.from(state.rootCaDer!).equals(Buffer.from(rootBefore))).toBe(true);
    expect(Buffer.from(state.meshCaDer!)).toEqual(Buffer.from(b.c.authority.stateBinding().meshCaDer!));
    const cert = await meshCert(restarted, 'db');
    expect(chainOf(cert)[1]).toBe(chainOf(await meshCert(b, 'db'))[1]);
    const bMesh = new X509Certificate(Buffer.from(b.c.authority.stateBinding().meshCaDer!));
    expect(new X509Certificate(cert.cert_chain).verify(bMesh.publicKey)).toBe(true);
    a = restarted;
  });

  it('onRecovered: counts the failed attempts of the stale period; a throwing or rejecting hook is only logged', async () => {
    for (const hook of ['throws', 'rejects'] as const) {
      const store = await openStore(sharedDir);
      const log = createMemoryLogger();
      const authority = await Authority.open({
        store,
        platforms,
        channelKey: channelKey(),
        allowInsecure: true,
      });
      expect(authority.status).toBe('stale');
      const events: PeerRecoveredEvent[] = [];
      // A constant `random` keeps the list order: nothing listens on port 1, then the active B.
      const loop = startPeerRecovery({
        authority,
        store,
        issuer: coordinatorIssuer(),
        platforms,
        allowInsecure: true,
        peers: staticPeers(['127.0.0.1:1', { host: b.c.host, port: b.c.port, name: 'b' }]),
        minDelayMs: 40,
        maxDelayMs: 200,
        idleCheckMs: 40,
        random: () => 0.5,
        logger: log.logger,
        onRecovered:
          hook === 'throws'
            ? (e) => {
                events.push(e);
                throw new Error('hook broke');
              }
            : async (e) => {
                events.push(e);
                throw new Error('hook broke later');
              },
      });
      await waitFor(() => authority.status === 'active' && events.length === 1, 10_000);
      expect(events[0]).toMatchObject({ peer: { host: b.c.host, port: b.c.port, name: 'b' }, attempts: 2 });
      await waitFor(() => log.records.some((r) => r.message === 'the onRecovered hook failed'), 5000);
      expect(log.records.find((r) => r.message === 'the onRecovered hook failed')?.fields?.error).toMatch(
        /hook broke/,
      );
      const failed = log.records.find((r) => r.message === 'peer recovery attempt failed');
      expect(failed?.fields).toMatchObject({ peer: '127.0.0.1:1', result: 'unavailable' });
      // The loop is still running (idle checks) and stops cleanly.
      await new Promise((r) => setTimeout(r, 100));
      expect(events).toHaveLength(1);
      await loop.stop();
      expect(log.records.at(-1)?.message).toBe('peer recovery stopped');
      authority.close();
    }
  });

  it("refuses a seed-share owner's recovery without force while an active peer exists", async () => {
    const key = channelKey();
    const spki = new Uint8Array(createPublicKey(key).export({ type: 'spki', format: 'der' }));
    const store = await openStore(sharedDir);
    const peers: PeerSource = {
      kind: 'test',
      peers: async () => [{ host: '127.0.0.1', port: 1 }, ...(await clusterPeers(() => undefined).peers())],
    };
    const options = { store, issuer: coordinatorIssuer(), platforms, allowInsecure: true, peers };
    let authority: Authority | undefined;
    authority = await Authority.open({
      store,
      platforms,
      channelKey: key,
      allowInsecure: true,
      hasActivePeer: async () => (await findActivePeer({ ...options, authority: authority! })) !== undefined,
    });
    expect(authority.status).toBe('stale');
    const refused = await authority
      .recover(recoverRequest(authority.createNonce(), spki, secret))
      .catch((e) => e);
    expect(refused).toMatchObject({ kind: 'permission-denied', field: 'force' });
    expect(authority.status).toBe('stale');
    // A request not signed by a seed-share owner is refused before any peer is dialled.
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const foreign = await authority
      .recover(recoverRequest(authority.createNonce(), spki, secret, other))
      .catch((e) => e);
    expect(foreign).toMatchObject({ kind: 'permission-denied', field: 'owner_public_key' });
    await authority.recover(
      recoverRequest(authority.createNonce(), spki, secret, keys().seedOwnerPrivate, true),
    );
    expect(authority.status).toBe('active');
    authority.close();
    // Only unreachable peers: none active.
    const unreachable: PeerSource = { kind: 'test', peers: async () => [{ host: '127.0.0.1', port: 1 }] };
    expect(await findActivePeer({ ...options, authority, peers: unreachable })).toBeUndefined();
  });

  it('a coordinator policy upgrade: both policies during the roll, then only the new one', async () => {
    const d3 = deployment(['web', 'db', 'cache', 'api'], { tag: '-v3' });
    const update = async (manifest: Uint8Array, policies: Uint8Array[]) => {
      const previous = a.c.authority.stateBinding().transitionHash!;
      const next = transitionHash(
        fromHex(createHash('sha256').update(manifest).digest('hex')),
        fromHex(previous),
      );
      return a.c.authority.setManifest({
        manifest,
        policies,
        signature: signTransitionAsOwner(next, keys().ownerPrivate),
        previousTransitionHash: previous,
      });
    };
    // Transitional manifest: the new coordinator policy and the old one.
    const both = structuredClone(d3.manifestJson) as unknown as { Policies: Record<string, unknown> };
    both.Policies[d.hashes.coordinator!] = { SANs: ['coordinator'], Role: 'coordinator' };
    const bothBytes = new TextEncoder().encode(JSON.stringify(both, null, 2));
    const transitional = await update(bothBytes, [...d3.policies, d.policies[0]!]);
    const rolled = await startReplica('rolled', { issuer: podIssuer(d3.hashes.coordinator!) });
    await waitFor(
      () =>
        rolled.c.authority.status === 'active' &&
        b.c.authority.status === 'active' &&
        b.c.authority.stateBinding().transitionHash === transitional.transitionHash,
      10_000,
    );
    // Only the new policy: replicas still running the old one are no coordinators any more.
    const final = await update(d3.manifest, d3.policies);
    await waitFor(() => b.c.authority.status === 'stale' && rolled.c.authority.status === 'stale', 10_000);
    const attempt = (peer: Replica, issuer: Issuer, self: Replica) =>
      recoverFromPeer(
        { authority: self.c.authority, store: self.store, issuer, platforms, allowInsecure: true },
        { host: peer.c.host, port: peer.c.port },
      );
    // The old-policy replica does not pass as a coordinator peer, in either direction.
    expect((await attempt(a, coordinatorIssuer(), b)).result).toBe('attestation_failed');
    expect((await attempt(a, podIssuer(d3.hashes.coordinator!), rolled)).result).toBe('attestation_failed');
    expect(b.c.authority.status).toBe('stale');
    expect(a.c.authority.stateBinding().transitionHash).toBe(final.transitionHash);
    await stopReplica(rolled);
  });

  it('never logs the seed or the mesh CA key', () => {
    expect(seedHex).toMatch(/^[0-9a-f]{128}$/);
    const seedB64 = Buffer.from(seedHex, 'hex').toString('base64');
    for (const r of replicas) {
      const text = r.log.text();
      expect(text).toContain('recovered from a peer');
      expect(text).not.toContain(seedHex);
      expect(text).not.toContain(seedB64);
      expect(text).not.toMatch(/PRIVATE KEY/);
    }
  });
});

describe('peerRetryDelay', () => {
  it('doubles from the minimum, caps at the maximum, jitters between half and all', () => {
    expect(peerRetryDelay(1, 1000, 30_000, () => 0)).toBe(500);
    expect(peerRetryDelay(1, 1000, 30_000, () => 0.999_999)).toBe(1000);
    expect(peerRetryDelay(3, 1000, 30_000, () => 0.5)).toBe(3000);
    expect(peerRetryDelay(10, 1000, 30_000, () => 0.999_999)).toBe(30_000);
    expect(peerRetryDelay(10_000, 1000, 30_000, () => 0)).toBe(15_000);
  });
});
