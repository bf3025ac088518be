import { bytesEqual, ContrastError, fromHex, toHex } from '@contrast-cc/core';
import { TCB_STATUSES } from './collateral.js';
import type { PckExtensions } from './pck.js';
import type { TdReportBody } from './quote.js';
import { Reject } from './reject.js';
import type { TdxTcbStatus } from './tcb.js';

/**
 * TDX reference values, with the field names of upstream Contrast's manifest
 * `ReferenceValues.tdx` entries (hex strings). Every field is optional here: a field that is
 * absent is not checked (the manifest package decides which ones are required).
 */
export interface TdxReferenceValues {
  Platform?: string;
  /** Collateral must have at least this tcbEvaluationDataNumber. */
  MinTCBEvaluationDataNumber?: number;
  MrTd?: string;
  MrSeam?: string;
  /** RTMR0..3 (48 bytes each). */
  Rtmrs?: string[];
  /** Further accepted RTMR0 values (other vCPU counts). */
  Rtmr0Alternatives?: string[];
  /** 8 bytes, e.g. `e702060000000000`. */
  Xfam?: string;
  /** 8 bytes; defaults to `0000001000000000` (only SEPT_VE_DISABLE) whenever reference values are given. */
  TdAttributes?: string;
  /** 16-byte PIIDs from the PCK certificate; empty or absent = any. */
  AllowedPIIDs?: string[];
  /** Require SGX type "Scalable with integrity" (PCK certificate). */
  MemoryIntegrity?: boolean;
  /** Require SMT off (PCK certificate configuration). */
  SMTDisabled?: boolean;
  /** Require a non-dynamic platform (PCK certificate configuration). */
  StaticPlatform?: boolean;
  /** Legacy (<= 1.2x): minimum TEE_TCB_SVN, compared byte by byte (16 bytes hex). */
  MinimumTeeTcbSvn?: string;
  /** Legacy: minimum QE ISVSVN. */
  MinimumQeSvn?: number;
  /** Legacy: minimum PCESVN (from the PCK certificate). */
  MinimumPceSvn?: number;
  /**
   * Our extension: the TCB statuses (including `no-matching-tcb-level`) to accept when collateral
   * is given. Default: UpToDate, SWHardeningNeeded, ConfigurationNeeded,
   * ConfigurationAndSWHardeningNeeded.
   */
  AcceptedTcbStatuses?: TdxTcbStatus[];
}

export const DEFAULT_ACCEPTED_TCB_STATUSES: readonly TdxTcbStatus[] = [
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
];

/** TD attributes with only SEPT_VE_DISABLE (bit 28) set, little-endian. */
export const DEFAULT_TD_ATTRIBUTES = '0000001000000000';

/** Parsed, byte-form reference values (validated once, when a verifier is built). */
export interface CompiledReferenceValues {
  mrTd?: Uint8Array;
  mrSeam?: Uint8Array;
  rtmrs?: (Uint8Array | undefined)[];
  rtmr0Alternatives: Uint8Array[];
  xfam?: Uint8Array;
  tdAttributes: Uint8Array;
  allowedPiids: Uint8Array[];
  memoryIntegrity: boolean;
  smtDisabled: boolean;
  staticPlatform: boolean;
  minTeeTcbSvn?: Uint8Array;
  minQeSvn?: number;
  minPceSvn?: number;
  minTcbEvaluationDataNumber?: number;
  acceptedTcbStatuses?: readonly TdxTcbStatus[];
}

