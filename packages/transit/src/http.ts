import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { readMeshCertificate } from '@contrast-cc/certs';
import {
  ContrastError,
  isContrastError,
  type JsonBounds,
  type Logger,
  parseJsonBounded,
} from '@contrast-cc/core';
import { z } from 'zod';
import type { TransitEngine } from './engine.js';

/** The largest request body the transit API reads (Vault's seal sends a few hundred bytes). @public */
export const TRANSIT_MAX_BODY_BYTES = 1024 * 1024;

// The name is the rest of the path: workload secret IDs are `<group>/<version>/<Kind>/<ns>/<name>`
// by default, so it may hold slashes (each segment may also be percent-encoded).
const TRANSIT_JSON_BOUNDS: JsonBounds = { maxDepth: 4, maxValues: 64, field: 'body' };

const ROUTE = /^\/v1\/transit\/(encrypt|decrypt|rewrap|keys)\/(.+)$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const base64 = z
  .string()
  .refine((s) => BASE64.test(s) && s.length % 4 === 0, { message: 'not base64' })
  .transform((s) => new Uint8Array(Buffer.from(s, 'base64')));
// Vault takes key_version as a number or a numeric string.
const keyVersion = z.union([
  z.number().int(),
  z
    .string()
    .regex(/^[0-9]{1,10}$/)
    .transform(Number),
]);
// Options of Vault's transit API that would change what the key is or does; this engine does
// not implement them, so a request using one is refused rather than silently answered otherwise.
const UNSUPPORTED = [
  'batch_input',
  'context',
  'nonce',
  'convergent_encryption',
  'type',
  'key_derivation',
] as const;

const EncryptBody = z.object({
  plaintext: base64,
  key_version: keyVersion.optional(),
  associated_data: base64.optional(),
});
const DecryptBody = z.object({ ciphertext: z.string().min(1), associated_data: base64.optional() });
const RewrapBody = z.object({
  ciphertext: z.string().min(1),
  key_version: keyVersion.optional(),
  associated_data: base64.optional(),
});

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The workload secret ID of the verified client certificate, or undefined. */
export function clientWorkloadSecretId(req: IncomingMessage): string | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== 'function' || socket.authorized !== true) return undefined;
  const raw = socket.getPeerCertificate(false)?.raw;
  if (!raw || raw.length === 0) return undefined;
  try {
    return readMeshCertificate(new Uint8Array(raw)).workloadSecretId;
  } catch {
    return undefined;
  }
}

