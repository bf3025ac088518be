// `contrast generate` keeps the user's YAML as written: a changed document shows only the
// changed and added lines in a diff, whatever list style it uses; other documents keep their
// bytes; a re-run changes nothing.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createMemoryLogger } from '@contrast-cc/core/testing';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { type Document, isMap, isSeq, Parser, parseAllDocuments, type YAMLMap, type YAMLSeq } from 'yaml';
import { parseResourceText, renderResourceFile } from './files.js';
import { detectStyle, renderKeepingSource } from './keep-source.js';
import { lineDiff, runPipeline } from './test-support/index.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const fixture = (name: string) => path.join(here, '__fixtures__', 'as-written', name);
const golden = (name: string) => path.join(here, '__golden__', `keep-source.${name}`);

/** Runs the pipeline on one file (in a temporary directory); returns the output and the debug log. */
async function generate(name: string, text: string) {
  const dir = mkdtempSync(path.join(tmpdir(), 'contrast-keep-'));
  writeFileSync(path.join(dir, name), text);
  const log = createMemoryLogger();
  const result = await runPipeline(dir, { logger: log.logger });
  const fallbacks = log.records.filter((r) => r.message.startsWith('document written whole'));
  return { text: result.files[0]!.text, fallbacks, dir };
}

/** The source of document `i` of a multi-document file (from its `---` to its end). */
function documentText(text: string, i: number): string {
  const docs = parseAllDocuments(text) as Document.Parsed[];
  return text.slice(i === 0 ? 0 : docs[i - 1]!.range[2], docs[i]!.range[2]);
}

const INITIALIZER_LINES = 19; // the contrast-initializer item as injected here: name, image, env, resources, ...

