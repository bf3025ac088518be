import { bytesEqual } from '@contrast-cc/core';
import type { IsvTcbLevel, QeIdentity, TcbInfo, TcbLevel, TcbStatus } from './collateral.js';
import type { PckExtensions } from './pck.js';
import type { SgxReportBody, TdReportBody } from './quote.js';
import { Reject } from './reject.js';

/** The outcome of Intel's TCB evaluation: a TCB status, or no TCB level matching the platform. */
export type TdxTcbStatus = TcbStatus | 'no-matching-tcb-level';

export interface TdxTcbEvaluation {
  /** The converged status (platform level, TDX module identity and QE identity folded together). */
  status: TdxTcbStatus;
  /** Union of the advisory ids of every matched level (platform, TDX module, QE). */
  advisoryIds: string[];
  platform: { status: TdxTcbStatus; tcbDate?: string; advisoryIds: string[] };
  /** The TDX module identity used (`TDX_01`, ...), absent for TDX module major version 0. */
  tdxModule?: { id: string; status: TdxTcbStatus; tcbDate?: string; advisoryIds: string[] };
  /** Absent when no QE identity was supplied. */
  qe?: { status: TcbStatus; tcbDate?: string; advisoryIds: string[] };
  tcbEvaluationDataNumber: number;
}

function masked(a: Uint8Array, mask: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! & (mask[i] ?? 0);
  return out;
}

function levelMatches(level: TcbLevel, pck: PckExtensions, teeTcbSvn: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (pck.sgxTcbComponents[i]! < level.sgxComponents[i]!) return false;
  if (pck.pceSvn < level.pceSvn) return false;
  if (!level.tdxComponents) return false;
  // With a TDX module major version (TEE_TCB_SVN[1]) > 0, bytes 0 and 1 are judged by the TDX
  // module identity instead, so the comparison starts at index 2.
  const start = teeTcbSvn[1]! > 0 ? 2 : 0;
  for (let i = start; i < 16; i++) if (teeTcbSvn[i]! < level.tdxComponents[i]!) return false;
  return true;
}

function isvLevel(levels: IsvTcbLevel[], isvSvn: number): IsvTcbLevel | undefined {
  return levels.find((l) => l.isvSvn <= isvSvn);
}

/** Intel's convergence of the platform status with a TDX module or QE status. */
function converge(platform: TdxTcbStatus, other: TdxTcbStatus): TdxTcbStatus {
  if (platform === 'no-matching-tcb-level' || other === 'no-matching-tcb-level')
    return 'no-matching-tcb-level';
  if (platform === 'Revoked' || other === 'Revoked') return 'Revoked';
  if (other === 'OutOfDate' || other === 'OutOfDateConfigurationNeeded') {
    if (platform === 'UpToDate' || platform === 'SWHardeningNeeded') return 'OutOfDate';
    if (platform === 'ConfigurationNeeded' || platform === 'ConfigurationAndSWHardeningNeeded') {
      return 'OutOfDateConfigurationNeeded';
    }
  }
  return platform;
}

/** Checks the QE report against the QE identity; returns the QE's TCB level status. */
export function evaluateQeIdentity(
  report: SgxReportBody,
  identity: QeIdentity,
): NonNullable<TdxTcbEvaluation['qe']> {
  if (
    (report.miscSelect & identity.miscSelectMask) >>> 0 !==
    (identity.miscSelect & identity.miscSelectMask) >>> 0
  ) {
    throw new Reject(
      'field-mismatch',
      'QE MISCSELECT does not match the QE identity',
      'qe_report.miscselect',
    );
  }
  if (
    !bytesEqual(
      masked(report.attributes, identity.attributesMask),
      masked(identity.attributes, identity.attributesMask),
    )
  ) {
    throw new Reject('field-mismatch', 'QE attributes do not match the QE identity', 'qe_report.attributes');
  }
  if (!bytesEqual(report.mrSigner, identity.mrSigner)) {
    throw new Reject('field-mismatch', 'QE MRSIGNER does not match the QE identity', 'qe_report.mrsigner');
  }
  if (report.isvProdId !== identity.isvProdId) {
    throw new Reject('field-mismatch', 'QE ISVPRODID does not match the QE identity', 'qe_report.isvprodid');
  }
  const level = isvLevel(identity.tcbLevels, report.isvSvn);
  // Intel's QVL treats a QE ISVSVN below every listed level as revoked.
  if (!level) return { status: 'Revoked', advisoryIds: [] };
  return { status: level.tcbStatus, tcbDate: level.tcbDate, advisoryIds: [...level.advisoryIds] };
}

