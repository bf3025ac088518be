import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { createServer as createNetServer, connect as netConnect } from 'node:net';
import path from 'node:path';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { CoordinatorClient, requestMeshCertificate, verifiersForReferenceValues } from '@contrast-cc/api';
import { openSeedShare, recoverSeed } from '@contrast-cc/certs';
import type { HistoryStore } from '@contrast-cc/store';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { deployment, keys, podIssuer, registry, tempStore } from '../testing/index.js';
import { type CoordinatorOptions, type RunningCoordinator, startCoordinator } from './coordinator.js';

// The Coordinator API against hostile clients (issue #21): bodies checked before they are read or
// parsed, a shared cap on buffered request bytes, a nonce flood that must not starve an
// initializer, and no leftovers when the Coordinator cannot start.

const d = deployment(['web']);
const running: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of running.splice(0).reverse()) await c();
});
afterAll(async () => {
  for (const c of running.splice(0).reverse()) await c();
});

const base = (store: HistoryStore): CoordinatorOptions => ({
  store,
  platforms: registry(),
  issuer: podIssuer(d.hashes.coordinator!),
  allowInsecure: true,
  metricsPort: null,
});

async function start(options: Partial<CoordinatorOptions> = {}): Promise<RunningCoordinator> {
  const store = await tempStore();
  running.push(() => store.close());
  const c = await startCoordinator({ ...base(store), ...options });
  running.push(() => c.close());
  return c;
}

/** The user's attested client, as the CLI connects. */
function attest(c: RunningCoordinator) {
  return CoordinatorClient.connect({
    host: c.host,
    port: c.port,
    verifiers: verifiersForReferenceValues(registry(), d.manifestJson.ReferenceValues as never),
    coordinatorPolicyHashes: [d.hashes.coordinator!],
    allowInsecure: true,
  });
}

interface Answer {
  status: number;
  body: { code?: string; error?: string; field?: string };
  /** Whether the server closed the connection after answering. */
  closed: boolean;
}

/**
 * A raw HTTP/1.1 request over TLS: writes the head and `body` (all of it, part of it, or a
 * chunked stream), never more, and resolves with the first answer the server sends.
 */
