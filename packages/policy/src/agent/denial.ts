import type { AgentDecision } from './agent.js';

/** Bindings worth showing: the input item being checked when the failure happened. */
export const CONTEXT_VARS = [
  'var',
  'required_var',
  'required',
  'key',
  'value',
  'i_mount',
  'i_storage',
  'args',
];

/** A one-line explanation of a denial: the rule chain and the deepest failing expression. */
export function explainDenial(kind: string, decision: AgentDecision): string {
  if (decision.allowed) return `${kind} allowed`;
  const f = decision.failure;
  if (!f) return `${kind} denied by default (no rule body applies)`;
  const operands =
    f.left !== undefined ? `: ${f.left} ${f.op === '==' ? '!=' : `not ${f.op}`} ${f.right}` : '';
  const ctx = CONTEXT_VARS.filter((k) => f.bindings[k] !== undefined)
    .map((k) => `${k} = ${f.bindings[k]}`)
    .join(', ');
  return `${kind} denied: ${f.stack.join(' > ')} (policy line ${f.loc.line}): \`${f.text}\` failed${operands}${ctx ? ` [${ctx}]` : ''}`;
}
