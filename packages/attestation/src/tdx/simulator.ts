import { createHash, sign as cryptoSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  ContrastError,
  concatBytes,
  type Evidence,
  type Issuer,
  REPORT_DATA_LENGTH,
} from '@contrast-cc/core';
import {
  basicConstraintsExtension,
  certificatePem,
  derBoolean,
  derOctetString,
  derOidOf,
  derSequence,
  derTlv,
  derUnsignedBigInt,
  KEY_USAGE,
  keyUsageExtension,
} from '@contrast-cc/core/x509';
import { buildCertificate, buildCrl, type Signer, x509Name } from '../common/certgen.js';
import type { TcbStatus, TdxCollateral } from './collateral.js';
import { SGX_EXTENSIONS_OID, SGX_TYPES, type SgxType } from './pck.js';
import { INTEL_QE_VENDOR_ID, TD_REPORT_BODY_10_LENGTH } from './quote.js';
import { createTrustAnchors, TDX_EVIDENCE_KIND, type TdxTrustAnchors } from './verify.js';

/** Critical KeyUsage keyCertSign and cRLSign, as Intel's CAs carry. */
const CA_KEY_USAGE = keyUsageExtension([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign]);

/** Quote body fields the simulated TD reports (defaults: zeros, SEPT_VE_DISABLE, the usual XFAM). */
export interface SimulatedTdFields {
  teeTcbSvn?: Uint8Array;
  mrSeam?: Uint8Array;
  mrSignerSeam?: Uint8Array;
  seamAttributes?: Uint8Array;
  tdAttributes?: Uint8Array;
  xfam?: Uint8Array;
  mrTd?: Uint8Array;
  mrConfigId?: Uint8Array;
  mrOwner?: Uint8Array;
  mrOwnerConfig?: Uint8Array;
  rtmrs?: Uint8Array[];
}

/** The simulated platform as its PCK certificate describes it. */
export interface SimulatedPlatform {
  fmspc?: Uint8Array;
  pceId?: Uint8Array;
  pceSvn?: number;
  sgxTcbComponents?: number[];
  sgxType?: SgxType;
  piid?: Uint8Array;
  configuration?: { dynamicPlatform: boolean; cachedKeys: boolean; smtEnabled: boolean };
}

export interface SimulatedTdxOptions {
  td?: SimulatedTdFields;
  platform?: SimulatedPlatform;
  /** Validity of the generated certificates (default: one day ago .. ten years ahead). */
  notBefore?: Date;
  notAfter?: Date;
}

/** A simulated TDX issuer: real v4 quote layout, signed by a locally generated chain. */
export interface SimulatedTdx extends Issuer {
  readonly kind: typeof TDX_EVIDENCE_KIND;
  /** Trust anchors to give the verifier: the local root (claims are then `insecure`). */
  readonly trustAnchors: TdxTrustAnchors;
  readonly rootCertificatePem: string;
  /** PEM chain as it appears in the quote: PCK certificate, PCK CA, root. */
  readonly pckChainPem: string;
  /** Serial (lower-case hex) of the PCK certificate. */
  readonly pckSerial: string;
  /** A raw v4 quote for this REPORT_DATA (optionally overriding TD fields). */
  quote(reportData: Uint8Array, td?: SimulatedTdFields): Uint8Array;
  /** A PCK CRL (DER) signed by the simulated PCK CA, revoking the given serials. */
  createPckCrl(options?: {
    revokedSerials?: string[];
    thisUpdate?: Date;
    nextUpdate?: Date;
  }): Promise<Uint8Array>;
  /**
   * Collateral in the PCS form for this simulated platform, signed by a simulated TCB signing
   * certificate under the simulated root: TCB info (one level matching the platform, with
   * `tcbStatus`), QE identity (the simulated QE), PCK CRL and root CA CRL, with their issuer
   * chains. What a loopback PCS stand-in serves for simulated quotes.
   */
  createCollateral(options?: {
    issueDate?: Date;
    nextUpdate?: Date;
    tcbStatus?: TcbStatus;
    tcbEvaluationDataNumber?: number;
  }): Promise<Required<TdxCollateral>>;
}

