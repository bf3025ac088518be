import { isMap, isSeq, LineCounter, parseAllDocuments } from 'yaml';
import { policyTextFromAny } from './assemble.js';
import { AgentPolicy } from './rego/agent.js';
import type { FailureRecord } from './rego/eval.js';
import { CONTEXT_VARS, explainDenial } from './rego/explain.js';
import { normalizeRequest } from './rego/normalize.js';

export interface RequestExplanation {
  kind: string;
  allowed: boolean;
  /** One line: which rule, which expression, the differing values. */
  message: string;
  /** The policy container the request was checked against, e.g. `spec.containers[0]`. */
  container?: string;
  /** The pod-spec field the failure points at, e.g. `spec.containers[0].command`. */
  field?: string;
  /** 1-based line in the user's YAML (of the whole file, all documents counted), when the YAML was given. */
  line?: number;
  /**
   * The path `line` points at: `field` itself when the YAML sets it, else the nearest enclosing
   * entry that exists (e.g. the container, when `securityContext` is not written at all).
   */
  linePath?: string;
  /** The failing check, structured (absent when allowed or denied by default). */
  failure?: ExplainedFailure;
}

/** The deepest failing check of a denial. */
export interface ExplainedFailure {
  /** Rule chain from the request entry point, e.g. `['CreateContainerRequest', 'container_matches', 'process_ok']`. */
  rules: string[];
  /** Line of the failing expression in the policy text. */
  policyLine: number;
  /** The failing expression as written in the rules. */
  expression: string;
  /**
   * For comparisons: the value from the request and the value the policy expects. The rules name
   * request values `i_*` / `input.*` and policy values `p_*` / `policy_data.*`; operands that
   * cannot be told apart are given as `left` / `right` only.
   */
  actual?: string;
  expected?: string;
  left?: string;
  right?: string;
  operator?: string;
  /**
   * When both sides of a failed equality are lists (or sets): the entries only the request has,
   * and the entries only the policy has (e.g. the one extra capability of a privileged container).
   */
  onlyInRequest?: unknown[];
  onlyInPolicy?: unknown[];
  /** Request items being checked when it failed (e.g. `var`: the env entry, `i_mount`). */
  context: Record<string, string>;
}

/** Which pod-spec field a failing rule or expression is about. */
const FIELD_HINTS: Array<[RegExp, string[]]> = [
  [/exec_command/, ['livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle']],
  [/Args/, ['command', 'args']],
  [/Env|env_/, ['env', 'envFrom']],
  [/image|guest_pull_source/, ['image']],
  [/mount|Mounts/, ['volumeMounts']],
  [/storage/, ['volumeMounts']],
  [/User|AdditionalGids|UID|GID/, ['securityContext']],
  [/caps|Capabilities|NoNewPrivileges|Readonly/, ['securityContext']],
  [/Sysctl/, ['securityContext']],
  [/Cwd/, ['workingDir']],
  [/Terminal/, ['tty']],
];

function containerFor(
  policyText: string,
  kind: string,
  input: Record<string, unknown>,
  state: Record<string, unknown>,
): string | undefined {
  const m = /\npolicy_data := ([\s\S]*)$/.exec(policyText);
  if (!m) return undefined;
  let data: { containers?: Array<{ source_path?: string; OCI?: { Annotations?: Record<string, string> } }> };
  try {
    data = JSON.parse(m[1] as string);
  } catch {
    return undefined;
  }
  if (kind === 'ExecProcessRequest') {
    const idx = state[String(input.container_id)];
    return typeof idx === 'number' ? data.containers?.[idx]?.source_path : undefined;
  }
  if (kind !== 'CreateContainerRequest') return undefined;
  const anno = ((input.OCI as { Annotations?: Record<string, string> } | null)?.Annotations ?? {}) as Record<
    string,
    string
  >;
  if (anno['io.kubernetes.cri.container-type'] === 'sandbox') return 'pause';
  const name = anno['io.kubernetes.cri.container-name'];
  return data.containers?.find((c) => c.OCI?.Annotations?.['io.kubernetes.cri.container-name'] === name)
    ?.source_path;
}

/**
 * The 1-based line of a dotted/indexed path (`spec.containers[0].command`) in YAML text, below
 * `templatePrefix` (e.g. `['spec', 'template']`) in document `documentIndex` of a multi-document
 * file; lines count from the start of the file. Undefined when the path is absent.
 */
export function yamlLineOf(
  yamlText: string,
  fieldPath: string,
  templatePrefix: ReadonlyArray<string | number> = [],
  documentIndex = 0,
): number | undefined {
  const lc = new LineCounter();
  const docs = parseAllDocuments(yamlText, { lineCounter: lc });
  const doc = Array.isArray(docs) ? docs[documentIndex] : undefined;
  if (!doc) return undefined;
  const keys: Array<string | number> = [...templatePrefix];
  for (const part of fieldPath.split('.')) {
    const m = /^([^[]+)((?:\[\d+\])*)$/.exec(part);
    if (!m) return undefined;
    keys.push(m[1] as string);
    for (const idx of (m[2] as string).matchAll(/\[(\d+)\]/g)) keys.push(Number(idx[1]));
  }
  let node: unknown = doc.contents;
  let line: number | undefined;
  for (const k of keys) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === k);
      if (!pair) return undefined;
      const range = (pair.key as { range?: [number, number, number] }).range;
      if (range) line = lc.linePos(range[0]).line;
      node = pair.value;
    } else if (isSeq(node) && typeof k === 'number') {
      const item = node.items[k] as { range?: [number, number, number] } | undefined;
      if (!item) return undefined;
      if (item.range) line = lc.linePos(item.range[0]).line;
      node = item;
    } else {
      return undefined;
    }
  }
  return line;
}

