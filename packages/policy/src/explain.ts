import type { FailureRecord } from '@contrast-cc/rego';
import { isMap, isSeq, LineCounter, parseAllDocuments } from 'yaml';
import { type AgentDecision, AgentPolicy } from './agent/agent.js';
import { CONTEXT_VARS, explainDenial } from './agent/denial.js';
import { NORMALIZED_KINDS, normalizeRequest } from './agent/normalize.js';
import { policyTextFromAny, splitPolicyText } from './assemble.js';

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
  /**
   * `==`, `!=`, ... for comparisons; `regex.match` when a request string did not match a policy
   * pattern (`expected` is the pattern); `in` when the request had a value none of the policy's
   * alternatives allow (`expected` is the JSON list of all of them: the container's env, exec
   * commands, mount destinations, or the pod's container names).
   */
  operator?: string;
  /**
   * When both sides of a failed equality are lists (or sets): the entries only the request has,
   * and the entries only the policy has (e.g. the one extra capability of a privileged container).
   */
  onlyInRequest?: unknown[];
  onlyInPolicy?: unknown[];
  /** Request items being checked when it failed (e.g. `var`: the env entry, `i_mount`). */
  context: Record<string, string>;
  /**
   * A sentence for failures whose operands alone read badly, e.g. for the image digest binding:
   * `image digest sha256:… expected, request has none: the pod spec image is not pinned`.
   */
  note?: string;
}