/**
 * Intel's TDX TCB evaluation: the first TCB level whose SGX components and PCESVN (from the PCK
 * certificate) and TDX components (TEE_TCB_SVN) are all >= the level's; the TDX module identity
 * `TDX_<major>` (MRSIGNERSEAM, SEAM attributes, minor SVN); the QE identity; converged as Intel
 * specifies. Throws {@link Reject} for identity mismatches; a missing level is a typed status.
 */
export function evaluateTdxTcb(
  info: TcbInfo,
  pck: PckExtensions,
  body: TdReportBody,
  qeReport: SgxReportBody,
  qeIdentity: QeIdentity | undefined,
): TdxTcbEvaluation {
  const tee = body.teeTcbSvn;
  const level = info.tcbLevels.find((l) => levelMatches(l, pck, tee));
  const platform: TdxTcbEvaluation['platform'] = level
    ? { status: level.tcbStatus, tcbDate: level.tcbDate, advisoryIds: [...level.advisoryIds] }
    : { status: 'no-matching-tcb-level', advisoryIds: [] };
  let status: TdxTcbStatus = platform.status;
  const advisories = new Set(platform.advisoryIds);
  const evaluation: TdxTcbEvaluation = {
    status,
    advisoryIds: [],
    platform,
    tcbEvaluationDataNumber: info.tcbEvaluationDataNumber,
  };

  const major = tee[1]!;
  const minor = tee[0]!;
  if (major === 0) {
    const m = info.tdxModule;
    if (!m) throw new Reject('collateral-invalid', 'TCB info has no tdxModule', 'tcb_info.tdxModule');
    if (!bytesEqual(m.mrSigner, body.mrSignerSeam)) {
      throw new Reject('field-mismatch', 'MRSIGNERSEAM does not match the TDX module', 'mrSignerSeam');
    }
    if (!bytesEqual(masked(body.seamAttributes, m.attributesMask), masked(m.attributes, m.attributesMask))) {
      throw new Reject('field-mismatch', 'SEAM attributes do not match the TDX module', 'seamAttributes');
    }
  } else {
    const id = `TDX_${major.toString().padStart(2, '0')}`;
    const identity = info.tdxModuleIdentities?.find((i) => i.id === id);
    if (!identity) {
      throw new Reject(
        'collateral-invalid',
        `TCB info has no TDX module identity ${id}`,
        'tcb_info.tdxModuleIdentities',
      );
    }
    if (!bytesEqual(identity.mrSigner, body.mrSignerSeam)) {
      throw new Reject('field-mismatch', `MRSIGNERSEAM does not match ${id}`, 'mrSignerSeam');
    }
    if (
      !bytesEqual(
        masked(body.seamAttributes, identity.attributesMask),
        masked(identity.attributes, identity.attributesMask),
      )
    ) {
      throw new Reject('field-mismatch', `SEAM attributes do not match ${id}`, 'seamAttributes');
    }
    const ml = isvLevel(identity.tcbLevels, minor);
    const moduleResult: NonNullable<TdxTcbEvaluation['tdxModule']> = ml
      ? { id, status: ml.tcbStatus, tcbDate: ml.tcbDate, advisoryIds: [...ml.advisoryIds] }
      : { id, status: 'no-matching-tcb-level', advisoryIds: [] };
    evaluation.tdxModule = moduleResult;
    status = converge(status, moduleResult.status);
    for (const a of moduleResult.advisoryIds) advisories.add(a);
  }

  if (qeIdentity) {
    const qe = evaluateQeIdentity(qeReport, qeIdentity);
    evaluation.qe = qe;
    status = converge(status, qe.status);
    for (const a of qe.advisoryIds) advisories.add(a);
  }
  evaluation.status = status;
  evaluation.advisoryIds = [...advisories];
  return evaluation;
}
