import {
  Composer,
  CST,
  Document,
  isCollection,
  isMap,
  isNode,
  isPair,
  isScalar,
  isSeq,
  type Node,
  Pair,
  Parser,
  parseAllDocuments,
  Scalar,
  type ToStringOptions,
  YAMLMap,
  YAMLSeq,
} from 'yaml';

/**
 * Writing a changed YAML document back as the user wrote it.
 *
 * The pipeline edits the parsed documents (`yaml`'s document API). Stringifying such a document
 * re-formats all of it: compact lists (`- name: x` at the indent of their key, the Kubernetes
 * docs' and `kubectl -o yaml` style) become indented, the spaces before a `#` collapse, flow
 * collections lose their padding. Here the edited document is compared with a fresh parse of the
 * original text, walking the lossless CST (concrete syntax tree) of that text alongside: every
 * map entry and list item whose value did not change is copied from the source byte for byte; a
 * changed scalar gets only its own text replaced (its comment and the spaces before it stay);
 * a changed block map or list is reconciled entry by entry; only added entries (and values whose
 * shape changed) are rendered by the library, in the style the document already uses (list
 * indentation, indent width, flow padding). The result is parsed again and compared with the
 * edited document; anything this cannot express exactly falls back to stringifying the document
 * with the detected style.
 */

/** The layout a document uses, for the parts that have to be rendered anew. */
export interface YamlStyle {
  /** Spaces per nesting level of block maps. */
  indent: number;
  /** `true`: lists under a key are indented (`key:\n  - a`); `false`: compact (`key:\n- a`). */
  indentSeq: boolean;
  /** `{ a: 1 }` rather than `{a: 1}`. */
  flowPadding: boolean;
}

type Item = CST.CollectionItem;
type BlockCollection = CST.BlockMap | CST.BlockSequence;

interface RenderContext {
  style: YamlStyle;
  /** The file's line ending. */
  nl: string;
  /** A node's plain data, computed once per node for the whole render (see {@link plainData}). */
  plain: (v: unknown) => unknown;
}

/** Why a document cannot be reconciled: it is stringified whole instead. */
class Unreconcilable extends Error {}

/** Library options for rendering in a document's style (long lines are never folded). */
export function stringifyOptions(style: YamlStyle): ToStringOptions {
  return {
    lineWidth: 0,
    indent: style.indent,
    indentSeq: style.indentSeq,
    flowCollectionPadding: style.flowPadding,
  };
}

/**
 * The style of a document from its CST: how lists under a key are indented, the indent step of
 * nested maps and whether flow collections are padded. Majority wins; without evidence the
 * library's layout (indented lists, two spaces, no padding).
 */
export function detectStyle(token: CST.Token | undefined): YamlStyle {
  let compact = 0;
  let indented = 0;
  let padded = 0;
  let unpadded = 0;
  const steps = new Map<number, number>();
  const walk = (t: CST.Token | null | undefined): void => {
    if (!t) return;
    if (t.type === 'document') {
      walk(t.value);
    } else if (t.type === 'block-map') {
      for (const item of t.items) {
        const v = item.value;
        if (v?.type === 'block-seq') {
          if (v.indent === t.indent) compact++;
          else if (v.indent > t.indent) {
            indented++;
            steps.set(v.indent - t.indent, (steps.get(v.indent - t.indent) ?? 0) + 1);
          }
        } else if (v?.type === 'block-map' && v.indent > t.indent) {
          steps.set(v.indent - t.indent, (steps.get(v.indent - t.indent) ?? 0) + 1);
        }
        walk(item.key);
        walk(v);
      }
    } else if (t.type === 'block-seq') {
      for (const item of t.items) walk(item.value);
    } else if (t.type === 'flow-collection') {
      if (t.items.length > 0) {
        const first = t.items[0]!.start[0];
        if (first?.type === 'space') padded++;
        else if (first?.type !== 'newline') unpadded++;
      }
      for (const item of t.items) {
        walk(item.key);
        walk(item.value);
      }
    }
  };
  walk(token);
  let indent = 2;
  let best = 0;
  for (const [step, count] of steps) {
    if (count > best || (count === best && step < indent)) {
      indent = step;
      best = count;
    }
  }
  return { indent, indentSeq: indented >= compact, flowPadding: padded > unpadded };
}

