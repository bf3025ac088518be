import { ContrastError, toHex } from '@contrast-cc/core';
import {
  DER_TAG,
  type DerNode,
  decodeOid,
  decodeUnsigned,
  derChildren,
  derContent,
  readDer,
} from '../common/der.js';

/** Intel SGX extensions OID (on PCK certificates). */
export const SGX_EXTENSIONS_OID = '1.2.840.113741.1.13.1';

/** SGX type from the PCK certificate (0 Standard, 1 Scalable, 2 Scalable with integrity). */
export type SgxType = 'Standard' | 'Scalable' | 'ScalableWithIntegrity';
export const SGX_TYPES: readonly SgxType[] = ['Standard', 'Scalable', 'ScalableWithIntegrity'];

/** The SGX extensions of a PCK certificate. */
export interface PckExtensions {
  ppid: Uint8Array;
  /** The 16 SGX TCB component SVNs (CPUSVN components as the TCB info orders them). */
  sgxTcbComponents: number[];
  pceSvn: number;
  cpuSvn: Uint8Array;
  pceId: Uint8Array;
  fmspc: Uint8Array;
  sgxType: SgxType;
  /** Platform instance id: only on certificates issued by the PCK Platform CA. */
  platformInstanceId?: Uint8Array;
  /** Platform configuration: only on certificates issued by the PCK Platform CA. */
  configuration?: { dynamicPlatform?: boolean; cachedKeys?: boolean; smtEnabled?: boolean };
}

function bad(message: string, field: string): ContrastError {
  return new ContrastError('invalid-argument', message, { field });
}

function smallInt(node: DerNode, field: string): number {
  const v = decodeUnsigned(derContent(node), field);
  if (v > 0xffffn) throw bad('integer out of range', field);
  return Number(v);
}

/** Parses Intel's SGX extension (the extnValue bytes) into typed fields. */
export function parsePckExtensions(value: Uint8Array): PckExtensions {
  const field = 'pck_certificate.sgx_extensions';
  const pairs = (node: DerNode, where: string): Map<string, DerNode> => {
    const out = new Map<string, DerNode>();
    for (const item of derChildren(node, where)) {
      const [oidEl, val] = derChildren(item, where);
      if (!oidEl || oidEl.tag !== DER_TAG.oid || !val) throw bad('malformed SGX extension entry', where);
      out.set(decodeOid(derContent(oidEl)), val);
    }
    return out;
  };
  const entries = pairs(readDer(value, 0, field), field);
  const need = (suffix: string, name: string): DerNode => {
    const el = entries.get(`${SGX_EXTENSIONS_OID}.${suffix}`);
    if (!el) throw bad(`SGX extension lacks ${name}`, `${field}.${name}`);
    return el;
  };
  const octets = (suffix: string, name: string, len: number): Uint8Array => {
    const el = need(suffix, name);
    const c = derContent(el);
    if (el.tag !== DER_TAG.octetString || c.length !== len) {
      throw bad(`${name} must be a ${len}-byte OCTET STRING`, `${field}.${name}`);
    }
    return c;
  };

  const tcb = pairs(need('2', 'tcb'), `${field}.tcb`);
  const sgxTcbComponents: number[] = [];
  for (let i = 1; i <= 16; i++) {
    const el = tcb.get(`${SGX_EXTENSIONS_OID}.2.${i}`);
    if (!el) throw bad(`TCB lacks component ${i}`, `${field}.tcb.comp${i}`);
    sgxTcbComponents.push(smallInt(el, `${field}.tcb.comp${i}`));
  }
  const pceSvnEl = tcb.get(`${SGX_EXTENSIONS_OID}.2.17`);
  const cpuSvnEl = tcb.get(`${SGX_EXTENSIONS_OID}.2.18`);
  if (!pceSvnEl) throw bad('TCB lacks PCESVN', `${field}.tcb.pcesvn`);
  if (!cpuSvnEl || derContent(cpuSvnEl).length !== 16) throw bad('TCB lacks CPUSVN', `${field}.tcb.cpusvn`);

  const typeNum = smallInt(need('5', 'sgx_type'), `${field}.sgx_type`);
  const sgxType = SGX_TYPES[typeNum];
  if (!sgxType) throw bad(`unknown SGX type ${typeNum}`, `${field}.sgx_type`);

  const ext: PckExtensions = {
    ppid: octets('1', 'ppid', 16),
    sgxTcbComponents,
    pceSvn: smallInt(pceSvnEl, `${field}.tcb.pcesvn`),
    cpuSvn: derContent(cpuSvnEl),
    pceId: octets('3', 'pceid', 2),
    fmspc: octets('4', 'fmspc', 6),
    sgxType,
  };
  if (entries.has(`${SGX_EXTENSIONS_OID}.6`)) ext.platformInstanceId = octets('6', 'piid', 16);
  const confEl = entries.get(`${SGX_EXTENSIONS_OID}.7`);
  if (confEl) {
    const configuration: NonNullable<PckExtensions['configuration']> = {};
    for (const [oid, val] of pairs(confEl, `${field}.configuration`)) {
      if (val.tag !== DER_TAG.boolean) throw bad('malformed configuration', `${field}.configuration`);
      const flag = derContent(val)[0] !== 0;
      if (oid === `${SGX_EXTENSIONS_OID}.7.1`) configuration.dynamicPlatform = flag;
      else if (oid === `${SGX_EXTENSIONS_OID}.7.2`) configuration.cachedKeys = flag;
      else if (oid === `${SGX_EXTENSIONS_OID}.7.3`) configuration.smtEnabled = flag;
    }
    ext.configuration = configuration;
  }
  return ext;
}

/** JSON-friendly view of the PCK extensions. */
export function pckExtensionsJson(ext: PckExtensions): Record<string, unknown> {
  return {
    fmspc: toHex(ext.fmspc),
    pceId: toHex(ext.pceId),
    pceSvn: ext.pceSvn,
    cpuSvn: toHex(ext.cpuSvn),
    sgxTcbComponents: [...ext.sgxTcbComponents],
    sgxType: ext.sgxType,
    ...(ext.platformInstanceId ? { piid: toHex(ext.platformInstanceId) } : {}),
    ...(ext.configuration ? { configuration: { ...ext.configuration } } : {}),
  };
}