describe('generate keeps the YAML as written', () => {
  it('compact lists (Kubernetes docs / kubectl style): only the changed and added lines differ', async () => {
    const input = readFileSync(fixture('compact.yml'), 'utf8');
    const out = await generate('compact.yml', input);
    expect(out.fallbacks).toEqual([]);
    await expect(out.text).toMatchFileSnapshot(golden('compact.yml'));
    const diff = lineDiff(input, out.text);
    // Changed in place: the runtime class and the two images (now pinned); comments, quotes
    // and the spaces before `#` stay.
    expect(diff.removed).toEqual([
      '      runtimeClassName: contrast-cc\n',
      '        image: "registry.example/web:1.27"  # quoted\n',
      '        image: registry.example/busybox:1.36\n',
    ]);
    expect(diff.added.filter((l) => /runtimeClassName|image: .*registry\.example/.test(l))).toEqual([
      '      runtimeClassName: contrast-cc-test-snp-0123abcd\n',
      expect.stringMatching(/^ {8}image: "registry\.example\/web:1\.27@sha256:[0-9a-f]{64}" {2}# quoted\n$/),
      expect.stringMatching(/^ {8}image: registry\.example\/busybox:1\.36@sha256:[0-9a-f]{64}\n$/),
    ]);
    // Added: the policy annotation (1), a volumeMount per container (2 x 3), the secrets volume
    // (3) and `initContainers:` with the initializer (1 + 19), all in the file's compact style.
    expect(diff.added.length).toBe(3 + 1 + 2 * 3 + 3 + 1 + INITIALIZER_LINES);
    expect(diff.added).toContain('        - name: contrast-secrets\n');
    expect(diff.added).toContain('      - name: contrast-initializer\n');
    expect(
      diff.added.filter((l) => /^ *- /.test(l)).every((l) => !/^ {8}- name: contrast-init/.test(l)),
    ).toBe(true);
    // The Service is not a workload: its bytes are kept.
    expect(documentText(out.text, 1)).toBe(documentText(input, 1));
    // A re-run on the output changes nothing.
    const again = await generate('compact.yml', out.text);
    expect(again.text).toBe(out.text);
  });

  it('indented lists with comments, blank lines, a ConfigMap and the user own init container', async () => {
    const input = readFileSync(fixture('indented.yml'), 'utf8');
    const out = await generate('indented.yml', input);
    expect(out.fallbacks).toEqual([]);
    await expect(out.text).toMatchFileSnapshot(golden('indented.yml'));
    const diff = lineDiff(input, out.text);
    expect(diff.removed).toEqual([
      '      runtimeClassName: contrast-cc\n',
      "          image: 'registry.example/migrate:2'\n",
      '          image: registry.example/postgres:16.4   # pinned by generate\n',
    ]);
    expect(diff.added).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^ {10}image: registry\.example\/postgres:16\.4@sha256:[0-9a-f]{64} {3}# pinned by generate\n$/,
        ),
        expect.stringMatching(/^ {10}image: 'registry\.example\/migrate:2@sha256:[0-9a-f]{64}'\n$/),
      ]),
    );
    // annotations: (2 lines, the template had none), the initializer before the user's init
    // container (19), a volumeMount per container (2 x 3: a new list for `migrate`, an item for
    // `db`), the new `volumes:` with the secrets volume (4).
    expect(diff.added.length).toBe(3 + 2 + INITIALIZER_LINES + 3 + 2 + 4);
    expect(diff.added).toContain('        - name: contrast-initializer\n');
    expect(documentText(out.text, 0)).toBe(documentText(input, 0));
    const again = await generate('indented.yml', out.text);
    expect(again.text).toBe(out.text);
  });

  it('a one-line change to generated YAML: the next run changes only the policy annotation', async () => {
    for (const name of ['compact.yml', 'indented.yml']) {
      const first = await generate(name, readFileSync(fixture(name), 'utf8'));
      const edited = first.text.replace(
        name === 'compact.yml' ? 'value: "production"' : 'value: /var/lib/postgresql/data/pgdata',
        name === 'compact.yml' ? 'value: "staging"' : 'value: /data/pgdata',
      );
      expect(lineDiff(first.text, edited).removed).toHaveLength(1);
      const next = await generate(name, edited);
      const diff = lineDiff(edited, next.text);
      expect(diff.removed).toEqual([
        expect.stringMatching(/^ +io\.katacontainers\.config\.hypervisor\.cc_init_data: /),
      ]);
      expect(diff.added).toEqual([
        expect.stringMatching(/^ +io\.katacontainers\.config\.hypervisor\.cc_init_data: /),
      ]);
    }
  });

  it('CRLF files stay CRLF, with the same lines as the LF file', async () => {
    const input = readFileSync(fixture('compact.yml'), 'utf8');
    const lf = await generate('compact.yml', input);
    const crlf = await generate('compact.yml', input.replace(/\n/g, '\r\n'));
    expect(crlf.fallbacks).toEqual([]);
    expect(crlf.text.replace(/\r\n/g, '')).not.toContain('\n');
    expect(crlf.text).toBe(lf.text.replace(/\n/g, '\r\n'));
    expect((await generate('compact.yml', crlf.text)).text).toBe(crlf.text);
  });

  it('a workload written as one flow mapping is written whole (block style), and the log says so', async () => {
    const input =
      '{apiVersion: v1, kind: Pod, metadata: {name: a}, spec: {runtimeClassName: contrast-cc, containers: [{name: c, image: "registry.example/a:1"}]}}\n';
    const out = await generate('flow.yml', input);
    expect(out.fallbacks.map((r) => r.fields)).toEqual([
      expect.objectContaining({
        file: 'flow.yml',
        document: 0,
        reason: 'the document is not a block map or list',
      }),
    ]);
    expect(parseAllDocuments(out.text)[0]!.toJSON().spec.runtimeClassName).toBe(
      'contrast-cc-test-snp-0123abcd',
    );
    expect((await generate('flow.yml', out.text)).text).toBe(out.text);
  });

  it('anchors and aliases: kept as written around the changes', async () => {
    const input =
      'apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  labels: &l {app: a}   # shared\n  annotations:\n    copy: x\nspec:\n  runtimeClassName: contrast-cc\n  containers:\n  - name: c\n    image: registry.example/a:1\n    env: &e\n    - name: A\n      value: "1"\n  - name: d\n    image: registry.example/a:1\n    env: *e\n';
    const out = await generate('anchors.yml', input);
    expect(out.fallbacks).toEqual([]);
    expect(out.text).toContain('  labels: &l {app: a}   # shared\n');
    expect(out.text).toContain('    env: *e\n');
    expect(lineDiff(input, out.text).removed).toEqual([
      '  runtimeClassName: contrast-cc\n',
      '    image: registry.example/a:1\n',
      '    image: registry.example/a:1\n',
    ]);
    expect((await generate('anchors.yml', out.text)).text).toBe(out.text);
  });

  it('a file without a line break at its end gets none', async () => {
    const input = readFileSync(fixture('compact.yml'), 'utf8').split('---')[0]!.trimEnd();
    const out = await generate('one.yml', input);
    expect(out.fallbacks).toEqual([]);
    expect(out.text.endsWith('\n')).toBe(false);
    expect(lineDiff(`${input}\n`, `${out.text}\n`).removed).toHaveLength(3);
  });
});