const src = (tokens: readonly CST.SourceToken[] | undefined): string =>
  (tokens ?? []).map((t) => t.source).join('');

/**
 * A value as plain data, for comparing the edited document with the original; for one render,
 * each node's data computed once: reconciling compares an entry's
 * data at every depth, and the library's `toJSON()` would convert the same subtrees again at each
 * level. Plain maps (string keys) and lists are converted here from their children's cached data,
 * exactly as `toJSON()` converts them without a document context; anything else (scalars,
 * aliases, other keys, tagged collections) is the library's own `toJSON()`. Only valid while the
 * nodes do not change, hence a new one per render.
 */
function plainData(): (v: unknown) => unknown {
  const cache = new WeakMap<object, unknown>();
  const of = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(of);
    if (!isNode(v) && !isPair(v)) return typeof v === 'bigint' ? Number(v) : v;
    if (cache.has(v)) return cache.get(v);
    let out: unknown;
    if (
      isMap(v) &&
      Object.getPrototypeOf(v) === YAMLMap.prototype &&
      v.items.every(
        (pair) => typeof pair.key === 'string' || (isScalar(pair.key) && typeof pair.key.value === 'string'),
      )
    ) {
      const obj: Record<string, unknown> = Object.create(null);
      for (const pair of v.items) {
        const key = isScalar(pair.key) ? (pair.key.value as string) : (pair.key as string);
        obj[key] = of(pair.value);
      }
      out = obj;
    } else if (isSeq(v) && Object.getPrototypeOf(v) === YAMLSeq.prototype) {
      out = v.items.map(of);
    } else {
      out = (v as { toJSON(): unknown }).toJSON();
    }
    cache.set(v, out);
    return out;
  };
  return of;
}

