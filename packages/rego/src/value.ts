import { setOwn } from '@contrast-cc/core';

/** Rego values: JSON values plus sets. Objects have string keys (the subset we support). */
export type Value = null | boolean | number | string | Value[] | RegoSet | { [k: string]: Value };

export class RegoSet {
  readonly items = new Map<string, Value>();
  constructor(values: Iterable<Value> = []) {
    for (const v of values) this.add(v);
  }
  add(v: Value): void {
    this.items.set(keyOf(v), v);
  }
  has(v: Value): boolean {
    return this.items.has(keyOf(v));
  }
  get size(): number {
    return this.items.size;
  }
  values(): Value[] {
    return [...this.items.values()].sort(compareValues);
  }
}

export function isObject(v: Value | undefined): v is { [k: string]: Value } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof RegoSet);
}

/** Canonical string of a value (sorted object keys, sorted sets) for equality and set membership. */
export function keyOf(v: Value): string {
  if (v instanceof RegoSet) return `set(${v.values().map(keyOf).join(',')})`;
  if (Array.isArray(v)) return `[${v.map(keyOf).join(',')}]`;
  if (isObject(v)) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${keyOf(v[k] as Value)}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export function equal(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object') return false;
  return keyOf(a) === keyOf(b);
}

function typeRank(v: Value): number {
  if (v === null) return 0;
  if (typeof v === 'boolean') return 1;
  if (typeof v === 'number') return 2;
  if (typeof v === 'string') return 3;
  if (Array.isArray(v)) return 4;
  if (isObject(v)) return 5;
  return 6;
}

/** Rego's total order: null < booleans < numbers < strings < arrays < objects < sets. */
export function compareValues(a: Value, b: Value): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra - rb;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const c = compareValues(a[i] as Value, b[i] as Value);
      if (c !== 0) return c;
    }
    return a.length - b.length;
  }
  const ka = keyOf(a);
  const kb = keyOf(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Converts a parsed JSON document into a Value (identity; JSON is a subset). */
export function fromJson(v: unknown): Value {
  return v as Value;
}

/** Converts a Value into plain JSON (sets become sorted arrays). */
export function toJson(v: Value): unknown {
  if (v instanceof RegoSet) return v.values().map(toJson);
  if (Array.isArray(v)) return v.map(toJson);
  if (isObject(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) setOwn(out, k, toJson(x));
    return out;
  }
  return v;
}

/** Short, readable rendering for explanations (truncated). */
export function show(v: Value | undefined, max = 200): string {
  if (v === undefined) return 'undefined';
  const s = JSON.stringify(toJson(v));
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
