import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { AgentPolicy } from '../agent/agent.js';
import { explainDenial } from '../agent/denial.js';
import { normalizeRequest } from '../agent/normalize.js';
import { decodeInitdataAnnotation, parseInitdataToml } from '../assemble.js';
import { generatePolicy } from '../generate.js';
import { RecordedImageSource } from '../images/recorded.js';
import { loadPolicySettings } from '../settings.js';
import type { ConfigInput, ImageFacts, ImageSource, PodSpecInput } from '../types.js';

/** Cases that do not apply to our platforms, with the reason. */
export const SKIPPED_CASES: Record<string, string> = {};

export interface CaseResult {
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  /** For failures: which step and why; for skips: the reason. */
  detail?: string;
  steps: number;
}

interface Step {
  description: string;
  allowed: boolean;
  kind: string;
  request: unknown;
}

/** Loads recorded image facts (a JSON object keyed by image reference; `_comment` ignored). */
export async function loadRecordedImages(file: string): Promise<RecordedImageSource> {
  const doc = JSON.parse(await readFile(file, 'utf8')) as Record<string, ImageFacts | string>;
  const facts: Record<string, ImageFacts> = {};
  for (const [k, v] of Object.entries(doc)) if (typeof v === 'object') facts[k] = v;
  return new RecordedImageSource(facts);
}

function podTemplate(doc: Record<string, unknown>): { pod: PodSpecInput; kind: string } {
  const kind = String(doc.kind);
  if (kind === 'Pod') return { pod: doc as unknown as PodSpecInput, kind };
  const spec = (doc.spec ?? {}) as Record<string, unknown>;
  const tmpl =
    kind === 'CronJob'
      ? (((spec.jobTemplate as Record<string, unknown>)?.spec as Record<string, unknown>)
          ?.template as PodSpecInput)
      : (spec.template as PodSpecInput);
  const md = (doc.metadata ?? {}) as Record<string, string>;
  return {
    pod: { ...tmpl, metadata: { ...(tmpl.metadata ?? {}), name: md.name, namespace: md.namespace } },
    kind,
  };
}

/** Runs one case directory: generate from pod.yaml, then feed every request in order. */
export async function runCase(
  caseDir: string,
  name: string,
  settingsPath: string,
  images: ImageSource,
): Promise<CaseResult> {
  const docs = parseAllDocuments(await readFile(path.join(caseDir, 'pod.yaml'), 'utf8'))
    .map((d) => d.toJS() as Record<string, unknown> | null)
    .filter((d): d is Record<string, unknown> => d !== null);
  const configMaps: ConfigInput[] = [];
  const secrets: ConfigInput[] = [];
  const cmFile = path.join(caseDir, 'config_map.yaml');
  if (existsSync(cmFile)) {
    for (const d of parseAllDocuments(await readFile(cmFile, 'utf8'))) {
      const o = d.toJS() as (ConfigInput & { kind: string }) | null;
      if (o?.kind === 'ConfigMap') configMaps.push(o);
      if (o?.kind === 'Secret') secrets.push(o);
    }
  }
  const workloads = docs.filter((d) => d.kind !== 'ConfigMap' && d.kind !== 'Secret');
  if (workloads.length !== 1)
    return { name, status: 'failed', detail: `expected one resource, found ${workloads.length}`, steps: 0 };
  const { pod, kind } = podTemplate(workloads[0] as Record<string, unknown>);
  const settings = await loadPolicySettings(settingsPath);
  const generated = await generatePolicy({
    pod,
    kind,
    images,
    settings,
    configMaps,
    secrets,
    binding: 'initdata',
    // Kata parity: Kata's rules let a request omit variables the spec sets (upstream's "absence
    // of events" limitation; state/execprocess omits CONTAINER_NAME and expects it allowed).
    // contrast generate requires them; run.test.ts checks that this case is then denied.
    specEnvPresence: false,
  });
  // Like the upstream harness: take the policy back out of the annotation.
  const policyText = parseInitdataToml(decodeInitdataAnnotation(generated.annotation.value)).data[
    'policy.rego'
  ];
  if (policyText === undefined)
    return { name, status: 'failed', detail: 'initdata lacks policy.rego', steps: 0 };
  const agent = new AgentPolicy(policyText);
  if (agent.allowsFailingRequests())
    return { name, status: 'failed', detail: 'AllowRequestsFailingPolicy is true', steps: 0 };
  const steps = JSON.parse(await readFile(path.join(caseDir, 'testcases.json'), 'utf8')) as Step[];
  for (const [i, step] of steps.entries()) {
    let allowed: boolean;
    let why = '';
    try {
      const decision = agent.evaluate(step.kind, normalizeRequest(step.kind, step.request));
      allowed = decision.allowed;
      if (!decision.allowed) why = ` (${explainDenial(step.kind, decision)})`;
    } catch (e) {
      return {
        name,
        status: 'failed',
        detail: `step ${i + 1} "${step.description}": error ${(e as Error).message}`,
        steps: i,
      };
    }
    if (allowed !== step.allowed) {
      return {
        name,
        status: 'failed',
        detail: `step ${i + 1} "${step.description}": expected ${step.allowed ? 'allowed' : 'denied'}, got ${allowed ? 'allowed' : 'denied'}${why}`,
        steps: i,
      };
    }
  }
  return { name, status: 'passed', steps: steps.length };
}

export interface ConformanceSummary {
  results: CaseResult[];
  passed: number;
  failed: number;
  skipped: number;
}

/** Runs every case listed in `<dir>/index.json`. */
export async function runKataConformance(dir: string, images: ImageSource): Promise<ConformanceSummary> {
  const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as {
    cases: Array<{ case: string }>;
  };
  const settingsPath = path.join(dir, 'settings', 'genpolicy-settings.json');
  const results: CaseResult[] = [];
  for (const { case: name } of index.cases) {
    const reason = SKIPPED_CASES[name];
    if (reason) {
      results.push({ name, status: 'skipped', detail: reason, steps: 0 });
      continue;
    }
    try {
      results.push(await runCase(path.join(dir, 'testdata', name), name, settingsPath, images));
    } catch (e) {
      results.push({
        name,
        status: 'failed',
        detail: `generation failed: ${(e as Error).message}`,
        steps: 0,
      });
    }
  }
  const count = (s: CaseResult['status']): number => results.filter((r) => r.status === s).length;
  return { results, passed: count('passed'), failed: count('failed'), skipped: count('skipped') };
}

/** One line per case, then `N passed, M failed, K skipped`. */
export function formatConformance(summary: ConformanceSummary): string {
  const lines = summary.results.map((r) => {
    const tag = r.status === 'passed' ? 'PASS' : r.status === 'failed' ? 'FAIL' : 'SKIP';
    return `${tag} ${r.name}${r.status === 'passed' ? ` (${r.steps} requests)` : `: ${r.detail ?? ''}`}`;
  });
  lines.push(`${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`);
  return lines.join('\n');
}
