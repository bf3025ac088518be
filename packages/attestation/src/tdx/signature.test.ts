import { generateKeyPairSync, sign, verify } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DER_TAG, derChildren, derContent, readDer } from '../common/der.js';
import { rsToDer } from './verify-node.js';

const strip = (b: Uint8Array) => {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return Buffer.from(b.subarray(i)).toString('hex');
};

describe('r||s to DER ECDSA-Sig-Value', () => {
  it('property: encodes both integers exactly (leading zeros stripped, sign byte added)', () => {
    const edge = fc.oneof(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.constant(new Uint8Array(32)),
      fc.constant(new Uint8Array(32).fill(0xff)),
      fc
        .uint8Array({ minLength: 1, maxLength: 31 })
        .map((t) => Uint8Array.from([...new Array(32 - t.length).fill(0), ...t])),
    );
    fc.assert(
      fc.property(edge, edge, (r, s) => {
        const der = rsToDer(Uint8Array.from([...r, ...s]))!;
        const top = readDer(der, 0);
        expect(top.tag).toBe(DER_TAG.sequence);
        expect(top.end).toBe(der.length);
        const [ri, si] = derChildren(top);
        expect(strip(derContent(ri!))).toBe(strip(r));
        expect(strip(derContent(si!))).toBe(strip(s));
        // DER INTEGERs are minimal and non-negative
        for (const el of [ri!, si!]) {
          const c = derContent(el);
          expect(c[0]! & 0x80).toBe(0);
          if (c.length > 1) expect(c[0] === 0 && (c[1]! & 0x80) === 0).toBe(false);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('turns real P1363 signatures into DER that Node verifies', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    for (let i = 0; i < 200; i++) {
      const data = Buffer.from(`message ${i}`);
      const rs = sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      expect(verify('sha256', data, publicKey, rsToDer(rs)!)).toBe(true);
    }
    expect(rsToDer(new Uint8Array(63))).toBeUndefined();
  });
});

describe('tdReportBodyHex', () => {
  it('formats every field from its own bytes, also when a field was replaced', async () => {
    const { createSimulatedTdxIssuer } = await import('./simulator.js');
    const { parseTdxQuote, tdReportBodyHex } = await import('./quote.js');
    const sim = await createSimulatedTdxIssuer({ td: { mrTd: new Uint8Array(48).fill(0xaa) } });
    const body = parseTdxQuote(sim.quote(new Uint8Array(64).fill(3))).body;
    const h = tdReportBodyHex(body);
    expect(h['mrTd']).toBe('aa'.repeat(48));
    expect(h['reportData']).toBe('03'.repeat(64));
    expect(h['xfam']).toBe('e702060000000000');
    body.mrTd = new Uint8Array(48).fill(0xbb);
    expect(tdReportBodyHex(body)['mrTd']).toBe('bb'.repeat(48));
  });
});
