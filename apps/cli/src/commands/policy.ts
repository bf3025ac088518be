// `contrast policy explain | show | verify`: read back the Kata agent policies "contrast generate"
// wrote, explain why the agent refused a request, and compare the policies with the manifest.
import type { ParseArgsConfig } from 'node:util';
import type { PlatformRegistry } from '@contrast-cc/core';
import type { RequestExplanation } from '@contrast-cc/policy';
import type { Command } from '../command.js';
import { type CliIo, EXIT, type ExitCode } from '../io.js';
import { parseFlags, readInput, runCommand, usageError, workspaceFile } from '../util.js';
import { parseRequestFile, type RequestStep, requestTarget } from './policy-request.js';
import {
  chooseWorkload,
  filterWorkloads,
  loadPolicyLib,
  loadWorkloadPolicies,
  type PolicyLib,
  type WorkloadPolicy,
} from './policy-workloads.js';

export interface PolicyCommandDeps {
  /** The platforms whose runtime class names mark a Contrast workload. */
  registry: PlatformRegistry;
}

const HELP = `contrast policy — read, check and explain the pod policies "contrast generate" wrote.

Every Contrast pod carries a Kata agent policy (in the initdata annotation, or the legacy
io.katacontainers.config.agent.policy annotation on AKS). The agent in the pod's VM checks every
request of the host against it. When it refuses one, the pod fails with an event such as
"CreateContainerRequest is blocked by policy". "explain" tells you which rule refused which field
of which container, what the request had and what the policy expects, and the line of your YAML
the policy took that value from.

Usage:
  contrast policy explain --request <req.json> [--request-type <Kind>] [--workload <name>] [--json] <resources...>
  contrast policy show [--workload <name>] [--data-only] [--json] <resources...>
  contrast policy verify [--manifest <manifest.json>] [--workload <name>] [--json] <resources...>

  <resources...>  the YAML files or directories "contrast generate" patched

explain
  Evaluates the agent request(s) against the workload's policy, as the agent does, and prints
  ALLOWED or DENIED with the reason. The request file holds what the agent received, in the
  agent's JSON form (field names as in Kata's agent.proto/oci.proto: "OCI", "Process",
  "Annotations", "container_id", ...), as
    - the agent's debug log /tmp/policy.jsonl: one {"kind": ..., "request": ...} per line (with
      log_level = "debug" in the pod's agent config, the agent appends every request there),
    - the request object itself (its type from --request-type, default CreateContainerRequest),
    - {"kind": "ExecProcessRequest", "request": {...}} (also Kata's policy test-case format), or
    - a JSON array of those.
  Several requests are evaluated in order, as the agent did: an ExecProcessRequest is checked
  against the container created before it. The fields of CreateContainerRequest,
  ExecProcessRequest, CreateSandboxRequest, RemoveContainerRequest, CopyFileRequest,
  UpdateInterfaceRequest, UpdateRoutesRequest and AddARPNeighborsRequest are checked for type;
  other kinds (StartContainerRequest, ...) go to the policy as they are.
  With several workloads, --workload picks one; without it, the workload whose policy accepts
  the pod named in the request (io.kubernetes.cri.sandbox-name) is taken.

  -r, --request <file>         the request JSON (required)
  -t, --request-type <Kind>    type of a bare request object (default CreateContainerRequest)

show
  Prints each workload's policy: its hash (the key of the workload in manifest.json "Policies"),
  how it is bound to the VM, and the policy text (our rules, then "policy_data := {...}").
      --data-only              print only the policy_data JSON (handy for diffing two versions)

verify
  Checks that every workload's policy hash is a key of the manifest's "Policies" (what
  "contrast set" and the Coordinator require), and lists manifest policies no workload has.
  -m, --manifest <file>        the manifest (default manifest.json)

Common flags:
  -w, --workload <name>        name, namespace/name, Kind/name or Kind/namespace/name
      --json                   print the result as JSON
  -h, --help                   show this help

Examples:
  kubectl -n shop describe pod web-7c56d66754-pq9qp     # "CreateContainerRequest is blocked by policy"
  contrast policy explain --request create-web.json deployment/
  contrast policy explain -r exec.json -t ExecProcessRequest -w shop/web deployment/web.yml
  contrast policy show --workload web deployment/web.yml
  contrast policy verify --manifest manifest.json deployment/

Exit codes: 0 allowed / shown / all listed, 1 denied / a policy is not in the manifest,
2 bad usage or bad input (missing file, invalid JSON, no policy annotation: run
"contrast generate" first).
`;

const SUBCOMMANDS = ['explain', 'show', 'verify'] as const;

const COMMON_FLAGS = {
  workload: { type: 'string', short: 'w' },
  json: { type: 'boolean', default: false },
} as const;

