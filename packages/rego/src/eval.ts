import { setOwn } from '@contrast-cc/core';
import type { Expr, Module, Rule, Term } from './ast.js';
import { BuiltinError, callBuiltin } from './builtins.js';
import { RegoError, type SourceLocation } from './errors.js';
import { parseModule } from './parser.js';
import { compareValues, equal, isObject, keyOf, RegoSet, show, toJson, type Value } from './value.js';

const UNBOUND = Symbol('unbound');
type Slot = Value | typeof UNBOUND;
type Env = Map<string, Slot>;

/** The expression that failed deepest during a query: the best guess at why it was denied. */
export interface FailureRecord {
  /** Rule/function names from the query entry point down to the failing body. */
  stack: string[];
  /** Source text of the failing expression. */
  text: string;
  loc: SourceLocation;
  /** For comparisons (and `regex.match`: pattern, string): the evaluated operands. */
  left?: string;
  right?: string;
  /** The operands as JSON values, untruncated (for differences of lists and sets). */
  leftValue?: unknown;
  rightValue?: unknown;
  op?: string;
  /** Local variable bindings at the failure (rendered, truncated). */
  bindings: Record<string, string>;
}

export interface QueryResult {
  /** undefined when the rule has no value (no body succeeded and no default). */
  value: Value | undefined;
  prints: string[];
  failure: FailureRecord | undefined;
}

function bind(env: Env, name: string, v: Value): Env {
  const e = new Map(env);
  e.set(name, v);
  return e;
}

/**
 * A Rego evaluator for the subset our rules use. API shaped like regorus/OPA
 * (`addPolicy`, `setData`, `setInput`, `evalRule`) so a real engine can cross-check fixtures.
 */
export class RegoEngine {
  #module: Module | undefined;
  #rules = new Map<string, Rule[]>();
  #defaults = new Map<string, Rule>();
  #data: Value = {};
  #input: Value | undefined;
  #cache = new Map<string, Value | undefined>();
  #fnCache = new Map<string, Value | undefined>();
  #inProgress = new Set<string>();
  #prints: string[] = [];
  #stack: string[] = [];
  #suppress = 0;
  #best: { score: number; expr: Expr; env: Env; stack: string[] } | undefined;
  #steps = 0;
  /** Guard against runaway evaluation. */
  maxSteps = 5_000_000;

