// What the fake Kubernetes API's modules share: the Status error answer, JSON bodies, label
// selectors, copies.
import type { IncomingMessage, ServerResponse } from 'node:http';

const MAX_BODY_BYTES = 3 * 1024 * 1024;

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

export function copy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Answers with a JSON body. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
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