/** Which pod-spec field a failing rule or expression is about. */
const FIELD_HINTS: Array<[RegExp, string[]]> = [
  [/exec_command/, ['livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle']],
  [/volume_devices|linux_devices|block_devices/, ['volumeDevices']],
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

/** What explanations read from a policy container of the policy data. */
interface PolicyContainerData {
  source_path?: string;
  OCI?: {
    Annotations?: Record<string, string>;
    Process?: { Env?: string[] };
    Mounts?: Array<{ destination?: string }>;
  };
  env_regex?: string[];
  exec_commands?: string[][];
}

function policyContainers(policyText: string): PolicyContainerData[] {
  const containers = splitPolicyText(policyText).data?.containers;
  return Array.isArray(containers) ? (containers as PolicyContainerData[]) : [];
}

function containerFor(
  containers: readonly PolicyContainerData[],
  kind: string,
  input: Record<string, unknown>,
  state: Record<string, unknown>,
): PolicyContainerData | undefined {
  if (kind === 'ExecProcessRequest') {
    const idx = state[String(input.container_id)];
    return typeof idx === 'number' ? containers[idx] : undefined;
  }
  if (kind !== 'CreateContainerRequest') return undefined;
  const anno = ((input.OCI as { Annotations?: Record<string, string> } | null)?.Annotations ?? {}) as Record<
    string,
    string
  >;
  if (anno['io.kubernetes.cri.container-type'] === 'sandbox') {
    return (
      containers.find((c) => c.OCI?.Annotations?.['io.kubernetes.cri.container-type'] === 'sandbox') ?? {
        source_path: 'pause',
      }
    );
  }
  const name = anno['io.kubernetes.cri.container-name'];
  return containers.find((c) => c.OCI?.Annotations?.['io.kubernetes.cri.container-name'] === name);
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

/**
 * Which operand of a comparison comes from the request: `i_*`/`input.*` and the request items the
 * rules iterate over (`var`, `args`, ...) vs `p_*`/`policy_data.*`.
 */
function side(text: string): 'request' | 'policy' | undefined {
  const t = text.trim().replace(/^(?:count|caps_set|image_digest|subst|common_fragments)\(/, '');
  if (/^(?:i_|input\b)/.test(t) || /^\{\s*\w+\s*\|\s*some \w+ in i_/.test(t)) return 'request';
  if (CONTEXT_VARS.some((v) => new RegExp(`^${v}\\b`).test(t))) return 'request';
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
  if (f.op === 'regex.match') {
    // The rules match request strings against policy patterns.
    out.actual = f.right;
    out.expected = f.left;
    return out;
  }
  if (f.op === '==' && m) {
    const l = side(m[1] as string);
    const r = side(m[3] as string);
    let request: unknown;
    let policy: unknown;
    const leftIsRequest =
      l === 'request' && r !== 'request'
        ? true
        : r === 'request' && l !== 'request'
          ? false
          : l === 'policy' && r !== 'policy'
            ? false
            : r === 'policy' && l !== 'policy'
              ? true
              : undefined;
    if (leftIsRequest === true) {
      out.actual = f.left;
      out.expected = f.right;
      [request, policy] = [f.leftValue, f.rightValue];
    } else if (leftIsRequest === false) {
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

/** `@sha256:…` (the rules' `image_digest`) -> `sha256:…`; `""`/absent -> undefined. */
function digestOf(v: unknown): string | undefined {
  return typeof v === 'string' && v.startsWith('@') && v.length > 1 ? v.slice(1) : undefined;
}

/**
 * The image digest binding (`same_image`): the policy's pinned digest against the request's
 * image-name annotation or guest-pull storage source, said in words.
 */
function imageNote(f: FailureRecord): string | undefined {
  if (f.stack[f.stack.length - 1] !== 'same_image' || f.op !== '==') return undefined;
  const expected = digestOf(f.leftValue);
  const actual = digestOf(f.rightValue);
  const what = f.stack.includes('guest_pull_source_ok')
    ? 'the guest-pull storage source'
    : 'the image-name annotation';
  if (expected && !actual) {
    return `image digest ${expected} expected, request has none: the pod spec image is not pinned (${what} names a tag only; deploy the YAML that contrast generate pinned)`;
  }
  if (expected && actual) {
    return `image digest ${expected} expected, request has ${actual}: another image than the one pinned at generate time (${what})`;
  }
  if (!expected && actual) {
    return `the policy pins no image digest, request has ${actual}: the policy was generated from an unpinned image; run contrast generate again`;
  }
  return undefined;
}

/** The order and presence guarantees (`started_before`, `env_present`), said in words. */
function orderNote(f: FailureRecord): string | undefined {
  const value = (k: string) => {
    const v = bindingValue(f.bindings[k]);
    return typeof v === 'string' ? v : undefined;
  };
  const required = value('required');
  if (f.stack.includes('started_before') && required) {
    return `container "${required}" must be created and started in this sandbox before this one; no StartContainerRequest for it came first (it is missing or out of order)`;
  }
  const variable = value('required_var');
  if (f.stack.includes('env_present') && variable) {
    return `env variable ${variable}, which the pod spec sets, is missing from the request`;
  }
  return undefined;
}

/** A rendered binding back to its value (bindings are JSON, possibly truncated). */
function bindingValue(rendered: string | undefined): unknown {
  if (rendered === undefined) return undefined;
  try {
    return JSON.parse(rendered);
  } catch {
    return rendered;
  }
}

/**
 * Where "any of several" checks failed, the deepest failing comparison is against the last
 * candidate only; say instead what the request had and everything the policy allows there.
 */
function widenAlternatives(
  out: ExplainedFailure,
  f: FailureRecord,
  container: PolicyContainerData | undefined,
  containers: readonly PolicyContainerData[],
): void {
  const oneOf = (actual: unknown, allowed: unknown[]) => {
    out.actual = JSON.stringify(actual);
    out.expected = JSON.stringify(allowed);
    out.operator = 'in';
    out.onlyInRequest = [actual];
    delete out.onlyInPolicy;
    delete out.left;
    delete out.right;
  };
  const stack = f.stack;
  if (stack.includes('env_ok') && f.bindings.var !== undefined && container) {
    oneOf(bindingValue(f.bindings.var), [
      ...(container.OCI?.Process?.Env ?? []),
      ...(container.env_regex ?? []),
    ]);
  } else if (stack.includes('exec_command_allowed') && f.bindings.args !== undefined && container) {
    oneOf(bindingValue(f.bindings.args), container.exec_commands ?? []);
  } else if (f.text === 'p_mount.destination == i_mount.destination' && container) {
    oneOf(
      f.rightValue,
      (container.OCI?.Mounts ?? []).map((m) => m.destination),
    );
  } else if (stack[stack.length - 1] === 'container_name_matches') {
    oneOf(
      f.rightValue,
      containers
        .map((c) => c.OCI?.Annotations?.['io.kubernetes.cri.container-name'])
        .filter((n): n is string => typeof n === 'string'),
    );
  }
}

/** The pod template's path in its document, by the workload kind (`Pod`: the document itself). */
function templatePrefixFor(kind: unknown): string[] {
  if (kind === 'Pod' || typeof kind !== 'string') return [];
  return kind === 'CronJob' ? ['spec', 'jobTemplate', 'spec', 'template'] : ['spec', 'template'];
}

/** Where the workload's pod template is in the user's YAML, for line numbers. */
export interface ExplainYaml {
  yaml?: string;
  /** Document of a multi-document file (default 0). */
  document?: number;
  /** The pod template inside that document (default: by the object's kind). */
  podPath?: ReadonlyArray<string | number>;
}

/**
 * Normalizes like the agent's protobuf round-trip for the request kinds whose schema we know;
 * other kinds (StartContainerRequest, ReadStreamRequest, ...) reach the rules as they are — the
 * rules decide those from `request_defaults` without reading the input.
 */
function normalizeAny(kind: string, request: unknown): Record<string, unknown> {
  if ((NORMALIZED_KINDS as readonly string[]).includes(kind)) {
    return normalizeRequest(kind, request) as Record<string, unknown>;
  }
  return (typeof request === 'object' && request !== null ? request : {}) as Record<string, unknown>;
}

/**
 * Evaluates agent requests in order against one policy instance (annotation value, initdata TOML,
 * base64 or raw Rego), as the agent does: each allowed request's state changes apply to the ones
 * after it. Returns one explanation per request; with the workload YAML, failures are mapped back
 * to lines. This is the way to replay a whole `/tmp/policy.jsonl` log: one evaluation per request.
 */
export function explainRequests(
  options: { policy: string; requests: ReadonlyArray<{ kind: string; request: unknown }> } & ExplainYaml,
): RequestExplanation[] {
  const policyText = policyTextFromAny(options.policy);
  const agent = new AgentPolicy(policyText);
  const containers = policyContainers(policyText);
  let prefix: ReadonlyArray<string | number> | undefined;
  return options.requests.map(({ kind, request }) => {
    const input = normalizeAny(kind, request);
    const decision = agent.evaluate(kind, input);
    if (decision.allowed) return { kind, allowed: true, message: explainDenial(kind, decision) };
    if (options.yaml !== undefined && prefix === undefined) prefix = podPrefix(options);
    return describeDenial(
      containers,
      kind,
      input,
      decision,
      agent.state as Record<string, unknown>,
      options,
      prefix,
    );
  });
}

/**
 * Evaluates one agent request (after the optional earlier ones in `history`, for stateful checks)
 * and explains the decision; see explainRequests.
 */
export function explainRequest(
  options: {
    policy: string;
    kind: string;
    request: unknown;
    history?: Array<{ kind: string; request: unknown }>;
  } & ExplainYaml,
): RequestExplanation {
  const all = explainRequests({
    ...options,
    requests: [...(options.history ?? []), { kind: options.kind, request: options.request }],
  });
  return all[all.length - 1] as RequestExplanation;
}

function podPrefix(options: ExplainYaml): ReadonlyArray<string | number> {
  if (options.podPath) return options.podPath;
  const docs = parseAllDocuments(options.yaml ?? '');
  const doc = Array.isArray(docs) ? (docs[options.document ?? 0]?.toJS() as { kind?: unknown } | null) : null;
  return templatePrefixFor(doc?.kind);
}

function describeDenial(
  containers: readonly PolicyContainerData[],
  kind: string,
  input: Record<string, unknown>,
  decision: AgentDecision,
  state: Record<string, unknown>,
  options: ExplainYaml,
  prefix: ReadonlyArray<string | number> | undefined,
): RequestExplanation {
  const out: RequestExplanation = { kind, allowed: false, message: explainDenial(kind, decision) };
  const f = decision.failure;
  const policyContainer = containerFor(containers, kind, input, state);
  if (f) {
    out.failure = structuredFailure(f);
    widenAlternatives(out.failure, f, policyContainer, containers);
    const note = imageNote(f) ?? orderNote(f);
    if (note) {
      out.failure.note = note;
      out.message += ` (${note})`;
    }
  }
  const container = policyContainer?.source_path;
  if (container) out.container = container;
  const hay = f ? `${f.stack.join(' ')} ${f.text}` : '';
  const hint = FIELD_HINTS.find(([re]) => re.test(hay));
  if (container && container !== 'pause') {
    out.field = hint ? `${container}.${hint[1][0]}` : container;
    if (options.yaml !== undefined && prefix !== undefined) {
      const candidates = hint ? hint[1].map((h) => `${container}.${h}`) : [];
      for (const c of [...candidates, container]) {
        const line = yamlLineOf(options.yaml, c, prefix, options.document ?? 0);
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