function sgxExtension(
  p: Required<Omit<SimulatedPlatform, 'piid' | 'configuration'>> & SimulatedPlatform,
): Uint8Array {
  const entry = (suffix: string, value: Uint8Array) =>
    derSequence(derOidOf(`${SGX_EXTENSIONS_OID}.${suffix}`), value);
  const cpuSvn = Uint8Array.from(p.sgxTcbComponents);
  const tcb = derSequence(
    ...p.sgxTcbComponents.map((svn, i) => entry(`2.${i + 1}`, derUnsignedBigInt(svn))),
    entry('2.17', derUnsignedBigInt(p.pceSvn)),
    entry('2.18', derOctetString(cpuSvn)),
  );
  const items = [
    entry('1', derOctetString(new Uint8Array(16).fill(0x5a))),
    entry('2', tcb),
    entry('3', derOctetString(p.pceId)),
    entry('4', derOctetString(p.fmspc)),
    // ENUMERATED
    entry('5', derTlv(0x0a, Uint8Array.of(SGX_TYPES.indexOf(p.sgxType)))),
  ];
  if (p.piid) items.push(entry('6', derOctetString(p.piid)));
  if (p.configuration) {
    items.push(
      entry(
        '7',
        derSequence(
          entry('7.1', derBoolean(p.configuration.dynamicPlatform)),
          entry('7.2', derBoolean(p.configuration.cachedKeys)),
          entry('7.3', derBoolean(p.configuration.smtEnabled)),
        ),
      ),
    );
  }
  return derSequence(...items);
}

function u16(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, (v >> 8) & 0xff);
}
function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

function fixed(
  value: Uint8Array | undefined,
  length: number,
  field: string,
  fallback?: Uint8Array,
): Uint8Array {
  const v = value ?? fallback ?? new Uint8Array(length);
  if (v.length !== length) throw new ContrastError('invalid-argument', `must be ${length} bytes`, { field });
  return v;
}

/** TEE_TCB_SVN of the simulated TDX module: SVN 3, major version 1 (so identity TDX_01), minor 2. */
const DEFAULT_TEE_TCB_SVN = Uint8Array.of(3, 1, 2, ...new Array(13).fill(0));

/** Serialises a TD report body (TDX 1.0 layout, 584 bytes). */
function tdBody(td: SimulatedTdFields, reportData: Uint8Array): Uint8Array {
  const rtmrs = td.rtmrs ?? [];
  const out = concatBytes(
    fixed(td.teeTcbSvn, 16, 'teeTcbSvn', DEFAULT_TEE_TCB_SVN),
    fixed(td.mrSeam, 48, 'mrSeam'),
    fixed(td.mrSignerSeam, 48, 'mrSignerSeam'),
    fixed(td.seamAttributes, 8, 'seamAttributes'),
    fixed(td.tdAttributes, 8, 'tdAttributes', Uint8Array.of(0, 0, 0, 0x10, 0, 0, 0, 0)),
    fixed(td.xfam, 8, 'xfam', Uint8Array.of(0xe7, 0x02, 0x06, 0, 0, 0, 0, 0)),
    fixed(td.mrTd, 48, 'mrTd'),
    fixed(td.mrConfigId, 48, 'mrConfigId'),
    fixed(td.mrOwner, 48, 'mrOwner'),
    fixed(td.mrOwnerConfig, 48, 'mrOwnerConfig'),
    ...[0, 1, 2, 3].map((i) => fixed(rtmrs[i], 48, `rtmrs[${i}]`)),
    fixed(reportData, REPORT_DATA_LENGTH, 'reportData'),
  );
  if (out.length !== TD_REPORT_BODY_10_LENGTH) throw new ContrastError('internal', 'TD report body size');
  return out;
}

/** The simulated Quoting Enclave's identity fields (fixed values, not Intel's). */
export const SIMULATED_QE = {
  mrSigner: new Uint8Array(32).fill(0x51),
  mrEnclave: new Uint8Array(32).fill(0x52),
  isvProdId: 2,
  isvSvn: 4,
  attributes: Uint8Array.of(0x11, ...new Array(15).fill(0)),
};

/**
 * A TDX issuer for machines without TDX: it generates a root CA, a PCK CA and a PCK certificate
 * carrying Intel's SGX extensions, a QE report signed by the PCK key that binds a fresh
 * attestation key, and quotes in the real v4 layout signed by that key — so the real verifier
 * runs unchanged when told to trust the local root (and marks the claims insecure).
 */
