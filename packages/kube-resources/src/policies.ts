import { createHash } from 'node:crypto';
import type { PlatformRegistry } from '@contrast-cc/core';
import { decodeInitdataAnnotation, INITDATA_ANNOTATION, LEGACY_POLICY_ANNOTATION } from '@contrast-cc/policy';
import { formatKubePath, ResourceInputError, type ResourceProblem } from './errors.js';
import type { ResourceFile } from './files.js';
import { findWorkloads } from './workloads.js';

/** The policy document of one workload, as the Coordinator receives it with a manifest. */
export interface WorkloadPolicyDocument {
  /** `Kind/namespace/name` of the workload. */
  workload: string;
  kind: string;
  namespace: string;
  name: string;
  file: string;
  /** Where the pod template is: document index in the file, and its path inside that document. */
  documentIndex: number;
  podPath: (string | number)[];
  /** The bytes the manifest's Policies key hashes: the initdata TOML, or the legacy policy text. */
  document: Uint8Array;
  /** Lower-case hex sha256 of `document`: the key in the manifest's Policies. */
  sha256: string;
  binding: 'initdata' | 'legacy-policy-annotation';
}

/**
 * Reads back the policy documents `contrast generate` wrote into the workloads' annotations —
 * what `contrast set` sends with the manifest. A Contrast workload without a policy annotation, or
 * with one that does not decode, is an error naming file and field (run generate first).
 */
export function extractPolicyDocuments(
  files: readonly ResourceFile[],
  registry: PlatformRegistry,
): WorkloadPolicyDocument[] {
  const found = findWorkloads(files, { registry });
  const problems: ResourceProblem[] = [...found.problems];
  const out: WorkloadPolicyDocument[] = [];
  for (const w of found.workloads) {
    const annotations = getAnnotations(w.object, w.podPath.slice(w.objectPath.length)) ?? {};
    const field = formatKubePath(['documents', w.documentIndex, ...w.podPath, 'metadata', 'annotations']);
    const workload = `${w.kind}/${w.namespace}/${w.name}`;
    const initdata = annotations[INITDATA_ANNOTATION];
    const legacy = annotations[LEGACY_POLICY_ANNOTATION];
    let document: Uint8Array;
    let binding: WorkloadPolicyDocument['binding'];
    try {
      if (typeof initdata === 'string') {
        document = new TextEncoder().encode(decodeInitdataAnnotation(initdata));
        binding = 'initdata';
      } else if (typeof legacy === 'string') {
        document = new Uint8Array(Buffer.from(legacy, 'base64'));
        binding = 'legacy-policy-annotation';
      } else {
        problems.push({
          file: w.file.path,
          field,
          message: `${workload} has no policy annotation; run "contrast generate" first`,
        });
        continue;
      }
    } catch (e) {
      problems.push({ file: w.file.path, field, message: `${workload}: ${(e as Error).message}` });
      continue;
    }
    out.push({
      workload,
      kind: w.kind,
      namespace: w.namespace,
      name: w.name,
      file: w.file.path,
      documentIndex: w.documentIndex,
      podPath: [...w.podPath],
      document,
      sha256: createHash('sha256').update(document).digest('hex'),
      binding,
    });
  }
  if (problems.length > 0) throw new ResourceInputError(problems);
  return out;
}

function getAnnotations(
  object: Record<string, unknown>,
  podPath: readonly (string | number)[],
): Record<string, unknown> | undefined {
  let cur: unknown = object;
  for (const p of [...podPath, 'metadata', 'annotations']) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>) : undefined;
}
