// Upstream Contrast's e2e regression inputs (e2e/regression/testdata of github.com/edgelesssys/contrast)
// through the pipeline, read in place from a checkout named by CONTRAST_UPSTREAM_DIR (never copied
// into this repository). Skips with a notice when it is not set. Images: any reference resolves
// (no registry is contacted), so this checks what generate does with the YAML itself.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ResourceInputError } from './errors.js';
import { parseResourceText, type ResourceFile } from './files.js';
import { patchResources } from './pipeline.js';
import { AnyImageSource, INJECTED_IMAGES, stubPolicyGenerator, testPlatform } from './test-support/index.js';

const root = process.env.CONTRAST_UPSTREAM_DIR;
const testdata = root ? path.join(root, 'e2e', 'regression', 'testdata') : undefined;
const present = testdata !== undefined && existsSync(testdata);
if (!present) {
  console.warn(
    `\n!!! SKIPPING upstream regression inputs: set CONTRAST_UPSTREAM_DIR to a checkout of github.com/edgelesssys/contrast${root ? ` (${testdata} not found)` : ''} !!!\n`,
  );
}

/** One case per folder (all its YAML files together) or top-level YAML file. */
function cases(): Array<{ name: string; files: string[] }> {
  if (!present) return [];
  return readdirSync(testdata as string)
    .sort()
    .map((entry) => {
      const full = path.join(testdata as string, entry);
      const files = statSync(full).isDirectory()
        ? readdirSync(full)
            .filter((f) => /\.ya?ml$/.test(f))
            .sort()
            .map((f) => path.join(full, f))
        : /\.ya?ml$/.test(entry)
          ? [full]
          : [];
      return { name: entry, files };
    })
    .filter((c) => c.files.length > 0);
}

const platform = testPlatform('snp');
const NAMESPACE = 'regression';

function load(files: string[], substitute: boolean): ResourceFile[] {
  return files.map((f) => {
    const text = readFileSync(f, 'utf8');
    return parseResourceText(
      path.relative(testdata as string, f),
      substitute ? text.replaceAll('@@REPLACE_NAMESPACE@@', NAMESPACE) : text,
      f,
    );
  });
}

const run = (files: ResourceFile[]) =>
  patchResources(files, {
    defaultPlatform: platform,
    images: new AnyImageSource(),
    generatePolicy: stubPolicyGenerator,
    injectedImages: INJECTED_IMAGES,
  });

describe.skipIf(!present)('upstream e2e regression inputs', () => {
  it('finds the inputs', () => {
    expect(cases().length).toBeGreaterThan(0);
  });

  for (const c of cases()) {
    it(`${c.name}: generates with the namespace filled in, and a re-run changes nothing`, async () => {
      const first = await run(load(c.files, true));
      const again = await run(first.files.map((f) => parseResourceText(f.path, f.text, f.absolutePath)));
      expect(again.files.map((f) => f.text)).toEqual(first.files.map((f) => f.text));
      for (const f of first.files.filter((x) => !first.workloads.some((w) => w.file === x.path))) {
        // A file without a workload keeps its bytes.
        expect(f.text).toBe(f.original);
      }
    });

    it(`${c.name}: an unfilled @@REPLACE_NAMESPACE@@ is refused naming the field`, async () => {
      const texts = c.files.map((f) => readFileSync(f, 'utf8'));
      if (!texts.some((t) => t.includes('@@REPLACE_NAMESPACE@@'))) return;
      const err = await run(load(c.files, false)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ResourceInputError);
      expect((err as ResourceInputError).problems.some((p) => p.field?.endsWith('metadata.namespace'))).toBe(
        true,
      );
    });
  }
});
