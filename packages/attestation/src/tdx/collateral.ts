import { ContrastError, fromHex } from '@contrast-cc/core';
import { rawJsonMember } from './json-raw.js';

/**
 * Intel DCAP collateral for one quote, each piece exactly as Intel PCS returns it (bodies and
 * issuer-chain headers). Any subset may be present.
 */
export interface TdxCollateral {
  /** PCS `tdx/certification/v4/tcb` body: `{"tcbInfo":{...},"signature":"<hex r||s>"}`. */
  tcbInfo?: Uint8Array;
  /** `TCB-Info-Issuer-Chain` header (PEM: TCB Signing cert, root). */
  tcbInfoIssuerChain?: Uint8Array;
  /** PCS `tdx/certification/v4/qe/identity` body: `{"enclaveIdentity":{...},"signature":"..."}`. */
  qeIdentity?: Uint8Array;
  qeIdentityIssuerChain?: Uint8Array;
  /** PCK CRL (DER or PEM) of the PCK Platform or Processor CA. */
  pckCrl?: Uint8Array;
  /** `SGX-PCK-CRL-Issuer-Chain` header (PEM: PCK CA, root). */
  pckCrlIssuerChain?: Uint8Array;
  /** The Intel SGX Root CA CRL (DER or PEM). */
  rootCaCrl?: Uint8Array;
}

/** File names of the offline collateral directory (PCS response form), by collateral key. */
export const COLLATERAL_FILE_NAMES = {
  tcbInfo: 'tcb_info.json',
  tcbInfoIssuerChain: 'tcb_info_issuer_chain.pem',
  qeIdentity: 'qe_identity.json',
  qeIdentityIssuerChain: 'qe_identity_issuer_chain.pem',
  pckCrl: 'pck_crl.der',
  pckCrlIssuerChain: 'pck_crl_issuer_chain.pem',
  rootCaCrl: 'root_ca_crl.der',
} as const satisfies Record<keyof TdxCollateral, string>;

export const COLLATERAL_KEYS = Object.keys(COLLATERAL_FILE_NAMES) as (keyof TdxCollateral)[];

/** Collateral from Evidence.extras (keys are the PCS file names, e.g. `tcb_info.json`). */
export function collateralFromExtras(
  extras: Record<string, Uint8Array> | undefined,
): TdxCollateral | undefined {
  if (!extras) return undefined;
  const out: TdxCollateral = {};
  let any = false;
  for (const key of COLLATERAL_KEYS) {
    const v = extras[COLLATERAL_FILE_NAMES[key]];
    if (v) {
      out[key] = v;
      any = true;
    }
  }
  return any ? out : undefined;
}

export function collateralToExtras(c: TdxCollateral): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const key of COLLATERAL_KEYS) {
    const v = c[key];
    if (v) out[COLLATERAL_FILE_NAMES[key]] = v;
  }
  return out;
}

// --- TCB info / QE identity ---

/** Intel's TCB status values. */
export const TCB_STATUSES = [
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'OutOfDate',
  'OutOfDateConfigurationNeeded',
  'Revoked',
] as const;
export type TcbStatus = (typeof TCB_STATUSES)[number];

export interface TcbLevel {
  sgxComponents: number[];
  pceSvn: number;
  /** Present for TDX TCB info. */
  tdxComponents?: number[];
  tcbDate: string;
  tcbStatus: TcbStatus;
  advisoryIds: string[];
}

export interface IsvTcbLevel {
  isvSvn: number;
  tcbDate: string;
  tcbStatus: TcbStatus;
  advisoryIds: string[];
}

export interface TdxModuleIdentity {
  id: string;
  mrSigner: Uint8Array;
  attributes: Uint8Array;
  attributesMask: Uint8Array;
  tcbLevels: IsvTcbLevel[];
}

export interface TcbInfo {
  id: string;
  version: number;
  issueDate: Date;
  nextUpdate: Date;
  fmspc: Uint8Array;
  pceId: Uint8Array;
  tcbType: number;
  tcbEvaluationDataNumber: number;
  tdxModule?: { mrSigner: Uint8Array; attributes: Uint8Array; attributesMask: Uint8Array };
  tdxModuleIdentities?: TdxModuleIdentity[];
  tcbLevels: TcbLevel[];
}

export interface QeIdentity {
  id: string;
  version: number;
  issueDate: Date;
  nextUpdate: Date;
  tcbEvaluationDataNumber: number;
  miscSelect: number;
  miscSelectMask: number;
  attributes: Uint8Array;
  attributesMask: Uint8Array;
  mrSigner: Uint8Array;
  isvProdId: number;
  tcbLevels: IsvTcbLevel[];
}

/** A signed PCS JSON document split into the exact signed bytes and the signature. */
export interface SignedJson {
  signed: Uint8Array;
  signature: Uint8Array;
  value: unknown;
}

export function splitSignedJson(doc: Uint8Array, member: string, field: string): SignedJson {
  const signed = rawJsonMember(doc, member, field);
  if (!signed) throw new ContrastError('invalid-argument', `no "${member}" member`, { field });
  const sigText = rawJsonMember(doc, 'signature', field);
  if (!sigText)
    throw new ContrastError('invalid-argument', 'no "signature" member', { field: `${field}.signature` });
  let sig: unknown;
  let value: unknown;
  try {
    sig = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(sigText));
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(signed));
  } catch (cause) {
    throw new ContrastError('invalid-argument', 'not valid JSON', { field, cause });
  }
  if (typeof sig !== 'string') {
    throw new ContrastError('invalid-argument', 'signature must be a hex string', {
      field: `${field}.signature`,
    });
  }
  return { signed, signature: fromHex(sig, { field: `${field}.signature`, length: 64 }), value };
}

