import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex } from './bytes.js';
import { readDerTlv, spkiProblem } from './der.js';
import { isContrastError } from './errors.js';

/** Encodes a TLV with the minimal definite length (independently of the reader under test). */
function tlv(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length;
  const length =
    n < 0x80
      ? [n]
      : n < 0x100
        ? [0x81, n]
        : n < 0x10000
          ? [0x82, n >> 8, n & 0xff]
          : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Uint8Array.from([tag, ...length, ...content]);
}

function failure(f: () => unknown): { field?: string; message: string } | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    if (!isContrastError(e) || e.code !== 'invalid-argument') throw e;
    return { field: e.field, message: e.message };
  }
}

describe('readDerTlv', () => {
  it('reads short and long definite lengths', () => {
    expect(readDerTlv(fromHex('0400'))).toEqual({ tag: 4, start: 0, contentStart: 2, end: 2 });
    const long = tlv(0x04, new Uint8Array(300));
    expect(readDerTlv(long)).toEqual({ tag: 4, start: 0, contentStart: 4, end: 304 });
    const four = Uint8Array.from([0x04, 0x84, 0, 0, 0, 1, 0xaa]);
    expect(readDerTlv(four)).toEqual({ tag: 4, start: 0, contentStart: 6, end: 7 });
  });

  it('walks children inside their parent (offset and limit)', () => {
    const seq = tlv(
      0x30,
      Uint8Array.from([...tlv(0x02, Uint8Array.of(5)), ...tlv(0x0c, Uint8Array.of(0x61))]),
    );
    const outer = readDerTlv(seq);
    const first = readDerTlv(seq, outer.contentStart, 'seq', outer.end);
    const second = readDerTlv(seq, first.end, 'seq', outer.end);
    expect([first.tag, second.tag, second.end]).toEqual([0x02, 0x0c, seq.length]);
    // A child whose length reaches past its parent's end is refused even though the buffer is longer.
    const padded = Uint8Array.from([...seq, 0, 0, 0]);
    padded[outer.contentStart + 1] = 5; // the INTEGER now claims 5 bytes, 1 past the SEQUENCE
    expect(failure(() => readDerTlv(padded, outer.contentStart, 'seq.int', outer.end))).toMatchObject({
      field: 'seq.int',
      message: expect.stringContaining('overruns'),
    });
  });

  it('refuses malformed elements naming the field', () => {
    for (const [hex, why] of [
      ['', 'truncated'],
      ['30', 'truncated'],
      ['1f0100', 'multi-byte'],
      ['3080', 'length encoding'], // indefinite
      ['3085010000000000', 'length encoding'], // 5 length octets
      ['3082', 'truncated DER length'],
      ['300300', 'overruns'],
    ] as const) {
      expect(
        failure(() => readDerTlv(fromHex(hex), 0, 'certificate')),
        hex,
      ).toMatchObject({
        field: 'certificate',
        message: expect.stringContaining(why),
      });
    }
    expect(failure(() => readDerTlv(fromHex('0400'), 0, 'x', 3))?.message).toContain('truncated');
  });

  it('reads back every TLV an independent encoder writes (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0x1e }),
        fc.uint8Array({ maxLength: 70_000 }),
        fc.uint8Array({ maxLength: 8 }),
        (tag, content, prefix) => {
          const bytes = Uint8Array.from([...prefix, ...tlv(tag, content)]);
          const r = readDerTlv(bytes, prefix.length);
          expect(r).toEqual({
            tag,
            start: prefix.length,
            contentStart: bytes.length - content.length,
            end: bytes.length,
          });
          // Any truncation is refused.
          if (bytes.length > prefix.length) {
            expect(
              failure(() => readDerTlv(bytes.subarray(0, bytes.length - 1), prefix.length)),
            ).toBeDefined();
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('spkiProblem', () => {
  const ecAlgorithm = (curveOid: string) =>
    tlv(0x30, Uint8Array.from([...tlv(0x06, fromHex('2a8648ce3d0201')), ...tlv(0x06, fromHex(curveOid))]));
  const p256 = ecAlgorithm('2a8648ce3d030107');
  const spki = (algorithm: Uint8Array, bits: Uint8Array) =>
    tlv(0x30, Uint8Array.from([...algorithm, ...tlv(0x03, bits)]));
  const point = (form: number, n: number) => Uint8Array.from([0x00, form, ...new Uint8Array(n).fill(7)]);

  it('passes EC point encodings and keys of other algorithms to node', () => {
    for (const [form, n] of [
      [4, 64],
      [2, 32],
      [3, 32],
      [6, 64],
      [7, 64],
    ] as const) {
      expect(spkiProblem(spki(p256, point(form, n)))).toBeUndefined();
    }
    const rsa = tlv(0x30, Uint8Array.from([...tlv(0x06, fromHex('2a864886f70d010101')), 0x05, 0x00]));
    expect(spkiProblem(spki(rsa, Uint8Array.from([0, 0x30, 0x00])))).toBeUndefined();
  });

  it('refuses the EC point at infinity, an empty point, unused bits and other forms', () => {
    expect(spkiProblem(spki(p256, Uint8Array.of(0x00, 0x00)))).toContain('infinity');
    expect(spkiProblem(spki(ecAlgorithm('2b81040022'), Uint8Array.of(0x00, 0x00)))).toContain('infinity');
    expect(spkiProblem(spki(p256, Uint8Array.of(0x00)))).toContain('no point');
    expect(spkiProblem(spki(p256, Uint8Array.of(0x01, 0x04, 1, 2)))).toContain('no point');
    expect(spkiProblem(spki(p256, point(5, 64)))).toContain('not a point encoding');
  });

  it('refuses what is not one DER SubjectPublicKeyInfo', () => {
    const good = spki(p256, point(4, 64));
    expect(spkiProblem(good.subarray(0, good.length - 1))).toBe('not a DER SubjectPublicKeyInfo');
    expect(spkiProblem(Uint8Array.from([...good, 0]))).toBe('not a DER SubjectPublicKeyInfo');
    expect(spkiProblem(new Uint8Array(0))).toBe('not a DER SubjectPublicKeyInfo');
    expect(spkiProblem(Uint8Array.of(0x30, 0x00))).toBe('not a DER SubjectPublicKeyInfo');
    const octets = tlv(0x30, Uint8Array.from([...p256, ...tlv(0x04, point(4, 64))]));
    expect(spkiProblem(octets)).toBe('not a DER SubjectPublicKeyInfo');
  });
});
