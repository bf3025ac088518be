import { RegoError } from './errors.js';
import { compareValues, isObject, RegoSet, toJson, type Value } from './value.js';

/** Thrown by a builtin for bad arguments; the evaluator turns it into "undefined" (strict errors off). */
export class BuiltinError extends Error {}

function s(v: Value, name: string): string {
  if (typeof v !== 'string') throw new BuiltinError(`${name}: expected a string`);
  return v;
}
function n(v: Value, name: string): number {
  if (typeof v !== 'number') throw new BuiltinError(`${name}: expected a number`);
  return v;
}
function a(v: Value, name: string): Value[] {
  if (!Array.isArray(v)) throw new BuiltinError(`${name}: expected an array`);
  return v;
}

const regexCache = new Map<string, RegExp>();

/**
 * Compiles an RE2-style pattern to a JS RegExp. Lookarounds and backreferences (not RE2) are
 * rejected; a leading `(?i)`/`(?s)` flag group is honoured.
 */
export function compileRe2(pattern: string): RegExp {
  const cached = regexCache.get(pattern);
  if (cached) return cached;
  if (/\(\?[=!<]/.test(pattern) || /\\[1-9]/.test(pattern)) {
    throw new BuiltinError(`regex ${JSON.stringify(pattern)} uses lookaround or backreferences (not RE2)`);
  }
  let flags = '';
  let body = pattern;
  const m = /^\(\?([is]+)\)/.exec(body);
  if (m) {
    flags = m[1] as string;
    body = body.slice(m[0].length);
  }
  // RE2 `\z` = end of text.
  body = body.replace(/\\z/g, '$');
  let re: RegExp;
  try {
    re = new RegExp(body, flags);
  } catch (e) {
    throw new BuiltinError(`bad regex ${JSON.stringify(pattern)}: ${(e as Error).message}`);
  }
  regexCache.set(pattern, re);
  return re;
}

function sprintf(format: string, args: Value[]): string {
  let i = 0;
  return format.replace(
    /%([-+ 0#]*[0-9]*(?:\.[0-9]+)?)([vsdqfxXtb%])/g,
    (_all, _flags: string, verb: string) => {
      if (verb === '%') return '%';
      const v = args[i++];
      if (v === undefined) return '%!' + verb + '(MISSING)';
      switch (verb) {
        case 's':
        case 'v':
          return typeof v === 'string' ? v : JSON.stringify(toJson(v));
        case 'q':
          return JSON.stringify(typeof v === 'string' ? v : JSON.stringify(toJson(v)));
        case 'd':
          return String(Math.trunc(n(v, 'sprintf')));
        case 'f':
          return String(n(v, 'sprintf'));
        case 'x':
          return typeof v === 'number' ? v.toString(16) : Buffer.from(String(v)).toString('hex');
        case 'X':
          return typeof v === 'number'
            ? v.toString(16).toUpperCase()
            : Buffer.from(String(v)).toString('hex').toUpperCase();
        case 't':
          return String(v);
        case 'b':
          return n(v, 'sprintf').toString(2);
        default:
          return String(v);
      }
    },
  );
}

function jsonToValue(x: unknown): Value {
  return x as Value;
}

type Builtin = (args: Value[], prints: string[]) => Value;

/** The builtins our rules (and upstream's) use. Documented in README.md. */
export const BUILTINS: Record<string, Builtin> = {
  count: ([x]) => {
    if (typeof x === 'string') return [...x].length;
    if (Array.isArray(x)) return x.length;
    if (x instanceof RegoSet) return x.size;
    if (isObject(x)) return Object.keys(x).length;
    throw new BuiltinError('count: expected a collection or string');
  },
  concat: ([sep, coll]) => {
    const items = coll instanceof RegoSet ? coll.values() : a(coll as Value, 'concat');
    return items.map((x) => s(x, 'concat')).join(s(sep as Value, 'concat'));
  },
  split: ([x, sep]) => s(x as Value, 'split').split(s(sep as Value, 'split')),
  replace: ([x, old, nw]) =>
    s(x as Value, 'replace')
      .split(s(old as Value, 'replace'))
      .join(s(nw as Value, 'replace')),
  startswith: ([x, p]) => s(x as Value, 'startswith').startsWith(s(p as Value, 'startswith')),
  endswith: ([x, p]) => s(x as Value, 'endswith').endsWith(s(p as Value, 'endswith')),
  contains: ([x, p]) => s(x as Value, 'contains').includes(s(p as Value, 'contains')),
  indexof: ([x, p]) => s(x as Value, 'indexof').indexOf(s(p as Value, 'indexof')),
  lower: ([x]) => s(x as Value, 'lower').toLowerCase(),
  upper: ([x]) => s(x as Value, 'upper').toUpperCase(),
  substring: ([x, off, len]) => {
    const str = [...s(x as Value, 'substring')];
    const o = n(off as Value, 'substring');
    const l = n(len as Value, 'substring');
    return str.slice(o, l < 0 ? undefined : o + l).join('');
  },
  trim: ([x, cut]) => {
    const c = s(cut as Value, 'trim');
    let str = s(x as Value, 'trim');
    while (str.length > 0 && c.includes(str[0] as string)) str = str.slice(1);
    while (str.length > 0 && c.includes(str[str.length - 1] as string)) str = str.slice(0, -1);
    return str;
  },
  trim_left: ([x, cut]) => {
    const c = s(cut as Value, 'trim_left');
    let str = s(x as Value, 'trim_left');
    while (str.length > 0 && c.includes(str[0] as string)) str = str.slice(1);
    return str;
  },
  trim_right: ([x, cut]) => {
    const c = s(cut as Value, 'trim_right');
    let str = s(x as Value, 'trim_right');
    while (str.length > 0 && c.includes(str[str.length - 1] as string)) str = str.slice(0, -1);
    return str;
  },
  trim_prefix: ([x, p]) => {
    const str = s(x as Value, 'trim_prefix');
    const pre = s(p as Value, 'trim_prefix');
    return str.startsWith(pre) ? str.slice(pre.length) : str;
  },
  trim_suffix: ([x, p]) => {
    const str = s(x as Value, 'trim_suffix');
    const suf = s(p as Value, 'trim_suffix');
    return suf !== '' && str.endsWith(suf) ? str.slice(0, -suf.length) : str;
  },
  sprintf: ([f, args]) => sprintf(s(f as Value, 'sprintf'), a(args as Value, 'sprintf')),
  to_number: ([x]) => {
    if (typeof x === 'number') return x;
    if (x === null) return 0;
    if (typeof x === 'boolean') return x ? 1 : 0;
    const str = s(x as Value, 'to_number');
    if (!/^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/.test(str))
      throw new BuiltinError('to_number: not a number');
    return Number(str);
  },
  is_null: ([x]) => x === null,
  is_string: ([x]) => typeof x === 'string',
  is_number: ([x]) => typeof x === 'number',
  is_boolean: ([x]) => typeof x === 'boolean',
  is_array: ([x]) => Array.isArray(x),
  is_object: ([x]) => isObject(x),
  is_set: ([x]) => x instanceof RegoSet,
  'regex.match': ([p, x]) => compileRe2(s(p as Value, 'regex.match')).test(s(x as Value, 'regex.match')),
  'regex.find_all_string_submatch_n': ([p, x, count]) => {
    const re = compileRe2(s(p as Value, 'regex.find_all_string_submatch_n'));
    const g = new RegExp(re.source, `${re.flags}g`);
    const out: Value[] = [];
    const limit = n(count as Value, 'regex.find_all_string_submatch_n');
    for (const m of s(x as Value, 'regex.find_all_string_submatch_n').matchAll(g)) {
      if (limit >= 0 && out.length >= limit) break;
      out.push([...m].map((g2) => g2 ?? ''));
      if (m[0] === '') break;
    }
    return out;
  },
  'object.get': ([o, k, d]) => {
    if (isObject(o as Value)) {
      const obj = o as { [k: string]: Value };
      if (Array.isArray(k)) {
        let cur: Value = obj;
        for (const seg of k) {
          if (isObject(cur) && typeof seg === 'string' && Object.hasOwn(cur, seg)) cur = cur[seg] as Value;
          else if (Array.isArray(cur) && typeof seg === 'number' && seg >= 0 && seg < cur.length)
            cur = cur[seg] as Value;
          else return d as Value;
        }
        return cur;
      }
      return typeof k === 'string' && Object.hasOwn(obj, k) ? (obj[k] as Value) : (d as Value);
    }
    throw new BuiltinError('object.get: expected an object');
  },
  'object.keys': ([o]) => {
    if (!isObject(o as Value)) throw new BuiltinError('object.keys: expected an object');
    return new RegoSet(Object.keys(o as object));
  },
  'json.unmarshal': ([x]) => {
    try {
      return jsonToValue(JSON.parse(s(x as Value, 'json.unmarshal')));
    } catch {
      throw new BuiltinError('json.unmarshal: invalid JSON');
    }
  },
  'json.marshal': ([x]) => JSON.stringify(toJson(x as Value)),
  'base64.encode': ([x]) => Buffer.from(s(x as Value, 'base64.encode'), 'utf8').toString('base64'),
  'base64.decode': ([x]) => Buffer.from(s(x as Value, 'base64.decode'), 'base64').toString('utf8'),
  'base64url.encode_no_pad': ([x]) =>
    Buffer.from(s(x as Value, 'base64url.encode_no_pad'), 'utf8').toString('base64url'),
  'array.concat': ([x, y]) => [...a(x as Value, 'array.concat'), ...a(y as Value, 'array.concat')],
  'array.slice': ([x, i, j]) => {
    const arr = a(x as Value, 'array.slice');
    const lo = Math.max(0, n(i as Value, 'array.slice'));
    const hi = Math.min(arr.length, n(j as Value, 'array.slice'));
    return lo >= hi ? [] : arr.slice(lo, hi);
  },
  'bits.and': ([x, y]) => Number(BigInt(n(x as Value, 'bits.and')) & BigInt(n(y as Value, 'bits.and'))),
  'bits.or': ([x, y]) => Number(BigInt(n(x as Value, 'bits.or')) | BigInt(n(y as Value, 'bits.or'))),
  'bits.negate': ([x]) => Number(~BigInt(n(x as Value, 'bits.negate'))),
  sort: ([x]) => {
    const items = x instanceof RegoSet ? x.values() : [...a(x as Value, 'sort')];
    return items.sort(compareValues);
  },
  union: ([x]) => {
    if (!(x instanceof RegoSet)) throw new BuiltinError('union: expected a set of sets');
    const out = new RegoSet();
    for (const v of x.values()) {
      if (!(v instanceof RegoSet)) throw new BuiltinError('union: expected a set of sets');
      for (const w of v.values()) out.add(w);
    }
    return out;
  },
  print: (args, prints) => {
    prints.push(args.map((v) => (typeof v === 'string' ? v : JSON.stringify(toJson(v)))).join(' '));
    return true;
  },
};

/** base64url with padding, as OPA's base64url.encode produces. */
BUILTINS['base64url.encode'] = ([x]) => {
  const b = Buffer.from(s(x as Value, 'base64url.encode'), 'utf8').toString('base64');
  return b.replace(/\+/g, '-').replace(/\//g, '_');
};

export function callBuiltin(name: string, args: Value[], prints: string[]): Value {
  const f = BUILTINS[name];
  if (!f) throw new RegoError('unsupported', `unknown function ${name}`);
  return f(args, prints);
}
