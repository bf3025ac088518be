import { RegoError } from './errors.js';

export type TokenType = 'ident' | 'string' | 'number' | 'punct' | 'nl' | 'eof';

export interface Token {
  type: TokenType;
  value: string;
  line: number;
  col: number;
  /** Offset into the source, for extracting expression text. */
  pos: number;
  /** Offset just past the token. */
  end: number;
}

function isIdentStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}
function isIdentPart(c: number): boolean {
  return isIdentStart(c) || (c >= 48 && c <= 57);
}

const PUNCT = [
  ':=',
  '==',
  '!=',
  '<=',
  '>=',
  '{',
  '}',
  '[',
  ']',
  '(',
  ')',
  ',',
  ';',
  ':',
  '.',
  '=',
  '<',
  '>',
  '+',
  '-',
  '*',
  '/',
  '%',
  '|',
  '&',
];

/** Splits Rego source into tokens; comments are dropped, newlines kept (they separate body expressions). */
export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const push = (type: TokenType, value: string, start: number, end = i): void => {
    out.push({ type, value, line, col: start - lineStart + 1, pos: start, end });
  };
  while (i < src.length) {
    const c = src[i] as string;
    if (c === '\n') {
      push('nl', '\n', i, i + 1);
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (isIdentStart(c.charCodeAt(0))) {
      const start = i;
      while (i < src.length && isIdentPart(src.charCodeAt(i))) i++;
      push('ident', src.slice(start, i), start);
      continue;
    }
    if (/[0-9]/.test(c)) {
      const start = i;
      while (i < src.length && /[0-9.eE]/.test(src[i] as string)) {
        if ((src[i] === 'e' || src[i] === 'E') && (src[i + 1] === '-' || src[i + 1] === '+')) i++;
        i++;
      }
      push('number', src.slice(start, i), start);
      continue;
    }
    if (c === '"') {
      const start = i;
      i++;
      let s = '';
      while (i < src.length && src[i] !== '"') {
        // Copy the run up to the next quote, backslash or newline in one slice.
        let j = i;
        while (j < src.length) {
          const cj = src.charCodeAt(j);
          if (cj === 34 || cj === 92 || cj === 10) break;
          j++;
        }
        if (j > i) {
          s += src.slice(i, j);
          i = j;
          continue;
        }
        if (src[i] === '\n')
          throw new RegoError('parse', 'unterminated string', { line, col: start - lineStart + 1 });
        if (src[i] === '\\') {
          const e = src[i + 1];
          const map: Record<string, string> = {
            n: '\n',
            t: '\t',
            r: '\r',
            '"': '"',
            '\\': '\\',
            '/': '/',
            b: '\b',
            f: '\f',
          };
          if (e !== undefined && map[e] !== undefined) {
            s += map[e];
            i += 2;
          } else if (e === 'u') {
            s += String.fromCharCode(Number.parseInt(src.slice(i + 2, i + 6), 16));
            i += 6;
          } else {
            throw new RegoError('parse', `bad escape \\${e}`, { line, col: i - lineStart + 1 });
          }
        } else {
          s += src[i];
          i++;
        }
      }
      if (i >= src.length)
        throw new RegoError('parse', 'unterminated string', { line, col: start - lineStart + 1 });
      i++;
      push('string', s, start);
      continue;
    }
    if (c === '`') {
      const start = i;
      const end = src.indexOf('`', i + 1);
      if (end < 0)
        throw new RegoError('parse', 'unterminated raw string', { line, col: start - lineStart + 1 });
      const s = src.slice(i + 1, end);
      push('string', s, start, end + 1);
      for (const ch of s) if (ch === '\n') line++;
      i = end + 1;
      continue;
    }
    const p = PUNCT.find((x) => src.startsWith(x, i));
    if (p) {
      push('punct', p, i, i + p.length);
      i += p.length;
      continue;
    }
    throw new RegoError('parse', `unexpected character ${JSON.stringify(c)}`, {
      line,
      col: i - lineStart + 1,
    });
  }
  push('eof', '', i);
  return out;
}