/** A subcommand of `contrast policy`: the libraries, the command's wiring, its arguments. */
type Subcommand = (
  policy: PolicyLib,
  deps: PolicyCommandDeps,
  args: string[],
  io: CliIo,
) => Promise<ExitCode>;

/**
 * What every subcommand starts with: its flags (the common `--workload`/`--json` and its own) and
 * the workloads of its positional inputs, read when the subcommand asks (after its own checks).
 */
function subcommandInput<T extends NonNullable<ParseArgsConfig['options']>>(
  policy: PolicyLib,
  deps: PolicyCommandDeps,
  args: string[],
  io: CliIo,
  own: T,
) {
  const { values, positionals } = parseFlags(args, { ...COMMON_FLAGS, ...own }, true);
  return {
    values,
    positionals,
    workloads: () => loadWorkloadPolicies(policy, deps.registry, positionals, io),
  };
}

function hashLabel(w: WorkloadPolicy): string {
  return `sha256 ${w.sha256} (${w.binding === 'initdata' ? 'initdata' : 'legacy policy annotation'})`;
}

/** `spec.template` + `spec.containers[0].args` -> `spec.template.spec.containers[0].args`. */
function fullPath(podPath: readonly (string | number)[], rest: string): string {
  let out = '';
  for (const p of podPath) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out ? `${out}.${rest}` : rest;
}

interface StepResult {
  step: RequestStep;
  explanation: RequestExplanation;
}

function describeTarget(step: RequestStep): string {
  const t = requestTarget(step);
  if (step.kind !== 'CreateContainerRequest') {
    const id = typeof step.request.container_id === 'string' ? step.request.container_id : undefined;
    return id ? `${step.kind} for container id ${id.slice(0, 16)}${id.length > 16 ? '…' : ''}` : step.kind;
  }
  if (t.sandbox)
    return `${step.kind} for the pod sandbox (pause container)${t.sandboxName ? ` of ${t.sandboxName}` : ''}`;
  return `${step.kind} for container ${JSON.stringify(t.container ?? '?')}${t.sandboxName ? ` in pod ${t.sandboxName}` : ''}`;
}

function textResult(w: WorkloadPolicy, r: StepResult): string {
  const e = r.explanation;
  const head = `${describeTarget(r.step)}: ${e.allowed ? 'ALLOWED' : 'DENIED'}\n`;
  if (e.allowed) return head;
  const lines: Array<[string, string]> = [];
  const f = e.failure;
  if (!f) {
    lines.push(['rule', `no rule of the policy allows a ${e.kind} here (denied by default)`]);
  } else {
    lines.push(['rule', `${f.rules.join(' > ')} (policy line ${f.policyLine})`]);
    lines.push(['check', f.expression]);
    if (f.note) lines.push(['meaning', f.note]);
    if (f.actual !== undefined && f.expected !== undefined) {
      lines.push(['request has', f.actual]);
      if (f.operator === 'in') {
        lines.push(['policy allows', f.expected === '[]' ? 'nothing here' : `one of ${f.expected}`]);
      } else if (f.operator === 'regex.match') {
        lines.push(['policy wants', `a match of the pattern ${f.expected}`]);
      } else {
        lines.push(['policy wants', f.expected]);
        if (f.onlyInRequest?.length) lines.push(['request adds', JSON.stringify(f.onlyInRequest)]);
        if (f.onlyInPolicy?.length) lines.push(['request lacks', JSON.stringify(f.onlyInPolicy)]);
      }
    } else if (f.left !== undefined && f.right !== undefined) {
      lines.push(['left', f.left]);
      lines.push(['right', f.right]);
    }
    for (const [k, v] of Object.entries(f.context)) lines.push(['checking', `${k} = ${v}`]);
  }
  if (e.container) lines.push(['container', e.container === 'pause' ? 'the pause container' : e.container]);
  if (e.field) lines.push(['field', e.field]);
  if (e.line !== undefined && e.linePath) {
    const where = fullPath(w.podPath, e.linePath);
    lines.push([
      'source',
      `${w.file}:${e.line} (${where}${e.linePath !== e.field ? `; the YAML does not set ${e.field?.slice(e.linePath.length + 1)}, the value comes from the image or defaults` : ''})`,
    ]);
  }
  const width = Math.max(...lines.map(([k]) => k.length));
  return head + lines.map(([k, v]) => `  ${`${k}:`.padEnd(width + 2)}${v}\n`).join('');
}

function jsonResult(w: WorkloadPolicy, r: StepResult): Record<string, unknown> {
  const e = r.explanation;
  const t = requestTarget(r.step);
  return {
    kind: e.kind,
    ...(r.step.where ? { at: r.step.where } : {}),
    ...(t.container !== undefined ? { containerName: t.container } : {}),
    allowed: e.allowed,
    message: e.message,
    ...(e.failure ? { failure: e.failure } : {}),
    ...(e.container ? { container: e.container } : {}),
    ...(e.field ? { field: e.field } : {}),
    ...(e.line !== undefined && e.linePath
      ? { source: { file: w.file, line: e.line, path: fullPath(w.podPath, e.linePath) } }
      : {}),
  };
}