function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') {
    return typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b);
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => sameData(x, bb[i]));
  }
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  return (
    ka.length === kb.length &&
    ka.every(
      (k) =>
        Object.hasOwn(b as object, k) &&
        sameData((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
    )
  );
}

function keyString(k: unknown): string {
  if (
    isScalar(k) &&
    (typeof k.value === 'string' || typeof k.value === 'number' || typeof k.value === 'boolean')
  ) {
    return String(k.value);
  }
  if (typeof k === 'string' || typeof k === 'number' || typeof k === 'boolean') return String(k);
  throw new Unreconcilable('a map key that is not a scalar');
}

/** Whether a CST item is a comment/blank-line-only item (no key, no value, no `-`). */
function isCommentItem(item: Item, seq: boolean): boolean {
  if (seq) return item.value === undefined && !item.start.some((t) => t.type === 'seq-item-ind');
  return item.key === undefined && item.sep === undefined && item.value === undefined;
}

/** The entries of a block collection: each map pair / list item with the comment items after it. */
function entriesOf(c: BlockCollection): Item[][] {
  const seq = c.type === 'block-seq';
  const out: Item[][] = [];
  for (const item of c.items as Item[]) {
    if (isCommentItem(item, seq)) {
      const last = out.at(-1);
      if (!last) throw new Unreconcilable('comment before the first entry');
      last.push(item);
    } else {
      if (!seq && (item.start.some((t) => t.type === 'explicit-key-ind') || !item.key)) {
        throw new Unreconcilable('explicit or empty key');
      }
      out.push([item]);
    }
  }
  return out;
}

/** Renders a map entry or list item with the library, at column 0, then shifted by `n`. */
function renderFresh(
  kind: 'map' | 'seq',
  key: unknown,
  value: unknown,
  n: number,
  ctx: RenderContext,
): string {
  const doc = new Document();
  if (kind === 'map') {
    const map = new YAMLMap();
    map.items.push(new Pair(key, value));
    doc.contents = map;
  } else {
    const seq = new YAMLSeq();
    seq.items.push(value);
    doc.contents = seq;
  }
  // The comments before the entry stay in the source before it: left out while it is rendered
  // (the edited document itself is not changed; stringifying does not change nodes, so nothing is
  // copied).
  const first = kind === 'map' ? key : value;
  let text: string;
  if (isNode(first) && (first.commentBefore !== undefined || first.spaceBefore !== undefined)) {
    const { commentBefore, spaceBefore } = first;
    first.commentBefore = undefined;
    first.spaceBefore = undefined;
    try {
      text = doc.toString(stringifyOptions(ctx.style));
    } finally {
      first.commentBefore = commentBefore;
      first.spaceBefore = spaceBefore;
    }
  } else {
    text = doc.toString(stringifyOptions(ctx.style));
  }
  const pad = ' '.repeat(n);
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((l) => (l === '' ? l : pad + l)).join(ctx.nl) + ctx.nl;
}

/** A changed scalar's new text, on one line, in the quoting the source used; else undefined. */
function renderScalarInline(value: unknown, original: Node, ctx: RenderContext): string | undefined {
  const s = isScalar(value) ? (value.clone() as Scalar) : new Scalar(value);
  s.comment = undefined;
  s.commentBefore = undefined;
  s.spaceBefore = undefined;
  if (
    s.type === undefined &&
    isScalar(original) &&
    (original.type === 'QUOTE_DOUBLE' || original.type === 'QUOTE_SINGLE') &&
    typeof s.value === 'string'
  ) {
    s.type = original.type;
  }
  const doc = new Document();
  const map = new YAMLMap();
  map.items.push(new Pair(new Scalar('k'), s));
  doc.contents = map;
  const text = doc.toString(stringifyOptions(ctx.style));
  if (!text.startsWith('k: ') || !text.endsWith('\n')) return undefined;
  const out = text.slice(3, -1);
  if (out.includes('\n') || /^[|>]/.test(out)) return undefined;
  return out;
}

/** Text of a collection's entries, and what its parent writes before it. */
interface Block {
  text: string;
  /**
   * `keep`: the parent's text before the first entry as it was. `drop-indent`: the first entry
   * starts on a line of its own, the parent's trailing indent must go. `head-only`: the comment
   * lines the parent had before the first entry moved with that entry (now later in the list):
   * the parent writes only up to its line break.
   */
  parent: 'keep' | 'drop-indent' | 'head-only';
}

/**
 * A map entry's separator before a block value (`:`, maybe a comment, a line break, then maybe
 * comment lines, then the indent): the part up to the first line break, and the comment lines.
 */
function splitSep(sep: readonly CST.SourceToken[]): { head: string; lead: string } {
  const f = sep.findIndex((t) => t.type === 'newline');
  if (f < 0) return { head: src(sep), lead: '' };
  const rest = sep.slice(f + 1);
  // The comment lines, without the indent of the first entry at their end.
  return {
    head: src(sep.slice(0, f + 1)),
    lead: src(rest.at(-1)?.type === 'space' ? rest.slice(0, -1) : rest),
  };
}

/**
 * One output entry of a collection. `orig` is its index in the source (absent: added). An
 * original entry's text has the source's form: the first starts at the collection's column (its
 * indent is in the parent), the others start at the beginning of their line, except that the
 * CST may leave the indent of an entry at the end of the entry before it (after a comment).
 */
interface Chunk {
  text: string;
  orig?: number;
}

const DANGLING_INDENT = /(\n)[ \t]+$/;

/**
 * Reconciles the CST block collection `c` (parsed as `p`) with the edited node `m`: unchanged
 * entries are copied, changed ones reconciled or re-rendered, added ones rendered, removed ones
 * dropped. Map entries keep the source's order (added keys go after the key they follow in `m`);
 * list items take `m`'s order.
 */
function reconcileBlock(
  m: YAMLMap | YAMLSeq,
  p: YAMLMap | YAMLSeq,
  c: BlockCollection,
  ctx: RenderContext,
  /** Comment lines the parent has before the first entry (they belong to that entry). */
  lead = '',
): Block {
  const n = c.indent;
  const entries = entriesOf(c);
  if (entries.length !== p.items.length) throw new Unreconcilable('entries and nodes differ');
  const chunks: Chunk[] = [];
  if (isMap(m) && isMap(p) && c.type === 'block-map') {
    const origKeys = p.items.map((pair) => keyString(pair.key));
    const mKeys = m.items.map((pair) => keyString(pair.key));
    if (new Set(mKeys).size !== mKeys.length || new Set(origKeys).size !== origKeys.length) {
      throw new Unreconcilable('duplicate keys');
    }
    const mByKey = new Map(m.items.map((pair, i) => [mKeys[i]!, pair]));
    // Original order for the kept keys; each added key right after the key it follows in m.
    const order: ({ orig: number } | { added: Pair })[] = [];
    origKeys.forEach((k, i) => {
      if (mByKey.has(k)) order.push({ orig: i });
    });
    let insertAt = 0;
    m.items.forEach((pair, j) => {
      const k = mKeys[j]!;
      const oi = origKeys.indexOf(k);
      if (oi >= 0) {
        insertAt = order.findIndex((o) => 'orig' in o && o.orig === oi) + 1;
      } else {
        order.splice(insertAt, 0, { added: pair as Pair });
        insertAt++;
      }
    });
    for (const o of order) {
      if ('added' in o) {
        chunks.push({ text: renderFresh('map', o.added.key, o.added.value, n, ctx) });
      } else {
        const pair = mByKey.get(origKeys[o.orig]!)!;
        chunks.push({
          text: reconcileEntry('map', entries[o.orig]!, pair.key, pair.value, p.items[o.orig]!.value, n, ctx),
          orig: o.orig,
        });
      }
    }
  } else if (isSeq(m) && isSeq(p) && c.type === 'block-seq') {
    const match = matchItems(m, p, ctx.plain);
    m.items.forEach((item, j) => {
      const oi = match.get(j);
      if (oi === undefined) chunks.push({ text: renderFresh('seq', undefined, item, n, ctx) });
      else
        chunks.push({
          text: reconcileEntry('seq', entries[oi]!, undefined, item, p.items[oi], n, ctx),
          orig: oi,
        });
    });
  } else {
    throw new Unreconcilable('collection kinds differ');
  }
  if (chunks.length === 0) throw new Unreconcilable('empty block collection');
  const pad = ' '.repeat(n);
  const last = chunks.length - 1;
  // An indent left at the end of an entry belongs to the entry that followed it in the source:
  // kept only while that one still follows (for the last entry: outside this collection).
  const texts = chunks.map((ch, i) => {
    const next = chunks[i + 1];
    const successorFollows =
      ch.orig !== undefined && (i < last ? next?.orig === ch.orig + 1 : ch.orig === entries.length - 1);
    return successorFollows ? ch.text : ch.text.replace(DANGLING_INDENT, '$1');
  });
  let parent: Block['parent'] = 'keep';
  const leadMoves = lead !== '' && chunks[0]!.orig !== 0 && chunks.some((ch) => ch.orig === 0);
  for (let i = 0; i < texts.length; i++) {
    const ch = chunks[i]!;
    let t = texts[i]!;
    if (i > 0) {
      // Every entry after the first starts at the beginning of its line with its indent, unless
      // the one before it still ends with that indent.
      if (ch.orig === 0) t = (leadMoves ? lead : '') + pad + t;
      else if (n > 0 && /^[^\s]/.test(t) && !DANGLING_INDENT.test(texts[i - 1]!)) t = pad + t;
      if (!texts[i - 1]!.endsWith('\n') && !DANGLING_INDENT.test(texts[i - 1]!)) texts[i - 1] += ctx.nl;
    } else if (leadMoves) {
      // The parent's comment lines go with the entry they were written before.
      parent = 'head-only';
    } else if (ch.orig !== 0) {
      // The first entry starts at the column: drop its indent, or let the parent drop its own.
      if (t.startsWith(pad) && /^[^\s]/.test(t.slice(n))) t = t.slice(n);
      else if (/^\s/.test(t) && n > 0) parent = 'drop-indent';
    }
    texts[i] = t;
  }
  return { text: texts.join(''), parent };
}

/** Pairs each item of the edited list with an original one: same node, same `name`, same data. */
function matchItems(m: YAMLSeq, p: YAMLSeq, plain: (v: unknown) => unknown): Map<number, number> {
  const match = new Map<number, number>();
  const taken = new Set<number>();
  const take = (j: number, i: number) => {
    match.set(j, i);
    taken.add(i);
  };
  const rangeStart = (v: unknown) => (isNode(v) ? v.range?.[0] : undefined);
  m.items.forEach((item, j) => {
    const r = rangeStart(item);
    if (r === undefined) return;
    const i = p.items.findIndex((q, qi) => !taken.has(qi) && rangeStart(q) === r);
    if (i >= 0) take(j, i);
  });
  const nameOf = (v: unknown) => (isMap(v) ? v.get('name') : undefined);
  m.items.forEach((item, j) => {
    if (match.has(j)) return;
    const name = nameOf(item);
    if (typeof name !== 'string') return;
    const i = p.items.findIndex((q, qi) => !taken.has(qi) && nameOf(q) === name);
    if (i >= 0) take(j, i);
  });
  m.items.forEach((item, j) => {
    if (match.has(j)) return;
    const data = plain(item);
    const i = p.items.findIndex((q, qi) => !taken.has(qi) && sameData(plain(q), data));
    if (i >= 0) take(j, i);
  });
  return match;
}

/**
 * One entry (its CST items: the pair or list item, then comment items) with the edited key and
 * value `mv`; `pv` is the original value. Returns the entry's text in the source's form.
 */
function reconcileEntry(
  kind: 'map' | 'seq',
  entry: Item[],
  mKey: unknown,
  mv: unknown,
  pv: unknown,
  n: number,
  ctx: RenderContext,
): string {
  const [item, ...comments] = entry as [Item, ...Item[]];
  const trailing = comments.map((c) => CST.stringify(c)).join('');
  if (sameData(ctx.plain(mv), ctx.plain(pv))) return CST.stringify(item) + trailing;
  const head = src(item.start) + (item.key ? CST.stringify(item.key) : '');
  const sep = kind === 'map' ? (item.sep ?? []) : [];
  const value = item.value;
  // A changed scalar: only its text; the comment after it and the spaces before it stay.
  if (
    value &&
    (value.type === 'scalar' ||
      value.type === 'single-quoted-scalar' ||
      value.type === 'double-quoted-scalar') &&
    isScalar(pv) &&
    (isScalar(mv) || mv === null || ['string', 'number', 'boolean'].includes(typeof mv))
  ) {
    const text = renderScalarInline(mv, pv, ctx);
    if (text !== undefined) return head + src(sep) + text + src(value.end) + trailing;
  }
  // A changed block collection of the same kind: entry by entry.
  if (
    value &&
    ((value.type === 'block-map' && isMap(mv) && isMap(pv)) ||
      (value.type === 'block-seq' && isSeq(mv) && isSeq(pv))) &&
    (mv as YAMLMap | YAMLSeq).items.length > 0 &&
    !(mv as YAMLMap | YAMLSeq).flow
  ) {
    const parts = splitSep(sep);
    const inner = reconcileBlock(
      mv as YAMLMap | YAMLSeq,
      pv as YAMLMap | YAMLSeq,
      value,
      ctx,
      kind === 'map' ? parts.lead : '',
    );
    // In a map entry the value follows `sep`; in a list item it follows `- ` (in `start`), where a
    // first entry on a line of its own leaves the rest of that line empty.
    const before =
      kind === 'seq'
        ? src(item.start)
        : inner.parent === 'head-only'
          ? head + parts.head
          : inner.parent === 'drop-indent'
            ? head + parts.head + parts.lead
            : head + src(sep);
    return before + inner.text + trailing;
  }
  // A changed flow collection that stays one line: only its text, the comment after it stays.
  if (value?.type === 'flow-collection' && isCollection(mv) && (mv as YAMLMap | YAMLSeq).flow) {
    const text = renderFlowInline(mv as YAMLMap | YAMLSeq, ctx);
    const close = value.end.findIndex((t) => t.type === 'flow-map-end' || t.type === 'flow-seq-end');
    if (text !== undefined && close >= 0)
      return head + src(sep) + text + src(value.end.slice(close + 1)) + trailing;
  }
  // Anything else (the shape changed): the entry rendered anew after the comments before it.
  const dash = item.start.findIndex((t) => t.type === 'seq-item-ind');
  if (kind === 'seq' && dash < 0) throw new Unreconcilable('a list item without "-"');
  const start = kind === 'map' ? item.start : item.start.slice(0, dash);
  let fresh = renderFresh(kind, mKey, mv, n, ctx);
  // `start` holds the indent of a non-first entry; the first one starts at its column already.
  fresh = fresh.slice(n);
  const keep = comments.filter((c) => {
    const text = src(c.start)
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l.startsWith('#'));
    return text.some((l) => !fresh.includes(l));
  });
  const original = CST.stringify(item) + trailing;
  if (!/\n[ \t]*$/.test(original) && fresh.endsWith(ctx.nl)) fresh = fresh.slice(0, -ctx.nl.length);
  return src(start) + fresh + keep.map((c) => CST.stringify(c)).join('');
}