  addPolicy(_name: string, text: string): void {
    const mod = parseModule(text);
    this.#module = mod;
    this.#rules.clear();
    this.#defaults.clear();
    for (const r of mod.rules) {
      if (r.isDefault) {
        if (this.#defaults.has(r.name))
          throw new RegoError('conflict', `multiple default rules ${r.name}`, r.loc);
        this.#defaults.set(r.name, r);
        continue;
      }
      const list = this.#rules.get(r.name) ?? [];
      if (list.length > 0 && (list[0] as Rule).kind !== r.kind) {
        throw new RegoError('conflict', `rule ${r.name} is defined with different kinds`, r.loc);
      }
      list.push(r);
      this.#rules.set(r.name, list);
    }
  }

  get packagePath(): string[] {
    return this.#module?.pkg ?? [];
  }

  /** Replaces the data document (`data.*` outside the package). */
  setData(data: Value): void {
    this.#data = data;
  }
  getData(): Value {
    return this.#data;
  }
  setInput(input: Value | undefined): void {
    this.#input = input;
  }

  /** Evaluates `data.<pkg>.<rule>` (or just `<rule>`) with the current input and data. */
  evalRule(path: string): QueryResult {
    const parts = path.split('.');
    let name = parts[parts.length - 1] as string;
    if (parts[0] === 'data') {
      const pkg = parts.slice(1, -1);
      if (pkg.join('.') !== this.packagePath.join('.')) {
        throw new RegoError('no-result', `no package ${pkg.join('.')}`);
      }
    }
    name = parts[parts.length - 1] as string;
    this.#cache.clear();
    this.#fnCache.clear();
    this.#prints = [];
    this.#best = undefined;
    this.#stack = [];
    this.#steps = 0;
    const value = this.#ruleValue(name);
    const best = this.#best as { expr: Expr; env: Env; stack: string[] } | undefined;
    return { value, prints: this.#prints, failure: best ? this.#renderFailure(best) : undefined };
  }

  #hasRule(name: string): boolean {
    return this.#rules.has(name) || this.#defaults.has(name);
  }

  #tick(): void {
    if (++this.#steps > this.maxSteps)
      throw new RegoError('unsupported', 'evaluation exceeded the step limit');
  }

  // ---- rules ----

  #ruleValue(name: string): Value | undefined {
    if (this.#cache.has(name)) return this.#cache.get(name);
    if (this.#inProgress.has(name)) throw new RegoError('conflict', `recursion in rule ${name}`);
    this.#inProgress.add(name);
    this.#stack.push(name);
    try {
      const defs = this.#rules.get(name) ?? [];
      const kind = defs[0]?.kind ?? 'complete';
      let result: Value | undefined;
      if (kind === 'function') throw new RegoError('type', `${name} is a function; call it with arguments`);
      if (kind === 'set') {
        const set = new RegoSet();
        for (const def of defs) {
          for (const env of this.#evalBody(def.body, 0, new Map())) {
            for (const [k] of this.#evalTerm(def.key as Term, env)) set.add(k);
          }
        }
        result = set;
      } else if (kind === 'object') {
        const obj: { [k: string]: Value } = {};
        for (const def of defs) {
          for (const env of this.#evalBody(def.body, 0, new Map())) {
            for (const [k, e2] of this.#evalTerm(def.key as Term, env)) {
              for (const [v] of this.#evalTerm(def.value as Term, e2)) {
                const ks = typeof k === 'string' ? k : keyOf(k);
                if (Object.hasOwn(obj, ks) && !equal(obj[ks] as Value, v)) {
                  throw new RegoError(
                    'conflict',
                    `object rule ${name} has conflicting values for key ${ks}`,
                    def.loc,
                  );
                }
                setOwn(obj, ks, v);
              }
            }
          }
        }
        result = obj;
      } else {
        let found: Value | undefined;
        for (const def of defs) {
          for (const v of this.#definitionValues(def, new Map())) {
            if (found !== undefined && !equal(found, v)) {
              throw new RegoError(
                'conflict',
                `complete rule ${name} produced conflicting values ${show(found)} and ${show(v)}`,
                def.loc,
              );
            }
            found = v;
          }
        }
        if (found === undefined) {
          const d = this.#defaults.get(name);
          if (d?.value) for (const [v] of this.#evalTerm(d.value, new Map())) found = v;
        }
        result = found;
      }
      this.#cache.set(name, result);
      return result;
    } finally {
      this.#stack.pop();
      this.#inProgress.delete(name);
    }
  }

  /** Values of one definition (with its `else` chain) given an initial env (function params). */
  *#definitionValues(def: Rule, env: Env): Generator<Value> {
    let any = false;
    for (const e of this.#evalBody(def.body, 0, env)) {
      if (def.value === undefined) {
        any = true;
        yield true;
      } else {
        for (const [v] of this.#evalTerm(def.value, e)) {
          any = true;
          yield v;
        }
      }
    }
    if (!any && def.elseRule) yield* this.#definitionValues(def.elseRule, env);
  }

  readonly #ids = new WeakMap<object, number>();
  #nextId = 0;
  /** Cache key of an argument: scalars by value, collections by identity (cheap, still correct). */
  #argKey(v: Value): string {
    if (v === null || typeof v !== 'object') return JSON.stringify(v);
    let id = this.#ids.get(v);
    if (id === undefined) {
      id = ++this.#nextId;
      this.#ids.set(v, id);
    }
    return `#${id}`;
  }

  #callFunction(name: string, args: Value[], loc: SourceLocation): Value | undefined {
    const key = `${name}(${args.map((a) => this.#argKey(a)).join(',')})`;
    if (this.#fnCache.has(key)) return this.#fnCache.get(key);
    this.#stack.push(name);
    const before = this.#best;
    try {
      const defs = this.#rules.get(name) ?? [];
      let found: Value | undefined;
      for (const def of defs) {
        const params = def.args ?? [];
        if (params.length !== args.length) {
          throw new RegoError('type', `${name} expects ${params.length} arguments, got ${args.length}`, loc);
        }
        for (const env of this.#unifyAll(params, args, 0, new Map())) {
          for (const v of this.#definitionValues(def, env)) {
            if (found !== undefined && !equal(found, v)) {
              throw new RegoError(
                'conflict',
                `function ${name} produced conflicting outputs ${show(found)} and ${show(v)}`,
                def.loc,
              );
            }
            found = v;
          }
        }
      }
      // A call that succeeded explains nothing: drop failures recorded inside it.
      if (found !== undefined) this.#best = before;
      if (found === undefined) {
        const d = this.#defaults.get(name);
        if (d?.value) for (const [v] of this.#evalTerm(d.value, new Map())) found = v;
      }
      this.#fnCache.set(key, found);
      return found;
    } finally {
      this.#stack.pop();
    }
  }

  *#unifyAll(params: Term[], args: Value[], i: number, env: Env): Generator<Env> {
    if (i === params.length) {
      yield env;
      return;
    }
    for (const e of this.#unify(params[i] as Term, args[i] as Value, env))
      yield* this.#unifyAll(params, args, i + 1, e);
  }

  // ---- bodies and expressions ----

  *#evalBody(body: Expr[], i: number, env: Env): Generator<Env> {
    if (i === body.length) {
      yield env;
      return;
    }
    const expr = body[i] as Expr;
    let any = false;
    for (const e of this.#evalExpr(expr, env)) {
      any = true;
      yield* this.#evalBody(body, i + 1, e);
    }
    if (!any && this.#suppress === 0) this.#recordFailure(expr, i, env);
  }

  #recordFailure(expr: Expr, index: number, env: Env): void {
    const score = this.#stack.length * 10_000 + index;
    if (this.#best && this.#best.score > score) return;
    // Rendering is deferred to the end of the query: most failures are overwritten.
    this.#best = { score, expr, env, stack: [...this.#stack] };
  }

  #renderFailure(b: { expr: Expr; env: Env; stack: string[] }): FailureRecord {
    const { expr, env } = b;
    const bindings: Record<string, string> = {};
    for (const [k, v] of env) if (v !== UNBOUND && !k.startsWith('_$')) bindings[k] = show(v as Value, 120);
    const rec: FailureRecord = { stack: b.stack, text: expr.text, loc: expr.loc, bindings };
    if (
      expr.k === 'term' &&
      expr.term.t === 'binop' &&
      ['==', '!=', '<', '<=', '>', '>='].includes(expr.term.op)
    ) {
      this.#suppress++;
      try {
        const l = this.#evalTerm(expr.term.l, env).next();
        const r = this.#evalTerm(expr.term.r, env).next();
        rec.left = l.done ? 'undefined' : show(l.value[0]);
        rec.right = r.done ? 'undefined' : show(r.value[0]);
        if (!l.done) rec.leftValue = toJson(l.value[0]);
        if (!r.done) rec.rightValue = toJson(r.value[0]);
        rec.op = expr.term.op;
      } catch {
        // operands may be unsafe outside their context; keep the text only
      } finally {
        this.#suppress--;
      }
    } else if (
      expr.k === 'term' &&
      expr.term.t === 'call' &&
      expr.term.fn === 'regex.match' &&
      expr.term.args.length === 2
    ) {
      // A regex that did not match: the pattern (left) and the string (right).
      this.#suppress++;
      try {
        const [pt, st] = expr.term.args as [Term, Term];
        const l = this.#evalTerm(pt, env).next();
        const r = this.#evalTerm(st, env).next();
        if (!l.done && !r.done) {
          rec.left = show(l.value[0]);
          rec.right = show(r.value[0]);
          rec.leftValue = toJson(l.value[0]);
          rec.rightValue = toJson(r.value[0]);
          rec.op = 'regex.match';
        }
      } catch {
        // keep the text only
      } finally {
        this.#suppress--;
      }
    }
    return rec;
  }

  *#evalExpr(expr: Expr, env: Env): Generator<Env> {
    this.#tick();
    switch (expr.k) {
      case 'term':
        for (const [v, e] of this.#evalTerm(expr.term, env)) if (v !== false) yield e;
        return;
      case 'assign':
      case 'unify': {
        const { lhs, rhs } = expr;
        if (this.#isUnboundVar(lhs, env) || lhs.t === 'array' || lhs.t === 'object') {
          for (const [v, e] of this.#evalTerm(rhs, env)) yield* this.#unify(lhs, v, e);
        } else if (expr.k === 'unify' && this.#isUnboundVar(rhs, env)) {
          for (const [v, e] of this.#evalTerm(lhs, env)) yield* this.#unify(rhs, v, e);
        } else {
          for (const [v, e] of this.#evalTerm(rhs, env)) yield* this.#unify(lhs, v, e);
        }
        return;
      }
      case 'some': {
        const e = new Map(env);
        for (const v of expr.vars) e.set(v, UNBOUND);
        yield e;
        return;
      }
      case 'somein':
        for (const [coll, e] of this.#evalTerm(expr.coll, env)) {
          for (const [k, v] of entries(coll)) {
            let envs: Iterable<Env> = this.#unify(expr.value, v, e);
            if (expr.key) {
              const keyTerm = expr.key;
              envs = flatMap(envs, (e2) => this.#unify(keyTerm, k, e2));
            }
            yield* envs;
          }
        }
        return;
      case 'every': {
        for (const [coll, e] of this.#evalTerm(expr.coll, env)) {
          let ok = true;
          for (const [k, v] of entries(coll)) {
            let inner: Env = new Map(e);
            inner = this.#bindLoose(expr.value, v, inner) as Env;
            if (expr.key) inner = this.#bindLoose(expr.key, k, inner) as Env;
            if (!inner || this.#evalBody(expr.body, 0, inner).next().done) {
              ok = false;
              break;
            }
          }
          if (ok) yield e;
        }
        return;
      }
      case 'not': {
        this.#suppress++;
        let holds: boolean;
        try {
          holds = !this.#evalExpr(expr.expr, env).next().done;
        } finally {
          this.#suppress--;
        }
        if (!holds) yield env;
        return;
      }
    }
  }

  #bindLoose(t: Term, v: Value, env: Env): Env | undefined {
    const r = this.#unify(t, v, env).next();
    return r.done ? undefined : r.value;
  }

  #isUnboundVar(t: Term, env: Env): boolean {
    if (t.t !== 'var') return false;
    const s = env.get(t.name);
    if (s === UNBOUND) return true;
    if (s !== undefined) return false;
    return t.name !== 'input' && t.name !== 'data' && !this.#hasRule(t.name);
  }

  *#unify(t: Term, v: Value, env: Env): Generator<Env> {
    if (t.t === 'var' && this.#isUnboundVar(t, env)) {
      yield bind(env, t.name, v);
      return;
    }
    if (t.t === 'array' && Array.isArray(v)) {
      if (t.items.length !== v.length) return;
      yield* this.#unifyAll(t.items, v, 0, env);
      return;
    }
    if (t.t === 'object' && isObject(v)) {
      if (t.entries.length !== Object.keys(v).length) return;
      const keys: Term[] = [];
      const vals: Value[] = [];
      for (const [kt, vt] of t.entries) {
        const k = this.#evalTerm(kt, env).next();
        if (k.done || typeof k.value[0] !== 'string' || !Object.hasOwn(v, k.value[0])) return;
        keys.push(vt);
        vals.push(v[k.value[0]] as Value);
      }
      yield* this.#unifyAll(keys, vals, 0, env);
      return;
    }
    for (const [x, e] of this.#evalTerm(t, env)) if (equal(x, v)) yield e;
  }

  // ---- terms ----

  readonly #groundValues = new WeakMap<Term, Value>();
  readonly #groundness = new WeakMap<Term, boolean>();

  /** Literal terms without variables, refs or calls: evaluated once, then shared (never mutated). */
  #isGround(t: Term): boolean {
    const known = this.#groundness.get(t);
    if (known !== undefined) return known;
    let g: boolean;
    switch (t.t) {
      case 'scalar':
        g = true;
        break;
      case 'array':
      case 'set':
        g = t.items.every((x) => this.#isGround(x));
        break;
      case 'object':
        g = t.entries.every(([k, v]) => this.#isGround(k) && this.#isGround(v));
        break;
      default:
        g = false;
    }
    this.#groundness.set(t, g);
    return g;
  }

  *#evalTerm(t: Term, env: Env): Generator<[Value, Env]> {
    if ((t.t === 'array' || t.t === 'object' || t.t === 'set') && this.#isGround(t)) {
      let v = this.#groundValues.get(t);
      if (v === undefined) {
        const first = this.#evalComposite(t, env).next();
        if (first.done) return;
        v = first.value[0];
        this.#groundValues.set(t, v);
      }
      yield [v, env];
      return;
    }
    yield* this.#evalComposite(t, env);
  }

  *#evalComposite(t: Term, env: Env): Generator<[Value, Env]> {
    switch (t.t) {
      case 'scalar':
        yield [t.v, env];
        return;
      case 'var': {
        const s = env.get(t.name);
        if (s !== undefined && s !== UNBOUND) {
          yield [s as Value, env];
          return;
        }
        if (s === undefined) {
          if (t.name === 'input') {
            if (this.#input !== undefined) yield [this.#input, env];
            return;
          }
          if (t.name === 'data') {
            yield [this.#dataRoot(), env];
            return;
          }
          if (this.#hasRule(t.name)) {
            const v = this.#ruleValue(t.name);
            if (v !== undefined) yield [v, env];
            return;
          }
        }
        throw new RegoError('unsafe-var', `variable ${t.name} is unbound here`);
      }
      case 'ref':
        yield* this.#evalRef(t, env);
        return;
      case 'array':
        for (const [vals, e] of this.#evalMany(t.items, 0, env, [])) yield [vals, e];
        return;
      case 'set':
        for (const [vals, e] of this.#evalMany(t.items, 0, env, [])) yield [new RegoSet(vals), e];
        return;
      case 'object': {
        const flat = t.entries.flat();
        for (const [vals, e] of this.#evalMany(flat, 0, env, [])) {
          const o: { [k: string]: Value } = {};
          for (let i = 0; i < vals.length; i += 2) {
            const k = vals[i] as Value;
            setOwn(o, typeof k === 'string' ? k : keyOf(k), vals[i + 1] as Value);
          }
          yield [o, e];
        }
        return;
      }
      case 'arraycomp':
      case 'setcomp':
      case 'objcomp': {
        const out: Value[] = [];
        const obj: { [k: string]: Value } = {};
        this.#suppress++;
        try {
          for (const e of this.#evalBody(t.body, 0, env)) {
            if (t.t === 'objcomp') {
              for (const [k, e2] of this.#evalTerm(t.key, e)) {
                for (const [v] of this.#evalTerm(t.value, e2)) {
                  const ks = typeof k === 'string' ? k : keyOf(k);
                  if (Object.hasOwn(obj, ks) && !equal(obj[ks] as Value, v)) {
                    throw new RegoError(
                      'conflict',
                      `object comprehension has conflicting values for key ${ks}`,
                    );
                  }
                  setOwn(obj, ks, v);
                }
              }
            } else {
              for (const [v] of this.#evalTerm(t.term, e)) out.push(v);
            }
          }
        } finally {
          this.#suppress--;
        }
        yield [t.t === 'arraycomp' ? out : t.t === 'setcomp' ? new RegoSet(out) : obj, env];
        return;
      }
      case 'call': {
        for (const [args, e] of this.#evalMany(t.args, 0, env, [])) {
          if (this.#rules.has(t.fn) || this.#defaults.has(t.fn)) {
            const v = this.#callFunction(t.fn, args, t.loc);
            if (v !== undefined) yield [v, e];
            continue;
          }
          let v: Value;
          try {
            v = callBuiltin(t.fn, args, this.#prints);
          } catch (err) {
            if (err instanceof BuiltinError) continue; // strict builtin errors off: undefined
            if (err instanceof RegoError && !err.loc) throw new RegoError(err.kind, err.message, t.loc);
            throw err;
          }
          yield [v, e];
        }
        return;
      }
      case 'neg':
        for (const [v, e] of this.#evalTerm(t.x, env)) if (typeof v === 'number') yield [-v, e];
        return;
      case 'member':
        for (const [coll, e] of this.#evalTerm(t.coll, env)) {
          for (const [v, e2] of this.#evalTerm(t.value, e)) {
            let found = false;
            for (const [, x] of entries(coll)) if (equal(x, v)) found = true;
            yield [found, e2];
          }
        }
        return;
      case 'binop':
        for (const [l, e] of this.#evalTerm(t.l, env)) {
          for (const [r, e2] of this.#evalTerm(t.r, e)) {
            const v = binop(t.op, l, r);
            if (v !== undefined) yield [v, e2];
          }
        }
        return;
    }
  }

  *#evalMany(terms: Term[], i: number, env: Env, acc: Value[]): Generator<[Value[], Env]> {
    if (i === terms.length) {
      yield [acc, env];
      return;
    }
    // Fast path: a term with at most one value (no iteration) needs no backtracking copy.
    const t = terms[i] as Term;
    if (
      t.t === 'scalar' ||
      t.t === 'var' ||
      ((t.t === 'array' || t.t === 'object' || t.t === 'set') && this.#isGround(t))
    ) {
      const r = this.#evalTerm(t, env).next();
      if (r.done) return;
      acc.push(r.value[0]);
      yield* this.#evalMany(terms, i + 1, r.value[1], acc);
      return;
    }
    for (const [v, e] of this.#evalTerm(t, env)) yield* this.#evalMany(terms, i + 1, e, [...acc, v]);
  }

  #dataRoot(): Value {
    const root: { [k: string]: Value } = isObject(this.#data) ? { ...this.#data } : {};
    return root;
  }

  *#evalRef(t: Extract<Term, { t: 'ref' }>, env: Env): Generator<[Value, Env]> {
    const head = t.head;
    let path = t.path;
    let starts: Iterable<[Value, Env]>;
    if (head.t === 'var' && head.name === 'data' && !env.has('data')) {
      const pkg = this.packagePath;
      const lits = path.map((p) => (p.t === 'scalar' ? p.v : undefined));
      if (pkg.every((seg, i) => lits[i] === seg) && path.length > pkg.length) {
        const ruleName = lits[pkg.length];
        if (typeof ruleName !== 'string')
          throw new RegoError('unsupported', 'dynamic rule reference under data');
        path = path.slice(pkg.length + 1);
        const v = this.#hasRule(ruleName) ? this.#ruleValue(ruleName) : undefined;
        starts = v === undefined ? [] : [[v, env]];
      } else {
        starts = [[this.#dataRoot(), env]];
      }
    } else {
      starts = this.#evalTerm(head, env);
    }
    for (const [v, e] of starts) yield* this.#walk(v, path, 0, e);
  }

  *#walk(cur: Value, path: Term[], i: number, env: Env): Generator<[Value, Env]> {
    if (i === path.length) {
      yield [cur, env];
      return;
    }
    const p = path[i] as Term;
    if (this.#isUnboundVar(p, env) || (p.t !== 'var' && p.t !== 'scalar' && hasUnbound(p, env, this))) {
      for (const [k, v] of entries(cur)) {
        for (const e of this.#unify(p, k, env)) yield* this.#walk(v, path, i + 1, e);
      }
      return;
    }
    for (const [k, e] of this.#evalTerm(p, env)) {
      const next = index(cur, k);
      if (next !== undefined) yield* this.#walk(next, path, i + 1, e);
    }
  }

  /** @internal used by hasUnbound */
  isUnbound(t: Term, env: Env): boolean {
    return this.#isUnboundVar(t, env);
  }
}

function hasUnbound(t: Term, env: Env, eng: RegoEngine): boolean {
  if (t.t === 'var') return eng.isUnbound(t, env);
  if (t.t === 'array') return t.items.some((x) => hasUnbound(x, env, eng));
  return false;
}

function index(cur: Value, k: Value): Value | undefined {
  if (Array.isArray(cur))
    return typeof k === 'number' && Number.isInteger(k) && k >= 0 && k < cur.length ? cur[k] : undefined;
  if (cur instanceof RegoSet) return cur.has(k) ? k : undefined;
  if (isObject(cur)) return typeof k === 'string' && Object.hasOwn(cur, k) ? cur[k] : undefined;
  return undefined;
}

function entries(coll: Value): Array<[Value, Value]> {
  if (Array.isArray(coll)) return coll.map((v, i) => [i, v]);
  if (coll instanceof RegoSet) return coll.values().map((v) => [v, v]);
  if (isObject(coll)) return Object.keys(coll).map((k) => [k, coll[k] as Value]);
  return [];
}

function* flatMap<A, B>(xs: Iterable<A>, f: (a: A) => Iterable<B>): Generator<B> {
  for (const x of xs) yield* f(x);
}

function binop(op: string, l: Value, r: Value): Value | undefined {
  switch (op) {
    case '==':
      return equal(l, r);
    case '!=':
      return !equal(l, r);
    case '<':
      return compareValues(l, r) < 0;
    case '<=':
      return compareValues(l, r) <= 0;
    case '>':
      return compareValues(l, r) > 0;
    case '>=':
      return compareValues(l, r) >= 0;
  }
  if (l instanceof RegoSet && r instanceof RegoSet) {
    if (op === '|') return new RegoSet([...l.values(), ...r.values()]);
    if (op === '&') return new RegoSet(l.values().filter((x) => r.has(x)));
    if (op === '-') return new RegoSet(l.values().filter((x) => !r.has(x)));
    return undefined;
  }
  if (typeof l !== 'number' || typeof r !== 'number') return undefined;
  switch (op) {
    case '+':
      return l + r;
    case '-':
      return l - r;
    case '*':
      return l * r;
    case '/':
      return r === 0 ? undefined : l / r;
    case '%':
      return r === 0 || !Number.isInteger(l) || !Number.isInteger(r) ? undefined : l % r;
  }
  return undefined;
}