async function readBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new HttpError(413, `request body over ${limit} bytes`);
  const type = req.headers['content-type'];
  if (type !== undefined && !/^application\/json\b/i.test(type)) {
    throw new HttpError(415, 'content type must be application/json');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, `request body over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  // Bounded before parsing (a few flat fields are all a request has): refused as invalid-argument.
  return parseJsonBounded(text, TRANSIT_JSON_BOUNDS);
}

function parse<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  if (body && typeof body === 'object') {
    for (const key of UNSUPPORTED) {
      if (key in body) throw new HttpError(400, `"${key}" is not supported by this transit engine`);
    }
  }
  const r = schema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new HttpError(400, `${issue.path.join('.') || 'body'}: ${issue.message}`);
  }
  return r.data;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(text);
}

/** Vault's success envelope. */
function ok(data: Record<string, unknown>) {
  return {
    request_id: crypto.randomUUID(),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data,
    wrap_info: null,
    warnings: null,
    auth: null,
  };
}

function versionOf(ciphertext: string): number {
  return Number(/^vault:v([0-9]+):/.exec(ciphertext)?.[1] ?? 0);
}

/** Options of {@link createTransitHandler}. @public */
export interface TransitHandlerOptions {
  engine: TransitEngine;
  logger: Logger;
  maxBodyBytes?: number;
  /** Who is calling (default: the workload secret ID of the verified TLS client certificate). */
  identify?: (req: IncomingMessage) => string | undefined;
}

/**
 * The transit API as a node request handler, with Vault's paths, bodies and error shape
 * (`{"errors": [...]}`): `POST|PUT /v1/transit/{encrypt,decrypt,rewrap}/<name>`. The caller may
 * use key `<name>` only when its mesh certificate's WorkloadSecretID is exactly `<name>`.
 * @public
 */
export function createTransitHandler(options: TransitHandlerOptions) {
  const { engine, logger } = options;
  const limit = options.maxBodyBytes ?? TRANSIT_MAX_BODY_BYTES;
  const identify = options.identify ?? clientWorkloadSecretId;
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const route = ROUTE.exec(path);
    let op = 'unknown';
    try {
      if (!route) throw new HttpError(404, 'no handler for route');
      const [, action, rest] = route;
      const rotate = action === 'keys' && rest!.endsWith('/rotate');
      const rawName = rotate ? rest!.slice(0, -'/rotate'.length) : rest!;
      op = rotate ? 'rotate' : action!;
      if (action === 'keys') {
        throw new HttpError(
          rotate ? 400 : 404,
          'keys are derived from the Contrast seed for every version and kept nowhere: there is nothing to create, read or rotate; encrypt with, or rewrap to, a higher key_version to rotate',
        );
      }
      if (req.method !== 'POST' && req.method !== 'PUT') {
        res.setHeader('allow', 'POST, PUT');
        throw new HttpError(405, `${req.method} is not allowed here`);
      }
      let name: string;
      try {
        name = rawName.split('/').map(decodeURIComponent).join('/');
      } catch {
        throw new HttpError(400, 'the key name is not valid URL encoding');
      }
      const caller = identify(req);
      if (caller === undefined || caller !== name) {
        logger.warn('transit request refused', { op, name, caller: caller ?? null });
        throw new HttpError(403, 'permission denied');
      }
      const body = await readBody(req, limit);
      if (action === 'encrypt') {
        const b = parse(EncryptBody, body);
        const ciphertext = await engine.encrypt(name, b.plaintext, {
          ...(b.key_version !== undefined ? { keyVersion: b.key_version } : {}),
          ...(b.associated_data ? { associatedData: b.associated_data } : {}),
        });
        send(res, 200, ok({ ciphertext, key_version: versionOf(ciphertext) }));
      } else if (action === 'decrypt') {
        const b = parse(DecryptBody, body);
        const plaintext = await engine.decrypt(name, b.ciphertext, {
          ...(b.associated_data ? { associatedData: b.associated_data } : {}),
        });
        send(res, 200, ok({ plaintext: Buffer.from(plaintext).toString('base64') }));
        plaintext.fill(0);
      } else {
        const b = parse(RewrapBody, body);
        if (b.key_version === undefined) {
          throw new HttpError(
            400,
            'key_version is required: keys have no stored latest version; name the version to rewrap to',
          );
        }
        const ciphertext = await engine.rewrap(name, b.ciphertext, {
          keyVersion: b.key_version,
          ...(b.associated_data ? { associatedData: b.associated_data } : {}),
        });
        send(res, 200, ok({ ciphertext, key_version: versionOf(ciphertext) }));
      }
      logger.debug('transit request', { op, name });
    } catch (e) {
      let status = 500;
      let message = 'internal error';
      if (e instanceof HttpError) {
        status = e.status;
        message = e.message;
      } else if (isContrastError(e)) {
        status =
          e.code === 'invalid-argument'
            ? 400
            : e.code === 'permission-denied'
              ? 400
              : e.code === 'precondition-failed' || e.code === 'unavailable'
                ? 503
                : 500;
        message = status === 500 ? 'internal error' : e.message;
      }
      if (status === 500) logger.error('transit request failed', { op, error: errorText(e) });
      if (!res.headersSent) send(res, status, { errors: [message] });
      else res.destroy();
    }
  };
}

function errorText(e: unknown): string {
  return e instanceof ContrastError ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
}
