import { X509Certificate } from 'node:crypto';
import { ContrastError, toHex } from '@contrast-cc/core';
import { DER, type DerElement, derChildren, derContent, derOid, derSmallInt, readDer } from './der.js';

/** Intel SGX extensions OID (on PCK certificates). */
export const SGX_EXTENSIONS_OID = '1.2.840.113741.1.13.1';

/** SGX type from the PCK certificate (0 Standard, 1 Scalable, 2 Scalable with integrity). */
export type SgxType = 'Standard' | 'Scalable' | 'ScalableWithIntegrity';
const SGX_TYPES: readonly SgxType[] = ['Standard', 'Scalable', 'ScalableWithIntegrity'];

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

/** Splits PEM text into DER certificates (in order). */
export function pemCertificates(pem: string, field = 'pck_cert_chain'): Uint8Array[] {
  const out: Uint8Array[] = [];
  const re = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g;
  for (let m = re.exec(pem); m !== null; m = re.exec(pem)) {
    out.push(new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')));
  }
  if (out.length === 0) throw bad('no PEM certificate found', field);
  return out;
}

/** Finds an extension's extnValue (OCTET STRING content) in a certificate's DER. */
export function certificateExtension(der: Uint8Array, oid: string): Uint8Array | undefined {
  const field = 'pck_certificate';
  const cert = readDer(der, 0, der.length, field);
  const [tbs] = derChildren(der, cert, field);
  if (!tbs || tbs.tag !== DER.SEQUENCE) throw bad('certificate has no TBSCertificate', field);
  const extsWrapper = derChildren(der, tbs, field).find((e) => e.tag === 0xa3);
  if (!extsWrapper) return undefined;
  const [exts] = derChildren(der, extsWrapper, field);
  if (!exts) return undefined;
  for (const ext of derChildren(der, exts, field)) {
    const parts = derChildren(der, ext, field);
    if (parts[0]?.tag !== DER.OID || derOid(der, parts[0]) !== oid) continue;
    const value = parts[parts.length - 1]!;
    if (value.tag !== DER.OCTET_STRING) throw bad('extension value is not an OCTET STRING', field);
    return derContent(der, value);
  }
  return undefined;
}

/** Parses Intel's SGX extension (the extnValue bytes) into typed fields. */
export function parsePckExtensions(value: Uint8Array): PckExtensions {
  const field = 'pck_certificate.sgx_extensions';
  const root = readDer(value, 0, value.length, field);
  const entries = new Map<string, DerElement>();
  for (const item of derChildren(value, root, field)) {
    const [oidEl, val] = derChildren(value, item, field);
    if (!oidEl || oidEl.tag !== DER.OID || !val) throw bad('malformed SGX extension entry', field);
    entries.set(derOid(value, oidEl), val);
  }
  const need = (suffix: string, name: string): DerElement => {
    const el = entries.get(`${SGX_EXTENSIONS_OID}.${suffix}`);
    if (!el) throw bad(`SGX extension lacks ${name}`, `${field}.${name}`);
    return el;
  };
  const octets = (suffix: string, name: string, len: number): Uint8Array => {
    const el = need(suffix, name);
    const c = derContent(value, el);
    if (el.tag !== DER.OCTET_STRING || c.length !== len) {
      throw bad(`${name} must be a ${len}-byte OCTET STRING`, `${field}.${name}`);
    }
    return c;
  };

  const tcbEl = need('2', 'tcb');
  const tcb = new Map<string, DerElement>();
  for (const item of derChildren(value, tcbEl, field)) {
    const [oidEl, val] = derChildren(value, item, field);
    if (!oidEl || !val) throw bad('malformed TCB entry', `${field}.tcb`);
    tcb.set(derOid(value, oidEl), val);
  }
  const sgxTcbComponents: number[] = [];
  for (let i = 1; i <= 16; i++) {
    const el = tcb.get(`${SGX_EXTENSIONS_OID}.2.${i}`);
    if (!el) throw bad(`TCB lacks component ${i}`, `${field}.tcb.comp${i}`);
    sgxTcbComponents.push(derSmallInt(value, el, `${field}.tcb.comp${i}`));
  }
  const pceSvnEl = tcb.get(`${SGX_EXTENSIONS_OID}.2.17`);
  const cpuSvnEl = tcb.get(`${SGX_EXTENSIONS_OID}.2.18`);
  if (!pceSvnEl) throw bad('TCB lacks PCESVN', `${field}.tcb.pcesvn`);
  if (!cpuSvnEl || derContent(value, cpuSvnEl).length !== 16)
    throw bad('TCB lacks CPUSVN', `${field}.tcb.cpusvn`);

  const typeEl = need('5', 'sgx_type');
  const typeNum = derSmallInt(value, typeEl, `${field}.sgx_type`);
  const sgxType = SGX_TYPES[typeNum];
  if (!sgxType) throw bad(`unknown SGX type ${typeNum}`, `${field}.sgx_type`);

  const ext: PckExtensions = {
    ppid: octets('1', 'ppid', 16),
    sgxTcbComponents,
    pceSvn: derSmallInt(value, pceSvnEl, `${field}.tcb.pcesvn`),
    cpuSvn: derContent(value, cpuSvnEl),
    pceId: octets('3', 'pceid', 2),
    fmspc: octets('4', 'fmspc', 6),
    sgxType,
  };
  if (entries.has(`${SGX_EXTENSIONS_OID}.6`)) ext.platformInstanceId = octets('6', 'piid', 16);
  const confEl = entries.get(`${SGX_EXTENSIONS_OID}.7`);
  if (confEl) {
    const configuration: NonNullable<PckExtensions['configuration']> = {};
    for (const item of derChildren(value, confEl, field)) {
      const [oidEl, val] = derChildren(value, item, field);
      if (!oidEl || !val || val.tag !== DER.BOOLEAN)
        throw bad('malformed configuration', `${field}.configuration`);
      const flag = derContent(value, val)[0] !== 0;
      const which = derOid(value, oidEl);
      if (which === `${SGX_EXTENSIONS_OID}.7.1`) configuration.dynamicPlatform = flag;
      else if (which === `${SGX_EXTENSIONS_OID}.7.2`) configuration.cachedKeys = flag;
      else if (which === `${SGX_EXTENSIONS_OID}.7.3`) configuration.smtEnabled = flag;
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
    sgxTcbComponents: ext.sgxTcbComponents,
    sgxType: ext.sgxType,
    ...(ext.platformInstanceId ? { piid: toHex(ext.platformInstanceId) } : {}),
    ...(ext.configuration ? { configuration: ext.configuration } : {}),
  };
}

/** A parsed X.509 certificate with what the verifier needs. */
export interface ParsedCert {
  der: Uint8Array;
  x509: X509Certificate;
  notBefore: Date;
  notAfter: Date;
  /** Serial as lower-case hex without leading zeros. */
  serial: string;
  subject: string;
}

export function parseCert(der: Uint8Array, field: string): ParsedCert {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch (cause) {
    throw new ContrastError('invalid-argument', 'not a parseable X.509 certificate', { field, cause });
  }
  return {
    der,
    x509,
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
    serial: normalizeSerial(x509.serialNumber),
    subject: x509.subject,
  };
}

export function normalizeSerial(hex: string): string {
  const s = hex.toLowerCase().replace(/^0+/, '');
  return s === '' ? '0' : s;
}
