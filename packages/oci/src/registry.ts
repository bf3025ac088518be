import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createGunzip } from 'node:zlib';
import type { ImageConfig, ImageFacts, ImageSource } from '@contrast-cc/core';
import {
  ContrastError,
  type Logger,
  networkReason,
  noopLogger,
  type ReadBodyOptions,
  readBody,
  retryAfterMs,
  withRetries,
} from '@contrast-cc/core';
import { z } from 'zod';
import { type EtcFileChange, LayerCache, type LayerEtcFacts } from './layer-cache.js';
import { type ImageReference, parseImageReference, pinnedReference } from './reference.js';
import { TarStreamReader } from './tar.js';

const MT = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
};
const GZIP_LAYERS = [
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
];
const TAR_LAYERS = ['application/vnd.oci.image.layer.v1.tar', 'application/vnd.docker.image.rootfs.diff.tar'];

export interface RegistryClientOptions {
  /** Registries reached over plain HTTP (host[:port] as written in references, or mirror hosts). */
  insecureRegistries?: string[];
  /** Registry host rewrites, like containerd's hosts.toml: `{ "docker.io": "mirror.example:5000" }`. */
  mirrors?: Record<string, string>;
  /** Directory holding config.json; default `$DOCKER_CONFIG` or `~/.docker`. */
  dockerConfigDir?: string;
  /** On-disk layer cache directory (per-layer /etc facts keyed by diff_id). */
  cacheDir?: string;
  /** Platform picked from indexes; default linux/amd64. */
  platform?: { os: string; architecture: string };
  fetch?: typeof fetch;
  /**
   * How long a registry request may go without progress (default 60 s): no answer, or no body
   * bytes, for this long fails it with `unavailable` instead of hanging `contrast generate`. A
   * large layer that keeps arriving takes as long as it takes.
   */
  timeoutMs?: number;
  /** Attempts per registry request (default 3; 1 turns retries off): see `retryDelayMs`. */
  attempts?: number;
  /**
   * The wait before the second attempt (default 1000 ms), doubling; a Retry-After counts when
   * longer (more than 60 s fails at once). Retried: no answer, a stall, a dropped connection,
   * 429/500/502/503/504.
   */
  retryDelayMs?: number;
  /**
   * The largest uncompressed layer read (default 32 GiB): a layer (or a gzip bomb) that unpacks to
   * more fails with `invalid-argument`. Layers are streamed, never held: this bounds time, not memory.
   */
  maxLayerBytes?: number;
  logger?: Logger;
}

/** Options of one {@link RegistryImageSource.resolve}. */
export interface ResolveOptions {
  /** Also read /etc/passwd and /etc/group from the layers. */
  users?: boolean;
  /** Aborts the resolution (every request in flight); it then fails with `unavailable`. */
  signal?: AbortSignal;
}

// What the registry sends is parsed, not cast: a malformed document is `invalid-argument`
// naming the image, never a raw SyntaxError or a TypeError later on.
const ImageConfigDocSchema = z.object({
  config: z
    .object({
      Env: z.array(z.string()).nullish(),
      Entrypoint: z.array(z.string()).nullish(),
      Cmd: z.array(z.string()).nullish(),
      WorkingDir: z.string().nullish(),
      User: z.string().nullish(),
      Volumes: z.record(z.string(), z.unknown()).nullish(),
    })
    .nullish(),
  rootfs: z.object({ diff_ids: z.array(z.string()).nullish() }).nullish(),
});
const TokenResponseSchema = z.object({ token: z.string().optional(), access_token: z.string().optional() });

interface Credentials {
  username: string;
  password: string;
}

interface Manifest {
  mediaType?: string;
  config: { digest: string; mediaType?: string };
  layers: Array<{ digest: string; mediaType: string; size?: number }>;
}

/** Statuses another attempt may change. */
const TRANSIENT_STATUS = new Set([429, 500, 502, 503, 504]);
const MAX_RETRY_AFTER_MS = 60_000;
/** A failure worth another attempt, with the Retry-After its answer gave (ms), if any. */
class TransientRegistryError extends ContrastError {
  constructor(
    message: string,
    readonly retryAfterMs: number | undefined,
    cause?: unknown,
  ) {
    super('unavailable', message, { field: 'image', ...(cause === undefined ? {} : { cause }) });
  }
}