function renderFlowInline(v: YAMLMap | YAMLSeq, ctx: RenderContext): string | undefined {
  const doc = new Document();
  const map = new YAMLMap();
  const clone = v.clone();
  clone.comment = undefined;
  clone.commentBefore = undefined;
  clone.spaceBefore = undefined;
  map.items.push(new Pair(new Scalar('k'), clone));
  doc.contents = map;
  const text = doc.toString(stringifyOptions(ctx.style));
  if (!text.startsWith('k: ') || !text.endsWith('\n')) return undefined;
  const out = text.slice(3, -1);
  return out.includes('\n') ? undefined : out;
}

/**
 * The edited document `m` written over its source token `c` (parsed as `p`), or why it cannot be.
 */
function reconcileDocument(
  m: Document,
  p: Document,
  c: CST.Document,
  ctx: RenderContext,
  /** The directives (`%YAML`, `%TAG`) the source has before this document: they apply to it. */
  directives: string,
  check: (text: string) => string,
): { text: string } | { reason: string } {
  const original = CST.stringify(c);
  if (sameData(ctx.plain(m.contents), ctx.plain(p.contents))) return { text: original };
  const value = c.value;
  if (
    !value ||
    !(
      (value.type === 'block-map' && isMap(m.contents) && isMap(p.contents)) ||
      (value.type === 'block-seq' && isSeq(m.contents) && isSeq(p.contents))
    )
  ) {
    return { reason: 'the document is not a block map or list' };
  }
  try {
    const body = reconcileBlock(m.contents as YAMLMap | YAMLSeq, p.contents as YAMLMap | YAMLSeq, value, ctx);
    let text = src(c.start) + body.text;
    if (c.end?.length && !text.endsWith('\n')) text += ctx.nl;
    text += src(c.end);
    // The source's last line had no line break (end of file): neither has the result.
    if (!original.endsWith('\n') && text.endsWith(ctx.nl)) text = text.slice(0, -ctx.nl.length);
    text = check(text);
    return writesSameData(directives + text, m)
      ? { text }
      : { reason: 'the reconciled text does not read back the same' };
  } catch (error) {
    if (error instanceof Unreconcilable) return { reason: error.message };
    throw error;
  }
}

