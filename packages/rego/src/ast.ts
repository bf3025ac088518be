import type { SourceLocation } from './errors.js';

export type Term =
  | { t: 'scalar'; v: string | number | boolean | null }
  | { t: 'var'; name: string }
  | { t: 'ref'; head: Term; path: Term[] }
  | { t: 'array'; items: Term[] }
  | { t: 'object'; entries: Array<[Term, Term]> }
  | { t: 'set'; items: Term[] }
  | { t: 'arraycomp'; term: Term; body: Expr[] }
  | { t: 'setcomp'; term: Term; body: Expr[] }
  | { t: 'objcomp'; key: Term; value: Term; body: Expr[] }
  | { t: 'call'; fn: string; args: Term[]; loc: SourceLocation }
  | { t: 'binop'; op: string; l: Term; r: Term }
  | { t: 'neg'; x: Term }
  | { t: 'member'; key: Term | undefined; value: Term; coll: Term };

interface ExprBase {
  loc: SourceLocation;
  /** The expression's source text, for explanations. */
  text: string;
}

export type Expr = ExprBase &
  (
    | { k: 'term'; term: Term }
    | { k: 'assign'; lhs: Term; rhs: Term }
    | { k: 'unify'; lhs: Term; rhs: Term }
    | { k: 'some'; vars: string[] }
    | { k: 'somein'; key: Term | undefined; value: Term; coll: Term }
    | { k: 'every'; key: Term | undefined; value: Term; coll: Term; body: Expr[] }
    | { k: 'not'; expr: Expr }
  );

export interface Rule {
  name: string;
  kind: 'complete' | 'function' | 'set' | 'object';
  isDefault: boolean;
  args: Term[] | undefined;
  key: Term | undefined;
  value: Term | undefined;
  body: Expr[];
  /** `else` alternative: tried only when this definition's body gives no result. */
  elseRule: Rule | undefined;
  loc: SourceLocation;
}

export interface Module {
  pkg: string[];
  rules: Rule[];
}