/** The largest manifest read: OCI distribution registries accept manifests of at least 4 MiB, no more is needed. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** The largest config blob read (image configs are kilobytes; a long history makes a few hundred). */
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** {@link readBody}'s bounds for a registry document: `what` (manifest, blob) named when too large. */
function capped(maxBytes: number, onChunk: () => void, what: string): ReadBodyOptions {
  return {
    maxBytes,
    onChunk,
    tooLarge: () =>
      new ContrastError('invalid-argument', `${what} is larger than ${maxBytes} bytes`, { field: 'image' }),
  };
}

/** A blob whose content does not hash to its digest. */
function digestMismatch(ref: ImageReference, digest: string): ContrastError {
  return new ContrastError(
    'attestation-failed',
    `blob ${digest} of ${ref.repository}: content digest mismatch`,
    {
      field: 'digest',
    },
  );
}

function sha256(b: Uint8Array): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^(\w+)\s*(.*)$/.exec(header.trim());
  const params: Record<string, string> = {};
  for (const p of (m?.[2] ?? '').matchAll(/(\w+)="([^"]*)"/g))
    params[(p[1] as string).toLowerCase()] = p[2] as string;
  return { scheme: (m?.[1] ?? '').toLowerCase(), params };
}

/**
 * An OCI distribution client as an {@link ImageSource}: manifest (index -> platform manifest),
 * config and layer blobs, every one verified against its digest; /etc/passwd and /etc/group read
 * from the layers only when the image user has to be resolved; per-layer results cached on disk.
 */
export class RegistryImageSource implements ImageSource {
  readonly #opts: RegistryClientOptions;
  readonly #fetch: typeof fetch;
  readonly #logger: Logger;
  readonly #tokens = new Map<string, string>();
  readonly #cache: LayerCache | undefined;
  readonly #inflight = new Map<string, Promise<LayerEtcFacts>>();
  /** Number of blob downloads (for tests and diagnostics). */
  blobFetches = 0;

  constructor(options: RegistryClientOptions = {}) {
    this.#opts = options;
    this.#fetch = options.fetch ?? fetch;
    this.#logger = options.logger ?? noopLogger;
    this.#cache = options.cacheDir ? new LayerCache(options.cacheDir) : undefined;
  }