/** Whether `text` (a document with the directives before it) is one YAML document with the data of `m`. */
function writesSameData(text: string, m: Document): boolean {
  const docs = parseAllDocuments(text, { prettyErrors: false });
  if (!Array.isArray(docs) || docs.length !== 1) return false;
  const [d] = docs as Document.Parsed[];
  return d!.errors.length === 0 && sameData(d!.toJSON(), m.toJSON());
}

/** A changed document stringified whole (the fallback), in the style of its source. */
function stringifyWhole(
  m: Document,
  sourceText: string,
  style: YamlStyle,
  index: number,
  nl: string,
  /** Whether the source has directives before the document (they stay; not written again). */
  directives = false,
): string {
  let rendered = m.toString({ ...stringifyOptions(style), ...(directives ? { directives: false } : {}) });
  // Keep the document's own separator when the source had one before its leading comments.
  if ((index > 0 || directives) && !rendered.startsWith('---') && /^\s*---/.test(sourceText))
    rendered = `---\n${rendered}`;
  return nl === '\r\n' ? rendered.replace(/\r?\n/g, '\r\n') : rendered;
}

/** Options of {@link renderKeepingSource}. */
export interface RenderOptions {
  /** The CST `text` was parsed from, when the caller still has it (else `text` is parsed here). */
  tokens?: readonly CST.Token[];
  /**
   * Tests only: changes a reconciled document's text before it is read back, to show that the
   * read-back catches a text that does not give the edited data.
   */
  beforeReadBack?: (text: string, documentIndex: number) => string;
}

