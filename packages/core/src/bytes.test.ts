import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from './bytes.js';

describe('fromHex', () => {
  it('reads what toHex writes, in either case, as node:buffer reads hex (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, upper) => {
        const hex = upper ? toHex(bytes).toUpperCase() : toHex(bytes);
        expect(hex).toBe(Buffer.from(bytes).toString('hex')[upper ? 'toUpperCase' : 'toLowerCase']());
        expect(fromHex(hex)).toEqual(bytes);
        expect(fromHex(hex)).toEqual(new Uint8Array(Buffer.from(hex, 'hex')));
      }),
      { numRuns: 500 },
    );
    expect([...fromHex('00ff0A9f')]).toEqual([0, 255, 10, 159]);
  });

  it('refuses what is not even-length hex, or not the length asked for, naming the field', () => {
    for (const bad of ['0', 'abc', 'zz', '0g', ' 00', '00 ', '0x00', 'ä0']) {
      expect(() => fromHex(bad, { field: 'measurement' }), bad).toThrow(
        expect.objectContaining({ code: 'invalid-argument', field: 'measurement' }),
      );
    }
    expect(() => fromHex('0011', { field: 'm', length: 3 })).toThrow(/expected 3 bytes of hex, got 2/);
  });
});
