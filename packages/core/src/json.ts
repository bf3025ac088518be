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
 * that the text is valid JSON (JSON.parse does that after).
 * @public
 */
export function jsonBoundsViolation(
  text: string | Uint8Array,
  bounds: Pick<JsonBounds, 'maxDepth' | 'maxValues'>,
): string | undefined {
  const at = typeof text === 'string' ? (i: number) => text.charCodeAt(i) : (i: number) => text[i]!;
  const length = text.length;
  let depth = 0;
  let values = 1;
  let inString = false;
  for (let i = 0; i < length; i++) {
    const c = at(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > bounds.maxDepth) return `nests deeper than ${bounds.maxDepth} levels`;
      // One more value unless the container is empty: counted at the first element instead.
      let j = i + 1;
      while (j < length && isSpace(at(j))) j++;
      if (j < length && at(j) !== CLOSE_BRACKET && at(j) !== CLOSE_BRACE) values++;
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) depth--;
    else if (c === COMMA) values++;
    if (values > bounds.maxValues) return `has more than ${bounds.maxValues} values`;
  }
  return undefined;
}

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
    return JSON.parse(typeof text === 'string' ? text : new TextDecoder().decode(text));
  } catch (e) {
    // Only the position: V8's message quotes the input, which may be anything.
    const position = /position (\d+)/.exec((e as Error).message)?.[1];
    const where = position === undefined ? '' : ` (at position ${position})`;
    throw new ContrastError('invalid-argument', `${field} is not valid JSON${where}`, options);
  }
}
