import { type FailureRecord, isObject, RegoEngine, RegoError, toJson, type Value } from '@contrast-cc/rego';
import { applyJsonPatch, type JsonPatchOp } from '../json-patch.js';

export interface AgentDecision {
  allowed: boolean;
  /** JSON-patch ops the rule returned (applied to the data document when allowed). */
  ops: JsonPatchOp[];
  /** Output of `print` calls during the query. */
  prints: string[];
  /** The deepest failing expression, when denied. */
  failure: FailureRecord | undefined;
}

/**
 * The Kata agent's policy contract: a policy text, a data document starting as `{"pstate": {}}`,
 * one query `data.agent_policy.<Request>` per request; a boolean or `{allowed, ops}` result;
 * ops are applied to the data document between requests when allowed.
 */
export class AgentPolicy {
  readonly engine = new RegoEngine();

  constructor(policyText: string) {
    this.engine.addPolicy('agent_policy', policyText);
    this.engine.setData({ pstate: {} });
  }

  /** The current state document (`data.pstate`). */
  get state(): unknown {
    return toJson((this.engine.getData() as { pstate: Value }).pstate);
  }

  /** Whether `AllowRequestsFailingPolicy` is set (the agent then ignores denials). */
  allowsFailingRequests(): boolean {
    this.engine.setInput(undefined);
    return this.engine.evalRule('data.agent_policy.AllowRequestsFailingPolicy').value === true;
  }

  evaluate(kind: string, input: unknown): AgentDecision {
    if (!/^[A-Za-z]+$/.test(kind)) throw new RegoError('type', `bad request kind ${JSON.stringify(kind)}`);
    this.engine.setInput(input as Value);
    const res = this.engine.evalRule(`data.${this.engine.packagePath.join('.')}.${kind}`);
    const v = res.value;
    if (v === undefined)
      throw new RegoError('no-result', `${kind}: the policy gave no result (no rule and no default)`);
    let allowed: boolean;
    let ops: JsonPatchOp[] = [];
    if (typeof v === 'boolean') allowed = v;
    else if (isObject(v) && typeof v.allowed === 'boolean') {
      allowed = v.allowed;
      if (Array.isArray(v.ops)) ops = toJson(v.ops) as JsonPatchOp[];
    } else {
      throw new RegoError(
        'type',
        `${kind}: result must be a boolean or {allowed, ops}, got ${JSON.stringify(toJson(v))}`,
      );
    }
    if (allowed && ops.length > 0) {
      this.engine.setData(applyJsonPatch(toJson(this.engine.getData()), ops, `${kind}.ops`) as Value);
    }
    return { allowed, ops, prints: res.prints, failure: allowed ? undefined : res.failure };
  }
}