/** Renders document 0 of `text` after `edit`; fails the test when the document is written whole. */
function edited(text: string, edit: (doc: Document) => void): string {
  const f = parseResourceText('t.yml', text);
  edit(f.documents[0]!);
  const reasons: string[] = [];
  const out = renderKeepingSource(f.text, f.documents, new Set([0]), (_, reason) => reasons.push(reason));
  expect(reasons).toEqual([]);
  expect(parseAllDocuments(out)[0]!.toJSON()).toEqual(f.documents[0]!.toJSON());
  return out;
}

describe('renderKeepingSource: edits the pipeline makes', () => {
  it('a changed scalar keeps its quotes, its comment and the spaces before it', () => {
    const text = 'a:\n  b: "x"    # two\n  c: \'y\' # one\n  d: z\n';
    expect(
      edited(text, (d) => {
        d.setIn(['a', 'b'], 'x@sha256:1');
        d.setIn(['a', 'c'], 'y2');
        d.setIn(['a', 'd'], 'true');
      }),
    ).toBe('a:\n  b: "x@sha256:1"    # two\n  c: \'y2\' # one\n  d: "true"\n');
  });

  it('an item inserted first in a compact list: the comment before the old first one stays with it', () => {
    const text = 'spec:\n  list:\n  # the user one\n  - name: a\n    x: 1\n  other: 2\n';
    const out = edited(text, (d) => {
      (d.getIn(['spec', 'list']) as YAMLSeq).items.unshift(d.createNode({ name: 'new', y: [1, 2] }));
    });
    expect(out).toBe(
      'spec:\n  list:\n  - name: new\n    y:\n    - 1\n    - 2\n  # the user one\n  - name: a\n    x: 1\n  other: 2\n',
    );
  });

  it('the first item removed, the last removed, a key removed and one added', () => {
    const text = 'l:\n- a   # first\n- b\n- c # last\nm:\n  k1: 1\n  k2: 2 # two\n  k3: 3\n';
    const out = edited(text, (d) => {
      (d.get('l') as YAMLSeq).items.splice(0, 1);
      (d.get('l') as YAMLSeq).items.pop();
      (d.get('m') as YAMLMap).delete('k1');
      (d.get('m') as YAMLMap).set('k4', 4);
    });
    expect(out).toBe('l:\n- b\nm:\n  k2: 2 # two\n  k3: 3\n  k4: 4\n');
  });

  it('a key deleted and set again to the same value stays where it was (a re-run)', () => {
    const text = 'annotations:\n  a: "1"\n  policy: abc   # generated\n  z: "2"\n';
    expect(
      edited(text, (d) => {
        (d.get('annotations') as YAMLMap).delete('policy');
        (d.get('annotations') as YAMLMap).set('policy', 'abc');
      }),
    ).toBe(text);
  });

  it('a null map gets entries; an empty flow list gets an item; a flow list grows in place', () => {
    const text = 'meta:\n  annotations:\n  name: x\nvolumes: []\ngroups: [1] # kept\n';
    const out = edited(text, (d) => {
      d.setIn(['meta', 'annotations'], d.createNode({ k: 'v' }));
      (d.get('volumes') as YAMLSeq).items.push(d.createNode({ name: 'v' }));
      (d.get('groups') as YAMLSeq).items.push(d.createNode(10));
    });
    expect(out).toBe(
      'meta:\n  annotations:\n    k: v\n  name: x\nvolumes: [{name: v}]\ngroups: [1, 10] # kept\n',
    );
  });

  it('an entry after a comment that closes a nested list (the CST keeps the indent before it)', () => {
    const text = 'c:\n  ports:\n  - port: 1\n\n  # the probe\n  probe: {}\n';
    const out = edited(text, (d) => {
      const c = d.get('c') as YAMLMap;
      c.items.splice(1, 0, d.createPair('env', [{ name: 'A' }]));
      c.set('probe', d.createNode({ path: '/' }));
    });
    // The comment and blank line stay with the list; `env` goes after `ports`, as in the edit;
    // the new (block) map replaces the flow `{}`.
    expect(out).toBe(
      'c:\n  ports:\n  - port: 1\n\n  # the probe\n  env:\n  - name: A\n  probe:\n    path: /\n',
    );
  });

  it('a changed block scalar is written anew, alone', () => {
    const text = 'a:\n  script: |\n    echo one\n  keep:   1   # spacing\n';
    expect(edited(text, (d) => d.setIn(['a', 'script'], 'echo two\n'))).toBe(
      'a:\n  script: |\n    echo two\n  keep:   1   # spacing\n',
    );
  });

  it('a document that is not a block map is written whole (and said so), with the same data', () => {
    const f = parseResourceText('t.yml', '[a, b]\n');
    (f.documents[0]!.contents as YAMLSeq).items.push(f.documents[0]!.createNode('c'));
    const reasons: string[] = [];
    const out = renderKeepingSource(f.text, f.documents, new Set([0]), (_, r) => reasons.push(r));
    expect(reasons).toEqual(['the document is not a block map or list']);
    expect(parseAllDocuments(out)[0]!.toJSON()).toEqual(['a', 'b', 'c']);
  });

  it('detects the style: compact or indented lists, the indent step, flow padding', () => {
    const style = (t: string) => detectStyle([...new Parser().parse(t)][0]);
    expect(style('a:\n- 1\nb:\n    c: { d: 1 }\n')).toEqual({
      indent: 4,
      indentSeq: false,
      flowPadding: true,
    });
    expect(style('a:\n  - 1\nb:\n  c: [1]\n')).toEqual({ indent: 2, indentSeq: true, flowPadding: false });
  });
});