  async resolve(refText: string, options: ResolveOptions = {}): Promise<ImageFacts> {
    const ref = parseImageReference(refText);
    const signal = options.signal;
    const top = await this.#getManifest(ref, ref.digest ?? (ref.tag as string), signal);
    let manifest = top.json as Manifest & {
      manifests?: Array<{ digest: string; platform?: { os?: string; architecture?: string } }>;
    };
    if (
      top.mediaType === MT.ociIndex ||
      top.mediaType === MT.dockerList ||
      Array.isArray(manifest.manifests)
    ) {
      const want = this.#opts.platform ?? { os: 'linux', architecture: 'amd64' };
      const entry = (manifest.manifests ?? []).find(
        (m) => m.platform?.os === want.os && m.platform?.architecture === want.architecture,
      );
      if (!entry) {
        throw new ContrastError(
          'not-found',
          `image ${refText} has no ${want.os}/${want.architecture} manifest`,
          { field: 'image' },
        );
      }
      manifest = (await this.#getManifest(ref, entry.digest, signal)).json as typeof manifest;
    }
    if (!manifest.config?.digest || !Array.isArray(manifest.layers)) {
      throw new ContrastError('invalid-argument', `image ${refText}: manifest lacks config or layers`, {
        field: 'image',
      });
    }
    const configBytes = await this.#getBlob(ref, manifest.config.digest, signal);
    let configJson: unknown;
    try {
      configJson = JSON.parse(Buffer.from(configBytes).toString('utf8'));
    } catch {
      throw new ContrastError('invalid-argument', `image ${refText}: the config blob is not JSON`, {
        field: 'config',
      });
    }
    const parsedConfig = ImageConfigDocSchema.safeParse(configJson);
    if (!parsedConfig.success) {
      const issue = parsedConfig.error.issues[0];
      throw new ContrastError(
        'invalid-argument',
        `image ${refText}: config ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
        { field: 'config' },
      );
    }
    const configDoc = parsedConfig.data;
    const c = configDoc.config ?? {};
    const config: ImageConfig = {};
    if (c.Env) config.Env = c.Env;
    if (c.Entrypoint) config.Entrypoint = c.Entrypoint;
    if (c.Cmd) config.Cmd = c.Cmd;
    if (c.WorkingDir) config.WorkingDir = c.WorkingDir;
    if (c.User) config.User = c.User;
    if (c.Volumes) config.Volumes = c.Volumes;
    const facts: ImageFacts = { reference: pinnedReference(ref, top.digest), digest: top.digest, config };
    const user = config.User ?? '';
    const needsUsers = options.users === true || user.split(':').some((p) => p !== '' && !/^[0-9]+$/.test(p));
    if (needsUsers) {
      const diffIds = configDoc.rootfs?.diff_ids ?? [];
      if (diffIds.length !== manifest.layers.length) {
        throw new ContrastError(
          'invalid-argument',
          `image ${refText}: ${manifest.layers.length} layers but ${diffIds.length} diff_ids`,
          {
            field: 'rootfs.diff_ids',
          },
        );
      }
      let passwd: string | undefined;
      let group: string | undefined;
      for (const [i, layer] of manifest.layers.entries()) {
        const layerFacts = await this.#layerFacts(ref, layer, diffIds[i] as string, signal);
        if (layerFacts.etc_reset) {
          passwd = undefined;
          group = undefined;
        }
        const apply = (cur: string | undefined, ch: EtcFileChange | undefined): string | undefined =>
          ch === undefined ? cur : ch.state === 'set' ? ch.content : undefined;
        passwd = apply(passwd, layerFacts.passwd);
        group = apply(group, layerFacts.group);
      }
      if (passwd !== undefined) facts.passwd = passwd;
      if (group !== undefined) facts.group = group;
    }
    this.#logger.debug('resolved image', { image: refText, digest: top.digest });
    return facts;
  }

  async #layerFacts(
    ref: ImageReference,
    layer: { digest: string; mediaType: string; size?: number },
    diffId: string,
    signal: AbortSignal | undefined,
  ): Promise<LayerEtcFacts> {
    const cached = await this.#cache?.get(diffId);
    if (cached) return cached;
    const running = this.#inflight.get(diffId);
    if (running) return running;
    const p = (async () => {
      const facts = await this.#streamLayer(ref, layer, diffId, signal);
      await this.#cache?.put(facts);
      return facts;
    })();
    this.#inflight.set(diffId, p);
    try {
      return await p;
    } finally {
      this.#inflight.delete(diffId);
    }
  }

  #host(ref: ImageReference): string {
    const mirrored = this.#opts.mirrors?.[ref.registry] ?? ref.registry;
    return mirrored === 'docker.io' ? 'registry-1.docker.io' : mirrored;
  }

  #base(ref: ImageReference): string {
    const host = this.#host(ref);
    const insecure = this.#opts.insecureRegistries ?? [];
    const scheme = insecure.includes(host) || insecure.includes(ref.registry) ? 'http' : 'https';
    return `${scheme}://${host}/v2/${ref.repository}`;
  }

  async #getManifest(
    ref: ImageReference,
    reference: string,
    signal: AbortSignal | undefined,
  ): Promise<{ json: unknown; mediaType: string; digest: string }> {
    const url = `${this.#base(ref)}/manifests/${reference}`;
    const body = await this.#bounded(ref, url, signal, async (s, progress) => {
      const res = await this.#request(
        ref,
        url,
        {
          accept: [MT.ociIndex, MT.dockerList, MT.ociManifest, MT.dockerManifest].join(', '),
        },
        s,
      );
      return {
        res,
        bytes: await readBody(res, capped(MAX_MANIFEST_BYTES, progress, `manifest ${reference}`)),
      };
    });
    const res = body.res;
    return this.#checkedManifest(ref, reference, res, body.bytes);
  }

  #checkedManifest(
    ref: ImageReference,
    reference: string,
    res: Response,
    body: Uint8Array,
  ): { json: unknown; mediaType: string; digest: string } {
    const digest = sha256(body);
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw new ContrastError(
        'attestation-failed',
        `manifest ${reference} of ${ref.repository}: content has digest ${digest}`,
        {
          field: 'image',
        },
      );
    }
    const header = res.headers.get('docker-content-digest');
    if (header?.startsWith('sha256:') && header !== digest) {
      throw new ContrastError(
        'attestation-failed',
        `manifest of ${ref.repository}: Docker-Content-Digest ${header} != content ${digest}`,
        {
          field: 'image',
        },
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(body).toString('utf8'));
    } catch {
      throw new ContrastError('invalid-argument', `manifest of ${ref.repository} is not JSON`, {
        field: 'image',
      });
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new ContrastError('invalid-argument', `manifest of ${ref.repository} is not a JSON object`, {
        field: 'image',
      });
    }
    const declared = (json as { mediaType?: unknown }).mediaType;
    const mediaType =
      typeof declared === 'string' ? declared : ((res.headers.get('content-type') ?? '').split(';')[0] ?? '');
    return { json, mediaType, digest };
  }

  /**
   * Downloads a layer as a stream: its bytes hashed against the digest (and never more than the
   * size the manifest gives), unpacked and hashed against the diff_id, and scanned for etc/passwd
   * and etc/group on the way, in constant memory. Checked when the stream ends: the digest first,
   * then the diff_id, then the archive.
   */
  async #streamLayer(
    ref: ImageReference,
    layer: { digest: string; mediaType: string; size?: number },
    diffId: string,
    signal: AbortSignal | undefined,
  ): Promise<LayerEtcFacts> {
    const gzip = GZIP_LAYERS.includes(layer.mediaType);
    if (!gzip && !TAR_LAYERS.includes(layer.mediaType)) {
      throw new ContrastError(
        'invalid-argument',
        `layer ${layer.digest} has unsupported media type ${layer.mediaType}`,
        {
          field: 'layers.mediaType',
        },
      );
    }
    const url = this.#blobUrl(ref, layer.digest);
    const maxPlain = this.#opts.maxLayerBytes ?? 32 * 1024 ** 3;
    return this.#bounded(ref, url, signal, async (s, progress) => {
      const res = await this.#request(ref, url, {}, s);
      const packed = createHash('sha256');
      const plain = createHash('sha256');
      const { reader, facts } = layerFactsReader(diffId);
      let packedSize = 0;
      let plainSize = 0;
      // What went wrong past the digest: reported only once the digest has been checked, since
      // a tampered layer is first of all a digest mismatch.
      let broken: ContrastError | undefined;
      const unpacked = (chunk: Buffer) => {
        if (broken) return;
        plainSize += chunk.length;
        if (plainSize > maxPlain) {
          broken = new ContrastError(
            'invalid-argument',
            `layer ${layer.digest} unpacks to more than ${maxPlain} bytes`,
            {
              field: 'maxLayerBytes',
            },
          );
          return;
        }
        plain.update(chunk);
        try {
          reader.push(chunk);
        } catch (e) {
          broken = e instanceof ContrastError ? e : new ContrastError('invalid-argument', String(e));
        }
      };
      const gunzip = gzip ? createGunzip() : undefined;
      gunzip?.on('data', unpacked);
      const gunzipDone = gunzip
        ? new Promise<void>((resolve) => {
            gunzip.once('end', resolve);
            gunzip.once('error', (e) => {
              broken ??= new ContrastError(
                'invalid-argument',
                `layer ${layer.digest} is not valid gzip: ${e.message}`,
                {
                  field: 'layers',
                },
              );
              resolve();
            });
          })
        : Promise.resolve();
      const body = res.body?.getReader();
      while (body) {
        const { done, value } = await body.read();
        if (done) break;
        progress();
        packedSize += value.byteLength;
        if (layer.size !== undefined && packedSize > layer.size) {
          await body.cancel().catch(() => undefined);
          throw new ContrastError(
            'attestation-failed',
            `layer ${layer.digest}: more than the ${layer.size} bytes its manifest gives`,
            {
              field: 'digest',
            },
          );
        }
        packed.update(value);
        const chunk = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
        if (!gunzip) unpacked(chunk);
        else if (!broken && !gunzip.write(chunk)) {
          await new Promise<void>((resolve) => {
            gunzip.once('drain', resolve);
            gunzip.once('error', () => resolve());
          });
        }
      }
      gunzip?.end();
      await gunzipDone;
      if (`sha256:${packed.digest('hex')}` !== layer.digest) throw digestMismatch(ref, layer.digest);
      if (broken) throw broken;
      if (`sha256:${plain.digest('hex')}` !== diffId) {
        throw new ContrastError(
          'attestation-failed',
          `layer ${layer.digest}: uncompressed content does not match diff_id ${diffId}`,
          { field: 'rootfs.diff_ids' },
        );
      }
      reader.end();
      return facts;
    });
  }

  /** The URL of a blob, its digest checked first (sha256 only); counts the fetch about to be made. */
  #blobUrl(ref: ImageReference, digest: string): string {
    if (!/^sha256:[a-f0-9]{64}$/.test(digest)) {
      throw new ContrastError('invalid-argument', `unsupported blob digest ${JSON.stringify(digest)}`, {
        field: 'digest',
      });
    }
    this.blobFetches++;
    return `${this.#base(ref)}/blobs/${digest}`;
  }

  async #getBlob(ref: ImageReference, digest: string, signal: AbortSignal | undefined): Promise<Uint8Array> {
    const url = this.#blobUrl(ref, digest);
    const { bytes: body } = await this.#bounded(ref, url, signal, async (s, progress) => {
      const res = await this.#request(ref, url, {}, s);
      return { res, bytes: await readBody(res, capped(MAX_CONFIG_BYTES, progress, `blob ${digest}`)) };
    });
    if (sha256(body) !== digest) throw digestMismatch(ref, digest);
    return body;
  }

  /**
   * {@link #attempt}, retried when another attempt can help (no answer, a stall, a dropped
   * connection, 429/500/502/503/504): `attempts` in all, `retryDelayMs` apart doubling, or the
   * registry's Retry-After (more than 60 s fails at once). Registry reads are idempotent GETs.
   */
  async #bounded<T>(
    ref: ImageReference,
    url: string,
    signal: AbortSignal | undefined,
    work: (signal: AbortSignal, progress: () => void) => Promise<T>,
  ): Promise<T> {
    return withRetries(
      () => this.#attempt(ref, url, signal, work),
      (e) => (e instanceof TransientRegistryError ? { retryAfterMs: e.retryAfterMs } : undefined),
      {
        attempts: this.#opts.attempts ?? 3,
        delayMs: this.#opts.retryDelayMs ?? 1000,
        maxRetryAfterMs: MAX_RETRY_AFTER_MS,
        tooLong: (e, asked) =>
          new ContrastError(
            (e as ContrastError).code,
            `${(e as Error).message} (asked to retry in ${Math.ceil(asked / 1000)} s, more than the ${MAX_RETRY_AFTER_MS / 1000} s waited for)`,
            { field: 'image', cause: e },
          ),
        onRetry: (e, attempt, waitMs) =>
          this.#logger.warn('registry request failed, retrying', {
            url,
            attempt,
            error: (e as Error).message,
            waitMs,
          }),
        ...(signal ? { signal } : {}),
      },
    );
  }

  /** One request (headers and body) under the stall timeout and the caller's signal. */
  async #attempt<T>(
    ref: ImageReference,
    url: string,
    signal: AbortSignal | undefined,
    work: (signal: AbortSignal, progress: () => void) => Promise<T>,
  ): Promise<T> {
    const timeoutMs = this.#opts.timeoutMs ?? 60_000;
    const stall = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let answered = false;
    const progress = () => {
      clearTimeout(timer);
      timer = setTimeout(() => stall.abort(new Error('stalled')), timeoutMs);
    };
    const combined = signal ? AbortSignal.any([stall.signal, signal]) : stall.signal;
    const where = `registry ${this.#host(ref)}: ${url.replace(/^https?:\/\/[^/]+/, '')}`;
    try {
      progress();
      return await work(combined, () => {
        answered = true;
        progress();
      });
    } catch (e) {
      if (e instanceof ContrastError) throw e;
      if (signal?.aborted)
        throw new ContrastError('unavailable', `${where}: aborted`, { field: 'image', cause: e });
      const what = stall.signal.aborted
        ? answered
          ? `no data for ${timeoutMs} ms`
          : `no answer within ${timeoutMs} ms`
        : networkReason(e);
      throw new TransientRegistryError(`${where}: ${what}`, undefined, e);
    } finally {
      clearTimeout(timer);
    }
  }

  async #request(
    ref: ImageReference,
    url: string,
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<Response> {
    const key = `${this.#host(ref)}/${ref.repository}`;
    const send = (auth?: string): Promise<Response> =>
      this.#fetch(url, {
        headers: { ...headers, ...(auth ? { authorization: auth } : {}) },
        redirect: 'follow',
        signal,
      });
    const token = this.#tokens.get(key);
    let res = await send(token);
    if (res.status === 401) {
      const challenge = parseChallenge(res.headers.get('www-authenticate') ?? '');
      const creds = await this.#credentials(ref);
      await res.body?.cancel().catch(() => undefined);
      let auth: string | undefined;
      if (challenge.scheme === 'bearer')
        auth = `Bearer ${await this.#token(challenge.params, creds, ref, signal)}`;
      else if (challenge.scheme === 'basic' && creds) {
        auth = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
      }
      if (auth) {
        this.#tokens.set(key, auth);
        res = await send(auth);
      }
    }
    if (!res.ok) {
      const reason = await registryErrorReason(res);
      const what = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${reason ? `: ${reason}` : ''}`;
      const code =
        res.status === 401 || res.status === 403
          ? 'permission-denied'
          : res.status === 404
            ? 'not-found'
            : 'unavailable';
      const message = `registry ${this.#host(ref)}: ${url.replace(/^https?:\/\/[^/]+/, '')}: ${what}`;
      if (TRANSIENT_STATUS.has(res.status)) {
        // Every transient status is a server-side 'unavailable'.
        throw new TransientRegistryError(message, retryAfterMs(res.headers.get('retry-after')));
      }
      throw new ContrastError(code, message, { field: 'image' });
    }
    return res;
  }

  async #token(
    params: Record<string, string>,
    creds: Credentials | undefined,
    ref: ImageReference,
    signal: AbortSignal,
  ): Promise<string> {
    const realm = params.realm;
    if (!realm || !/^https?:\/\//.test(realm)) {
      throw new ContrastError('invalid-argument', 'registry bearer challenge without an http(s) realm', {
        field: 'image',
      });
    }
    const u = new URL(realm);
    if (params.service) u.searchParams.set('service', params.service);
    u.searchParams.set('scope', params.scope ?? `repository:${ref.repository}:pull`);
    const headers: Record<string, string> = {};
    if (creds)
      headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    const res = await this.#fetch(u, { headers, signal });
    if (!res.ok) {
      const reason = await registryErrorReason(res);
      throw new ContrastError(
        'permission-denied',
        `registry ${this.#host(ref)}: token request to ${u.host} failed: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${reason ? `: ${reason}` : ''} (are docker credentials set up?)`,
        {
          field: 'image',
        },
      );
    }
    let answer: unknown;
    try {
      // A token answer is a few KiB; a larger one is no token.
      const body = await readBody(res, { maxBytes: 1024 * 1024, tooLarge: () => new Error('too large') });
      answer = JSON.parse(new TextDecoder().decode(body));
    } catch {
      answer = undefined;
    }
    const parsedToken = TokenResponseSchema.safeParse(answer);
    const token = parsedToken.success ? (parsedToken.data.token ?? parsedToken.data.access_token) : undefined;
    if (!token)
      throw new ContrastError('permission-denied', `token response from ${u.host} has no token`, {
        field: 'image',
      });
    return token;
  }

  async #credentials(ref: ImageReference): Promise<Credentials | undefined> {
    const dir = this.#opts.dockerConfigDir ?? process.env.DOCKER_CONFIG ?? path.join(os.homedir(), '.docker');
    let config: {
      auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
      credHelpers?: Record<string, string>;
      credsStore?: string;
    };
    try {
      config = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8'));
    } catch {
      return undefined;
    }
    const keys = [
      ref.registry,
      this.#host(ref),
      ...(ref.registry === 'docker.io' ? ['https://index.docker.io/v1/', 'index.docker.io'] : []),
    ];
    const helper = keys.map((k) => config.credHelpers?.[k]).find(Boolean) ?? config.credsStore;
    for (const k of keys) {
      const a = config.auths?.[k];
      if (!a) continue;
      if (a.identitytoken) {
        this.#logger.warn('docker identity tokens are not supported; trying anonymous access', {
          registry: k,
        });
        return undefined;
      }
      if (a.username && a.password) return { username: a.username, password: a.password };
      if (a.auth) {
        const decoded = Buffer.from(a.auth, 'base64').toString('utf8');
        const i = decoded.indexOf(':');
        if (i > 0) return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
      }
    }
    if (helper && /^[\w.-]+$/.test(helper)) return this.#helper(helper, keys[0] as string);
    return undefined;
  }

  #helper(helper: string, server: string): Promise<Credentials | undefined> {
    return new Promise((resolve) => {
      const child = execFile(`docker-credential-${helper}`, ['get'], { timeout: 10_000 }, (err, stdout) => {
        if (err) {
          this.#logger.warn('docker credential helper failed; trying anonymous access', { helper });
          resolve(undefined);
          return;
        }
        try {
          const v = JSON.parse(stdout) as { Username?: string; Secret?: string };
          resolve(
            v.Username && v.Secret && v.Username !== '<token>'
              ? { username: v.Username, password: v.Secret }
              : undefined,
          );
        } catch {
          resolve(undefined);
        }
      });
      child.stdin?.end(server);
    });
  }
}

