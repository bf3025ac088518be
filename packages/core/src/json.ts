import { ContrastError } from './errors.js';

/** Bounds of {@link parseJsonBounded}. @public */
export interface JsonBounds {
  /** Deepest nesting of arrays and objects allowed (the top-level value is depth 1). */
  maxDepth: number;
  /** Most values (array elements, object members, the top-level value) allowed. */
  maxValues: number;
  /** Named in the error (e.g. `body`, `manifest`). */
  field?: string;
  /** Named in the error. */
  file?: string;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;
const COMMA = 0x2c;

/**
 * Where a JSON text breaks the bounds, in one pass over its UTF-8 bytes or UTF-16 code units
 * without building anything: `undefined` when it fits. `JSON.parse` of a 16 MiB body can build
 * millions of arrays or objects (nearly 1 GB of heap for `[[[[...]]]]`); this check runs first,
 * so input that would blow the heap is refused before a single value exists. It does not check
 * that the text is valid JSON (JSON.parse does that after). Strings are skipped with `indexOf` (a
 * native search) to their closing quote, so a body of a few long strings (base64 evidence) costs
 * about as much as its handful of structural characters.
 * @public
 */
export function jsonBoundsViolation(
  text: string | Uint8Array,
  bounds: Pick<JsonBounds, 'maxDepth' | 'maxValues'>,
): string | undefined {
  // One loop per representation: a shared loop with an accessor per character is polymorphic
  // and was ~15 times slower than JSON.parse itself on a 9 KiB request.
  return typeof text === 'string' ? scanText(text, bounds) : scanBytes(text, bounds);
}

/** {@link jsonBoundsViolation} of UTF-16 text. */
function scanText(text: string, bounds: Pick<JsonBounds, 'maxDepth' | 'maxValues'>): string | undefined {
  const length = text.length;
  let depth = 0;
  let values = 1;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // The closing quote: the next one not escaped (preceded by an even run of backslashes).
      let end = text.indexOf('"', i + 1);
      while (end !== -1 && escaped(text, end)) end = text.indexOf('"', end + 1);
      if (end === -1) return undefined;
      i = end;
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > bounds.maxDepth) return `nests deeper than ${bounds.maxDepth} levels`;
      // One more value unless the container is empty: counted at the first element instead.
      let j = i + 1;
      while (j < length && isSpace(text.charCodeAt(j))) j++;
      if (j < length && text.charCodeAt(j) !== CLOSE_BRACKET && text.charCodeAt(j) !== CLOSE_BRACE) {
        if (++values > bounds.maxValues) return `has more than ${bounds.maxValues} values`;
      }
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) depth--;
    else if (c === COMMA && ++values > bounds.maxValues) return `has more than ${bounds.maxValues} values`;
  }
  return undefined;
}

/** {@link jsonBoundsViolation} of UTF-8 bytes (a multi-byte sequence never holds `"` or `\`). */
function scanBytes(
  bytes: Uint8Array,
  bounds: Pick<JsonBounds, 'maxDepth' | 'maxValues'>,
): string | undefined {
  const length = bytes.length;
  let depth = 0;
  let values = 1;
  for (let i = 0; i < length; i++) {
    const c = bytes[i]!;
    if (c === QUOTE) {
      let end = bytes.indexOf(QUOTE, i + 1);
      while (end !== -1 && escaped(bytes, end)) end = bytes.indexOf(QUOTE, end + 1);
      if (end === -1) return undefined;
      i = end;
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > bounds.maxDepth) return `nests deeper than ${bounds.maxDepth} levels`;
      let j = i + 1;
      while (j < length && isSpace(bytes[j]!)) j++;
      if (j < length && bytes[j] !== CLOSE_BRACKET && bytes[j] !== CLOSE_BRACE) {
        if (++values > bounds.maxValues) return `has more than ${bounds.maxValues} values`;
      }
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) depth--;
    else if (c === COMMA && ++values > bounds.maxValues) return `has more than ${bounds.maxValues} values`;
  }
  return undefined;
}

/** Whether the quote at `at` is escaped: an odd run of backslashes right before it. */
function escaped(text: string | Uint8Array, at: number): boolean {
  let run = 0;
  if (typeof text === 'string') while (text.charCodeAt(at - 1 - run) === BACKSLASH) run++;
  else while (text[at - 1 - run] === BACKSLASH) run++;
  return run % 2 === 1;
}

const utf8 = new TextDecoder();

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * `JSON.parse` for input from outside (request bodies, files, remote answers): refuses text that
 * nests deeper or holds more values than `bounds` before parsing it (see
 * {@link jsonBoundsViolation}), and turns a syntax error into `invalid-argument` naming the field
 * and file. The result is `unknown`: parse it with a schema next.
 * @public
 */
export function parseJsonBounded(text: string | Uint8Array, bounds: JsonBounds): unknown {
  const field = bounds.field ?? 'body';
  const options = { field, ...(bounds.file !== undefined ? { file: bounds.file } : {}) };
  const violation = jsonBoundsViolation(text, bounds);
  if (violation) throw new ContrastError('invalid-argument', `${field} ${violation}`, options);
  try {
    return JSON.parse(typeof text === 'string' ? text : utf8.decode(text));
  } catch (e) {
    // Only the position: V8's message quotes the input, which may be anything.
    const position = /position (\d+)/.exec((e as Error).message)?.[1];
    const where = position === undefined ? '' : ` (at position ${position})`;
    throw new ContrastError('invalid-argument', `${field} is not valid JSON${where}`, options);
  }
}