/** Which operand of a comparison comes from the request: `i_*`/`input.*` vs `p_*`/`policy_data.*`. */
function side(text: string): 'request' | 'policy' | undefined {
  const t = text.trim().replace(/^(?:count|caps_set|image_digest|subst|common_fragments)\(/, '');
  if (/^(?:i_|input\b)/.test(t) || /^\{\s*\w+\s*\|\s*some \w+ in i_/.test(t)) return 'request';
  if (/^(?:p_|policy_data\b)/.test(t) || /^\{\s*\w+\s*\|\s*some \w+ in p_/.test(t)) return 'policy';
  return undefined;
}

function structuredFailure(f: FailureRecord): ExplainedFailure {
  const out: ExplainedFailure = {
    rules: [...f.stack],
    policyLine: f.loc.line,
    expression: f.text,
    context: Object.fromEntries(
      CONTEXT_VARS.filter((k) => f.bindings[k] !== undefined).map((k) => [k, f.bindings[k] as string]),
    ),
  };
  if (f.left === undefined || f.right === undefined || f.op === undefined) return out;
  out.left = f.left;
  out.right = f.right;
  out.operator = f.op;
  const m = /^(.*?)\s*(==|!=|<=|>=|<|>)\s*(.*)$/.exec(f.text);
  if (f.op === '==' && m) {
    const l = side(m[1] as string);
    const r = side(m[3] as string);
    let request: unknown;
    let policy: unknown;
    if (l === 'request' && r !== 'request') {
      out.actual = f.left;
      out.expected = f.right;
      [request, policy] = [f.leftValue, f.rightValue];
    } else if (l === 'policy' && r !== 'policy') {
      out.actual = f.right;
      out.expected = f.left;
      [request, policy] = [f.rightValue, f.leftValue];
    }
    if (Array.isArray(request) && Array.isArray(policy)) {
      const key = (v: unknown) => JSON.stringify(v);
      const inPolicy = new Set(policy.map(key));
      const inRequest = new Set(request.map(key));
      out.onlyInRequest = request.filter((v) => !inPolicy.has(key(v)));
      out.onlyInPolicy = policy.filter((v) => !inRequest.has(key(v)));
    }
  }
  return out;
}

/** The pod template's path in its document, by the workload kind (`Pod`: the document itself). */
function templatePrefixFor(kind: unknown): string[] {
  if (kind === 'Pod' || typeof kind !== 'string') return [];
  return kind === 'CronJob' ? ['spec', 'jobTemplate', 'spec', 'template'] : ['spec', 'template'];
}

/**
 * Evaluates one agent request against a policy (annotation value, initdata TOML, base64 or raw
 * Rego) and explains the decision. With the workload YAML, the failure is mapped back to a line:
 * `document` picks the document of a multi-document file (default 0) and `podPath` the pod
 * template inside it (default: by the object's kind, `spec.template` or the Pod itself).
 * State-dependent requests (exec after create) need the earlier requests: pass them in `history`.
 */
export function explainRequest(options: {
  policy: string;
  kind: string;
  request: unknown;
  history?: Array<{ kind: string; request: unknown }>;
  yaml?: string;
  document?: number;
  podPath?: ReadonlyArray<string | number>;
}): RequestExplanation {
  const policyText = policyTextFromAny(options.policy);
  const agent = new AgentPolicy(policyText);
  for (const h of options.history ?? []) agent.evaluate(h.kind, normalizeRequest(h.kind, h.request));
  const input = normalizeRequest(options.kind, options.request) as Record<string, unknown>;
  const decision = agent.evaluate(options.kind, input);
  const out: RequestExplanation = {
    kind: options.kind,
    allowed: decision.allowed,
    message: explainDenial(options.kind, decision),
  };
  if (decision.allowed) return out;
  const f = decision.failure;
  if (f) out.failure = structuredFailure(f);
  const container = containerFor(policyText, options.kind, input, agent.state as Record<string, unknown>);
  if (container) out.container = container;
  const hay = f ? `${f.stack.join(' ')} ${f.text}` : '';
  const hint = FIELD_HINTS.find(([re]) => re.test(hay));
  if (container && container !== 'pause') {
    out.field = hint ? `${container}.${hint[1][0]}` : container;
    if (options.yaml) {
      const documentIndex = options.document ?? 0;
      let prefix: ReadonlyArray<string | number>;
      if (options.podPath) {
        prefix = options.podPath;
      } else {
        const docs = parseAllDocuments(options.yaml);
        const doc = Array.isArray(docs) ? (docs[documentIndex]?.toJS() as { kind?: unknown } | null) : null;
        prefix = templatePrefixFor(doc?.kind);
      }
      const candidates = hint ? hint[1].map((h) => `${container}.${h}`) : [];
      for (const c of [...candidates, container]) {
        const line = yamlLineOf(options.yaml, c, prefix, documentIndex);
        if (line !== undefined) {
          out.line = line;
          out.linePath = c;
          if (c !== container) out.field = c;
          break;
        }
      }
    }
  }
  if (out.line !== undefined) {
    out.message +=
      out.linePath === out.field
        ? ` (YAML line ${out.line}: ${out.field})`
        : ` (YAML line ${out.line}: ${out.linePath}, which does not set ${out.field?.slice((out.linePath?.length ?? 0) + 1)})`;
  }
  return out;
}
