import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RegoError } from './errors.js';
import { RegoEngine } from './eval.js';
import { parseModule } from './parser.js';
import { equal, keyOf, toJson, type Value } from './value.js';

// JSON values (no -0, no NaN: Rego numbers are JSON numbers).
const json = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as Value);

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

describe('evaluator properties', () => {
  it('any JSON document is a Rego literal that evaluates to itself', () => {
    fc.assert(
      fc.property(json, (v) => {
        const e = new RegoEngine();
        e.addPolicy('p', `package t\nr := ${JSON.stringify(v, null, 1)}`);
        expect(canonical(toJson(e.evalRule('data.t.r').value as Value))).toBe(canonical(v));
      }),
      { numRuns: 200 },
    );
  });

  it('equality agrees with canonical JSON equality', () => {
    fc.assert(
      fc.property(json, json, (a, b) => {
        expect(equal(a, b)).toBe(canonical(a) === canonical(b));
        expect(keyOf(a) === keyOf(b)).toBe(canonical(a) === canonical(b));
      }),
    );
  });

  it('the parser only ever fails with a typed parse error', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        try {
          parseModule(`package t\n${s}`);
        } catch (e) {
          expect(e).toBeInstanceOf(RegoError);
        }
      }),
      { numRuns: 500 },
    );
  });
});