function raw(
  port: number,
  head: { method?: string; path: string; headers: Record<string, string> },
  body: Buffer | string = '',
  localAddress = '127.0.0.1',
  waitClose = false,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const tcp = netConnect({ host: '127.0.0.1', port, localAddress });
    const socket: TLSSocket = tlsConnect({ socket: tcp, rejectUnauthorized: false });
    running.push(() => void socket.destroy());
    let text = '';
    let answered: Omit<Answer, 'closed'> | undefined;
    const tryParse = () => {
      const split = text.indexOf('\r\n\r\n');
      if (split < 0 || answered) return;
      const length = Number(/content-length: (\d+)/i.exec(text.slice(0, split))?.[1] ?? -1);
      const rest = text.slice(split + 4);
      if (length < 0 || Buffer.byteLength(rest) < length) return;
      answered = { status: Number(text.slice(9, 12)), body: JSON.parse(rest.slice(0, length)) };
      if (!waitClose) return resolve({ ...answered, closed: socket.destroyed || socket.readableEnded });
      // The server closes right after such an answer: wait for it (generously: a busy machine is slow).
      const done = (closed: boolean) => resolve({ ...answered!, closed });
      if (socket.destroyed || socket.readableEnded) return done(true);
      const timer = setTimeout(() => done(false), 10_000);
      socket.once('close', () => {
        clearTimeout(timer);
        done(true);
      });
    };
    socket.on('data', (b: Buffer) => {
      text += b.toString('latin1');
      tryParse();
    });
    socket.on('error', (e) => (answered ? undefined : reject(e)));
    socket.once('secureConnect', () => {
      const lines = [`${head.method ?? 'POST'} ${head.path} HTTP/1.1`, 'host: coordinator'];
      for (const [k, v] of Object.entries(head.headers)) lines.push(`${k}: ${v}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (body.length > 0) socket.write(body);
    });
  });
}

const json = { 'content-type': 'application/json' };

describe('request bodies', () => {
  it('refuses a declared length over the route limit before reading a byte (413)', async () => {
    const c = await start();
    // Nothing of the 16 MiB is sent: the answer must come from the header alone.
    const a = await raw(
      c.port,
      { path: '/v1/mesh/cert', headers: { ...json, 'content-length': String(16 << 20) } },
      '',
      '127.0.0.1',
      true,
    );
    expect(a.status).toBe(413);
    expect(a.body.code).toBe('payload_too_large');
    expect(a.closed).toBe(true);
  });

  it('holds at most maxBufferedBytes of bodies at once: a stalled upload cannot pin more (503)', async () => {
    const c = await start({ limits: { maxBufferedBytes: 256 * 1024 } });
    const declared = { ...json, 'content-length': String(200 * 1024) };
    // Two stalled uploads: each declares 200 KiB, sends 1 KiB, then nothing. Only one fits the
    // budget, so the only answer that can come is the other's 503 (whichever arrived second).
    const stalled = [1, 2].map(() =>
      raw(c.port, { path: '/v1/manifest', headers: declared }, Buffer.alloc(1024, 0x20)),
    );
    for (const p of stalled) p.catch(() => undefined);
    const second = await Promise.race(stalled);
    expect(second.status).toBe(503);
    expect(second.body.code).toBe('unavailable');
    // A chunked upload is counted as it arrives and cut off when it no longer fits.
    const chunk = Buffer.alloc(100 * 1024, 0x20);
    const chunked = Buffer.concat([
      Buffer.from(`${chunk.length.toString(16)}\r\n`),
      chunk,
      Buffer.from('\r\n'),
    ]);
    const third = await raw(
      c.port,
      { path: '/v1/manifest', headers: { ...json, 'transfer-encoding': 'chunked' } },
      chunked,
      '127.0.0.1',
      true,
    );
    expect(third.status).toBe(503);
    expect(third.closed).toBe(true);
    // Small requests still fit beside the stalled one.
    const small = await raw(
      c.port,
      { path: '/v1/mesh/cert', headers: { ...json, 'content-length': '2' } },
      '{}',
    );
    expect(small.body.code).toBe('challenge_required');
  });

  it('refuses deep nesting and huge numbers of values before JSON.parse builds them', async () => {
    const c = await start();
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    const a = await raw(
      c.port,
      { path: '/v1/manifest', headers: { ...json, 'content-length': String(deep.length) } },
      deep,
    );
    expect(a.status).toBe(400);
    expect(a.body.error).toMatch(/nests deeper than/);
    const many = `{"manifest":"","policies":[${'"",'.repeat(50_000)}""]}`;
    const b = await raw(
      c.port,
      { path: '/v1/manifest', headers: { ...json, 'content-length': String(many.length) } },
      many,
    );
    expect(b.status).toBe(400);
    expect(b.body.error).toMatch(/more than 20000 values/);
  });

  it('refuses malformed mesh-certificate bodies with 400 naming the field (the fast bounds and base64 checks)', async () => {
    const c = await start();
    const key = Buffer.from(keys().ownerHex, 'hex').toString('base64');
    const evidence = { kind: 'snp-report', data: Buffer.alloc(48, 1).toString('base64') };
    const post = (body: unknown) => {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      return raw(
        c.port,
        { path: '/v1/mesh/cert', headers: { ...json, 'content-length': String(Buffer.byteLength(text)) } },
        text,
      );
    };
    const cases: [unknown, string][] = [
      // URL-safe characters: Node decodes them, the wire format does not allow them.
      [{ public_key: key, evidence: { ...evidence, data: 'AA-_' } }, 'evidence.data'],
      [{ public_key: key, evidence: { ...evidence, extras: { vcek: 'AAA\n' } } }, 'evidence.extras.vcek'],
      [{ public_key: `${key.slice(0, -4)}ŁAAA`, evidence }, 'public_key'],
      [{ nonce: 'AA=A', public_key: key, evidence }, 'nonce'],
      [{ public_key: 123, evidence }, 'public_key'],
      [{ public_key: key, evidence: { ...evidence, data: ['AAAA'] } }, 'evidence.data'],
      [{ public_key: key, evidence, extra: 1 }, ''],
    ];
    for (const [body, field] of cases) {
      const a = await post(body);
      expect([a.status, a.body.code, a.body.field ?? ''], JSON.stringify(body)).toEqual([
        400,
        'invalid_argument',
        field,
      ]);
      expect(a.body.error).toMatch(new RegExp(`^${field || 'body'}: `));
    }
    // Brackets and escaped quotes inside a string do not count as nesting (the bounds check skips
    // strings); the field is then refused for what it is.
    const tricky = `{"nonce":"\\"${'['.repeat(100)}\\\\","public_key":"${key}"}`;
    const t = await post(tricky);
    expect([t.status, t.body.field]).toEqual([400, 'nonce']);
    expect(t.body.error).toMatch(/must be standard base64/);
    // Nesting outside strings is refused before parsing, as before.
    const deep = await post(`{"evidence":${'['.repeat(20)}${']'.repeat(20)}}`);
    expect([deep.status, deep.body.error]).toEqual([400, expect.stringMatching(/nests deeper than 8/)]);
  });

  it('refuses an EC key at the point at infinity on /v1/peer/recover (it aborted the process) and keeps serving', async () => {
    const c = await start();
    await (await attest(c)).setManifest({ manifest: d.manifest, policies: d.policies });
    const post = (body: unknown) => {
      const text = JSON.stringify(body);
      return raw(
        c.port,
        { path: '/v1/peer/recover', headers: { ...json, 'content-length': String(Buffer.byteLength(text)) } },
        text,
      );
    };
    // Unauthenticated: a nonce from the challenge, then the key; node 20 imports this SPKI and
    // aborted (an assertion, not an exception) when the handler read the key's curve.
    const challenge = await post({});
    expect(challenge.body.code).toBe('challenge_required');
    const nonce = (challenge.body as { nonce?: string }).nonce!;
    const infinity = Buffer.from('3019301306072a8648ce3d020106082a8648ce3d03010703020000', 'hex');
    const evidence = { kind: 'snp-report', data: Buffer.alloc(48, 1).toString('base64') };
    const a = await post({ nonce, ephemeral_public_key: infinity.toString('base64'), evidence });
    expect([a.status, a.body.code, a.body.field]).toEqual([400, 'invalid_argument', 'ephemeral_public_key']);
    expect((await post({})).body.code).toBe('challenge_required');
  });

  it('sets a manifest of several MiB (base64 fields over 4.5 MiB used to answer 500)', async () => {
    const c = await start();
    // The same manifest, padded with JSON whitespace to 6 MiB: still valid, hashed as sent.
    const text = new TextDecoder().decode(d.manifest);
    const padded = new TextEncoder().encode(`${text}${' '.repeat(6 * 1024 * 1024)}`);
    const client = await attest(c);
    const set = await client.setManifest({ manifest: padded, policies: d.policies });
    expect(set.transition_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('answers method and media type errors with their own codes', async () => {
    const c = await start();
    const get = await raw(c.port, { method: 'GET', path: '/v1/manifest', headers: {} });
    expect([get.status, get.body.code]).toEqual([405, 'method_not_allowed']);
    const text = await raw(
      c.port,
      { path: '/v1/manifest', headers: { 'content-type': 'text/plain', 'content-length': '2' } },
      '{}',
    );
    expect([text.status, text.body.code]).toEqual([415, 'unsupported_media_type']);
  });
});

describe('nonce flood', () => {
  it('a flood of challenges from one client does not keep an initializer from its certificate', async () => {
    const c = await start({ limits: { nonces: { max: 500, maxPerClient: 50 } } });
    const client = await attest(c);
    await client.setManifest({ manifest: d.manifest, policies: d.policies });
    // 127.0.0.2 asks for 2,000 challenges (4x the whole store) on 20 keep-alive connections.
    const agent = new Agent({
      keepAlive: true,
      maxSockets: 20,
      localAddress: '127.0.0.2',
      rejectUnauthorized: false,
    });
    running.push(() => agent.destroy());
    const challenge = () =>
      new Promise<string>((resolve, reject) => {
        const req = request(
          { agent, host: c.host, port: c.port, method: 'POST', path: '/v1/mesh/cert', headers: json },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (b: Buffer) => chunks.push(b));
            res.on('end', () =>
              resolve((JSON.parse(Buffer.concat(chunks).toString()) as { code: string }).code),
            );
          },
        );
        req.on('error', reject);
        req.end('{}');
      });
    const flood = async () => {
      for (let i = 0; i < 100; i++) expect(await challenge()).toBe('challenge_required');
    };
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const publicKey = new Uint8Array((key.publicKey as KeyObject).export({ type: 'spki', format: 'der' }));
    // The initializer starts while the flood is on.
    const flooding = Promise.all(Array.from({ length: 20 }, flood));
    const cert = await requestMeshCertificate({
      host: c.host,
      port: c.port,
      issuer: podIssuer(d.hashes.web!),
      publicKey,
    });
    await flooding;
    expect(cert.cert_chain).toContain('BEGIN CERTIFICATE');
    const again = await requestMeshCertificate({
      host: c.host,
      port: c.port,
      issuer: podIssuer(d.hashes.web!),
      publicKey,
    });
    expect(again.cert_chain).toContain('BEGIN CERTIFICATE');
  }, 60_000);
});

describe('a corrupted store', () => {
  it('answers 500 internal (a server fault), not 400 or 404 blaming the client', async () => {
    const store = await tempStore();
    running.push(() => store.close());
    const first = await startCoordinator(base(store));
    const set = await (await attest(first)).setManifest({ manifest: d.manifest, policies: d.policies });
    await first.close();
    // The manifest blob's bytes change on disk; the restarted replica is stale and reads it on recovery.
    const hash = createHash('sha256').update(d.manifest).digest('hex');
    await writeFile(path.join(store.root, 'manifests', hash), 'flipped');
    const c = await startCoordinator(base(store));
    running.push(() => c.close());
    const doc = set.seed_shares_doc!;
    const secret = recoverSeed(doc, [openSeedShare(doc, keys().seedOwnerPrivate)]);
    const refused = await (await attest(c))
      .recover({ ...secret, ownerPrivateKey: keys().seedOwnerPrivate })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 500, apiCode: 'internal' });
  });
});

describe('startCoordinator', () => {
  it('closes the authority (its store watch) and the API server when a later listen fails', async () => {
    const blocker = createNetServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    running.push(() => new Promise<void>((r) => blocker.close(() => r())));
    const taken = (blocker.address() as { port: number }).port;
    const inner = await tempStore();
    running.push(() => inner.close());
    const signals: AbortSignal[] = [];
    const store: HistoryStore = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'watchLatest') {
          return (fn: Parameters<HistoryStore['watchLatest']>[0], signal: AbortSignal) => {
            signals.push(signal);
            return target.watchLatest(fn, signal);
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const failed = await startCoordinator({ ...base(store), metricsPort: taken }).catch((e: Error) => e);
    expect(failed).toBeInstanceOf(Error);
    expect(signals).toHaveLength(1);
    expect(signals[0]!.aborted).toBe(true);
  });
});
