import type { Expr, Module, Rule, Term } from './ast.js';
import { RegoError, type SourceLocation } from './errors.js';
import { type Token, tokenize } from './lexer.js';

const COMPARE = ['==', '!=', '<', '<=', '>', '>='];
/** Binary operator precedence, lowest first. */
const LEVELS: string[][] = [['|'], ['&'], ['in'], COMPARE, ['+', '-'], ['*', '/', '%']];

/** Parses a Rego module (the subset documented in README.md). */
export function parseModule(src: string): Module {
  return new Parser(src).module();
}

class Parser {
  readonly #toks: Token[];
  readonly #src: string;
  #i = 0;
  /** Top: whether newlines are insignificant here (inside (), [], object/set literals). */
  readonly #nl: boolean[] = [false];
  #fresh = 0;

  constructor(src: string) {
    this.#src = src;
    this.#toks = tokenize(src);
  }

  #skipNl(): void {
    while (this.#toks[this.#i]?.type === 'nl') this.#i++;
  }
  #peek(offset = 0): Token {
    const ignoreNl = this.#nl[this.#nl.length - 1];
    if (offset === 0 && !ignoreNl) return this.#toks[this.#i] as Token;
    if (ignoreNl) this.#skipNl();
    let j = this.#i;
    let n = offset;
    for (;;) {
      const t = this.#toks[j] as Token;
      if (t.type === 'nl' && this.#nl[this.#nl.length - 1]) {
        j++;
        continue;
      }
      if (n === 0) return t;
      n--;
      j++;
    }
  }
  #next(): Token {
    if (this.#nl[this.#nl.length - 1]) this.#skipNl();
    const t = this.#toks[this.#i] as Token;
    if (t.type !== 'eof') this.#i++;
    return t;
  }
  #is(value: string, offset = 0): boolean {
    const t = this.#peek(offset);
    return (t.type === 'punct' || t.type === 'ident') && t.value === value;
  }
  #expect(value: string): Token {
    const t = this.#next();
    if (t.value !== value || (t.type !== 'punct' && t.type !== 'ident')) {
      throw new RegoError(
        'parse',
        `expected ${JSON.stringify(value)}, found ${JSON.stringify(t.value)}`,
        this.#loc(t),
      );
    }
    return t;
  }
  #loc(t: Token): SourceLocation {
    return { line: t.line, col: t.col };
  }
  #withNl<T>(ignore: boolean, f: () => T): T {
    this.#nl.push(ignore);
    try {
      return f();
    } finally {
      this.#nl.pop();
    }
  }

  module(): Module {
    this.#skipNl();
    this.#expect('package');
    const pkg = [this.#next().value];
    while (this.#is('.')) {
      this.#next();
      pkg.push(this.#next().value);
    }
    const rules: Rule[] = [];
    for (;;) {
      this.#skipNl();
      const t = this.#peek();
      if (t.type === 'eof') break;
      if (t.value === 'import') {
        this.#next();
        while (this.#peek().type !== 'nl' && this.#peek().type !== 'eof') this.#next();
        continue;
      }
      rules.push(this.#rule());
    }
    return { pkg, rules };
  }

  #rule(): Rule {
    const start = this.#peek();
    let isDefault = false;
    if (start.value === 'default' && start.type === 'ident') {
      this.#next();
      isDefault = true;
    }
    const nameTok = this.#next();
    if (nameTok.type !== 'ident')
      throw new RegoError(
        'parse',
        `expected a rule name, found ${JSON.stringify(nameTok.value)}`,
        this.#loc(nameTok),
      );
    const rule: Rule = {
      name: nameTok.value,
      kind: 'complete',
      isDefault,
      args: undefined,
      key: undefined,
      value: undefined,
      body: [],
      elseRule: undefined,
      loc: this.#loc(nameTok),
    };
    if (this.#is('(')) {
      this.#next();
      rule.kind = 'function';
      rule.args = this.#withNl(true, () => {
        const args: Term[] = [];
        while (!this.#is(')')) {
          args.push(this.#term());
          if (this.#is(',')) this.#next();
        }
        this.#next();
        return args;
      });
    } else if (this.#is('[')) {
      this.#next();
      rule.key = this.#withNl(true, () => {
        const k = this.#term();
        this.#expect(']');
        return k;
      });
      rule.kind = 'set';
    } else if (this.#is('contains')) {
      this.#next();
      rule.kind = 'set';
      rule.key = this.#term();
    }
    if (this.#is(':=') || this.#is('=')) {
      this.#next();
      if (rule.kind === 'set' && rule.key !== undefined && !this.#is('contains')) rule.kind = 'object';
      rule.value = this.#term();
    }
    this.#ruleBody(rule);
    return rule;
  }

  #ruleBody(rule: Rule): void {
    if (this.#is('if')) {
      this.#next();
      if (this.#is('{')) rule.body = this.#body();
      else rule.body = [this.#expr()];
    } else if (this.#is('{')) {
      rule.body = this.#body();
    }
    const save = this.#i;
    this.#skipNl();
    if (this.#is('else')) {
      const t = this.#next();
      const alt: Rule = {
        ...rule,
        isDefault: false,
        value: undefined,
        body: [],
        elseRule: undefined,
        loc: this.#loc(t),
      };
      if (this.#is(':=') || this.#is('=')) {
        this.#next();
        alt.value = this.#term();
      }
      this.#ruleBody(alt);
      rule.elseRule = alt;
    } else {
      this.#i = save;
    }
  }

  #body(): Expr[] {
    this.#expect('{');
    return this.#withNl(false, () => {
      const exprs: Expr[] = [];
      for (;;) {
        this.#skipNl();
        if (this.#is('}')) break;
        exprs.push(this.#expr());
        if (this.#is(';')) this.#next();
        else if (!this.#is('}') && this.#peek().type !== 'nl') {
          const t = this.#peek();
          throw new RegoError(
            'parse',
            `unexpected ${JSON.stringify(t.value)} after expression`,
            this.#loc(t),
          );
        }
      }
      this.#next();
      return exprs;
    });
  }

  /** Body expressions inside a comprehension, terminated by `]` or `}`; separators `;` or newline. */
  #compBody(close: string): Expr[] {
    return this.#withNl(false, () => {
      const exprs: Expr[] = [];
      for (;;) {
        this.#skipNl();
        if (this.#is(close)) break;
        exprs.push(this.#expr());
        if (this.#is(';')) this.#next();
      }
      this.#next();
      return exprs;
    });
  }

  #expr(): Expr {
    const first = this.#peek();
    const loc = this.#loc(first);
    const e = this.#exprInner();
    const last = this.#toks[this.#i - 1] as Token;
    const text = this.#src.slice(first.pos, last.end).replace(/\s+/g, ' ');
    return { ...e, loc, text } as Expr;
  }

  /** `x` or `k, v` after `some` / `every` (the variables may be fresh: `term(true)`). */
  #keyValue(): { first: Term; key: Term | undefined; value: Term } {
    const first = this.#term(true);
    if (!this.#is(',')) return { first, key: undefined, value: first };
    this.#next();
    return { first, key: first, value: this.#term(true) };
  }

  #exprInner(): Omit<Expr, 'loc' | 'text'> {
    if (this.#is('not')) {
      this.#next();
      return { k: 'not', expr: this.#expr() } as Omit<Expr, 'loc' | 'text'>;
    }
    if (this.#is('some')) {
      this.#next();
      const { first, key, value } = this.#keyValue();
      if (this.#is('in')) {
        this.#next();
        const coll = this.#term();
        return { k: 'somein', key, value, coll } as Omit<Expr, 'loc' | 'text'>;
      }
      const vars = [first, ...(key ? [value] : [])].map((v) => {
        if (v.t !== 'var') throw new RegoError('parse', 'some expects variables', this.#loc(this.#peek()));
        return v.name;
      });
      return { k: 'some', vars } as Omit<Expr, 'loc' | 'text'>;
    }
    if (this.#is('every')) {
      this.#next();
      const { key, value } = this.#keyValue();
      this.#expect('in');
      const coll = this.#term();
      const body = this.#body();
      return { k: 'every', key, value, coll, body } as Omit<Expr, 'loc' | 'text'>;
    }
    const lhs = this.#term();
    if (this.#is(':=')) {
      this.#next();
      return { k: 'assign', lhs, rhs: this.#term() } as Omit<Expr, 'loc' | 'text'>;
    }
    if (this.#is('=')) {
      this.#next();
      return { k: 'unify', lhs, rhs: this.#term() } as Omit<Expr, 'loc' | 'text'>;
    }
    return { k: 'term', term: lhs } as Omit<Expr, 'loc' | 'text'>;
  }

  /** term := or-expression. `noIn` stops before `in` (for `some x in`, `every x in`). */
  #term(noIn = false): Term {
    return this.#binary(0, noIn);
  }

  #binary(level: number, noIn: boolean): Term {
    const levels = LEVELS;
    if (level >= levels.length) return this.#unary();
    let l = this.#binary(level + 1, noIn);
    for (;;) {
      const t = this.#peek();
      const ops = levels[level] as string[];
      if (!ops.includes(t.value) || t.type === 'string') break;
      if (t.value === 'in') {
        if (noIn) break;
        this.#next();
        const coll = this.#binary(level + 1, noIn);
        l = { t: 'member', key: undefined, value: l, coll };
        continue;
      }
      this.#next();
      const r = this.#binary(level + 1, noIn);
      l = { t: 'binop', op: t.value, l, r };
    }
    return l;
  }

  #unary(): Term {
    if (this.#is('-') && this.#peek(1).type === 'number') {
      this.#next();
      const n = this.#next();
      return { t: 'scalar', v: -Number(n.value) };
    }
    if (this.#is('-')) {
      this.#next();
      return { t: 'neg', x: this.#unary() };
    }
    return this.#postfix(this.#primary());
  }

  #postfix(head: Term): Term {
    const path: Term[] = [];
    for (;;) {
      const t = this.#toks[this.#i] as Token;
      // A ref continues only when `.` or `[` follows with no whitespace-newline break.
      if (t.type === 'punct' && t.value === '.' && (this.#toks[this.#i + 1] as Token).type === 'ident') {
        this.#i++;
        path.push({ t: 'scalar', v: this.#next().value });
        continue;
      }
      if (t.type === 'punct' && t.value === '[') {
        this.#i++;
        path.push(
          this.#withNl(true, () => {
            const k = this.#term();
            this.#expect(']');
            return k;
          }),
        );
        continue;
      }
      break;
    }
    return path.length === 0 ? head : { t: 'ref', head, path };
  }

  #primary(): Term {
    const t = this.#next();
    const loc = this.#loc(t);
    if (t.type === 'string') return { t: 'scalar', v: t.value };
    if (t.type === 'number') return { t: 'scalar', v: Number(t.value) };
    if (t.type === 'ident') {
      if (t.value === 'true' || t.value === 'false') return { t: 'scalar', v: t.value === 'true' };
      if (t.value === 'null') return { t: 'scalar', v: null };
      if (t.value === '_') return { t: 'var', name: `_$${this.#fresh++}` };
      // Dotted builtin/function call: a.b.c(...)
      let name = t.value;
      let j = this.#i;
      while (
        (this.#toks[j] as Token).value === '.' &&
        (this.#toks[j + 1] as Token).type === 'ident' &&
        ((this.#toks[j + 2] as Token).value === '.' || (this.#toks[j + 2] as Token).value === '(')
      ) {
        name += `.${(this.#toks[j + 1] as Token).value}`;
        j += 2;
      }
      if ((this.#toks[j] as Token).value === '(' && (this.#toks[j] as Token).type === 'punct') {
        this.#i = j + 1;
        const args = this.#withNl(true, () => {
          const a: Term[] = [];
          while (!this.#is(')')) {
            a.push(this.#term());
            if (this.#is(',')) this.#next();
          }
          this.#next();
          return a;
        });
        return { t: 'call', fn: name, args, loc };
      }
      return { t: 'var', name: t.value };
    }
    if (t.value === '(') {
      return this.#withNl(true, () => {
        const x = this.#term();
        this.#expect(')');
        return x;
      });
    }
    if (t.value === '[') {
      return this.#withNl(true, () => {
        if (this.#is(']')) {
          this.#next();
          return { t: 'array', items: [] } as Term;
        }
        const first = this.#binary(1, false); // above `|` so `[x | ...]` parses as a comprehension
        if (this.#is('|')) {
          this.#next();
          return { t: 'arraycomp', term: first, body: this.#compBody(']') } as Term;
        }
        const items = [first];
        while (this.#is(',')) {
          this.#next();
          if (this.#is(']')) break;
          items.push(this.#term());
        }
        this.#expect(']');
        return { t: 'array', items } as Term;
      });
    }
    if (t.value === '{') {
      return this.#withNl(true, () => {
        if (this.#is('}')) {
          this.#next();
          return { t: 'object', entries: [] } as Term;
        }
        const first = this.#binary(1, false); // above `|` so `{x | ...}` parses as a comprehension
        if (this.#is('|')) {
          this.#next();
          return { t: 'setcomp', term: first, body: this.#compBody('}') } as Term;
        }
        if (this.#is(':')) {
          this.#next();
          const v = this.#binary(1, false);
          if (this.#is('|')) {
            this.#next();
            return { t: 'objcomp', key: first, value: v, body: this.#compBody('}') } as Term;
          }
          const entries: Array<[Term, Term]> = [[first, v]];
          while (this.#is(',')) {
            this.#next();
            if (this.#is('}')) break;
            const k = this.#term();
            this.#expect(':');
            entries.push([k, this.#term()]);
          }
          this.#expect('}');
          return { t: 'object', entries } as Term;
        }
        const items = [first];
        while (this.#is(',')) {
          this.#next();
          if (this.#is('}')) break;
          items.push(this.#term());
        }
        this.#expect('}');
        return { t: 'set', items } as Term;
      });
    }
    throw new RegoError('parse', `unexpected ${JSON.stringify(t.value || t.type)}`, loc);
  }
}
