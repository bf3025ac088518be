import { toHex } from '@contrast-cc/core';
import { describe, expect, it } from 'vitest';
import { haveVectors, vectorFile, vectorJson, vectorQuote } from '../testing/tdx-vectors.js';
import { checkCcelAgainstQuote, parseCcelEventLog, parseCcelTable, replayCcelRtmrs } from './ccel.js';
import { parseTdxQuote } from './quote.js';
import { verifyTdxQuote } from './verify-node.js';

const V = 'gotdx-gcp-cos113-v4-ccel';

describe.skipIf(!haveVectors)(`CCEL replay (${V})`, () => {
  const read = (f: string) => vectorFile(V, f);

  it('parses the ACPI CCEL table', () => {
    const t = parseCcelTable(read('ccel_table.bin'));
    expect(t).toMatchObject({ ccType: 2, logLength: 0x40000 });
  });

  it('replays 43 measured SHA-384 events into the quote RTMRs of a verified quote', () => {
    const quoteBytes = vectorQuote(V);
    const r = verifyTdxQuote(quoteBytes, {
      now: new Date('2026-11-27T00:00:00Z'),
      reportData: read('nonce.bin'),
    });
    expect(r.ok).toBe(true);
    const { events, algorithms } = parseCcelEventLog(read('ccel_data.bin'));
    expect(algorithms.get(0x000c)).toBe(48);
    expect(events.filter((e) => e.eventType !== 3 && e.mrIndex >= 1 && e.mrIndex <= 4)).toHaveLength(43);
    const rtmrs = replayCcelRtmrs(events).map(toHex);
    const expected = vectorJson<{ collateral_checks: { rtmr_replay: Record<string, string> } }>(V)
      .collateral_checks.rtmr_replay;
    expect(rtmrs).toEqual([0, 1, 2, 3].map((i) => expected[`replayed_rtmr${i}`]));
    const check = checkCcelAgainstQuote(
      parseTdxQuote(quoteBytes).body,
      read('ccel_data.bin'),
      read('ccel_table.bin'),
    );
    expect(check.ok).toBe(true);
  });

  it('detects a log that does not match the quote (one digest byte changed) and truncated logs', () => {
    const log = Uint8Array.from(read('ccel_data.bin'));
    const { events } = parseCcelEventLog(log);
    const measured = events.find((e) => e.mrIndex === 2 && e.eventType !== 3)!;
    const at = measured.digests[0]!.digest.byteOffset - log.byteOffset;
    log[at] = log[at]! ^ 1;
    const check = checkCcelAgainstQuote(parseTdxQuote(read('quote.bin')).body, log);
    expect(check).toMatchObject({ ok: false, field: 'rtmr1' });
    const data = read('ccel_data.bin');
    expect(() => parseCcelEventLog(data.subarray(0, 40))).toThrowError(
      expect.objectContaining({ code: 'invalid-argument' }),
    );
    const cut = data.subarray(0, measured.data.byteOffset - data.byteOffset + 2);
    expect(() => parseCcelEventLog(cut)).toThrowError(expect.objectContaining({ code: 'invalid-argument' }));
  });
});
