import { describe, expect, it } from 'vitest';
import { type Evidence, verifyWithAny } from '../evidence.js';
import { FakeIssuer, FakeVerifier } from './fake-evidence.js';
import { createMemoryLogger } from './memory-logger.js';

const rd = (b: number) => new Uint8Array(64).fill(b);

describe('fake issuer and verifier', () => {
  it('accepts evidence bound to the expected report data and returns its claims', async () => {
    const ev = await new FakeIssuer({ measurement: 'ab'.repeat(48), policyDigest: 'cd'.repeat(32) }).issue(
      rd(1),
    );
    const r = await new FakeVerifier({ measurement: 'AB'.repeat(48) }).verify(ev, { reportData: rd(1) });
    expect(r.ok).toBe(true);
    if (r.ok)
      expect(r.claims).toMatchObject({
        kind: 'fake',
        measurement: 'ab'.repeat(48),
        policyDigest: 'cd'.repeat(32),
      });
  });

  it.each([
    ['report data', { reportData: rd(2) }, {}, 'report-data-mismatch'],
    ['measurement', { reportData: rd(1) }, { measurement: 'ff'.repeat(48) }, 'measurement-mismatch'],
    ['policy', { reportData: rd(1) }, { policyDigests: ['11'.repeat(32)] }, 'policy-mismatch'],
  ])('rejects a wrong %s', async (_name, expected, refs, code) => {
    const ev = await new FakeIssuer().issue(rd(1));
    const r = await new FakeVerifier(refs).verify(ev, expected);
    expect(r).toMatchObject({ ok: false, reason: { code } });
  });

  it('rejects a forged document (MAC) and another key', async () => {
    const ev = await new FakeIssuer().issue(rd(1));
    const doc = JSON.parse(new TextDecoder().decode(ev.data));
    doc.measurement = 'ee'.repeat(48);
    const forged: Evidence = { kind: 'fake', data: new TextEncoder().encode(JSON.stringify(doc)) };
    expect(await new FakeVerifier().verify(forged, { reportData: rd(1) })).toMatchObject({
      ok: false,
      reason: { code: 'signature-invalid' },
    });
    const other = await new FakeIssuer({ key: new Uint8Array(32) }).issue(rd(1));
    expect((await new FakeVerifier().verify(other, { reportData: rd(1) })).ok).toBe(false);
  });

  it('refuses other kinds and garbage without throwing', async () => {
    const v = new FakeVerifier();
    expect(
      await v.verify({ kind: 'snp-report', data: new Uint8Array(1184) }, { reportData: rd(0) }),
    ).toMatchObject({
      ok: false,
      reason: { code: 'unsupported-evidence-kind' },
    });
    for (const data of [
      new Uint8Array(0),
      new Uint8Array([0xff, 0xfe]),
      new TextEncoder().encode('{"v":1}'),
    ]) {
      expect(await v.verify({ kind: 'fake', data }, { reportData: rd(0) })).toMatchObject({
        ok: false,
        reason: { code: 'malformed' },
      });
    }
  });

  it('refuses report data of the wrong size at the issuer', async () => {
    await expect(new FakeIssuer().issue(new Uint8Array(32))).rejects.toThrow(/64 bytes/);
  });
});

describe('verifyWithAny', () => {
  it('tries the verifiers that handle the kind and joins their failures', async () => {
    const ev = await new FakeIssuer().issue(rd(1));
    const a = new FakeVerifier({ measurement: '11'.repeat(48) });
    const b = new FakeVerifier({ measurement: '00'.repeat(48) });
    expect((await verifyWithAny([a, b], ev, { reportData: rd(1) })).ok).toBe(true);
    const both = await verifyWithAny([a, a], ev, { reportData: rd(1) });
    expect(both).toMatchObject({ ok: false, reason: { code: 'measurement-mismatch' } });
    if (!both.ok) expect(both.reason.message).toContain('verifier 2');
    expect(await verifyWithAny([], ev, { reportData: rd(1) })).toMatchObject({
      ok: false,
      reason: { code: 'unsupported-evidence-kind' },
    });
  });
});

describe('memory logger', () => {
  it('captures records as searchable text', () => {
    const m = createMemoryLogger();
    m.logger.child({ c: 'x' }).info('hello', { bytes: new Uint8Array([1, 2]) });
    expect(m.text()).toContain('"bytes":"0102"');
    expect(m.records).toHaveLength(1);
  });
});
