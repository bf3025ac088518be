// Upstream Contrast's e2e regression inputs (e2e/regression/testdata of github.com/edgelesssys/contrast)
// through the pipeline, read in place from a checkout named by CONTRAST_UPSTREAM_DIR (never copied
// into this repository). Skips with a notice when it is not set.
//
// Each folder (or top-level file) is prepared as upstream's e2e harness prepares it before it runs
// `contrast generate`: `@@REPLACE_NAMESPACE@@` filled in, and every pod template given the
// Contrast runtime class (upstream's PatchRuntimeHandlers sets it on every pod spec) where it has
// none. Then the real policy generator runs, with images simulated offline (no registry is
// contacted): once with images that run as root, once with images that run as a named user in
// extra groups, so that guest pull's users and groups are written into the YAML.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Document, isMap } from 'yaml';
import { ResourceInputError, type ResourceProblem } from './errors.js';
import { parseResourceText, type ResourceFile } from './files.js';
import { renderKeepingSource } from './keep-source.js';
import type { PatchResult } from './pipeline.js';
import { POD_TEMPLATE_PATHS } from './schema.js';
import { changedDocumentsWithoutWorkload, lineDiff } from './test-support/index.js';
import { generateTwice, generateSimulated as run } from './test-support/regression.js';

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

const NAMESPACE = 'regression';
const PLACEHOLDER = '@@REPLACE_NAMESPACE@@';

/** Every pod template of a document (also inside a List), as a path. */
function podSpecPaths(doc: Document): (string | number)[][] {
  const out: (string | number)[][] = [];
  const visit = (at: (string | number)[]) => {
    const node = at.length === 0 ? doc.contents : doc.getIn(at, true);
    if (!isMap(node)) return;
    const kind = node.get('kind');
    const items = node.get('items', true) as { items?: unknown[] } | undefined;
    if (typeof kind === 'string' && kind.endsWith('List') && Array.isArray(items?.items)) {
      items.items.forEach((_, i) => {
        visit([...at, 'items', i]);
      });
      return;
    }
    const template = typeof kind === 'string' ? POD_TEMPLATE_PATHS[kind] : undefined;
    if (template && isMap(doc.getIn([...at, ...template, 'spec'], true)))
      out.push([...at, ...template, 'spec']);
  };
  visit([]);
  return out;
}

/**
 * The case's files as upstream's harness hands them to generate: the namespace filled in (unless
 * `keepPlaceholder`), every pod template without a runtime class given `contrast-cc` (written
 * with the pipeline's own writer: one added line per pod template).
 */
function prepare(files: string[], keepPlaceholder = false): { files: ResourceFile[]; added: number } {
  let added = 0;
  const out = files.map((f) => {
    const raw = readFileSync(f, 'utf8');
    const text = keepPlaceholder ? raw : raw.replaceAll(PLACEHOLDER, NAMESPACE);
    const rel = path.relative(testdata as string, f);
    const parsed = parseResourceText(rel, text, f);
    const changed = new Set<number>();
    parsed.documents.forEach((doc, i) => {
      for (const spec of podSpecPaths(doc)) {
        if (doc.getIn([...spec, 'runtimeClassName']) !== undefined) continue;
        doc.setIn([...spec, 'runtimeClassName'], 'contrast-cc');
        changed.add(i);
        added++;
      }
    });
    const prepared = renderKeepingSource(text, parsed.documents, changed);
    expect(lineDiff(text, prepared).removed).toEqual([]);
    return parseResourceText(rel, prepared, f);
  });
  return { files: out, added };
}

/** A changed line of the user's YAML may only be a runtime class or an image being pinned. */
function expectOnlyExpectedLinesChanged(result: PatchResult): void {
  for (const f of result.files) {
    const { removed } = lineDiff(f.original, f.text);
    for (const line of removed) expect(line).toMatch(/^\s*(-\s+)?(runtimeClassName|image):/);
  }
}

const summary = (r: PatchResult, warnings: ResourceProblem[]) =>
  `${r.workloads.length} workload(s), ${r.files.filter((f) => f.changed).length} file(s) changed, ${warnings.length} warning(s)`;

describe.skipIf(!present)('upstream e2e regression inputs', () => {
  it('finds the inputs', () => {
    expect(cases().length).toBeGreaterThan(0);
  });

  for (const c of cases()) {
    it(`${c.name}: generates (images as root); a re-run changes nothing; untouched documents keep their bytes`, async () => {
      const { files, added } = prepare(c.files);
      const { first } = await generateTwice(files, 'root');
      expect(first.workloads.length).toBeGreaterThanOrEqual(added);
      expect(changedDocumentsWithoutWorkload(first)).toEqual([]);
      expectOnlyExpectedLinesChanged(first);
      console.log(
        `upstream ${c.name} (root images): generated, ${summary(first, first.warnings)}; re-run unchanged`,
      );
    }, 60_000);

    it(`${c.name}: images running as a named user: users and groups written, a re-run changes nothing`, async () => {
      const { files } = prepare(c.files);
      const { first, second: again } = await generateTwice(files, 'named');
      const set = first.warnings.filter((w) => w.message.includes(' set to '));
      // Every workload container runs as `app`: runAsUser/runAsGroup and group 10 (pod level)
      // are written, unless the YAML names the user itself (then the image's user is not used).
      const namesUser = files.some((f) => f.text.includes('runAsUser:'));
      if (first.workloads.length > 0 && !namesUser) expect(set.length).toBeGreaterThan(0);
      expect(changedDocumentsWithoutWorkload(first)).toEqual([]);
      expect(again.warnings.filter((w) => w.message.includes(' set to '))).toEqual([]);
      console.log(
        `upstream ${c.name} (named-user images): generated, ${summary(first, set)} set; re-run unchanged`,
      );
    }, 60_000);

    it(`${c.name}: an unfilled ${PLACEHOLDER} is refused naming the field, or warned about where generate does not use it`, async () => {
      const texts = c.files.map((f) => readFileSync(f, 'utf8'));
      if (!texts.some((t) => t.includes(PLACEHOLDER))) return;
      // Left unquoted (`namespace: @@REPLACE_NAMESPACE@@`) it is not even YAML: `@` cannot
      // start a plain scalar; refused with the file and line.
      let files: ResourceFile[];
      try {
        files = prepare(c.files, true).files;
      } catch (error) {
        expect(error).toBeInstanceOf(ResourceInputError);
        expect((error as ResourceInputError).describe()).toMatch(/invalid YAML at line \d+, column \d+/);
        console.log(
          `upstream ${c.name} (placeholder left): refused: ${(error as ResourceInputError).problems[0]!.message}`,
        );
        return;
      }
      const outcome = await run(files, 'root').then(
        (r) => r,
        (e: unknown) => e,
      );
      if (outcome instanceof ResourceInputError) {
        expect(outcome.problems.some((p) => p.field?.endsWith('metadata.namespace'))).toBe(true);
        console.log(`upstream ${c.name} (placeholder left): refused: ${outcome.problems[0]!.field}`);
      } else {
        // Only objects generate passes through carry it (a Service, a Role, ...): a warning each.
        const r = outcome as PatchResult;
        const warned = r.warnings.filter((w) => w.field?.endsWith('metadata.namespace'));
        expect(warned.length).toBeGreaterThan(0);
        console.log(`upstream ${c.name} (placeholder left): passed through, warned: ${warned[0]!.field}`);
      }
    }, 60_000);
  }
});