const explain: Subcommand = async (policy, deps, args, io) => {
  const { values, workloads: loadWorkloads } = subcommandInput(policy, deps, args, io, {
    request: { type: 'string', short: 'r' },
    'request-type': { type: 'string', short: 't' },
  });
  if (values.request === undefined) {
    throw usageError('--request <file> is required: the agent request JSON to explain');
  }
  const text = new TextDecoder().decode(await readInput(io, values.request, '--request'));
  const steps = parseRequestFile(text, {
    file: values.request,
    flagKind: values['request-type'],
    defaultKind: 'CreateContainerRequest',
    kinds: policy.REQUEST_KINDS,
    normalize: policy.normalizeRequest,
  });
  const workloads = await loadWorkloads();
  const pod = steps.map(requestTarget).find((t) => t.sandboxName !== undefined);
  const { workload: w, how } = chooseWorkload(
    workloads,
    values.workload,
    pod?.sandboxName !== undefined ? { name: pod.sandboxName, namespace: pod.sandboxNamespace } : undefined,
  );

  // A kind the policy has no rule for would make the agent fail with an error, not a denial.
  const defined = new Set(
    [...w.rules.matchAll(/^(?:default\s+)?([A-Z][A-Za-z]*Request)\b/gm)].map((m) => m[1]),
  );
  const undefinedKind = steps.find((s) => !defined.has(s.kind));
  if (undefinedKind) {
    throw usageError(
      `--request ${values.request}: ${undefinedKind.where ? `${undefinedKind.where}: ` : ''}the policy of ${w.workload} has no rule for ${undefinedKind.kind} (it has: ${[...defined].sort().join(', ')})`,
    );
  }
  const explanations = policy.explainRequests({
    policy: w.policyText,
    requests: steps.map((s) => ({ kind: s.kind, request: s.request })),
    yaml: w.yaml,
    document: w.documentIndex,
    podPath: w.podPath,
  });
  const results: StepResult[] = steps.map((step, i) => ({
    step,
    explanation: explanations[i] as RequestExplanation,
  }));
  const allowed = results.every((r) => r.explanation.allowed);

  if (values.json) {
    io.stdout(
      `${JSON.stringify(
        {
          workload: w.workload,
          file: w.file,
          policyHash: w.sha256,
          binding: w.binding,
          allowed,
          results: results.map((r) => jsonResult(w, r)),
        },
        null,
        2,
      )}\n`,
    );
  } else {
    io.stdout(
      `Workload: ${w.workload} (${w.file}${how === 'the only one' || how === '--workload' ? '' : `; ${how}`})\n`,
    );
    io.stdout(`Policy:   ${hashLabel(w)}\n\n`);
    results.forEach((r, i) => {
      const prefix = results.length > 1 ? `[${i + 1}/${results.length}] ` : '';
      io.stdout(`${prefix}${textResult(w, r)}`);
    });
    if (!allowed) {
      io.stdout(
        `\nThe agent refuses what this workload's policy does not allow. If you changed the workload after
"contrast generate", run it again and set the new manifest; if not, the request did not come
from your YAML (another image, command, env or security context than you wrote).\n`,
      );
    }
  }
  return allowed ? EXIT.ok : EXIT.failed;
};

const show: Subcommand = async (policy, deps, args, io) => {
  const { values, workloads } = subcommandInput(policy, deps, args, io, {
    'data-only': { type: 'boolean', default: false },
  });
  const ws = filterWorkloads(await workloads(), values.workload);
  const described = ws.map((w) => {
    const toml = w.binding === 'initdata' ? new TextDecoder().decode(w.document) : undefined;
    const algorithm = toml ? policy.parseInitdataToml(toml).algorithm : undefined;
    return {
      w,
      initdata: toml && algorithm ? { algorithm, digest: policy.initdataDigest(toml) } : undefined,
    };
  });
  if (values.json) {
    io.stdout(
      `${JSON.stringify(
        described.map(({ w, initdata }) => ({
          workload: w.workload,
          file: w.file,
          binding: w.binding,
          policyHash: w.sha256,
          ...(initdata ? { initdata } : {}),
          ...(values['data-only'] ? {} : { rules: w.rules }),
          data: w.data ?? null,
        })),
        null,
        2,
      )}\n`,
    );
    return EXIT.ok;
  }
  for (const [i, { w, initdata }] of described.entries()) {
    if (values['data-only']) {
      if (ws.length > 1) io.stdout(`${i > 0 ? '\n' : ''}# ${w.workload} (${w.file})\n`);
      io.stdout(`${JSON.stringify(w.data ?? null, null, 2)}\n`);
      continue;
    }
    if (i > 0) io.stdout('\n');
    io.stdout(`# Workload:    ${w.workload} (${w.file}, document ${w.documentIndex})\n`);
    io.stdout(`# Policy hash: ${w.sha256}\n`);
    io.stdout('#              the key of this workload in manifest.json "Policies"\n');
    if (initdata) {
      io.stdout(
        `# Binding:     initdata annotation (TOML, ${initdata.algorithm}); its digest ${initdata.digest}\n`,
      );
      io.stdout('#              is what the VM reports in HOST_DATA (SNP) or MRCONFIGID (TDX)\n');
    } else {
      io.stdout(
        '# Binding:     legacy io.katacontainers.config.agent.policy annotation (sha256 of the text)\n',
      );
    }
    io.stdout(`${w.policyText}${w.policyText.endsWith('\n') ? '' : '\n'}`);
  }
  return EXIT.ok;
};

