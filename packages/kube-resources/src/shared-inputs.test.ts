import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseResourceText } from './files.js';
import { patchResources } from './pipeline.js';
import {
  AnyImageSource,
  INJECTED_IMAGES,
  sharedDir,
  stubPolicyGenerator,
  testPlatform,
} from './test-support/index.js';
import { findWorkloads } from './workloads.js';

// Kata's own genpolicy test inputs: real pod YAMLs written by others, a check that the strict
// workload checker does not refuse valid Kubernetes objects.
const shared = sharedDir();
const kataDir = shared ? path.join(shared, 'conformance', 'kata-policy') : undefined;
if (!shared) console.warn('skipping kube shared-input tests: ../shared/conformance/kata-policy not found');

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...yamlFiles(p));
    else if (name.endsWith('.yaml')) out.push(p);
  }
  return out.sort();
}

describe.skipIf(!kataDir)('Kata genpolicy test inputs', () => {
  const files = kataDir ? yamlFiles(kataDir) : [];
  const platform = testPlatform('snp');

  it('finds the corpus', () => {
    expect(files.length).toBeGreaterThan(20);
  });

  it.each(files.map((f) => [path.relative(kataDir!, f), f]))(
    '%s passes the strict checks and patches',
    async (rel, file) => {
      const text = readFileSync(file, 'utf8').replace(
        /runtimeClassName: kata[-a-z]*/g,
        'runtimeClassName: contrast-cc',
      );
      const parsed = parseResourceText(rel, text);
      const found = findWorkloads([parsed], { defaultPlatform: platform });
      expect(found.problems).toEqual([]);
      if (found.workloads.length === 0) return;
      const result = await patchResources([parsed], {
        defaultPlatform: platform,
        images: new AnyImageSource(),
        generatePolicy: stubPolicyGenerator,
        injectedImages: INJECTED_IMAGES,
      });
      const docs = parseAllDocuments(result.files[0]!.text);
      for (const d of docs) expect(d.errors).toEqual([]);
      expect(result.workloads.every((w) => /^[0-9a-f]{64}$/.test(w.policyHash))).toBe(true);
    },
  );
});
