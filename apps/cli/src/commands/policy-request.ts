// Reading the agent request(s) for `contrast policy explain`: the request body as the Kata agent
// sees it (its JSON form, as in Kata's own policy test cases), a `{kind, request}` step, or an
// ordered array of either (earlier requests set up the state later ones are checked against).
import { isContrastError } from '@contrast-cc/core';
import { usageError } from '../util.js';

/** One request to evaluate, in file order. */
export interface RequestStep {
  kind: string;
  request: Record<string, unknown>;
  /** Where it is in the file, for messages: `` (the whole file), `[2]`, `[2].request`. */
  where: string;
  description?: string;
}

export interface RequestFileOptions {
  /** The file as the user named it (for messages). */
  file: string;
  /** `--request-type`, when given. */
  flagKind?: string;
  /** Used when neither the flag nor the step names the kind. */
  defaultKind: string;
  /** The request kinds whose schema is known: these are normalized and checked field by field. */
  kinds: readonly string[];
  /** Proto-style normalization (fills defaults, checks types; throws ContrastError with a field). */
  normalize: (kind: string, request: unknown) => unknown;
}

/** What a request type looks like: the agent's protobuf message name. */
const KIND = /^[A-Z][A-Za-z]*Request$/;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Where JSON text first goes wrong, for a message a person can act on: line, column and the
 * field being read (`OCI.Process`). JSON.parse's own messages differ between Node versions and
 * often give neither.
 */
export function locateJsonError(text: string): { line: number; column: number; field: string } | undefined {
  let i = 0;
  const path: Array<string | number> = [];
  class Stop extends Error {}
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++;
  };
  const stop = (): never => {
    throw new Stop();
  };
  const str = (): string => {
    if (text[i] !== '"') stop();
    const start = i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') i++;
      else if ((text.charCodeAt(i) ?? 0) < 0x20) stop();
      i++;
    }
    if (i >= text.length) stop();
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      i = start;
      return stop();
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        const key = str();
        ws();
        if (text[i] !== ':') stop();
        i++;
        path.push(key);
        value();
        path.pop();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return;
        } else stop();
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        path.push(n);
        value();
        path.pop();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return;
        } else stop();
      }
    }
    if (c === '"') {
      str();
      return;
    }
    const m = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i, i + 400));
    if (!m) stop();
    i += (m as RegExpExecArray)[0].length;
  };
  try {
    value();
    ws();
    if (i < text.length) stop();
    return undefined;
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    const before = text.slice(0, i);
    const line = before.split('\n').length;
    const column = i - before.lastIndexOf('\n');
    let field = '';
    for (const p of path) field += typeof p === 'number' ? `[${p}]` : field ? `.${p}` : p;
    return { line, column, field };
  }
}

function join(where: string, field: string): string {
  if (!where) return field;
  if (!field) return where;
  if (where.startsWith('line ')) return `${where}: ${field}`;
  return field.startsWith('[') ? `${where}${field}` : `${where}.${field}`;
}