const verify: Subcommand = async (policy, deps, args, io) => {
  const { values, positionals, workloads } = subcommandInput(policy, deps, args, io, {
    manifest: { type: 'string', short: 'm' },
  });
  const manifestFile = values.manifest ?? workspaceFile(io, 'manifest.json');
  const { parseManifest } = await import('@contrast-cc/manifest');
  const { manifest } = parseManifest(await readInput(io, manifestFile, '--manifest'), { file: manifestFile });
  const all = await workloads();
  const ws = filterWorkloads(all, values.workload);
  const policies = new Map(Object.entries(manifest.Policies).map(([h, v]) => [h.toLowerCase(), v]));
  const results = ws.map((w) => ({ w, entry: policies.get(w.sha256) }));
  // Manifest policies no workload of the inputs has (only when all inputs are considered).
  const known = new Set(all.map((w) => w.sha256));
  const unused =
    values.workload === undefined
      ? [...policies.entries()].filter(([h]) => !known.has(h)).map(([hash, v]) => ({ hash, entry: v }))
      : [];
  const ok = results.every((r) => r.entry !== undefined);
  if (values.json) {
    io.stdout(
      `${JSON.stringify(
        {
          manifest: manifestFile,
          ok,
          workloads: results.map(({ w, entry }) => ({
            workload: w.workload,
            file: w.file,
            policyHash: w.sha256,
            listed: entry !== undefined,
            ...(entry ? { entry } : {}),
          })),
          unmatchedPolicies: unused,
        },
        null,
        2,
      )}\n`,
    );
    return ok ? EXIT.ok : EXIT.failed;
  }
  for (const { w, entry } of results) {
    io.stdout(
      entry
        ? `✔ ${w.workload}: policy ${w.sha256.slice(0, 16)}… is in ${manifestFile} (${entry.WorkloadSecretID ?? 'no WorkloadSecretID'}${entry.Role ? `, role ${entry.Role}` : ''})\n`
        : `✘ ${w.workload} (${w.file}): policy ${w.sha256} is NOT in ${manifestFile}\n`,
    );
  }
  for (const u of unused) {
    io.stdout(
      `⚠ ${manifestFile}: policy ${u.hash.slice(0, 16)}… (${u.entry.WorkloadSecretID ?? 'no WorkloadSecretID'}) matches no workload in ${positionals.join(', ')}\n`,
    );
  }
  if (!ok) {
    io.stdout(
      `The Coordinator gives no certificate or secret to a pod whose policy is not in the manifest.
Run "contrast generate" on these resources again, then "contrast set" the new manifest.\n`,
    );
  }
  return ok ? EXIT.ok : EXIT.failed;
};

/** `contrast policy`, over the app's platforms (their runtime class names mark Contrast workloads). */
export function createPolicyCommand(deps: PolicyCommandDeps): Command {
  return {
    name: 'policy',
    summary: 'explain why a pod policy refused a request; show a policy; check policies against the manifest',
    help: HELP,
    run(args, io) {
      const [sub, ...rest] = args;
      const name = sub && (SUBCOMMANDS as readonly string[]).includes(sub) ? `policy ${sub}` : 'policy';
      return runCommand(name, io, async () => {
        if (sub === undefined) throw usageError(`give a subcommand: ${SUBCOMMANDS.join(', ')}`);
        if (!(SUBCOMMANDS as readonly string[]).includes(sub)) {
          throw usageError(`unknown subcommand "${sub}"; one of: ${SUBCOMMANDS.join(', ')}`);
        }
        const policy = await loadPolicyLib();
        if (sub === 'explain') return explain(policy, deps, rest, io);
        if (sub === 'show') return show(policy, deps, rest, io);
        return verify(policy, deps, rest, io);
      });
    },
  };
}