/** Told when a changed document had to be stringified whole (with the reason). */
export type WholeDocumentFallback = (documentIndex: number, reason: string) => void;

/**
 * The file's text with the documents `changed` (indexes into `docs`, the edited documents parsed
 * from `text`) written back, every other byte kept. See the module comment for how.
 */
export function renderKeepingSource(
  text: string,
  docs: readonly Document[],
  changed: ReadonlySet<number>,
  onFallback?: WholeDocumentFallback,
  options: RenderOptions = {},
): string {
  if (changed.size === 0) return text;
  const nl = text.includes('\r\n') ? '\r\n' : '\n';
  const tokens = options.tokens ?? [...new Parser().parse(text)];
  const check = options.beforeReadBack ?? ((t: string) => t);
  const cstDocs = tokens.filter((t): t is CST.Document => t.type === 'document');
  // Each token's text (the file's bytes, once more, when the tree is lossless).
  const pieces = tokens.map((t) => CST.stringify(t));
  // The original documents, composed from the same tokens (the file is not parsed again).
  const pristine =
    pieces.join('') === text && cstDocs.length === docs.length
      ? composeOriginals(tokens, cstDocs, changed)
      : undefined;
  if (!pristine) {
    for (const i of changed) onFallback?.(i, 'the file has no usable syntax tree');
    return renderBySlices(text, docs, changed, nl);
  }
  const plain = plainData();
  let out = '';
  let index = 0;
  let directives = '';
  for (const [k, t] of tokens.entries()) {
    const source = pieces[k]!;
    if (t.type !== 'document') {
      if (t.type === 'directive') directives += `${t.source}\n`;
      out += source;
      continue;
    }
    const before = directives;
    directives = '';
    const i = index++;
    if (!changed.has(i)) {
      out += source;
      continue;
    }
    const m = docs[i]!;
    const style = detectStyle(t);
    const kept = reconcileDocument(m, pristine.get(i)!, t, { style, nl, plain }, before, (r) => check(r, i));
    if ('text' in kept) {
      out += kept.text;
    } else {
      onFallback?.(i, kept.reason);
      out += stringifyWhole(m, source, style, i, nl, before !== '');
    }
  }
  return out;
}

