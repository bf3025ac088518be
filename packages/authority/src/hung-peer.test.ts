import { generateKeyPairSync } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { createCaHierarchy, openSeedShare, recoverSeed, SeedEngine } from '@contrast-cc/certs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Authority } from './authority.js';
import { findActivePeer, recoverFromPeer } from './peer-recovery.js';
import type { PeerAddress } from './peers/peer-list.js';
import {
  channelKey,
  deployment,
  keys,
  podIssuer,
  recoverRequest,
  registry,
  tempStore,
} from './testing/index.js';
import type { AuthorityOptions } from './types.js';

// Hung peers (issue #21): a peer that accepts TLS and never answers must cost a recovery attempt
// its deadline, not the replica its recovery; and the peer lookup of `recover` must not block the
// Authority's serialized section (`recover --force` queued behind it until a restart).

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

let tls: { key: string; cert: string };
beforeAll(async () => {
  const ca = await createCaHierarchy(SeedEngine.generate());
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const leaf = await ca.issueMeshCertificate({ publicKey, sans: ['127.0.0.1'] });
  tls = { key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, cert: leaf.pem };
});

/** A peer that completes TLS handshakes and never writes a byte. */
async function hungPeer(): Promise<PeerAddress> {
  const sockets = new Set<TLSSocket>();
  const server = createTlsServer(tls, (s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return { host: '127.0.0.1', port: (server.address() as AddressInfo).port };
}

/** A store with one manifest and an Authority on it that is stale (a restarted replica), plus the seed. */
async function staleReplica(extra: Partial<AuthorityOptions> = {}) {
  const store = await tempStore();
  cleanup.push(() => store.close());
  const d = deployment();
  const first = await Authority.open({
    store,
    platforms: registry(),
    channelKey: channelKey(),
    allowInsecure: true,
  });
  const set = await first.setManifest({ manifest: d.manifest, policies: d.policies });
  first.close();
  const doc = set.seedShareDocument!;
  const secret = recoverSeed(doc, [openSeedShare(doc, keys().seedOwnerPrivate)]);
  const authority = await Authority.open({
    store,
    platforms: registry(),
    channelKey: channelKey(),
    allowInsecure: true,
    ...extra,
  });
  cleanup.push(() => authority.close());
  expect(authority.status).toBe('stale');
  const options = {
    authority,
    store,
    issuer: podIssuer(d.hashes.coordinator!),
    platforms: registry(),
    allowInsecure: true,
  };
  return { authority, secret, options };
}

describe('a hung peer', () => {
  it('costs one recovery attempt its request timeout: unavailable, the replica stays stale', async () => {
    const { authority, options } = await staleReplica();
    const attempt = await recoverFromPeer({ ...options, timeoutMs: 300 }, await hungPeer());
    expect(attempt.result).toBe('unavailable');
    expect(authority.status).toBe('stale');
  });

  it('is cut off by the attempt deadline even when the request timeout is long', async () => {
    const { options } = await staleReplica();
    const attempt = await recoverFromPeer(
      { ...options, timeoutMs: 600_000, attemptTimeoutMs: 300 },
      await hungPeer(),
    );
    expect(attempt).toMatchObject({ result: 'unavailable', message: expect.stringMatching(/deadline/) });
  });

  it('makes findActivePeer answer "none" at the deadline, asking all peers at once', async () => {
    const { options } = await staleReplica();
    const peers = [await hungPeer(), await hungPeer(), await hungPeer()];
    const found = await findActivePeer({
      ...options,
      timeoutMs: 600_000,
      attemptTimeoutMs: 300,
      peers: { kind: 'test', peers: async () => peers },
    });
    expect(found).toBeUndefined();
  });

  it('does not hold up `recover --force` while a plain recover waits for the peer lookup', async () => {
    let lookups = 0;
    const { authority, secret } = await staleReplica({
      // The lookup never ends (a peer that hangs past every deadline).
      hasActivePeer: () => {
        lookups++;
        return new Promise<boolean>(() => undefined);
      },
    });
    const plain = authority.recover(recoverRequest(authority.createNonce(), authority.channelSpki, secret));
    plain.catch(() => undefined);
    const forced = await authority.recover(
      recoverRequest(authority.createNonce(), authority.channelSpki, secret, keys().seedOwnerPrivate, true),
    );
    expect(forced.rootCaPem).toContain('BEGIN CERTIFICATE');
    expect(authority.status).toBe('active');
    expect(lookups).toBe(1); // force skips the lookup
  });
});
