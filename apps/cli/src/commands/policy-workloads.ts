// The workloads of `contrast policy`: the policy documents `contrast generate` wrote into the
// resources, the YAML text they came from, and choosing one (--workload, or the pod a request
// names).
import type { PlatformRegistry } from '@contrast-cc/core';
import type { WorkloadPolicyDocument } from '@contrast-cc/kube-resources';
import type { CliIo } from '../io.js';
import { usageError } from '../util.js';

/** What `contrast policy` uses: the policy library and the resource reader, loaded on first use. */
export type PolicyLib = typeof import('@contrast-cc/policy') & typeof import('@contrast-cc/kube-resources');

/** Loads the libraries of {@link PolicyLib} (lazily, so that `contrast --help` stays fast). */
export async function loadPolicyLib(): Promise<PolicyLib> {
  const [policy, kube] = await Promise.all([
    import('@contrast-cc/policy'),
    import('@contrast-cc/kube-resources'),
  ]);
  return { ...policy, ...kube };
}

/** A generated workload with its decoded policy. */
export interface WorkloadPolicy extends WorkloadPolicyDocument {
  /** The whole YAML file the workload is in. */
  yaml: string;
  /** The Rego policy: rules, then `policy_data := {...}`. */
  policyText: string;
  /** The rules part of policyText (everything before `\npolicy_data :=`). */
  rules: string;
  /** The parsed policy_data, or undefined when the policy has none. */
  data: Record<string, unknown> | undefined;
}

/** Reads every Contrast workload's policy from files and directories; errors name file and field. */
export async function loadWorkloadPolicies(
  policy: PolicyLib,
  registry: PlatformRegistry,
  paths: string[],
  io: CliIo,
): Promise<WorkloadPolicy[]> {
  if (paths.length === 0) {
    throw usageError('give the resource file(s) or directory that "contrast generate" patched');
  }
  const files = await policy.loadResourceFiles(paths, io.cwd);
  const texts = new Map(files.map((f) => [f.path, f.text]));
  let docs: WorkloadPolicyDocument[];
  try {
    docs = policy.extractPolicyDocuments(files, registry);
  } catch (e) {
    // `runtimeClassName: contrast-cc` without a platform is a resource "contrast generate" has not
    // patched yet: say that, not generate's advice about --reference-values.
    if (!(e instanceof policy.ResourceInputError)) throw e;
    throw new policy.ResourceInputError(
      e.problems.map((p) =>
        p.field?.endsWith('.runtimeClassName') && /needs a platform/.test(p.message)
          ? {
              ...p,
              message:
                'not patched yet (runtimeClassName contrast-cc, no policy); run "contrast generate" first',
            }
          : p,
      ),
      e.code,
    );
  }
  if (docs.length === 0) {
    throw usageError(
      `${paths.join(', ')}: no Contrast workload (runtimeClassName contrast-cc or contrast-cc-<platform>) with a policy; run "contrast generate" first`,
    );
  }
  return docs.map((d) => {
    const policyText = policy.policyTextFromAny(new TextDecoder().decode(d.document));
    return { ...d, yaml: texts.get(d.file) ?? '', policyText, ...policy.splitPolicyText(policyText) };
  });
}

function names(ws: readonly WorkloadPolicy[]): string {
  return ws.map((w) => `${w.workload} (${w.file})`).join(', ');
}

/** The workloads `--workload` names: `name`, `namespace/name`, `Kind/name` or `Kind/namespace/name`. */
export function filterWorkloads(ws: WorkloadPolicy[], wanted: string | undefined): WorkloadPolicy[] {
  if (wanted === undefined) return ws;
  const hits = ws.filter((w) =>
    [w.name, `${w.namespace}/${w.name}`, `${w.kind}/${w.name}`, w.workload].includes(wanted),
  );
  if (hits.length === 0) {
    throw usageError(`--workload ${wanted}: no such workload; there are: ${names(ws)}`);
  }
  return hits;
}

function policyValueMatches(p: unknown, value: string): boolean {
  if (typeof p !== 'string') return false;
  if (!p.startsWith('^')) return p === value;
  try {
    return new RegExp(p).test(value);
  } catch {
    return false;
  }
}

/** Whether a workload's policy accepts a pod of this name and namespace (its own annotations say). */
function acceptsSandbox(w: WorkloadPolicy, name: string, namespace: string | undefined): boolean {
  const containers = (w.data?.containers ?? []) as Array<{ OCI?: { Annotations?: Record<string, unknown> } }>;
  return containers.some((c) => {
    const a = c.OCI?.Annotations ?? {};
    return (
      policyValueMatches(a['io.kubernetes.cri.sandbox-name'], name) &&
      (namespace === undefined || policyValueMatches(a['io.kubernetes.cri.sandbox-namespace'], namespace))
    );
  });
}

/**
 * Exactly one workload: the one --workload names, the only one there is, or the one whose policy
 * accepts the pod name and namespace the request carries. `how` says how it was chosen.
 */
export function chooseWorkload(
  ws: WorkloadPolicy[],
  wanted: string | undefined,
  sandbox?: { name: string; namespace?: string },
): { workload: WorkloadPolicy; how: string } {
  const hits = filterWorkloads(ws, wanted);
  if (hits.length === 1)
    return { workload: hits[0] as WorkloadPolicy, how: wanted ? '--workload' : 'the only one' };
  if (wanted !== undefined) {
    throw usageError(
      `--workload ${wanted}: names ${hits.length} workloads (${names(hits)}); give Kind/namespace/name`,
    );
  }
  if (sandbox) {
    const bySandbox = hits.filter((w) => acceptsSandbox(w, sandbox.name, sandbox.namespace));
    if (bySandbox.length === 1) {
      return {
        workload: bySandbox[0] as WorkloadPolicy,
        how: `its policy accepts pod ${sandbox.namespace ? `${sandbox.namespace}/` : ''}${sandbox.name}`,
      };
    }
  }
  throw usageError(
    `${hits.length} workloads${sandbox ? ` (none alone accepts pod ${sandbox.name})` : ''}: choose one with --workload <name>: ${names(hits)}`,
  );
}
