import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import { policyTextFromAny } from './assemble.js';
import { AgentPolicy } from './rego/agent.js';
import { explainDenial } from './rego/explain.js';
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
  /** 1-based line of that field in the user's YAML, when the YAML was given. */
  line?: number;
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

/** The 1-based line of a dotted/indexed path (`spec.containers[0].command`) in YAML text; undefined when absent. */
export function yamlLineOf(
  yamlText: string,
  fieldPath: string,
  templatePrefix: string[] = [],
): number | undefined {
  const lc = new LineCounter();
  const doc = parseDocument(yamlText, { lineCounter: lc });
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

/**
 * Evaluates one agent request against a policy (annotation value, initdata TOML, base64 or raw
 * Rego) and explains the decision. With the workload YAML, the failure is mapped back to a line.
 * State-dependent requests (exec after create) need the earlier requests: pass them in `history`.
 */
export function explainRequest(options: {
  policy: string;
  kind: string;
  request: unknown;
  history?: Array<{ kind: string; request: unknown }>;
  yaml?: string;
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
  const container = containerFor(policyText, options.kind, input, agent.state as Record<string, unknown>);
  if (container) out.container = container;
  const f = decision.failure;
  const hay = f ? `${f.stack.join(' ')} ${f.text}` : '';
  const hint = FIELD_HINTS.find(([re]) => re.test(hay));
  if (container && container !== 'pause') {
    out.field = hint ? `${container}.${hint[1][0]}` : container;
    if (options.yaml) {
      const doc = parseDocument(options.yaml).toJS() as { kind?: string } | null;
      const prefix =
        doc?.kind === 'Pod' || !doc?.kind
          ? []
          : doc.kind === 'CronJob'
            ? ['spec', 'jobTemplate', 'spec', 'template']
            : ['spec', 'template'];
      const candidates = hint ? hint[1].map((h) => `${container}.${h}`) : [];
      for (const c of [...candidates, container]) {
        const line = yamlLineOf(options.yaml, c, prefix);
        if (line !== undefined) {
          out.line = line;
          if (c !== container) out.field = c;
          break;
        }
      }
    }
  }
  if (out.line !== undefined) out.message += ` (YAML line ${out.line}: ${out.field})`;
  return out;
}
