// The transit API over mutual TLS, driven by a Vault client library from npm (node-vault, which
// nobody here wrote) and by the exact request sequence of Vault's/OpenBao's transit seal
// (go-kms-wrapping `wrappers/transit`: at start-up one test encryption of "a", then encrypt and
// decrypt, each a `Logical().Write`, i.e. an HTTP PUT with a JSON body and the X-Vault-Token and
// X-Vault-Request headers).
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { request } from 'node:https';
import { type CaHierarchy, createCaHierarchy, SeedEngine } from '@contrast-cc/certs';
import { createLogger } from '@contrast-cc/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransitEngine } from './engine.js';
import { type RunningTransitServer, startTransitServer } from './server.js';
import { loadNodeVault } from './test-support/node-vault.js';

const vault = loadNodeVault();

const seed = new Uint8Array(64).fill(1);
const salt = new Uint8Array(32).fill(2);
const lines: string[] = [];
const logger = createLogger((r) => lines.push(`${r.level} ${r.message} ${JSON.stringify(r.fields)}`));

const pem = (k: KeyObject) => k.export({ type: 'pkcs8', format: 'pem' }).toString();

async function meshIdentity(ca: CaHierarchy, workloadSecretId: string | undefined, sans = ['workload']) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cert = await ca.issueMeshCertificate({
    publicKey,
    sans,
    ...(workloadSecretId !== undefined ? { workloadSecretId } : {}),
  });
  return { cert: cert.chainPem, key: pem(privateKey) };
}

