import { describe, expect, it } from 'vitest';
import { isContrastError } from './errors.js';
import { jsonBoundsViolation, parseJsonBounded } from './json.js';

const bounds = { maxDepth: 4, maxValues: 10 };
const bytes = (s: string) => new TextEncoder().encode(s);

describe('jsonBoundsViolation', () => {
  it('accepts text within the bounds, as string and as bytes', () => {
    for (const t of [
      '1',
      '[]',
      '{}',
      '[1,2,3]',
      '{"a":[{"b":[]}]}',
      '" [[[[[[ , , , , , , , , , , , , \\" [[["',
    ]) {
      expect(jsonBoundsViolation(t, bounds)).toBeUndefined();
      expect(jsonBoundsViolation(bytes(t), bounds)).toBeUndefined();
    }
  });

  it('refuses nesting beyond maxDepth and values beyond maxValues', () => {
    expect(jsonBoundsViolation('[[[[[]]]]]', bounds)).toMatch(/deeper than 4/);
    expect(jsonBoundsViolation(bytes('{"a":{"b":{"c":{"d":{}}}}}'), bounds)).toMatch(/deeper than 4/);
    expect(jsonBoundsViolation(`[${'0,'.repeat(10)}0]`, bounds)).toMatch(/more than 10 values/);
    expect(jsonBoundsViolation(`[${'{},'.repeat(10)}{}]`, bounds)).toMatch(/more than 10 values/);
    // Exactly at the bounds.
    expect(jsonBoundsViolation('[[[[]]]]', bounds)).toBeUndefined();
    expect(jsonBoundsViolation(`[${'0,'.repeat(8)}0]`, bounds)).toBeUndefined();
  });

  it('agrees with a character-by-character reference scan on random text, as string and as bytes', () => {
    // The plain scan the string-skipping one replaced: every character, escapes one at a time.
    const reference = (text: string, b: typeof bounds): string | undefined => {
      let depth = 0;
      let values = 1;
      let inString = false;
      for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (inString) {
          if (c === '\\') i++;
          else if (c === '"') inString = false;
          continue;
        }
        if (c === '"') inString = true;
        else if (c === '[' || c === '{') {
          if (++depth > b.maxDepth) return `nests deeper than ${b.maxDepth} levels`;
          let j = i + 1;
          while (j < text.length && ' \n\r\t'.includes(text[j]!)) j++;
          if (j < text.length && text[j] !== ']' && text[j] !== '}') values++;
        } else if (c === ']' || c === '}') depth--;
        else if (c === ',') values++;
        if (values > b.maxValues) return `has more than ${b.maxValues} values`;
      }
      return undefined;
    };
    // A small deterministic generator (no flaky seeds): xorshift32.
    let state = 0x9e3779b9;
    const next = () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) / 2 ** 32;
    };
    // Quotes and backslashes rarer than structure, so texts have both strings and nesting.
    const alphabet = [...'[[[{{{]]}},,,,,,,', ' ', '\n', 'a', '1', ':', 'é', '€', '"', '\\'];
    let refused = 0;
    for (let n = 0; n < 3000; n++) {
      const length = Math.floor(next() * 48);
      let t = '';
      for (let i = 0; i < length; i++) t += alphabet[Math.floor(next() * alphabet.length)];
      const want = reference(t, bounds);
      if (want) refused++;
      expect(jsonBoundsViolation(t, bounds), t).toBe(want);
      expect(jsonBoundsViolation(bytes(t), bounds), t).toBe(want);
    }
    // Both outcomes occur (the comparison is not vacuous).
    expect(refused).toBeGreaterThan(100);
    expect(refused).toBeLessThan(2900);
  });

  it('skips long strings with escaped quotes and backslash runs inside', () => {
    const inner = `${'A'.repeat(5000)}\\\\\\"[[[[[[,,,,,,,,,,,,\\\\`;
    const t = `{"a":"${inner}","b":[1,2]}`;
    expect(JSON.parse(t)).toBeTypeOf('object');
    expect(jsonBoundsViolation(t, bounds)).toBeUndefined();
    expect(jsonBoundsViolation(bytes(t), bounds)).toBeUndefined();
    // The same brackets outside the string count.
    expect(jsonBoundsViolation(`[${t},[[[[[]]]]]]`, bounds)).toMatch(/deeper than 4/);
  });

  it('is linear on a 16 MiB hostile body (no recursion, no allocation)', () => {
    const hostile = new Uint8Array(16 * 1024 * 1024).fill(0x5b);
    expect(jsonBoundsViolation(hostile, { maxDepth: 64, maxValues: 1e9 })).toMatch(/deeper than 64/);
  });
});

describe('parseJsonBounded', () => {
  it('parses valid text within the bounds', () => {
    expect(parseJsonBounded('{"a":[1,2]}', bounds)).toEqual({ a: [1, 2] });
    expect(parseJsonBounded(bytes('"x"'), bounds)).toBe('x');
  });

  it('throws invalid-argument naming field and file, without quoting the input', () => {
    const cases: [string, RegExp][] = [
      ['[[[[[[]]]]]]', /manifest nests deeper/],
      ['{"secret-ish": tru', /manifest is not valid JSON/],
    ];
    for (const [text, message] of cases) {
      let caught: unknown;
      try {
        parseJsonBounded(text, { ...bounds, field: 'manifest', file: 'm.json' });
      } catch (e) {
        caught = e;
      }
      expect(isContrastError(caught)).toBe(true);
      const err = caught as { code: string; field: string; file: string; message: string };
      expect(err).toMatchObject({ code: 'invalid-argument', field: 'manifest', file: 'm.json' });
      expect(err.message).toMatch(message);
      expect(err.message).not.toContain('secret-ish');
    }
  });
});