describe('renderKeepingSource: the safety net and the cost of writing', () => {
  const text = '# a\nkind: A\nitems:\n- 1\n---\nkind: B   # untouched\n---\nkind: C\n';

  it('a reconciled text that does not read back as the edited document is written whole, and said so', () => {
    const f = parseResourceText('t.yml', text);
    f.documents[0]!.set('extra', 'x');
    f.documents[2]!.set('extra', 'z');
    const reasons: string[] = [];
    // A broken reconciliation (simulated: the added line loses its value) must not reach the file.
    const out = renderKeepingSource(
      f.text,
      f.documents,
      new Set([0, 2]),
      (i, r) => reasons.push(`${i}: ${r}`),
      {
        beforeReadBack: (t, i) => (i === 0 ? t.replace('extra: x', 'extra:') : t),
      },
    );
    expect(reasons).toEqual(['0: the reconciled text does not read back the same']);
    const back = parseAllDocuments(out) as Document.Parsed[];
    expect(back.map((d) => d.toJSON())).toEqual(f.documents.map((d) => d.toJSON()));
    // The other documents: one untouched (its bytes), one reconciled (in place).
    expect(documentText(out, 1)).toBe(documentText(text, 1));
    expect(out.endsWith('---\nkind: C\nextra: z\n')).toBe(true);
    // Without the fault, nothing is written whole.
    const g = parseResourceText('t.yml', text);
    g.documents[0]!.set('extra', 'x');
    const none: number[] = [];
    expect(renderResourceFile(g, new Set([0]), (i) => none.push(i))).toBe(
      '# a\nkind: A\nitems:\n- 1\nextra: x\n---\nkind: B   # untouched\n---\nkind: C\n',
    );
    expect(none).toEqual([]);
  });

  it('a document under a %YAML 1.1 directive is read back under it: edited in place, the directive kept once', () => {
    const source = '%YAML 1.1\n---\nkind: A\nenabled: yes   # 1.1: a boolean\n---\nkind: B\n';
    const f = parseResourceText('t.yml', source);
    expect(f.documents[0]!.get('enabled')).toBe(true);
    f.documents[0]!.set('extra', 'x');
    const reasons: string[] = [];
    const out = renderResourceFile(f, new Set([0]), (_, r) => reasons.push(r));
    expect(reasons).toEqual([]);
    expect(out).toBe('%YAML 1.1\n---\nkind: A\nenabled: yes   # 1.1: a boolean\nextra: x\n---\nkind: B\n');
    // Written whole (a flow mapping), the directive is not written a second time.
    const flow = parseResourceText('t.yml', '%YAML 1.1\n---\n{kind: A, enabled: yes}\n');
    flow.documents[0]!.set('extra', 'x');
    const whole = renderResourceFile(flow, new Set([0]), (_, r) => reasons.push(r));
    expect(reasons).toEqual(['the document is not a block map or list']);
    expect(whole.match(/%YAML/g)).toHaveLength(1);
    const back = parseAllDocuments(whole) as Document.Parsed[];
    expect(back.flatMap((d) => [...d.errors, ...d.warnings])).toEqual([]);
    expect(back[0]!.toJSON()).toEqual({ kind: 'A', enabled: true, extra: 'x' });
  });

  it('a file is parsed once: writing it back reads only each changed document again', () => {
    const docs = Array.from({ length: 6 }, (_, i) => `kind: K${i}\nspec:\n  n: ${i}\n`);
    const f = parseResourceText('t.yml', docs.join('---\n'));
    for (const i of [1, 3, 4]) f.documents[i]!.setIn(['spec', 'added'], i);
    const parse = vi.spyOn(Parser.prototype, 'parse');
    try {
      const out = renderResourceFile(f, new Set([1, 3, 4]));
      // One read-back per changed document, each of that document alone; the file itself is not
      // parsed again (its syntax tree is kept from loading).
      expect(parse.mock.calls.map(([source]) => source)).toEqual(
        [1, 3, 4].map((i) => `---\nkind: K${i}\nspec:\n  n: ${i}\n  added: ${i}\n`),
      );
      expect((parseAllDocuments(out) as Document.Parsed[]).map((d) => d.toJSON())).toEqual(
        f.documents.map((d) => d.toJSON()),
      );
      // A file object whose text was replaced is parsed anew (its old tree is not used).
      const replaced = { ...f, text: f.text.replace('n: 0', 'n: 0 # zero') };
      replaced.documents = parseResourceText('t.yml', replaced.text).documents;
      replaced.documents[1]!.setIn(['spec', 'added'], 1);
      parse.mockClear();
      const again = renderResourceFile(replaced, new Set([1]));
      expect(parse.mock.calls.map(([source]) => source)).toEqual([
        replaced.text,
        '---\nkind: K1\nspec:\n  n: 1\n  added: 1\n',
      ]);
      expect(again.startsWith('kind: K0\nspec:\n  n: 0 # zero\n---\n')).toBe(true);
    } finally {
      parse.mockRestore();
    }
  });
});