export async function createSimulatedTdxIssuer(options: SimulatedTdxOptions = {}): Promise<SimulatedTdx> {
  const notBefore = options.notBefore ?? new Date(Date.now() - 86_400_000);
  const notAfter = options.notAfter ?? new Date(Date.now() + 10 * 365 * 86_400_000);
  const gen = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const [rootKeys, caKeys, pckKeys, tcbKeys] = [gen(), gen(), gen(), gen()];
  const signer = (keys: { privateKey: Signer['key'] }): Signer => ({
    key: keys.privateKey,
    algorithm: 'ecdsa-sha256',
  });
  const serial = () => Uint8Array.of(0x01, ...randomBytes(15));
  const rootName = x509Name([
    ['CN', 'Contrast Simulated SGX Root CA'],
    ['O', 'Contrast Simulator'],
  ]);
  const caName = x509Name([
    ['CN', 'Contrast Simulated SGX PCK Platform CA'],
    ['O', 'Contrast Simulator'],
  ]);
  const validity = { notBefore, notAfter };
  const root = buildCertificate({
    serial: serial(),
    issuer: rootName,
    subject: rootName,
    ...validity,
    publicKey: rootKeys.publicKey,
    extensions: [basicConstraintsExtension(true, 1), CA_KEY_USAGE],
    signer: signer(rootKeys),
  });
  const ca = buildCertificate({
    serial: serial(),
    issuer: rootName,
    subject: caName,
    ...validity,
    publicKey: caKeys.publicKey,
    extensions: [basicConstraintsExtension(true, 0), CA_KEY_USAGE],
    signer: signer(rootKeys),
  });
  const p = options.platform ?? {};
  const platform = {
    ...p,
    fmspc: p.fmspc ?? Uint8Array.of(0x90, 0xc0, 0x6f, 0, 0, 0),
    pceId: p.pceId ?? Uint8Array.of(0, 0),
    pceSvn: p.pceSvn ?? 13,
    sgxTcbComponents: p.sgxTcbComponents ?? [3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0],
    sgxType: p.sgxType ?? 'Scalable',
  };
  const pckSerial = serial();
  const pck = buildCertificate({
    serial: pckSerial,
    issuer: caName,
    subject: x509Name([
      ['CN', 'Contrast Simulated SGX PCK Certificate'],
      ['O', 'Contrast Simulator'],
    ]),
    ...validity,
    publicKey: pckKeys.publicKey,
    extensions: [
      basicConstraintsExtension(false),
      { oid: SGX_EXTENSIONS_OID, value: sgxExtension(platform) },
    ],
    signer: signer(caKeys),
  });
  const pckPrivate = pckKeys.privateKey;
  const rootCertificatePem = certificatePem(root);
  const caPem = certificatePem(ca);
  const pckChainPem = `${certificatePem(pck)}${caPem}${rootCertificatePem}`;

  // The attestation key and the QE report binding it (once per simulated QE).
  const att = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = att.publicKey.export({ format: 'jwk' });
  const attPublic = concatBytes(Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url'));
  const authData = Uint8Array.from({ length: 32 }, (_, i) => i);
  const qeReport = new Uint8Array(384);
  qeReport.set(Uint8Array.from(platform.sgxTcbComponents), 0);
  qeReport.set(SIMULATED_QE.attributes, 48);
  qeReport.set(SIMULATED_QE.mrEnclave, 64);
  qeReport.set(SIMULATED_QE.mrSigner, 128);
  qeReport.set(u16(SIMULATED_QE.isvProdId), 256);
  qeReport.set(u16(SIMULATED_QE.isvSvn), 258);
  qeReport.set(createHash('sha256').update(attPublic).update(authData).digest(), 320);
  const qeSignature = cryptoSign('sha256', qeReport, { key: pckPrivate, dsaEncoding: 'ieee-p1363' });
  const chainBytes = new TextEncoder().encode(pckChainPem);
  const qeCertData = concatBytes(
    qeReport,
    qeSignature,
    u16(authData.length),
    authData,
    u16(5),
    u32(chainBytes.length),
    chainBytes,
  );
  const header = concatBytes(
    u16(4),
    u16(2),
    u32(0x81),
    new Uint8Array(4),
    Buffer.from(INTEL_QE_VENDOR_ID, 'hex'),
    new Uint8Array(20),
  );

  const quote = (reportData: Uint8Array, td?: SimulatedTdFields): Uint8Array => {
    const signed = concatBytes(header, tdBody({ ...options.td, ...td }, reportData));
    const signature = cryptoSign('sha256', signed, { key: att.privateKey, dsaEncoding: 'ieee-p1363' });
    const sigData = concatBytes(signature, attPublic, u16(6), u32(qeCertData.length), qeCertData);
    return concatBytes(signed, u32(sigData.length), sigData);
  };

  const sim: SimulatedTdx = {
    kind: TDX_EVIDENCE_KIND,
    trustAnchors: createTrustAnchors([rootCertificatePem]),
    rootCertificatePem,
    pckChainPem,
    pckSerial: Buffer.from(pckSerial)
      .toString('hex')
      .replace(/^0+(?=.)/, ''),
    quote,
    async issue(reportData: Uint8Array): Promise<Evidence> {
      if (reportData.length !== REPORT_DATA_LENGTH) {
        throw new ContrastError('invalid-argument', 'REPORT_DATA must be 64 bytes', { field: 'reportData' });
      }
      return { kind: TDX_EVIDENCE_KIND, data: quote(reportData) };
    },
    async createPckCrl(crlOptions = {}) {
      return buildCrl({
        issuer: caName,
        thisUpdate: crlOptions.thisUpdate ?? notBefore,
        nextUpdate: crlOptions.nextUpdate ?? notAfter,
        revoked: (crlOptions.revokedSerials ?? []).map((hex) => ({
          serial: BigInt(`0x${hex}`),
          date: notBefore,
        })),
        signer: signer(caKeys),
      });
    },
    async createCollateral(c = {}) {
      const issueDate = c.issueDate ?? notBefore;
      const nextUpdate = c.nextUpdate ?? notAfter;
      const tcbSigning = buildCertificate({
        serial: serial(),
        issuer: rootName,
        subject: x509Name([
          ['CN', 'Contrast Simulated SGX TCB Signing'],
          ['O', 'Contrast Simulator'],
        ]),
        ...validity,
        publicKey: tcbKeys.publicKey,
        extensions: [basicConstraintsExtension(false)],
        signer: signer(rootKeys),
      });
      const tcbPrivate = tcbKeys.privateKey;
      const signed = (member: string, value: unknown) => {
        const text = JSON.stringify(value);
        const sig = cryptoSign('sha256', Buffer.from(text), { key: tcbPrivate, dsaEncoding: 'ieee-p1363' });
        return new TextEncoder().encode(
          `{"${member}":${text},"signature":"${Buffer.from(sig).toString('hex')}"}`,
        );
      };
      const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
      const td = options.td ?? {};
      const teeTcbSvn = td.teeTcbSvn ?? DEFAULT_TEE_TCB_SVN;
      const svns = (list: readonly number[]) => list.map((svn) => ({ svn }));
      const moduleId = {
        mrsigner: hex(td.mrSignerSeam ?? new Uint8Array(48)),
        attributes: hex(td.seamAttributes ?? new Uint8Array(8)),
        attributesMask: 'ffffffffffffffff',
      };
      const major = teeTcbSvn[1]!;
      const status = c.tcbStatus ?? 'UpToDate';
      const evaluation = c.tcbEvaluationDataNumber ?? 17;
      const dates = { issueDate: issueDate.toISOString(), nextUpdate: nextUpdate.toISOString() };
      const tcbInfo = signed('tcbInfo', {
        id: 'TDX',
        version: 3,
        ...dates,
        fmspc: hex(platform.fmspc),
        pceId: hex(platform.pceId),
        tcbType: 0,
        tcbEvaluationDataNumber: evaluation,
        tdxModule: moduleId,
        ...(major > 0
          ? {
              tdxModuleIdentities: [
                {
                  id: `TDX_${String(major).padStart(2, '0')}`,
                  ...moduleId,
                  tcbLevels: [
                    {
                      tcb: { isvsvn: teeTcbSvn[0]! },
                      tcbDate: issueDate.toISOString(),
                      tcbStatus: 'UpToDate',
                    },
                  ],
                },
              ],
            }
          : {}),
        tcbLevels: [
          {
            tcb: {
              sgxtcbcomponents: svns(platform.sgxTcbComponents),
              pcesvn: platform.pceSvn,
              tdxtcbcomponents: svns(Array.from(teeTcbSvn)),
            },
            tcbDate: issueDate.toISOString(),
            tcbStatus: status,
          },
        ],
      });
      const qeIdentity = signed('enclaveIdentity', {
        id: 'TD_QE',
        version: 2,
        ...dates,
        tcbEvaluationDataNumber: evaluation,
        miscselect: '00000000',
        miscselectMask: 'ffffffff',
        attributes: hex(SIMULATED_QE.attributes),
        attributesMask: 'fbffffffffffffff0000000000000000',
        mrsigner: hex(SIMULATED_QE.mrSigner),
        isvprodid: SIMULATED_QE.isvProdId,
        tcbLevels: [
          { tcb: { isvsvn: SIMULATED_QE.isvSvn }, tcbDate: issueDate.toISOString(), tcbStatus: 'UpToDate' },
        ],
      });
      const rootCrl = buildCrl({
        issuer: rootName,
        thisUpdate: issueDate,
        nextUpdate,
        revoked: [],
        signer: signer(rootKeys),
      });
      const issuerChain = new TextEncoder().encode(`${certificatePem(tcbSigning)}${rootCertificatePem}`);
      return {
        tcbInfo,
        tcbInfoIssuerChain: issuerChain,
        qeIdentity,
        qeIdentityIssuerChain: issuerChain,
        pckCrl: await sim.createPckCrl({ thisUpdate: issueDate, nextUpdate }),
        pckCrlIssuerChain: new TextEncoder().encode(`${caPem}${rootCertificatePem}`),
        rootCaCrl: rootCrl,
      };
    },
  };
  return sim;
}