/** Validates reference values; throws `invalid-argument` naming the field. */
export function compileReferenceValues(
  rv: TdxReferenceValues,
  path = 'ReferenceValues.tdx',
): CompiledReferenceValues {
  if (typeof rv !== 'object' || rv === null) {
    throw new ContrastError('invalid-argument', 'reference values must be an object', { field: path });
  }
  const hex = (v: string | undefined, key: string, length: number) =>
    v === undefined || v === '' ? undefined : fromHex(v, { field: `${path}.${key}`, length });
  const int = (v: number | undefined, key: string) => {
    if (v === undefined) return undefined;
    if (!Number.isInteger(v) || v < 0) {
      throw new ContrastError('invalid-argument', 'must be a non-negative integer', {
        field: `${path}.${key}`,
      });
    }
    return v;
  };
  if (rv.Rtmrs !== undefined && (!Array.isArray(rv.Rtmrs) || rv.Rtmrs.length !== 4)) {
    throw new ContrastError('invalid-argument', 'Rtmrs must list RTMR0..3', { field: `${path}.Rtmrs` });
  }
  if (rv.AcceptedTcbStatuses !== undefined) {
    for (const [i, s] of rv.AcceptedTcbStatuses.entries()) {
      if (!(TCB_STATUSES as readonly string[]).includes(s) && s !== 'no-matching-tcb-level') {
        throw new ContrastError('invalid-argument', `unknown TCB status "${String(s)}"`, {
          field: `${path}.AcceptedTcbStatuses[${i}]`,
        });
      }
    }
  }
  const out: CompiledReferenceValues = {
    rtmr0Alternatives: (rv.Rtmr0Alternatives ?? []).map((v, i) =>
      fromHex(v, { field: `${path}.Rtmr0Alternatives[${i}]`, length: 48 }),
    ),
    tdAttributes: fromHex(rv.TdAttributes ?? DEFAULT_TD_ATTRIBUTES, {
      field: `${path}.TdAttributes`,
      length: 8,
    }),
    allowedPiids: (rv.AllowedPIIDs ?? []).map((v, i) =>
      fromHex(v, { field: `${path}.AllowedPIIDs[${i}]`, length: 16 }),
    ),
    memoryIntegrity: rv.MemoryIntegrity === true,
    smtDisabled: rv.SMTDisabled === true,
    staticPlatform: rv.StaticPlatform === true,
  };
  const set = <K extends keyof CompiledReferenceValues>(k: K, v: CompiledReferenceValues[K] | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  set('mrTd', hex(rv.MrTd, 'MrTd', 48));
  set('mrSeam', hex(rv.MrSeam, 'MrSeam', 48));
  set('xfam', hex(rv.Xfam, 'Xfam', 8));
  set('minTeeTcbSvn', hex(rv.MinimumTeeTcbSvn, 'MinimumTeeTcbSvn', 16));
  set('minQeSvn', int(rv.MinimumQeSvn, 'MinimumQeSvn'));
  set('minPceSvn', int(rv.MinimumPceSvn, 'MinimumPceSvn'));
  set('minTcbEvaluationDataNumber', int(rv.MinTCBEvaluationDataNumber, 'MinTCBEvaluationDataNumber'));
  if (rv.Rtmrs) out.rtmrs = rv.Rtmrs.map((v, i) => hex(v, `Rtmrs[${i}]`, 48));
  if (rv.AcceptedTcbStatuses) out.acceptedTcbStatuses = rv.AcceptedTcbStatuses;
  return out;
}

/** Checks the quote's measured fields and the PCK platform properties against reference values. */
export function checkReferenceValues(
  rv: CompiledReferenceValues,
  body: TdReportBody,
  pck: PckExtensions,
  qeIsvSvn: number,
): void {
  if (body.tdAttributes[0]! & 0x01) {
    throw new Reject('debug-enabled', 'the TD runs in debug mode (TD_ATTRIBUTES.DEBUG)', 'tdAttributes');
  }
  if (!bytesEqual(body.tdAttributes, rv.tdAttributes)) {
    throw new Reject(
      'field-mismatch',
      `TD attributes ${toHex(body.tdAttributes)} differ from ${toHex(rv.tdAttributes)}`,
      'tdAttributes',
    );
  }
  if (rv.mrTd && !bytesEqual(body.mrTd, rv.mrTd)) {
    throw new Reject('measurement-mismatch', 'MRTD differs from the reference value', 'mrTd');
  }
  if (rv.mrSeam && !bytesEqual(body.mrSeam, rv.mrSeam)) {
    throw new Reject('measurement-mismatch', 'MRSEAM differs from the reference value', 'mrSeam');
  }
  if (rv.rtmrs) {
    for (let i = 0; i < 4; i++) {
      const want = rv.rtmrs[i];
      if (!want) continue;
      const got = body.rtmrs[i]!;
      const ok =
        bytesEqual(got, want) || (i === 0 && rv.rtmr0Alternatives.some((alt) => bytesEqual(got, alt)));
      if (!ok)
        throw new Reject('measurement-mismatch', `RTMR${i} differs from the reference value`, `rtmr${i}`);
    }
  }
  if (rv.xfam && !bytesEqual(body.xfam, rv.xfam)) {
    throw new Reject('field-mismatch', `XFAM ${toHex(body.xfam)} differs from ${toHex(rv.xfam)}`, 'xfam');
  }
  if (rv.minTeeTcbSvn) {
    for (let i = 0; i < 16; i++) {
      if (body.teeTcbSvn[i]! < rv.minTeeTcbSvn[i]!) {
        throw new Reject('tcb-too-low', `TEE_TCB_SVN[${i}] is below the minimum`, 'teeTcbSvn');
      }
    }
  }
  if (rv.minQeSvn !== undefined && qeIsvSvn < rv.minQeSvn) {
    throw new Reject('tcb-too-low', 'QE ISVSVN is below the minimum', 'qeSvn');
  }
  if (rv.minPceSvn !== undefined && pck.pceSvn < rv.minPceSvn) {
    throw new Reject('tcb-too-low', 'PCESVN is below the minimum', 'pceSvn');
  }
  if (rv.allowedPiids.length > 0) {
    const piid = pck.platformInstanceId;
    if (!piid || !rv.allowedPiids.some((p) => bytesEqual(p, piid))) {
      throw new Reject('field-mismatch', 'the platform instance id (PIID) is not allowed', 'piid');
    }
  }
  if (rv.memoryIntegrity && pck.sgxType !== 'ScalableWithIntegrity') {
    throw new Reject('field-mismatch', `SGX type is ${pck.sgxType}, memory integrity required`, 'sgxType');
  }
  if (rv.smtDisabled && pck.configuration?.smtEnabled !== false) {
    throw new Reject('field-mismatch', 'SMT is (or may be) enabled on the platform', 'smtEnabled');
  }
  if (rv.staticPlatform && pck.configuration?.dynamicPlatform !== false) {
    throw new Reject('field-mismatch', 'the platform is (or may be) dynamic', 'dynamicPlatform');
  }
}
