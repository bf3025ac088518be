import { createHash } from 'node:crypto';
import { bytesEqual, ContrastError } from '@contrast-cc/core';
import type { TdReportBody } from './quote.js';

/** TCG algorithm id of SHA-384, the digest TDX extends RTMRs with. */
export const TPM_ALG_SHA384 = 0x000c;
/** EV_NO_ACTION events (e.g. the Spec ID event) are logged but never extended. */
export const EV_NO_ACTION = 0x00000003;

/** The ACPI CCEL table: where the firmware put the confidential-computing event log. */
export interface CcelTable {
  /** 2 = Intel TDX. */
  ccType: number;
  ccSubType: number;
  /** Log area minimum length (LAML). */
  logLength: number;
  /** Log area start address (LASA), a guest-physical address. */
  logAddress: bigint;
}

/** One measured event of a TCG crypto-agile log (TCG_PCR_EVENT2). */
export interface CcelEvent {
  /** CC measurement register index: 0 = MRTD, 1..4 = RTMR0..3. */
  mrIndex: number;
  eventType: number;
  digests: { algorithmId: number; digest: Uint8Array }[];
  data: Uint8Array;
}

function bad(message: string, field: string): ContrastError {
  return new ContrastError('invalid-argument', message, { field });
}

/** Parses the 56-byte ACPI CCEL table. */
export function parseCcelTable(bytes: Uint8Array): CcelTable {
  if (bytes.length < 56) throw bad('the CCEL table needs 56 bytes', 'ccel_table');
  if (new TextDecoder().decode(bytes.subarray(0, 4)) !== 'CCEL')
    throw bad('signature is not "CCEL"', 'ccel_table.signature');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const logLength = dv.getBigUint64(40, true);
  if (logLength > BigInt(Number.MAX_SAFE_INTEGER)) throw bad('log length out of range', 'ccel_table.laml');
  return {
    ccType: bytes[36]!,
    ccSubType: bytes[37]!,
    logLength: Number(logLength),
    logAddress: dv.getBigUint64(48, true),
  };
}

/**
 * Parses a TCG crypto-agile event log (the CCEL log area): the leading SHA-1-format Spec ID
 * event ("Spec ID Event03", which lists the digest sizes), then TCG_PCR_EVENT2 records until the
 * unused area (index 0xFFFFFFFF or all zero). Throws `invalid-argument` naming the event.
 */
export function parseCcelEventLog(log: Uint8Array): { algorithms: Map<number, number>; events: CcelEvent[] } {
  const dv = new DataView(log.buffer, log.byteOffset, log.byteLength);
  const need = (at: number, n: number, field: string) => {
    if (at + n > log.length) throw bad('event log truncated', field);
  };
  // Spec ID event: pcrIndex u32, eventType u32, SHA-1 digest 20, eventSize u32, event.
  need(0, 32, 'ccel.spec_id');
  if (dv.getUint32(4, true) !== EV_NO_ACTION)
    throw bad('first event is not the Spec ID event', 'ccel.spec_id');
  const specSize = dv.getUint32(28, true);
  need(32, specSize, 'ccel.spec_id');
  const spec = log.subarray(32, 32 + specSize);
  if (specSize < 28 || new TextDecoder().decode(spec.subarray(0, 15)) !== 'Spec ID Event03') {
    throw bad('not a crypto-agile log (no "Spec ID Event03")', 'ccel.spec_id');
  }
  const sv = new DataView(spec.buffer, spec.byteOffset, spec.byteLength);
  const count = sv.getUint32(24, true);
  if (28 + count * 4 > specSize)
    throw bad('Spec ID event lists more algorithms than it holds', 'ccel.spec_id');
  const algorithms = new Map<number, number>();
  for (let i = 0; i < count; i++)
    algorithms.set(sv.getUint16(28 + 4 * i, true), sv.getUint16(30 + 4 * i, true));

  const events: CcelEvent[] = [];
  let at = 32 + specSize;
  while (at + 8 <= log.length) {
    const mrIndex = dv.getUint32(at, true);
    const eventType = dv.getUint32(at + 4, true);
    if (mrIndex === 0xffffffff || (mrIndex === 0 && eventType === 0)) break;
    const field = `ccel.event[${events.length}]`;
    need(at, 12, field);
    const n = dv.getUint32(at + 8, true);
    let p = at + 12;
    const digests: CcelEvent['digests'] = [];
    for (let i = 0; i < n; i++) {
      need(p, 2, field);
      const algorithmId = dv.getUint16(p, true);
      const size = algorithms.get(algorithmId);
      if (size === undefined)
        throw bad(`digest algorithm 0x${algorithmId.toString(16)} is not in the Spec ID event`, field);
      need(p + 2, size, field);
      digests.push({ algorithmId, digest: log.subarray(p + 2, p + 2 + size) });
      p += 2 + size;
    }
    need(p, 4, field);
    const size = dv.getUint32(p, true);
    need(p + 4, size, field);
    events.push({ mrIndex, eventType, digests, data: log.subarray(p + 4, p + 4 + size) });
    at = p + 4 + size;
  }
  return { algorithms, events };
}

/** Replays the log: RTMR[i] = SHA-384(RTMR[i] || digest) for every measured event of MR index i+1. */
export function replayCcelRtmrs(events: readonly CcelEvent[]): Uint8Array[] {
  const rtmrs = [0, 1, 2, 3].map(() => new Uint8Array(48));
  for (const [i, e] of events.entries()) {
    if (e.eventType === EV_NO_ACTION || e.mrIndex < 1 || e.mrIndex > 4) continue;
    const d = e.digests.find((x) => x.algorithmId === TPM_ALG_SHA384);
    if (!d) throw bad('measured event without a SHA-384 digest', `ccel.event[${i}]`);
    const r = e.mrIndex - 1;
    rtmrs[r] = new Uint8Array(createHash('sha384').update(rtmrs[r]!).update(d.digest).digest());
  }
  return rtmrs;
}

/**
 * Checks a CCEL event log against a verified quote's RTMRs. Returns the replayed RTMRs, or the
 * first RTMR that differs (the log does not describe this TD).
 */
export function checkCcelAgainstQuote(
  body: TdReportBody,
  log: Uint8Array,
  table?: Uint8Array,
): { ok: true; rtmrs: Uint8Array[]; events: CcelEvent[] } | { ok: false; field: string; message: string } {
  const area = table ? log.subarray(0, Math.min(log.length, parseCcelTable(table).logLength)) : log;
  const { events } = parseCcelEventLog(area);
  const rtmrs = replayCcelRtmrs(events);
  for (let i = 0; i < 4; i++) {
    if (!bytesEqual(rtmrs[i]!, body.rtmrs[i]!)) {
      return {
        ok: false,
        field: `rtmr${i}`,
        message: `replaying the event log does not give the quote's RTMR${i}`,
      };
    }
  }
  return { ok: true, rtmrs, events };
}
