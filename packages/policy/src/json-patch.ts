import { ContrastError, setOwn } from '@contrast-cc/core';

/** One RFC 6902 operation. */
export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  value?: unknown;
  from?: string;
}

type Json = unknown;

function parsePointer(pointer: string, field: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) {
    throw new ContrastError(
      'invalid-argument',
      `JSON pointer ${JSON.stringify(pointer)} must start with "/"`,
      {
        field,
      },
    );
  }
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(canon(a)) === JSON.stringify(canon(b));
}

function canon(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canon);
  if (isObject(v)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) setOwn(out, k, canon(v[k]));
    return out;
  }
  return v;
}

function getAt(doc: Json, tokens: string[], field: string): Json {
  let cur: Json = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) {
      const i = Number(t);
      if (!/^(0|[1-9][0-9]*)$/.test(t) || i >= cur.length) {
        throw new ContrastError('invalid-argument', `JSON patch path does not exist (index ${t})`, { field });
      }
      cur = cur[i];
    } else if (isObject(cur) && Object.hasOwn(cur, t)) {
      cur = cur[t];
    } else {
      throw new ContrastError(
        'invalid-argument',
        `JSON patch path does not exist (key ${JSON.stringify(t)})`,
        {
          field,
        },
      );
    }
  }
  return cur;
}

function parentOf(doc: Json, tokens: string[], field: string): { parent: Json; key: string } {
  const key = tokens[tokens.length - 1] as string;
  return { parent: getAt(doc, tokens.slice(0, -1), field), key };
}

function addAt(doc: Json, tokens: string[], value: Json, field: string): Json {
  if (tokens.length === 0) return value;
  const { parent, key } = parentOf(doc, tokens, field);
  if (Array.isArray(parent)) {
    if (key === '-') parent.push(value);
    else {
      const i = Number(key);
      if (!/^(0|[1-9][0-9]*)$/.test(key) || i > parent.length) {
        throw new ContrastError('invalid-argument', `JSON patch array index ${key} out of range`, { field });
      }
      parent.splice(i, 0, value);
    }
  } else if (isObject(parent)) {
    setOwn(parent, key, value);
  } else {
    throw new ContrastError('invalid-argument', 'JSON patch target parent is not a container', { field });
  }
  return doc;
}

function removeAt(doc: Json, tokens: string[], field: string): Json {
  if (tokens.length === 0) return undefined;
  const { parent, key } = parentOf(doc, tokens, field);
  getAt(doc, tokens, field); // existence check
  if (Array.isArray(parent)) parent.splice(Number(key), 1);
  else if (isObject(parent)) delete parent[key];
  return doc;
}

/**
 * Applies RFC 6902 operations to a copy of `doc` and returns the copy. Errors name the op index.
 */
export function applyJsonPatch<T>(doc: T, ops: readonly JsonPatchOp[], fieldPrefix = 'patch'): T {
  let out: Json = clone(doc);
  ops.forEach((op, i) => {
    const field = `${fieldPrefix}[${i}]`;
    if (!op || typeof op.path !== 'string') {
      throw new ContrastError('invalid-argument', 'JSON patch op needs a string "path"', { field });
    }
    const tokens = parsePointer(op.path, `${field}.path`);
    switch (op.op) {
      case 'add':
        out = addAt(out, tokens, clone(op.value), field);
        break;
      case 'remove':
        out = removeAt(out, tokens, field);
        break;
      case 'replace':
        getAt(out, tokens, field);
        out = removeAt(out, tokens, field);
        out = addAt(out, tokens, clone(op.value), field);
        break;
      case 'move': {
        const from = parsePointer(op.from ?? '', `${field}.from`);
        const v = getAt(out, from, field);
        out = removeAt(out, from, field);
        out = addAt(out, tokens, v, field);
        break;
      }
      case 'copy': {
        const from = parsePointer(op.from ?? '', `${field}.from`);
        out = addAt(out, tokens, clone(getAt(out, from, field)), field);
        break;
      }
      case 'test':
        if (!deepEqual(getAt(out, tokens, field), op.value)) {
          throw new ContrastError('precondition-failed', `JSON patch test failed at ${op.path}`, { field });
        }
        break;
      default:
        throw new ContrastError(
          'invalid-argument',
          `unknown JSON patch op ${JSON.stringify((op as JsonPatchOp).op)}`,
          {
            field: `${field}.op`,
          },
        );
    }
  });
  return out as T;
}