describe('renderKeepingSource: random edits', () => {
  const sources = ['compact.yml', 'indented.yml'].map((n) => readFileSync(fixture(n), 'utf8'));

  /** Every block collection path in the document. */
  function collections(doc: Document): (string | number)[][] {
    const out: (string | number)[][] = [];
    const walk = (node: unknown, at: (string | number)[]) => {
      if (isMap(node)) {
        out.push(at);
        for (const p of node.items) walk(p.value, [...at, String((p.key as { value: unknown }).value)]);
      } else if (isSeq(node)) {
        out.push(at);
        node.items.forEach((v, i) => {
          walk(v, [...at, i]);
        });
      }
    };
    walk(doc.contents, []);
    return out;
  }

  it('the output reads back as the edited document, without writing it whole, and is stable', () => {
    const edit = fc.record({
      file: fc.integer({ min: 0, max: 1 }),
      crlf: fc.boolean(),
      doc: fc.integer({ min: 0, max: 1 }),
      ops: fc.array(
        fc.record({
          at: fc.nat(),
          kind: fc.constantFrom('set', 'add', 'delete', 'insert'),
          index: fc.nat(),
          value: fc.oneof(
            fc.string({ maxLength: 12 }),
            fc.integer(),
            fc.constant(null),
            fc.dictionary(fc.constantFrom('name', 'x', 'y'), fc.string({ maxLength: 6 }), { minKeys: 1 }),
            fc.array(fc.string({ maxLength: 6 }), { minLength: 1, maxLength: 3 }),
          ),
        }),
        { minLength: 1, maxLength: 5 },
      ),
    });
    fc.assert(
      fc.property(edit, ({ file, crlf, doc: di, ops }) => {
        const text = crlf ? sources[file]!.replace(/\n/g, '\r\n') : sources[file]!;
        const f = parseResourceText('t.yml', text);
        const doc = f.documents[di]!;
        for (const op of ops) {
          const paths = collections(doc);
          const at = paths[op.at % paths.length]!;
          const node = at.length === 0 ? doc.contents : doc.getIn(at, true);
          if (isMap(node)) {
            const key =
              op.kind === 'add'
                ? `k${op.index % 5}`
                : node.items[op.index % Math.max(1, node.items.length)]?.key;
            if (key === undefined) continue;
            if (op.kind === 'delete' && node.items.length > 1) node.delete(key);
            else node.set(key, doc.createNode(op.value));
          } else if (isSeq(node)) {
            const i = op.index % (node.items.length + 1);
            if (op.kind === 'delete' && node.items.length > 1) node.items.splice(i % node.items.length, 1);
            else if (op.kind === 'set' && i < node.items.length) node.items[i] = doc.createNode(op.value);
            else node.items.splice(i, 0, doc.createNode(op.value));
          }
        }
        const reasons: string[] = [];
        const out = renderKeepingSource(f.text, f.documents, new Set([di]), (_, r) => reasons.push(r));
        // Writing from the syntax tree kept since parsing gives the same bytes.
        expect(renderResourceFile(f, new Set([di]))).toBe(out);
        const back = parseAllDocuments(out) as Document.Parsed[];
        expect(back.flatMap((d) => d.errors)).toEqual([]);
        expect(back[di]!.toJSON()).toEqual(doc.toJSON());
        expect(back[1 - di]!.toJSON()).toEqual(f.documents[1 - di]!.toJSON());
        expect(reasons).toEqual([]);
        if (crlf) expect(out.replace(/\r\n/g, '')).not.toContain('\n');
        // The other document keeps its bytes; writing the output again changes nothing.
        expect(documentText(out, 1 - di)).toBe(documentText(f.text, 1 - di));
        const g = parseResourceText('t.yml', out);
        expect(renderKeepingSource(out, g.documents, new Set([0, 1]))).toBe(out);
      }),
      { numRuns: Number(process.env.KEEP_SOURCE_RUNS ?? 120) },
    );
  }, 120_000);
});