/**
 * Reads what a layer does to etc/passwd and etc/group (whiteouts and opaque /etc honoured) as its
 * tar stream arrives: push the uncompressed bytes into `reader`, call `reader.end()`, read `facts`.
 */
export function layerFactsReader(diffId: string): { reader: TarStreamReader; facts: LayerEtcFacts } {
  const facts: LayerEtcFacts = { diff_id: diffId, etc_reset: false };
  const reader = new TarStreamReader(
    (p, type) => type === 'file' && (p === 'etc/passwd' || p === 'etc/group'),
    (e) => {
      if (e.path === '.wh.etc' || e.path === 'etc/.wh..wh..opq') {
        facts.etc_reset = true;
        // entries for etc/* in the same layer (before or after) still apply on top
        return;
      }
      if (e.path === 'etc' && e.type !== 'dir') facts.etc_reset = true;
      for (const name of ['passwd', 'group'] as const) {
        if (e.path === `etc/${name}` && e.type === 'file')
          facts[name] = { state: 'set', content: e.data.toString('utf8') };
        if (e.path === `etc/.wh.${name}`) facts[name] = { state: 'deleted' };
      }
    },
  );
  return { reader, facts };
}

/** The registry's own reason from an error answer (OCI `{"errors":[{code,message}]}`), short. */
async function registryErrorReason(res: Response): Promise<string | undefined> {
  let text: string;
  try {
    // Only the first few hundred characters are shown: 64 KiB is plenty to find them.
    const body = await readBody(res, { maxBytes: 64 * 1024, tooLarge: () => new Error('too large') });
    text = new TextDecoder().decode(body);
  } catch {
    return undefined;
  }
  try {
    const body = JSON.parse(text) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    if (Array.isArray(body.errors)) {
      const reasons = body.errors
        .map((x) => [x?.code, x?.message].filter((v) => typeof v === 'string' && v !== '').join(': '))
        .filter(Boolean);
      if (reasons.length > 0) return reasons.join('; ').slice(0, 300);
    }
  } catch {
    // not JSON: fall through to the text
  }
  const line = text.trim().split('\n')[0]?.trim() ?? '';
  return line && !line.startsWith('<') ? line.slice(0, 200) : undefined;
}
