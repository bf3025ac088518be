// Our own regression inputs, modelled on the shapes of upstream Contrast's e2e regression inputs
// (written here, not copied; `src/__fixtures__/as-written/regression/`): batch workloads with
// commented spec fields, a sidecar with block-scalar scripts and limits in bytes, a privileged
// workload with an ephemeral Block volume and a hostPath, a StatefulSet with a claim template,
// configuration in every form (binary data, immutable, env from keys, objects and pod fields), and
// objects generate passes through.
// The real policy generator runs on each, with simulated images (no registry), as upstream's
// harness runs them: with the namespace filled in.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ResourceInputError } from './errors.js';
import { parseResourceText } from './files.js';
import type { PatchResult } from './pipeline.js';
import { changedDocumentsWithoutWorkload, lineDiff } from './test-support/index.js';
import { generateSimulated, generateTwice, type ImageUser } from './test-support/regression.js';

const dir = path.join(
  path.dirname(new URL(import.meta.url).pathname),
  '__fixtures__',
  'as-written',
  'regression',
);
const PLACEHOLDER = '@@REPLACE_NAMESPACE@@';
const source = (name: string) => readFileSync(path.join(dir, name), 'utf8');
const filled = (name: string) => source(name).replaceAll(PLACEHOLDER, 'regression');

const file = (name: string, text: string) => [parseResourceText(name, text, path.join(dir, name))];
const run = (name: string, text: string, user: ImageUser): Promise<PatchResult> =>
  generateSimulated(file(name, text), user);

/** The lines a reviewer sees removed: the runtime classes, and the images that had no digest. */
const CHANGED: Record<string, { workloads: string[]; removed: string[] }> = {
  'batch.yml': {
    workloads: ['Job regression/report', 'CronJob regression/cleanup'],
    removed: [
      '      runtimeClassName: contrast-cc\n',
      '          runtimeClassName: contrast-cc\n',
      '            image: registry.example/tools/cleanup:2.1\n',
    ],
  },
  'sidecars.yml': { workloads: ['Pod default/limits'], removed: ['  runtimeClassName: contrast-cc\n'] },
  'devices.yml': {
    workloads: ['Deployment regression/scratch'],
    removed: ['      runtimeClassName: contrast-cc\n'],
  },
  'statefulset.yml': {
    workloads: ['StatefulSet regression/store'],
    removed: ['      runtimeClassName: contrast-cc\n'],
  },
  'config.yml': {
    workloads: ['Deployment regression/reader'],
    removed: ['      runtimeClassName: contrast-cc\n', '          image: "registry.example/reader:latest"\n'],
  },
};

describe('regression inputs modelled on upstream', () => {
  for (const [name, want] of Object.entries(CHANGED)) {
    it(`${name}: generates; only the expected lines change; a re-run changes nothing`, async () => {
      const input = filled(name);
      const { first } = await generateTwice(file(name, input), 'root');
      expect(first.workloads.map((w) => `${w.kind} ${w.namespace}/${w.name}`)).toEqual(want.workloads);
      expect(first.warnings).toEqual([]);
      expect(changedDocumentsWithoutWorkload(first)).toEqual([]);
      expect(lineDiff(input, first.files[0]!.text).removed).toEqual(want.removed);
    }, 30_000);
  }

  it('images that run as a named user: the users and groups are written where each shape needs them', async () => {
    for (const name of Object.keys(CHANGED)) {
      const input = filled(name);
      const { first, second } = await generateTwice(file(name, input), 'named');
      const fields = first.warnings.map((w) => w.field);
      // Per workload: every own container's runAsUser and runAsGroup, group 10 once at pod level.
      const containers = first.workloads.length === 1 && name === 'sidecars.yml' ? 3 : first.workloads.length;
      expect(fields.filter((f) => f?.endsWith('securityContext.runAsUser'))).toHaveLength(containers);
      expect(fields.filter((f) => f?.endsWith('spec.securityContext.supplementalGroups'))).toHaveLength(
        first.workloads.length,
      );
      // Only lines were added, apart from the expected ones.
      expect(lineDiff(input, first.files[0]!.text).removed).toEqual(CHANGED[name]!.removed);
      expect(second.warnings).toEqual([]);
    }
  }, 60_000);

  it('an unfilled placeholder: refused for every workload and ConfigMap/Secret naming the field', async () => {
    const err = (await run('batch.yml', source('batch.yml'), 'root').catch(
      (e: unknown) => e,
    )) as ResourceInputError;
    expect(err).toBeInstanceOf(ResourceInputError);
    expect(err.problems.map((p) => p.field)).toEqual([
      'documents[0].metadata.namespace',
      'documents[1].metadata.namespace',
    ]);
    const cfg = (await run('config.yml', source('config.yml'), 'root').catch(
      (e: unknown) => e,
    )) as ResourceInputError;
    expect(cfg.problems.map((p) => p.field)).toEqual([
      'documents[0].metadata.namespace',
      'documents[2].metadata.namespace',
      'documents[3].metadata.namespace',
    ]);
  }, 30_000);

  it('a placeholder left unquoted is not YAML: refused with file, document, line and column', () => {
    const text = source('statefulset.yml').replace(`"${PLACEHOLDER}"`, PLACEHOLDER);
    expect(() => parseResourceText('statefulset.yml', text)).toThrow(
      /^statefulset\.yml: documents\[0\]: invalid YAML at line 7, column \d+: .*reserved character @/,
    );
  });

  it('a placeholder left only in objects generate passes through is a warning naming each', async () => {
    const text = filled('config.yml')
      .replace('name: reader-80\n  namespace: "regression"', `name: reader-80\n  namespace: "${PLACEHOLDER}"`)
      .replace(
        'name: reader\n  namespace: "regression"\nrules',
        `name: reader\n  namespace: "${PLACEHOLDER}"\nrules`,
      );
    const r = await run('config.yml', text, 'root');
    expect(r.workloads).toHaveLength(1);
    expect(r.warnings.map((w) => [w.field, w.message])).toEqual([
      ['documents[4].metadata.namespace', expect.stringContaining('passes this Service through unchanged')],
      ['documents[5].metadata.namespace', expect.stringContaining('passes this Role through unchanged')],
    ]);
  }, 30_000);
});
