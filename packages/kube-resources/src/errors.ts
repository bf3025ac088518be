import { ContrastError, type ContrastErrorCode } from '@contrast-cc/core';

/** One problem in an input file, at a path such as `documents[2].spec.template.spec.containers[0].image`. */
export interface ResourceProblem {
  file: string;
  field?: string;
  message: string;
}

/**
 * Everything wrong with the inputs, collected before anything is written. `describe()` gives one
 * line per problem: `deploy.yaml: documents[2].spec...image: must be a string`.
 */
export class ResourceInputError extends ContrastError {
  readonly problems: readonly ResourceProblem[];

  constructor(problems: readonly ResourceProblem[], code: ContrastErrorCode = 'validation-failed') {
    const first = problems[0];
    super(code, problems.map(formatProblem).join('\n'), { file: first?.file, field: first?.field });
    this.name = 'ResourceInputError';
    this.problems = problems;
  }

  override describe(): string {
    return this.problems.map(formatProblem).join('\n');
  }
}

function formatProblem(p: ResourceProblem): string {
  return [p.file, p.field, p.message].filter(Boolean).join(': ');
}

/** `['documents', 2, 'spec']` -> `documents[2].spec`; odd keys are quoted. */
export function formatKubePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (typeof part === 'string' && /^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(part))
      out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out;
}