type Obj = Record<string, unknown>;

class Fields {
  constructor(
    readonly o: Obj,
    readonly path: string,
  ) {}
  private err(key: string, what: string): ContrastError {
    return new ContrastError('invalid-argument', `must be ${what}`, { field: `${this.path}.${key}` });
  }
  has(key: string): boolean {
    return this.o[key] !== undefined;
  }
  int(key: string): number {
    const v = this.o[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw this.err(key, 'a non-negative integer');
    return v;
  }
  str(key: string): string {
    const v = this.o[key];
    if (typeof v !== 'string') throw this.err(key, 'a string');
    return v;
  }
  date(key: string): Date {
    const d = new Date(this.str(key));
    if (Number.isNaN(d.getTime())) throw this.err(key, 'an RFC 3339 date');
    return d;
  }
  hex(key: string, length: number): Uint8Array {
    return fromHex(this.str(key), { field: `${this.path}.${key}`, length });
  }
  obj(key: string): Fields {
    const v = this.o[key];
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw this.err(key, 'an object');
    return new Fields(v as Obj, `${this.path}.${key}`);
  }
  arr(key: string): Fields[] {
    const v = this.o[key];
    if (!Array.isArray(v)) throw this.err(key, 'an array');
    return v.map((item, i) => {
      if (typeof item !== 'object' || item === null) throw this.err(`${key}[${i}]`, 'an object');
      return new Fields(item as Obj, `${this.path}.${key}[${i}]`);
    });
  }
  status(key: string): TcbStatus {
    const v = this.str(key);
    if (!(TCB_STATUSES as readonly string[]).includes(v))
      throw this.err(key, `one of ${TCB_STATUSES.join(', ')}`);
    return v as TcbStatus;
  }
  advisories(): string[] {
    const v = this.o['advisoryIDs'];
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((a) => typeof a !== 'string'))
      throw this.err('advisoryIDs', 'a list of strings');
    return v as string[];
  }
}

function root(value: unknown, field: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ContrastError('invalid-argument', 'must be an object', { field });
  }
  return new Fields(value as Obj, field);
}

function isvLevels(f: Fields): IsvTcbLevel[] {
  return f.arr('tcbLevels').map((l) => ({
    isvSvn: l.obj('tcb').int('isvsvn'),
    tcbDate: l.str('tcbDate'),
    tcbStatus: l.status('tcbStatus'),
    advisoryIds: l.advisories(),
  }));
}

/** Interprets the signed `tcbInfo` object (TCB info v3, as PCS API v4 serves for TDX and SGX). */
export function parseTcbInfo(value: unknown): TcbInfo {
  const f = root(value, 'tcbInfo');
  const version = f.int('version');
  if (version !== 3) {
    throw new ContrastError('invalid-argument', `TCB info version ${version} is not supported (need 3)`, {
      field: 'tcbInfo.version',
    });
  }
  const comps = (l: Fields, key: string) => {
    const list = l.arr(key).map((c) => c.int('svn'));
    if (list.length !== 16) {
      throw new ContrastError('invalid-argument', `${key} must have 16 entries`, {
        field: `${l.path}.${key}`,
      });
    }
    return list;
  };
  const info: TcbInfo = {
    id: f.str('id'),
    version,
    issueDate: f.date('issueDate'),
    nextUpdate: f.date('nextUpdate'),
    fmspc: f.hex('fmspc', 6),
    pceId: f.hex('pceId', 2),
    tcbType: f.int('tcbType'),
    tcbEvaluationDataNumber: f.int('tcbEvaluationDataNumber'),
    tcbLevels: f.arr('tcbLevels').map((l) => {
      const tcb = l.obj('tcb');
      const level: TcbLevel = {
        sgxComponents: comps(tcb, 'sgxtcbcomponents'),
        pceSvn: tcb.int('pcesvn'),
        tcbDate: l.str('tcbDate'),
        tcbStatus: l.status('tcbStatus'),
        advisoryIds: l.advisories(),
      };
      if (tcb.has('tdxtcbcomponents')) level.tdxComponents = comps(tcb, 'tdxtcbcomponents');
      return level;
    }),
  };
  if (f.has('tdxModule')) {
    const m = f.obj('tdxModule');
    info.tdxModule = {
      mrSigner: m.hex('mrsigner', 48),
      attributes: m.hex('attributes', 8),
      attributesMask: m.hex('attributesMask', 8),
    };
  }
  if (f.has('tdxModuleIdentities')) {
    info.tdxModuleIdentities = f.arr('tdxModuleIdentities').map((m) => ({
      id: m.str('id'),
      mrSigner: m.hex('mrsigner', 48),
      attributes: m.hex('attributes', 8),
      attributesMask: m.hex('attributesMask', 8),
      tcbLevels: isvLevels(m),
    }));
  }
  return info;
}

/** Interprets the signed `enclaveIdentity` object (QE identity v2). */
export function parseQeIdentity(value: unknown): QeIdentity {
  const f = root(value, 'enclaveIdentity');
  const u32 = (key: string) => {
    const b = f.hex(key, 4);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, false);
  };
  return {
    id: f.str('id'),
    version: f.int('version'),
    issueDate: f.date('issueDate'),
    nextUpdate: f.date('nextUpdate'),
    tcbEvaluationDataNumber: f.int('tcbEvaluationDataNumber'),
    // MISCSELECT is written big-endian hex in the identity; the report holds it little-endian.
    miscSelect: u32('miscselect'),
    miscSelectMask: u32('miscselectMask'),
    attributes: f.hex('attributes', 16),
    attributesMask: f.hex('attributesMask', 16),
    mrSigner: f.hex('mrsigner', 32),
    isvProdId: f.int('isvprodid'),
    tcbLevels: isvLevels(f),
  };
}
