import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyJsonPatch } from './json-patch.js';

// JSON values (no -0, no NaN).
const json = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);

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

describe('JSON patch properties', () => {
  it('JSON patch: add then remove of a fresh key restores the document', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 5 }), json), json, (doc, v) => {
        const key = '__fresh__';
        const added = applyJsonPatch({ pstate: doc }, [{ op: 'add', path: `/pstate/${key}`, value: v }]);
        const removed = applyJsonPatch(added, [{ op: 'remove', path: `/pstate/${key}` }]);
        expect(canonical(removed)).toBe(canonical({ pstate: doc }));
      }),
    );
  });
});
