// PEM reader (RFC 7468 textual encoding) that never drops a block: every encapsulation boundary
// must be well formed and paired, every block must hold canonical base64 of the expected label.
// A corrupted block is an error naming the block, never a block that silently goes missing.
//
// Two forms:
// - lax (default): RFC 7468 "lax" parsing. LF or CRLF, spaces and tabs around base64 lines,
//   explanatory text between blocks (it may not contain "-----").
// - exact: RFC 7468 "strict" form and nothing else. One line ending (LF or CRLF) throughout,
//   base64 lines of exactly 64 characters (the last 1-64), no blank lines and no text outside
//   the blocks, every block (the last included) ended by a line break. Used where the PEM text
//   is not covered by a signature (a TDX quote's PCK chain), so that no byte can change without
//   the reader noticing.

import { ContrastError } from '@contrast-cc/core';
import { base64Decode, base64Encode } from './bytes.js';

/** One decoded PEM block. */
export interface PemBlock {
  label: string;
  der: Uint8Array;
}

export interface ReadPemOptions {
  /** The label every block must carry (default `CERTIFICATE`). */
  label?: string;
  /** RFC 7468 strict form only, nothing outside the blocks (see the file comment). */
  exact?: boolean;
}

const BOUNDARY = /^-----(BEGIN|END) ((?:[\x21-\x2c\x2e-\x7e](?:[- ]?[\x21-\x2c\x2e-\x7e])*)?)-----$/;
const BASE64_LINE = /^[A-Za-z0-9+/=]*$/;
const LINE_LENGTH = 64;

function bad(message: string, field: string): never {
  throw new ContrastError('invalid-argument', message, { field });
}

/**
 * Reads every PEM block of `text`. Throws `ContrastError('invalid-argument')` naming `field`
 * (or `field[i]` for block i) for a malformed boundary, an unpaired BEGIN/END, a block of
 * another label, characters outside the base64 alphabet inside a block, base64 that is not
 * canonical (padding bits set, misplaced `=`), an empty block, and (exact form) any deviation
 * from the strict layout.
 */
export function readPem(text: string, field: string, options: ReadPemOptions = {}): PemBlock[] {
  const label = options.label ?? 'CERTIFICATE';
  const exact = options.exact === true;
  let eol = '\n';
  if (exact) {
    eol = text.includes('\r\n') ? '\r\n' : '\n';
    // One line ending throughout: no lone CR, and (CRLF) no lone LF.
    const bare = eol === '\n' ? /\r/ : /\r(?!\n)|(?<!\r)\n/;
    if (bare.test(text)) bad('PEM text mixes line endings', field);
    if (!text.endsWith(eol)) bad('PEM text must end with a line break after its last block', field);
  }
  const lines = text.split(eol === '\r\n' ? '\r\n' : '\n');
  if (exact) lines.pop(); // the empty segment after the final line break (checked above)

  const blocks: PemBlock[] = [];
  let open: { body: string[]; line: number } | undefined;
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n]!;
    const line = exact ? raw : raw.replace(/\r$/, '').replace(/^[ \t]+|[ \t]+$/g, '');
    const where = open ? `${field}[${blocks.length}]` : field;
    if (line.includes('-----')) {
      const m = BOUNDARY.exec(line);
      if (!m) bad(`line ${n + 1} is a malformed PEM boundary`, where);
      const [, kind, name] = m;
      if (kind === 'BEGIN') {
        if (open) bad(`PEM block ${blocks.length} has no END line before line ${n + 1}`, where);
        if (name !== label)
          bad(`PEM block ${blocks.length} is "${name}", expected "${label}"`, `${field}[${blocks.length}]`);
        open = { body: [], line: n + 1 };
        continue;
      }
      if (!open) bad(`line ${n + 1} ends a PEM block that was never begun`, field);
      if (name !== label) bad(`PEM block ${blocks.length} begins as "${label}" and ends as "${name}"`, where);
      blocks.push({ label, der: decodeBody(open.body, exact, where, blocks.length) });
      open = undefined;
      continue;
    }
    if (open) {
      const b64 = exact ? line : line.replace(/[ \t]/g, '');
      if (!BASE64_LINE.test(b64)) {
        bad(`line ${n + 1} of PEM block ${blocks.length} holds characters outside base64`, where);
      }
      open.body.push(b64);
    } else if (exact) {
      bad(`line ${n + 1} is outside the PEM blocks (nothing may be there)`, field);
    }
  }
  if (open)
    bad(`PEM block ${blocks.length} (from line ${open.line}) has no END line`, `${field}[${blocks.length}]`);
  return blocks;
}

function decodeBody(body: string[], exact: boolean, field: string, index: number): Uint8Array {
  if (exact) {
    for (let i = 0; i < body.length; i++) {
      const len = body[i]!.length;
      const last = i === body.length - 1;
      if (last ? len === 0 || len > LINE_LENGTH : len !== LINE_LENGTH) {
        bad(
          `PEM block ${index}: base64 lines must be ${LINE_LENGTH} characters (the last 1-${LINE_LENGTH})`,
          field,
        );
      }
    }
  }
  const b64 = body.join('');
  if (b64.length === 0) bad(`PEM block ${index} is empty`, field);
  const der = base64Decode(b64);
  // Canonical: the re-encoding is the same text (rejects set padding bits, misplaced or missing
  // '=', a length that is not a multiple of 4).
  if (base64Encode(der) !== b64) bad(`PEM block ${index} is not canonical base64`, field);
  return der;
}