/** Parses and checks the request file; every problem is a usage error naming file and field. */
export function parseRequestFile(text: string, options: RequestFileOptions): RequestStep[] {
  const { file, flagKind, kinds } = options;
  const fail = (where: string, message: string) =>
    usageError(`--request ${file}: ${where ? `${where}: ` : ''}${message}`);
  if (flagKind !== undefined && !KIND.test(flagKind)) {
    throw usageError(`--request-type: "${flagKind}" is not a request type (such as ${kinds.join(', ')})`);
  }
  if (text.trim() === '') throw fail('', 'is empty; expected the request JSON');
  let items: Array<{ value: unknown; where: string }>;
  try {
    const parsed = JSON.parse(text) as unknown;
    items = Array.isArray(parsed)
      ? parsed.map((value, i) => ({ value, where: `[${i}]` }))
      : [{ value: parsed, where: '' }];
  } catch (e) {
    const lines = text.split('\n');
    const firstLine = lines.find((l) => l.trim() !== '') ?? '';
    if (lines.filter((l) => l.trim() !== '').length > 1 && locateJsonError(firstLine) === undefined) {
      // JSON Lines: the agent's debug log /tmp/policy.jsonl, one {"kind", "request"} per line.
      items = [];
      for (const [n, line] of lines.entries()) {
        if (line.trim() === '') continue;
        const at = locateJsonError(line);
        if (at) {
          throw fail(join(`line ${n + 1}`, at.field), `not valid JSON at column ${at.column}`);
        }
        items.push({ value: JSON.parse(line), where: `line ${n + 1}` });
      }
    } else {
      const at = locateJsonError(text);
      if (!at) throw fail('', `not valid JSON: ${(e as Error).message}`);
      throw fail(at.field, `not valid JSON at line ${at.line}, column ${at.column}`);
    }
  }
  if (items.length === 0) throw fail('', 'is an empty array; expected at least one request');

  return items.map(({ value, where }) => {
    if (!isObject(value)) {
      throw fail(
        where,
        'expected a JSON object: the request body, or {"kind": "<RequestType>", "request": {...}}',
      );
    }
    // A step as in Kata's testcases.json: {"kind", "request", "description"?, "allowed"?}.
    const isStep = isObject(value.request);
    let kind = flagKind ?? options.defaultKind;
    if (isStep && value.kind !== undefined) {
      if (typeof value.kind !== 'string' || !KIND.test(value.kind)) {
        throw fail(
          join(where, 'kind'),
          `${JSON.stringify(value.kind)} is not a request type (such as ${kinds.join(', ')})`,
        );
      }
      if (flagKind !== undefined && flagKind !== value.kind) {
        throw fail(join(where, 'kind'), `is ${value.kind}, but --request-type says ${flagKind}`);
      }
      kind = value.kind;
    }
    const body = (isStep ? value.request : value) as Record<string, unknown>;
    const bodyWhere = isStep ? join(where, 'request') : where;
    if (!kinds.includes(kind)) {
      // Outside the schema we know (StartContainerRequest, ReadStreamRequest, ...): the rules
      // decide these from their defaults; whether the policy knows the kind is checked later.
      const step: RequestStep = { kind, request: body, where };
      if (isStep && typeof value.description === 'string') step.description = value.description;
      return step;
    }
    let normalized: unknown;
    try {
      normalized = options.normalize(kind, body);
    } catch (e) {
      if (!isContrastError(e)) throw e;
      // The normalizer names fields from the message name: `CreateContainerRequest.OCI.Process.Args`.
      const field = (e.field ?? '').replace(new RegExp(`^${kind}\\.?`), '');
      throw fail(join(bodyWhere, field), e.message);
    }
    // The agent drops unknown fields silently; at the top they mean a misspelt field or the wrong
    // request type (a stale "type" key, as in older Kata test data, is tolerated).
    const unknown = isObject(normalized)
      ? Object.keys(body).filter((k) => k !== 'type' && !Object.hasOwn(normalized, k))
      : [];
    if (unknown.length > 0) {
      throw fail(
        join(bodyWhere, unknown[0] as string),
        `is not a field of ${kind} (its fields: ${Object.keys(normalized as object).join(', ')}); misspelt, or is --request-type / "kind" wrong?`,
      );
    }
    const step: RequestStep = { kind, request: body, where };
    if (isStep && typeof value.description === 'string') step.description = value.description;
    return step;
  });
}

/** The container a CreateContainerRequest is about: name and sandbox, from the CRI annotations. */
export function requestTarget(step: RequestStep): {
  container?: string;
  sandboxName?: string;
  sandboxNamespace?: string;
  sandbox: boolean;
} {
  const oci = step.request.OCI;
  const annotations = isObject(oci) && isObject(oci.Annotations) ? oci.Annotations : {};
  const str = (k: string) => (typeof annotations[k] === 'string' ? (annotations[k] as string) : undefined);
  const out: ReturnType<typeof requestTarget> = {
    sandbox: str('io.kubernetes.cri.container-type') === 'sandbox',
  };
  const container = str('io.kubernetes.cri.container-name');
  const sandboxName = str('io.kubernetes.cri.sandbox-name');
  const sandboxNamespace = str('io.kubernetes.cri.sandbox-namespace');
  if (container !== undefined) out.container = container;
  if (sandboxName !== undefined) out.sandboxName = sandboxName;
  if (sandboxNamespace !== undefined) out.sandboxNamespace = sandboxNamespace;
  return out;
}
