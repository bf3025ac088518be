import { createHash } from 'node:crypto';
import { fromHex, toHex } from '@contrast-cc/core';
import { describe, expect, it } from 'vitest';
import { ATLS_LABELS, reportDataFor, reportDataPreimage } from './binding.js';
import { golden } from './test-support/golden.js';

const bytes = (text: string, n: number) =>
  new Uint8Array(createHash('sha512').update(text).digest()).subarray(0, n);
// A real P-256 SPKI prefix is not needed: any DER SEQUENCE is accepted by the binding.
const spkiA = fromHex(`3059301306072a8648ce3d020106082a8648ce3d03010703420004${'11'.repeat(64)}`);
const spkiB = fromHex(`3059301306072a8648ce3d020106082a8648ce3d03010703420004${'22'.repeat(64)}`);

describe('reportDataFor', () => {
  const cases = () => [
    { label: ATLS_LABELS.channel, nonce: bytes('n1', 32), publicKey: spkiA },
    { label: ATLS_LABELS.channel, nonce: bytes('n1', 32), publicKey: spkiA, stateDigest: bytes('state', 32) },
    { label: 'contrast-ts mesh cert v1', nonce: bytes('n2', 16), publicKey: spkiB },
  ];

  it('matches the golden vectors', async () => {
    const actual = [];
    for (const c of cases()) {
      actual.push({
        label: c.label,
        nonce: toHex(c.nonce),
        publicKey: toHex(c.publicKey),
        stateDigest: c.stateDigest ? toHex(c.stateDigest) : null,
        reportData: toHex(await reportDataFor(c)),
      });
    }
    expect(actual).toEqual(golden('report-data.json', actual));
  });

  it('is SHA-512 over length-prefixed fields, as documented', async () => {
    const c = cases()[1]!;
    const enc = new TextEncoder().encode(c.label);
    const lp = (b: Uint8Array) => Buffer.concat([Buffer.from([0, 0, b.length >> 8, b.length & 0xff]), b]);
    const pre = Buffer.concat([lp(enc), lp(c.nonce), lp(c.publicKey), lp(c.stateDigest!)]);
    expect(toHex(reportDataPreimage(c))).toBe(pre.toString('hex'));
    expect(toHex(await reportDataFor(c))).toBe(createHash('sha512').update(pre).digest('hex'));
    expect(await reportDataFor(c)).toHaveLength(64);
  });

  it('changes when any input changes', async () => {
    const base = cases()[1]!;
    const ref = toHex(await reportDataFor(base));
    const variants = [
      { ...base, label: `${base.label}x` },
      { ...base, nonce: bytes('other', 32) },
      { ...base, publicKey: spkiB },
      { ...base, stateDigest: bytes('other state', 32) },
      { label: base.label, nonce: base.nonce, publicKey: base.publicKey },
    ];
    for (const v of variants) expect(toHex(await reportDataFor(v))).not.toBe(ref);
  });

  it('rejects bad input naming the field', async () => {
    const ok = cases()[0]!;
    await expect(reportDataFor({ ...ok, label: '' })).rejects.toMatchObject({ field: 'label' });
    await expect(reportDataFor({ ...ok, nonce: new Uint8Array(8) })).rejects.toMatchObject({
      field: 'nonce',
    });
    await expect(reportDataFor({ ...ok, publicKey: new Uint8Array([1, 2]) })).rejects.toMatchObject({
      field: 'publicKey',
    });
  });
});
