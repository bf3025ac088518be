import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseImageReference } from './reference.js';
import { RegistryImageSource } from './registry.js';
import { HAS_REGISTRY, LocalRegistry, makeTar, REGISTRY_BIN, sha256 } from './testing/index.js';

if (!HAS_REGISTRY) {
  console.warn(
    `\n!!! SKIPPING registry tests: ${REGISTRY_BIN} not found. Install Debian's docker-registry (apt-get install -y docker-registry) to run them. !!!\n`,
  );
}

describe('image references', () => {
  it('applies Docker defaults and validates', () => {
    expect(parseImageReference('nginx')).toEqual({
      registry: 'docker.io',
      repository: 'library/nginx',
      tag: 'latest',
      digest: undefined,
    });
    expect(parseImageReference('127.0.0.1:5000/a/b:v1')).toMatchObject({
      registry: '127.0.0.1:5000',
      repository: 'a/b',
      tag: 'v1',
    });
    const d = `sha256:${'a'.repeat(64)}`;
    expect(parseImageReference(`ghcr.io/x/y:t@${d}`)).toMatchObject({ tag: 't', digest: d });
    expect(() => parseImageReference('x@sha256:abc')).toThrow(/digest/);
    expect(() => parseImageReference('UPPER/case')).toThrow(/repository/);
  });
});

