// What the fake Kubernetes API's modules share: the object shapes, the Status error answer, JSON
// bodies, label selectors, copies.
import type { IncomingMessage, ServerResponse } from 'node:http';

const MAX_BODY_BYTES = 3 * 1024 * 1024;

/** The metadata of an object stored through the fake's API (ConfigMap, Pod), as on the wire. @public */
export interface FakeObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
  creationTimestamp: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

/** The metadata of an object a test publishes directly (Service, EndpointSlice): the name is required. @public */
export interface FakePublishedMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  resourceVersion?: string;
  [key: string]: unknown;
}

/** Now as the API server writes timestamps (RFC 3339, whole seconds, UTC). */
export function kubeTimestamp(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/** The 405 answer for a method a resource does not serve. */
export function methodNotAllowed(): HttpError {
  return new HttpError(
    405,
    'MethodNotAllowed',
    'the server does not allow this method on the requested resource',
  );
}

/** Refuses a body whose `metadata.namespace` is not the request's namespace (as the API server does). */
export function checkBodyNamespace(metadata: { namespace?: unknown }, namespace: string): void {
  if (metadata.namespace !== undefined && metadata.namespace !== namespace) {
    throw new HttpError(
      400,
      'BadRequest',
      'the namespace of the provided object does not match the namespace sent on the request',
    );
  }
}

/**
 * Reads a create or replace body: one JSON object whose `kind` is `kind` (or absent) and which has
 * a metadata object. The rest is the caller's to validate.
 */
export async function readObjectBody<T extends { metadata: object }>(
  req: IncomingMessage,
  kind: string,
): Promise<T> {
  const body = (await readJsonObject(req)) as { kind?: unknown; metadata?: unknown };
  if (body.kind !== undefined && body.kind !== kind) {
    throw new HttpError(400, 'BadRequest', `expected kind ${kind}, got ${String(body.kind)}`);
  }
  if (typeof body.metadata !== 'object' || body.metadata === null) {
    throw new HttpError(422, 'Invalid', `${kind} is invalid: metadata: Required value`);
  }
  return body as unknown as T;
}

/** An error the fake answers with a Kubernetes Status object. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export function statusBody(
  status: number,
  reason: string,
  message: string,
  details?: Record<string, unknown>,
) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code: status,
  };
}

export type Requirement =
  | { op: 'exists' | 'notexists'; key: string }
  | { op: 'in' | 'notin'; key: string; values: string[] };

/** Parses a label selector (equality- and set-based). */
export function parseLabelSelector(text: string): Requirement[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim() !== '' || parts.length > 0) parts.push(cur);
  const out: Requirement[] = [];
  for (const raw of parts) {
    const p = raw.trim();
    const not = p.match(/^!\s*([\w./-]+)$/);
    const eq = p.match(/^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/);
    const set = p.match(/^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/);
    const exists = p.match(/^([\w./-]+)$/);
    if (not) out.push({ op: 'notexists', key: not[1]! });
    else if (eq) out.push({ op: eq[2] === '!=' ? 'notin' : 'in', key: eq[1]!, values: [eq[3]!] });
    else if (set) {
      const values = set[3]!.split(',').map((v) => v.trim());
      out.push({ op: set[2] as 'in' | 'notin', key: set[1]!, values });
    } else if (exists) out.push({ op: 'exists', key: exists[1]! });
    else throw new HttpError(400, 'BadRequest', `unable to parse requirement: ${JSON.stringify(p)}`);
  }
  return out;
}

export function matchesLabels(reqs: Requirement[], labels: Record<string, string> = {}): boolean {
  return reqs.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    switch (r.op) {
      case 'exists':
        return has;
      case 'notexists':
        return !has;
      case 'in':
        return has && r.values.includes(labels[r.key]!);
      case 'notin':
        return !has || !r.values.includes(labels[r.key]!);
    }
    return false;
  });
}

export type FieldRequirement = {
  field: 'metadata.name' | 'metadata.namespace';
  value: string;
  negate: boolean;
};

/** Parses a field selector; the fake knows the fields every resource has (name, namespace). */
export function parseFieldSelector(text: string): FieldRequirement[] {
  if (text.trim() === '') return [];
  return text.split(',').map((raw) => {
    const m = raw.trim().match(/^([\w.]+)\s*(==|=|!=)\s*(.*)$/);
    if (!m) throw new HttpError(400, 'BadRequest', `invalid field selector: ${JSON.stringify(raw)}`);
    if (m[1] !== 'metadata.name' && m[1] !== 'metadata.namespace') {
      throw new HttpError(400, 'BadRequest', `field label not supported: ${m[1]}`);
    }
    return { field: m[1], value: m[3]!, negate: m[2] === '!=' };
  });
}

type Selectable = { metadata: { name: string; namespace?: string; labels?: Record<string, string> } };

export function matchesFields(reqs: FieldRequirement[], object: Selectable): boolean {
  return reqs.every((r) => {
    const actual = r.field === 'metadata.name' ? object.metadata.name : object.metadata.namespace;
    return (actual === r.value) !== r.negate;
  });
}

/**
 * What a list request answers: the objects of `namespace` (every namespace when undefined) that
 * match its `labelSelector` and `fieldSelector`, sorted by name.
 */
export function selectObjects<T extends Selectable>(
  objects: Iterable<T>,
  namespace: string | undefined,
  query: URLSearchParams,
): T[] {
  const labels = parseLabelSelector(query.get('labelSelector') ?? '');
  const fields = parseFieldSelector(query.get('fieldSelector') ?? '');
  return [...objects]
    .filter(
      (o) =>
        (namespace === undefined || o.metadata.namespace === namespace) &&
        matchesLabels(labels, o.metadata.labels) &&
        matchesFields(fields, o),
    )
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}

export function copy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Answers with a JSON body. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Answers a list request: `<Kind>List` with the items (and the list's resourceVersion, when given). */
export function sendList(
  res: ServerResponse,
  kind: string,
  apiVersion: string,
  items: unknown[],
  resourceVersion?: string,
): void {
  const metadata = resourceVersion === undefined ? {} : { resourceVersion };
  sendJson(res, 200, { kind: `${kind}List`, apiVersion, metadata, items });
}

/** Reads a request body that must be one JSON object (at most 3 MiB); undefined for none when `optional`. */
export async function readJsonObject(
  req: IncomingMessage,
  optional = false,
): Promise<Record<string, unknown> | undefined> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of req) {
    n += (chunk as Buffer).length;
    if (n > MAX_BODY_BYTES) throw new HttpError(413, 'RequestEntityTooLarge', 'request entity too large');
    chunks.push(chunk as Buffer);
  }
  if (chunks.length === 0 && optional) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'BadRequest', 'the body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'BadRequest', 'the body must be a JSON object');
  }
  return body as Record<string, unknown>;
}