/**
 * The original documents `changed` (by index), composed from the file's tokens. Without
 * directives each one alone (the others are never looked at); with `%YAML`/`%TAG` directives all
 * of them in order, as the directives apply. Undefined when the tokens do not give the documents.
 */
function composeOriginals(
  tokens: readonly CST.Token[],
  cstDocs: readonly CST.Document[],
  changed: ReadonlySet<number>,
): Map<number, Document> | undefined {
  const out = new Map<number, Document>();
  if (tokens.some((t) => t.type === 'directive')) {
    const all = [...new Composer().compose(tokens)];
    if (all.length !== cstDocs.length) return undefined;
    for (const i of changed) out.set(i, all[i]!);
    return out;
  }
  for (const i of changed) {
    const token = cstDocs[i];
    if (!token) return undefined;
    const composed = [...new Composer().compose([token])];
    if (composed.length !== 1) return undefined;
    out.set(i, composed[0]!);
  }
  return out;
}

/** Without a usable CST: each document owns the text up to its end; changed ones stringified. */
function renderBySlices(
  text: string,
  docs: readonly Document[],
  changed: ReadonlySet<number>,
  nl: string,
): string {
  let out = '';
  let prevEnd = 0;
  docs.forEach((doc, i) => {
    const end = (doc as Document.Parsed).range[2];
    const source = text.slice(prevEnd, end);
    if (changed.has(i)) {
      const t = [...new Parser().parse(source)].find((x) => x.type === 'document');
      out += stringifyWhole(doc, source, detectStyle(t), i, nl);
    } else {
      out += source;
    }
    prevEnd = end;
  });
  return out + text.slice(prevEnd);
}