describe.skipIf(!HAS_REGISTRY)('RegistryImageSource against a real docker-registry on loopback', () => {
  let reg: LocalRegistry;
  let tmp: string;
  const PASSWD1 = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n';
  const PASSWD2 = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1002::/home/app:/bin/sh\n';
  const GROUP1 = 'root:x:0:\napp:x:1001:\n';
  let userImage: { digest: string; configDigest: string; layerDigests: string[] };

  beforeAll(async () => {
    reg = await LocalRegistry.start();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'contrast-policy-reg-'));
    await reg.pushImage(
      'plain/app',
      'v1',
      { Env: ['PATH=/bin'], Entrypoint: ['/app'], Cmd: ['--serve'], WorkingDir: '/srv', User: '1000:1000' },
      [{ 'etc/passwd': PASSWD1, 'bin/app': 'binary' }],
    );
    userImage = await reg.pushImage('users/app', 'v1', { User: 'app' }, [
      { 'etc/passwd': PASSWD1, 'etc/group': GROUP1 },
      { 'etc/passwd': PASSWD2, 'etc/.wh.group': '' },
    ]);
  }, 60_000);

  afterAll(async () => {
    await reg?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  function client(extra: ConstructorParameters<typeof RegistryImageSource>[0] = {}): RegistryImageSource {
    return new RegistryImageSource({
      insecureRegistries: [reg.host],
      dockerConfigDir: path.join(tmp, 'nodocker'),
      ...extra,
    });
  }

  it('resolves a tag to a digest-pinned reference and reads the config without touching layers', async () => {
    const src = client();
    const facts = await src.resolve(`${reg.host}/plain/app:v1`);
    expect(facts.reference).toMatch(new RegExp(`^${reg.host}/plain/app:v1@sha256:[a-f0-9]{64}$`));
    expect(facts.reference.endsWith(facts.digest)).toBe(true);
    expect(facts.config).toEqual({
      Env: ['PATH=/bin'],
      Entrypoint: ['/app'],
      Cmd: ['--serve'],
      WorkingDir: '/srv',
      User: '1000:1000',
    });
    expect(facts.passwd).toBeUndefined();
    expect(src.blobFetches).toBe(1); // the config only: a numeric user needs no layers
    const again = await client().resolve(facts.reference);
    expect(again.digest).toBe(facts.digest);
  });

  it('reads /etc/passwd and /etc/group from the layers, honouring whiteouts', async () => {
    const facts = await client().resolve(`${reg.host}/users/app:v1`);
    expect(facts.passwd).toBe(PASSWD2);
    expect(facts.group).toBeUndefined(); // whited out by the top layer
  });

  it('picks linux/amd64 from an index and pins the index digest', async () => {
    const amd = await reg.pushImage('multi/app', 'amd', { Env: ['ARCH=amd64'] }, [{ a: '1' }]);
    const arm = await reg.pushImage('multi/app', 'arm', { Env: ['ARCH=arm64'] }, [{ a: '2' }]);
    const indexDigest = await reg.pushIndex('multi/app', 'v1', [
      { ...arm, architecture: 'arm64' },
      { ...amd, architecture: 'amd64' },
    ]);
    const facts = await client().resolve(`${reg.host}/multi/app:v1`);
    expect(facts.config.Env).toEqual(['ARCH=amd64']);
    expect(facts.digest).toBe(indexDigest);
  });

  it('rejects a manifest whose content does not match the pinned digest', async () => {
    const wrong = `sha256:${'0'.repeat(64)}`;
    await expect(client().resolve(`${reg.host}/plain/app@${wrong}`)).rejects.toMatchObject({
      code: 'not-found',
    });
  });

  it('rejects tampered config and layer blobs (digest verification)', async () => {
    const img = await reg.pushImage('tamper/app', 'v1', { User: 'app' }, [{ 'etc/passwd': PASSWD1 }]);
    const layerFile = reg.blobPath(img.layerDigests[0] as string);
    const original = await readFile(layerFile);
    const tampered = Buffer.from(original);
    tampered[tampered.length - 5] = (tampered[tampered.length - 5] as number) ^ 0xff;
    await writeFile(layerFile, tampered);
    await expect(client().resolve(`${reg.host}/tamper/app:v1`)).rejects.toMatchObject({
      code: 'attestation-failed',
    });
    await writeFile(layerFile, original);
    const configFile = reg.blobPath(img.configDigest);
    const cfg = await readFile(configFile);
    await writeFile(configFile, Buffer.from(cfg.toString().replace('"app"', '"ap2"')));
    await expect(client().resolve(`${reg.host}/tamper/app:v1`)).rejects.toMatchObject({
      code: 'attestation-failed',
    });
    await writeFile(configFile, cfg);
    await expect(client().resolve(`${reg.host}/tamper/app:v1`)).resolves.toMatchObject({ passwd: PASSWD1 });
  });

  it('caches per-layer facts on disk by diff_id (concurrency-safe, shared across clients)', async () => {
    const cacheDir = path.join(tmp, 'cache');
    const a = client({ cacheDir });
    const b = client({ cacheDir });
    const [fa, fb] = await Promise.all([
      a.resolve(`${reg.host}/users/app:v1`),
      b.resolve(`${reg.host}/users/app:v1`),
    ]);
    expect(fa.passwd).toBe(PASSWD2);
    expect(fb.passwd).toBe(PASSWD2);
    const c = client({ cacheDir });
    const fc = await c.resolve(`${reg.host}/users/app:v1`);
    expect(fc.passwd).toBe(PASSWD2);
    expect(c.blobFetches).toBe(1); // config only; both layers from the cache
    expect(userImage.layerDigests).toHaveLength(2);
  });

  it('rewrites registry hosts through mirrors and keeps the original name in the pin', async () => {
    const facts = await client({ mirrors: { 'registry.example': reg.host } }).resolve(
      'registry.example/plain/app:v1',
    );
    expect(facts.reference).toMatch(/^registry\.example\/plain\/app:v1@sha256:/);
  });

  describe('bearer token auth (loopback auth proxy in front of the registry)', () => {
    let proxy: http.Server;
    let proxyHost: string;
    const TOKEN = 'tok-123';
    beforeAll(async () => {
      proxy = http.createServer(async (req, res) => {
        const url = new URL(req.url ?? '/', 'http://x');
        if (url.pathname === '/token') {
          const ok = req.headers.authorization === `Basic ${Buffer.from('alice:s3cret').toString('base64')}`;
          if (!ok || url.searchParams.get('service') !== 'test-registry') {
            res.writeHead(401).end();
            return;
          }
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: TOKEN }));
          return;
        }
        if (req.headers.authorization !== `Bearer ${TOKEN}`) {
          res
            .writeHead(401, {
              'www-authenticate': `Bearer realm="http://${proxyHost}/token",service="test-registry",scope="repository:plain/app:pull"`,
            })
            .end();
          return;
        }
        const upstream = await fetch(`http://${reg.host}${req.url}`, {
          headers: { accept: req.headers.accept ?? '*/*' },
        });
        const headers: Record<string, string> = {};
        for (const h of ['content-type', 'docker-content-digest']) {
          const v = upstream.headers.get(h);
          if (v) headers[h] = v;
        }
        res.writeHead(upstream.status, headers).end(Buffer.from(await upstream.arrayBuffer()));
      });
      await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
      proxyHost = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise((r) => proxy.close(r));
    });

    it('uses credentials from DOCKER_CONFIG-style config.json for the token', async () => {
      const dir = path.join(tmp, 'docker');
      await (await import('node:fs/promises')).mkdir(dir, { recursive: true });
      await writeFile(
        path.join(dir, 'config.json'),
        JSON.stringify({ auths: { [proxyHost]: { auth: Buffer.from('alice:s3cret').toString('base64') } } }),
      );
      const facts = await new RegistryImageSource({
        insecureRegistries: [proxyHost],
        dockerConfigDir: dir,
      }).resolve(`${proxyHost}/plain/app:v1`);
      expect(facts.config.Entrypoint).toEqual(['/app']);
    });

    it('uses a docker credential helper (credHelpers)', async () => {
      const dir = path.join(tmp, 'docker-helper');
      const bin = path.join(tmp, 'bin');
      const fsp = await import('node:fs/promises');
      await fsp.mkdir(dir, { recursive: true });
      await fsp.mkdir(bin, { recursive: true });
      await writeFile(
        path.join(dir, 'config.json'),
        JSON.stringify({ credHelpers: { [proxyHost]: 'contrasttest' } }),
      );
      const helper = path.join(bin, 'docker-credential-contrasttest');
      await writeFile(
        helper,
        '#!/bin/sh\nread server\nprintf \'{"ServerURL":"%s","Username":"alice","Secret":"s3cret"}\' "$server"\n',
        { mode: 0o755 },
      );
      const oldPath = process.env.PATH;
      process.env.PATH = `${bin}:${oldPath ?? ''}`;
      try {
        const facts = await new RegistryImageSource({
          insecureRegistries: [proxyHost],
          dockerConfigDir: dir,
        }).resolve(`${proxyHost}/plain/app:v1`);
        expect(facts.config.Entrypoint).toEqual(['/app']);
      } finally {
        process.env.PATH = oldPath;
      }
    });

    it('fails with permission-denied without credentials, and never leaks the secret', async () => {
      const err = await client({ insecureRegistries: [proxyHost] })
        .resolve(`${proxyHost}/plain/app:v1`)
        .catch((e: Error) => e);
      expect(err).toMatchObject({ code: 'permission-denied' });
      expect(String((err as Error).message)).not.toContain('s3cret');
    });
  });

  it('sha256 helper sanity', () => {
    expect(sha256(Buffer.from(''))).toBe(
      'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });
});

describe('a hostile or stalled registry (loopback stand-ins)', () => {
  const servers: http.Server[] = [];
  afterAll(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  });
  async function serve(handler: http.RequestListener): Promise<string> {
    const s = http.createServer(handler);
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return `127.0.0.1:${(s.address() as AddressInfo).port}`;
  }
  const codeOf = (p: Promise<unknown>) =>
    p.then(
      () => 'resolved',
      (e: { code?: string; message?: string }) => `${e.code ?? 'not a ContrastError'}: ${e.message}`,
    );

  it('gives up on a registry that never answers (timeoutMs), and when the caller aborts', async () => {
    const host = await serve(() => undefined);
    const source = new RegistryImageSource({ insecureRegistries: [host], timeoutMs: 200, retryDelayMs: 1 });
    expect(await codeOf(source.resolve(`${host}/app:v1`))).toMatch(/^unavailable: .*no answer within 200 ms/);
    const halt = new AbortController();
    const pending = new RegistryImageSource({ insecureRegistries: [host], retryDelayMs: 1 }).resolve(
      `${host}/app:v1`,
      {
        signal: halt.signal,
      },
    );
    halt.abort();
    expect(await codeOf(pending)).toMatch(/^unavailable: .*aborted/);
  });

  it("names the registry, HTTP status and the registry's reason on an error answer", async () => {
    const host = await serve((_req, res) => {
      res.writeHead(404, 'Not Found', { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
    });
    const out = await codeOf(
      new RegistryImageSource({ insecureRegistries: [host], retryDelayMs: 1 }).resolve(`${host}/app:v1`),
    );
    expect(out).toContain(`not-found: registry ${host}: /v2/app/manifests/v1: HTTP 404 Not Found`);
    expect(out).toContain('MANIFEST_UNKNOWN: manifest unknown');
    const busy = await serve((_req, res) =>
      res.writeHead(503, 'Service Unavailable').end('down for maintenance'),
    );
    expect(
      await codeOf(
        new RegistryImageSource({ insecureRegistries: [busy], retryDelayMs: 1 }).resolve(`${busy}/app:v1`),
      ),
    ).toBe(
      `unavailable: registry ${busy}: /v2/app/manifests/v1: HTTP 503 Service Unavailable: down for maintenance`,
    );
  });

  it('names the registry and the network reason instead of a bare "fetch failed"', async () => {
    // A port that was just listening and is now closed: connection refused.
    const s = http.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const host = `127.0.0.1:${(s.address() as AddressInfo).port}`;
    await new Promise<void>((r) => s.close(() => r()));
    const out = await codeOf(
      new RegistryImageSource({ insecureRegistries: [host], retryDelayMs: 1 }).resolve(`${host}/app:v1`),
    );
    expect(out).toMatch(
      new RegExp(`^unavailable: registry ${host.replace(/\./g, '\\.')}: /v2/app/manifests/v1: `),
    );
    expect(out).toContain('ECONNREFUSED');
    expect(out).not.toMatch(/: fetch failed$/);
  });

  /**
   * A registry stand-in for one image whose user is a name (so its layers are read): the manifest
   * and config as given, the layer blob served by `layer(res)`.
   */
  async function imageServer(
    layerBytes: Buffer,
    diffId: string,
    layer: (res: http.ServerResponse) => void,
    manifestExtra: Record<string, unknown> = {},
  ) {
    const config = Buffer.from(JSON.stringify({ config: { User: 'app' }, rootfs: { diff_ids: [diffId] } }));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { digest: sha256(config), mediaType: 'application/vnd.oci.image.config.v1+json' },
        layers: [
          {
            digest: sha256(layerBytes),
            mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
            size: layerBytes.length,
            ...manifestExtra,
          },
        ],
      }),
    );
    return serve((req, res) => {
      if (req.url?.includes('/manifests/')) {
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end(manifest);
      } else if (req.url === `/v2/app/blobs/${sha256(config)}`) res.end(config);
      else if (req.url === `/v2/app/blobs/${sha256(layerBytes)}`) layer(res);
      else res.writeHead(404).end();
    });
  }
  const PASSWD = 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n';

  it('streams a large layer and reads /etc/passwd at its end', async () => {
    // 48 MiB of files before etc/passwd: held whole (and unpacked whole), that was 48 MiB twice.
    const tar = makeTar({ 'opt/blob': 'x'.repeat(48 * 1024 * 1024), 'etc/passwd': PASSWD });
    const gz = gzipSync(tar, { level: 1 });
    const host = await imageServer(gz, sha256(tar), (res) => {
      res.writeHead(200, { 'content-length': gz.length });
      // In 64 KiB writes, as a registry streams a blob.
      let at = 0;
      const more = () => {
        while (at < gz.length) {
          const ok = res.write(gz.subarray(at, at + 65536));
          at += 65536;
          if (!ok) return void res.once('drain', more);
        }
        res.end();
      };
      more();
    });
    const facts = await new RegistryImageSource({ insecureRegistries: [host], retryDelayMs: 1 }).resolve(
      `${host}/app:v1`,
      {
        users: true,
      },
    );
    expect(facts.passwd).toBe(PASSWD);
  });

  it('lets a slow layer take its time, and gives up one that stalls', async () => {
    const tar = makeTar({ 'etc/passwd': PASSWD, 'opt/data': 'y'.repeat(256 * 1024) });
    const gz = gzipSync(tar, { level: 0 });
    // 20 ms between 2 KiB writes (about 2.6 s in all): longer than timeoutMs, none of its gaps near it.
    const slow = await imageServer(gz, sha256(tar), (res) => {
      res.writeHead(200, { 'content-length': gz.length });
      let at = 0;
      const tick = setInterval(() => {
        res.write(gz.subarray(at, at + 2048));
        at += 2048;
        if (at >= gz.length) {
          clearInterval(tick);
          res.end();
        }
      }, 20);
      res.on('close', () => clearInterval(tick));
    });
    const patient = new RegistryImageSource({ insecureRegistries: [slow], timeoutMs: 2000 });
    expect((await patient.resolve(`${slow}/app:v1`, { users: true })).passwd).toBe(PASSWD);

    const stalled = await imageServer(gz, sha256(tar), (res) => {
      res.writeHead(200, { 'content-length': gz.length });
      res.write(gz.subarray(0, 1000));
    });
    const impatient = new RegistryImageSource({
      insecureRegistries: [stalled],
      timeoutMs: 200,
      retryDelayMs: 1,
    });
    expect(await codeOf(impatient.resolve(`${stalled}/app:v1`, { users: true }))).toMatch(
      new RegExp(
        `^unavailable: registry ${stalled.replace(/\./g, '\\.')}: /v2/app/blobs/sha256:[0-9a-f]{64}: no data for 200 ms$`,
      ),
    );
  });

  it('refuses a gzip bomb, a layer longer than its manifest says, and an oversized manifest', async () => {
    const tar = makeTar({ 'etc/passwd': PASSWD, 'opt/zeros': '\0'.repeat(64 * 1024 * 1024) });
    const bomb = gzipSync(tar, { level: 9 });
    expect(bomb.length).toBeLessThan(256 * 1024);
    const bombHost = await imageServer(bomb, sha256(tar), (res) => res.end(bomb));
    const small = new RegistryImageSource({ insecureRegistries: [bombHost], maxLayerBytes: 8 * 1024 * 1024 });
    expect(await codeOf(small.resolve(`${bombHost}/app:v1`, { users: true }))).toBe(
      `invalid-argument: layer ${sha256(bomb)} unpacks to more than ${8 * 1024 * 1024} bytes`,
    );

    const plain = makeTar({ 'etc/passwd': PASSWD });
    const gz = gzipSync(plain);
    // The manifest says 10 bytes; the registry sends the whole blob.
    const longer = await imageServer(gz, sha256(plain), (res) => res.end(gz), { size: 10 });
    expect(
      await codeOf(
        new RegistryImageSource({ insecureRegistries: [longer] }).resolve(`${longer}/app:v1`, {
          users: true,
        }),
      ),
    ).toBe(`attestation-failed: layer ${sha256(gz)}: more than the 10 bytes its manifest gives`);

    for (const chunked of [false, true]) {
      const huge = await serve((_req, res) => {
        res.writeHead(200, {
          'content-type': 'application/vnd.oci.image.manifest.v1+json',
          ...(chunked ? {} : { 'content-length': 5 * 1024 * 1024 }),
        });
        res.write('{"schemaVersion":2,"pad":"');
        const pad = Buffer.alloc(64 * 1024, 0x61);
        let sent = 0;
        const more = () => {
          while (sent < 5 * 1024 * 1024) {
            sent += pad.length;
            if (!res.write(pad)) return void res.once('drain', more);
          }
          res.end('"}');
        };
        more();
      });
      expect(
        await codeOf(new RegistryImageSource({ insecureRegistries: [huge] }).resolve(`${huge}/app:v1`)),
      ).toBe(`invalid-argument: manifest v1 is larger than ${4 * 1024 * 1024} bytes`);
    }
  });

  it('reports a broken gzip layer whose digest matches as invalid, a tampered one as a digest mismatch', async () => {
    const tar = makeTar({ 'etc/passwd': PASSWD });
    const notGzip = Buffer.from('this is not gzip at all');
    const host = await imageServer(notGzip, sha256(tar), (res) => res.end(notGzip));
    expect(
      await codeOf(
        new RegistryImageSource({ insecureRegistries: [host], retryDelayMs: 1 }).resolve(`${host}/app:v1`, {
          users: true,
        }),
      ),
    ).toMatch(new RegExp(`^invalid-argument: layer ${sha256(notGzip)} is not valid gzip: `));
    const gz = gzipSync(tar);
    const tampered = Buffer.from(gz);
    tampered[20] = (tampered[20] as number) ^ 0xff;
    const bad = await imageServer(gz, sha256(tar), (res) => res.end(tampered));
    expect(
      await codeOf(
        new RegistryImageSource({ insecureRegistries: [bad] }).resolve(`${bad}/app:v1`, { users: true }),
      ),
    ).toBe(`attestation-failed: blob ${sha256(gz)} of app: content digest mismatch`);
  });

  it('retries 503 and a dropped connection, refuses a Retry-After it will not wait, and retries nothing with attempts: 1', async () => {
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { digest: sha256(Buffer.from('{}')), mediaType: 'application/vnd.oci.image.config.v1+json' },
        layers: [],
      }),
    );
    const hits: string[] = [];
    let mode: 'flaky' | 'much-later' = 'flaky';
    const host = await serve((req, res) => {
      const n = hits.push(`${req.url}`);
      if (mode === 'much-later') return void res.writeHead(429, { 'retry-after': '3600' }).end();
      if (n === 1) return void res.writeHead(503).end('busy');
      if (n === 2) return void req.socket.destroy();
      if (req.url?.includes('/manifests/')) {
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end(manifest);
      } else res.end('{}');
    });
    const source = new RegistryImageSource({ insecureRegistries: [host], retryDelayMs: 1 });
    expect((await source.resolve(`${host}/app:v1`)).config).toEqual({});
    expect(hits.filter((h) => h.includes('/manifests/'))).toHaveLength(3);
    mode = 'much-later';
    const before = hits.length;
    expect(await codeOf(source.resolve(`${host}/app:v2`))).toBe(
      `unavailable: registry ${host}: /v2/app/manifests/v2: HTTP 429 Too Many Requests (asked to retry in 3600 s, more than the 60 s waited for)`,
    );
    expect(hits.length - before).toBe(1);
    mode = 'flaky';
    hits.length = 0;
    const once = new RegistryImageSource({ insecureRegistries: [host], attempts: 1 });
    expect(await codeOf(once.resolve(`${host}/app:v1`))).toBe(
      `unavailable: registry ${host}: /v2/app/manifests/v1: HTTP 503 Service Unavailable: busy`,
    );
    expect(hits).toHaveLength(1);
  });

  it('refuses a config blob that is not JSON or of the wrong shape with invalid-argument', async () => {
    for (const [config, message] of [
      ['{not json', /config blob is not JSON/],
      ['{"config":{"Env":"PATH=/bin"}}', /config config\.Env/],
    ] as const) {
      const blob = Buffer.from(config);
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { digest: sha256(blob), mediaType: 'application/vnd.oci.image.config.v1+json' },
          layers: [],
        }),
      );
      const host = await serve((req, res) => {
        if (req.url?.includes('/manifests/')) {
          res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
          res.end(manifest);
        } else if (req.url?.includes('/blobs/')) res.end(blob);
        else res.writeHead(404).end();
      });
      const out = await codeOf(
        new RegistryImageSource({ insecureRegistries: [host], retryDelayMs: 1 }).resolve(`${host}/app:v1`),
      );
      expect(out).toMatch(/^invalid-argument: /);
      expect(out).toMatch(message);
    }
  });
});
