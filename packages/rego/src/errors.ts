import { ContrastError } from '@contrast-cc/core';

/** Where in the Rego source something is. */
export interface SourceLocation {
  line: number;
  col: number;
}

export type RegoErrorKind = 'parse' | 'conflict' | 'unsafe-var' | 'type' | 'unsupported' | 'no-result';

/** A typed evaluator error. `kind` says what went wrong; `loc` where in the policy. */
export class RegoError extends ContrastError {
  readonly kind: RegoErrorKind;
  readonly loc: SourceLocation | undefined;
  constructor(kind: RegoErrorKind, message: string, loc?: SourceLocation) {
    super(
      kind === 'parse' || kind === 'unsupported' ? 'invalid-argument' : 'validation-failed',
      loc ? `${loc.line}:${loc.col}: ${message}` : message,
      {
        field: loc ? `line ${loc.line}` : undefined,
      },
    );
    this.kind = kind;
    this.loc = loc;
  }
}
