import type { AgentDecision } from './agent.js';

/** A one-line explanation of a denial: the rule chain and the deepest failing expression. */
export function explainDenial(kind: string, decision: AgentDecision): string {
  if (decision.allowed) return `${kind} allowed`;
  const f = decision.failure;
  if (!f) return `${kind} denied by default (no rule body applies)`;
  const operands =
    f.left !== undefined ? `: ${f.left} ${f.op === '==' ? '!=' : `not ${f.op}`} ${f.right}` : '';
  return `${kind} denied: ${f.stack.join(' > ')} (policy line ${f.loc.line}): \`${f.text}\` failed${operands}`;
}
