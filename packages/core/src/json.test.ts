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