describe('transit API over mutual TLS', () => {
  let ca: CaHierarchy;
  let foreign: CaHierarchy;
  let server: RunningTransitServer;
  let endpoint: string;
  const clients: Record<string, { cert: string; key: string }> = {};

  beforeAll(async () => {
    ca = await createCaHierarchy(new SeedEngine(seed, salt));
    foreign = await createCaHierarchy(new SeedEngine(new Uint8Array(64).fill(7), salt));
    const serverId = await meshIdentity(ca, undefined, ['coordinator', '127.0.0.1']);
    server = await startTransitServer({
      engine: new TransitEngine(new SeedEngine(seed, salt)),
      credentials: { ...serverId, clientCa: ca.meshCa.pem },
      logger,
      host: '127.0.0.1',
      port: 0,
    });
    endpoint = `https://127.0.0.1:${server.port}`;
    clients.vault = await meshIdentity(ca, 'vault');
    clients.other = await meshIdentity(ca, 'other');
    clients.foreign = await meshIdentity(foreign, 'vault');
    clients.slashed = await meshIdentity(ca, 'apps/v1/StatefulSet/default/vault');
  });
  afterAll(async () => {
    await server?.close();
  });

  const client = (who: string) =>
    vault({
      apiVersion: 'v1',
      endpoint,
      token: 'not-used-identity-is-the-mesh-certificate',
      requestOptions: { ca: ca.meshCa.pem, ...(who ? clients[who] : {}) },
    });

  it('node-vault: encrypt, decrypt, key versions and rewrap (rotation)', async () => {
    const c = client('vault');
    const plaintext = Buffer.from('unseal key share').toString('base64');
    const enc = await c.encryptData({ name: 'vault', plaintext });
    expect(enc.data.ciphertext).toMatch(/^vault:v1:/);
    expect(enc.data.key_version).toBe(1);
    const dec = await c.decryptData({ name: 'vault', ciphertext: enc.data.ciphertext });
    expect(dec.data.plaintext).toBe(plaintext);
    const v5 = await c.encryptData({ name: 'vault', plaintext, key_version: 5 });
    expect(v5.data.ciphertext).toMatch(/^vault:v5:/);
    const rewrapped = await c.rewrapData({
      name: 'vault',
      ciphertext: enc.data.ciphertext,
      key_version: '2',
    });
    expect(rewrapped.data.ciphertext).toMatch(/^vault:v2:/);
    expect(
      (await c.decryptData({ name: 'vault', ciphertext: rewrapped.data.ciphertext })).data.plaintext,
    ).toBe(plaintext);
    await expect(
      c.rewrapData({ name: 'vault', ciphertext: v5.data.ciphertext, key_version: 2 }),
    ).rejects.toThrow(/older than the ciphertext/);
    await expect(c.rewrapData({ name: 'vault', ciphertext: v5.data.ciphertext })).rejects.toThrow(
      /key_version is required/,
    );
    await expect(c.write('transit/keys/vault/rotate', {})).rejects.toThrow(/higher key_version to rotate/);
    await expect(c.transitReadKey({ name: 'vault' })).rejects.toThrow(/kept nowhere/);
    // A changed ciphertext and wrong associated data are refused.
    const flipped = enc.data.ciphertext.replace(/.$/, (ch: string) => (ch === 'A' ? 'B' : 'A'));
    await expect(c.decryptData({ name: 'vault', ciphertext: flipped })).rejects.toThrow(/cannot decrypt/);
    await expect(c.encryptData({ name: 'vault', plaintext, batch_input: [] })).rejects.toThrow(
      /not supported/,
    );
    await expect(c.encryptData({ name: 'vault', plaintext: 'not base64!' })).rejects.toThrow(/plaintext/);
  });

  it('refuses a mesh certificate for another workload secret ID (403), and keys are per name', async () => {
    const other = client('other');
    const plaintext = Buffer.from('x').toString('base64');
    await expect(other.encryptData({ name: 'vault', plaintext })).rejects.toThrow(/permission denied/);
    const mine = await other.encryptData({ name: 'other', plaintext });
    await expect(
      client('vault').decryptData({ name: 'other', ciphertext: mine.data.ciphertext }),
    ).rejects.toThrow(/permission denied/);
    await expect(
      client('vault').decryptData({ name: 'vault', ciphertext: mine.data.ciphertext }),
    ).rejects.toThrow(/cannot decrypt/);
  });

  it('takes a default workload secret ID with slashes as the key name (plain or percent-encoded)', async () => {
    const c = client('slashed');
    const plaintext = Buffer.from('y').toString('base64');
    const enc = await c.encryptData({ name: 'apps/v1/StatefulSet/default/vault', plaintext });
    const dec = await c.decryptData({
      name: 'apps%2Fv1%2FStatefulSet%2Fdefault%2Fvault',
      ciphertext: enc.data.ciphertext,
    });
    expect(dec.data.plaintext).toBe(plaintext);
    await expect(c.encryptData({ name: 'apps/v1/StatefulSet/default', plaintext })).rejects.toThrow(
      /permission denied/,
    );
  });

  it('TLS refuses a client without a certificate and one from another mesh CA', async () => {
    const plaintext = Buffer.from('x').toString('base64');
    // The handshake fails: no HTTP status (a 403 would mean TLS let the client in).
    for (const who of ['', 'foreign']) {
      const error = await client(who)
        .encryptData({ name: 'vault', plaintext })
        .then(
          () => undefined,
          (e: Error & { response?: { statusCode?: number } }) => e,
        );
      expect(error, who).toBeInstanceOf(Error);
      expect(error?.response?.statusCode, who).toBeUndefined();
      expect(error?.message, who).toMatch(/certificate|alert|socket|ECONNRESET|disconnected/i);
    }
  });

  it('Vault\'s transit seal: the test encryption of "a", then encrypt and decrypt, as PUT requests', async () => {
    const put = (path: string, body: unknown) =>
      new Promise<{ status: number; body: { data?: Record<string, string>; errors?: string[] } }>(
        (resolve, reject) => {
          const text = JSON.stringify(body);
          const req = request(
            `${endpoint}/v1/${path}`,
            {
              method: 'PUT',
              ca: ca.meshCa.pem,
              ...clients.vault,
              headers: {
                'content-type': 'application/json',
                'content-length': Buffer.byteLength(text),
                'x-vault-token': 'unused',
                'x-vault-request': 'true',
              },
            },
            (res) => {
              let data = '';
              res.on('data', (d) => {
                data += d;
              });
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) }));
            },
          );
          req.on('error', reject);
          req.end(text);
        },
      );
    const probe = await put('transit/encrypt/vault', { plaintext: Buffer.from('a').toString('base64') });
    expect(probe.status).toBe(200);
    // The wrapper takes the key id from the middle of the ciphertext ("v1").
    expect(probe.body.data?.ciphertext?.split(':')).toHaveLength(3);
    expect(probe.body.data?.ciphertext?.split(':')[1]).toBe('v1');
    const rootKey = Buffer.from(new Uint8Array(32).fill(0x42)).toString('base64');
    const enc = await put('transit/encrypt/vault', { plaintext: rootKey });
    const dec = await put('transit/decrypt/vault', { ciphertext: enc.body.data?.ciphertext });
    expect(dec.status).toBe(200);
    expect(dec.body.data?.plaintext).toBe(rootKey);
    // Vault's error shape for a bad request.
    const bad = await put('transit/decrypt/vault', { ciphertext: 'vault:v1:AAAA' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors?.[0]).toMatch(/ciphertext/);
    // A body nested past the bounds is refused before it is parsed.
    let deep: unknown = 'x';
    for (let i = 0; i < 10; i++) deep = [deep];
    const nested = await put('transit/encrypt/vault', { plaintext: 'YQ==', associated_data: deep });
    expect(nested.status).toBe(400);
    expect(nested.body.errors?.[0]).toMatch(/body nests deeper than 4 levels/);
  });

  it('after recovery (a new engine from the same seed) the same ciphertext decrypts', async () => {
    const enc = await client('vault').encryptData({ name: 'vault', plaintext: 'c2VjcmV0' });
    const serverId = await meshIdentity(ca, undefined, ['coordinator', '127.0.0.1']);
    const recovered = await startTransitServer({
      engine: new TransitEngine(new SeedEngine(seed.slice(), salt.slice())),
      credentials: { ...serverId, clientCa: ca.meshCa.pem },
      logger,
      host: '127.0.0.1',
      port: 0,
    });
    try {
      const c = vault({
        apiVersion: 'v1',
        endpoint: `https://127.0.0.1:${recovered.port}`,
        token: 'x',
        requestOptions: { ca: ca.meshCa.pem, ...clients.vault },
      });
      expect((await c.decryptData({ name: 'vault', ciphertext: enc.data.ciphertext })).data.plaintext).toBe(
        'c2VjcmV0',
      );
    } finally {
      await recovered.close();
    }
  });
});
