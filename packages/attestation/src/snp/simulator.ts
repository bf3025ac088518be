// A simulated SEV-SNP issuer for the simulator platform: real v3 ATTESTATION_REPORT layout,
// signed by a locally generated chain with AMD's shapes (ARK and ASK RSA-4096 with RSA-PSS
// SHA-384 signatures, a P-384 VCEK with AMD's TCB and hwID extensions). The real verifier runs
// on its evidence when given `trustAnchor`; claims are then marked insecure (not an AMD root).

import { createHash, createPublicKey, generateKeyPair, type KeyObject, randomBytes, sign } from 'node:crypto';
import { promisify } from 'node:util';
import { type Evidence, fromHex, type Issuer, REPORT_DATA_LENGTH } from '@contrast-cc/core';
import { DER_IA5_STRING, derAscii, derUnsignedBigInt, certificatePem as pem } from '@contrast-cc/core/x509';
import { buildCertificate, buildCrl, CA_EXTENSION, type Signer, x509Name } from '../common/certgen.js';
import { loadCertificates } from '../common/x509.js';
import { AMD_OID, type SnpTrustAnchor } from './certs.js';
import {
  encodeTcb,
  SNP_REPORT_OFFSETS as O,
  SNP_REPORT_SIZE,
  SNP_SIGNED_LENGTH,
  type SnpProductLine,
} from './report.js';
import { SNP_EVIDENCE_KIND } from './verify.js';
import { createSnpTrustAnchor } from './verify-node.js';

const generateKeyPairAsync = promisify(generateKeyPair);

/** TCB components of the simulated platform. @public */
export interface SimulatedTcb {
  bootloader: number;
  tee: number;
  snp: number;
  microcode: number;
  fmc?: number;
}

/** A locally generated ARK -> ASK -> VCEK chain (private keys included: simulation only). @public */
export interface SimulatedSnpChain {
  product: SnpProductLine;
  arkPem: string;
  askPem: string;
  vcekDer: Uint8Array;
  /** ASK then ARK, as KDS serves `cert_chain`. */
  certChainPem: string;
  chipId: Uint8Array;
  tcb: SimulatedTcb;
  /** The trust anchor that makes the verifier accept this chain (insecure). */
  trustAnchor: SnpTrustAnchor;
  /** A CRL signed by the simulated ARK revoking the given serial numbers (hex). */
  signCrl(revokedSerials: string[], options?: { thisUpdate?: Date; nextUpdate?: Date }): Uint8Array;
  /** Signs 0x4A0 report bytes in place (bytes 0x2A0.. get the signature) with the VCEK. */
  signReport(report: Uint8Array): Uint8Array;
}

const CPUID: Record<SnpProductLine, [number, number, number]> = {
  Milan: [0x19, 0x01, 0x01],
  Genoa: [0x19, 0x11, 0x01],
  Turin: [0x1a, 0x02, 0x01],
};

const DEFAULT_TCB: Record<SnpProductLine, SimulatedTcb> = {
  Milan: { bootloader: 4, tee: 0, snp: 24, microcode: 219 },
  Genoa: { bootloader: 10, tee: 0, snp: 23, microcode: 84 },
  Turin: { bootloader: 1, tee: 0, snp: 2, microcode: 71, fmc: 0 },
};

function amdName(cn: string): Uint8Array {
  return x509Name([
    ['OU', 'Engineering'],
    ['C', 'US'],
    ['L', 'Santa Clara'],
    ['ST', 'CA'],
    ['O', 'Contrast SEV-SNP Simulator (insecure)'],
    ['CN', cn],
  ]);
}

/**
 * Generates a simulated chain for a product (default Genoa). RSA-4096 key generation takes a
 * moment: create one chain and reuse it.
 * @public
 */
export async function createSimulatedSnpChain(
  options: {
    product?: SnpProductLine;
    tcb?: SimulatedTcb;
    chipId?: Uint8Array;
    now?: Date;
    /**
     * Fixed private keys (ARK/ASK RSA-4096, VCEK P-384), e.g. so a simulator platform's guest and
     * verifier agree on one root; fresh keys when absent.
     */
    keys?: { ark?: KeyObject; ask?: KeyObject; vcek?: KeyObject };
  } = {},
): Promise<SimulatedSnpChain> {
  const product = options.product ?? 'Genoa';
  const tcb = options.tcb ?? DEFAULT_TCB[product];
  const hwIdLength = product === 'Turin' ? 8 : 64;
  const chipId = new Uint8Array(64);
  chipId.set((options.chipId ?? new Uint8Array(randomBytes(hwIdLength))).subarray(0, hwIdLength));
  const now = options.now ?? new Date();
  const day = 86_400_000;
  const pair = async (
    given: KeyObject | undefined,
    make: () => Promise<{ publicKey: KeyObject; privateKey: KeyObject }>,
  ) => (given ? { privateKey: given, publicKey: createPublicKey(given) } : make());
  const [ark, ask, vcek] = await Promise.all([
    pair(options.keys?.ark, () => generateKeyPairAsync('rsa', { modulusLength: 4096 })),
    pair(options.keys?.ask, () => generateKeyPairAsync('rsa', { modulusLength: 4096 })),
    pair(options.keys?.vcek, () => generateKeyPairAsync('ec', { namedCurve: 'P-384' })),
  ]);
  const arkSigner: Signer = { key: ark.privateKey, algorithm: 'rsa-pss-sha384' };
  const askSigner: Signer = { key: ask.privateKey, algorithm: 'rsa-pss-sha384' };
  const arkName = amdName(`ARK-${product}`);
  const askName = amdName(`SEV-${product}`);
  const long = {
    notBefore: new Date(now.getTime() - day),
    notAfter: new Date(now.getTime() + 25 * 365 * day),
  };
  const arkDer = buildCertificate({
    serial: 0x10000,
    issuer: arkName,
    subject: arkName,
    ...long,
    publicKey: ark.publicKey,
    extensions: [CA_EXTENSION],
    signer: arkSigner,
  });
  const askDer = buildCertificate({
    serial: 0x10001,
    issuer: arkName,
    subject: askName,
    ...long,
    publicKey: ask.publicKey,
    extensions: [CA_EXTENSION],
    signer: arkSigner,
  });
  const spl = (n: number | undefined) => derUnsignedBigInt(n ?? 0);
  const vcekDer = buildCertificate({
    serial: BigInt(`0x${randomBytes(8).toString('hex')}`) | 1n,
    issuer: askName,
    subject: amdName('SEV-VCEK'),
    notBefore: new Date(now.getTime() - day),
    notAfter: new Date(now.getTime() + 7 * 365 * day),
    publicKey: vcek.publicKey,
    extensions: [
      { oid: AMD_OID.structVersion, value: derUnsignedBigInt(product === 'Turin' ? 1 : 0) },
      {
        oid: AMD_OID.productName,
        value: derAscii(DER_IA5_STRING, product === 'Milan' ? 'Milan-B0' : product),
      },
      ...(product === 'Turin' ? [{ oid: AMD_OID.fmcSpl, value: spl(tcb.fmc) }] : []),
      { oid: AMD_OID.blSpl, value: spl(tcb.bootloader) },
      { oid: AMD_OID.teeSpl, value: spl(tcb.tee) },
      { oid: AMD_OID.snpSpl, value: spl(tcb.snp) },
      { oid: AMD_OID.ucodeSpl, value: spl(tcb.microcode) },
      { oid: AMD_OID.hwId, value: chipId.slice(0, hwIdLength) },
    ],
    signer: askSigner,
  });
  const arkPem = pem(arkDer);
  const askPem = pem(askDer);
  const trustAnchor = createSnpTrustAnchor({ product, ark: arkPem, ask: askPem });
  const vcekKey: KeyObject = vcek.privateKey;
  return {
    product,
    arkPem,
    askPem,
    vcekDer,
    certChainPem: askPem + arkPem,
    chipId,
    tcb,
    trustAnchor,
    signCrl(revokedSerials, o = {}) {
      const thisUpdate = o.thisUpdate ?? new Date(now.getTime() - day);
      return buildCrl({
        issuer: arkName,
        thisUpdate,
        nextUpdate: o.nextUpdate ?? new Date(thisUpdate.getTime() + 30 * day),
        revoked: revokedSerials.map((s) => ({
          serial: fromHex(s.length % 2 ? `0${s}` : s),
          date: thisUpdate,
        })),
        signer: arkSigner,
      });
    },
    signReport(report) {
      if (report.length !== SNP_REPORT_SIZE) throw new RangeError(`report must be ${SNP_REPORT_SIZE} bytes`);
      const sig = sign('sha384', report.subarray(0, SNP_SIGNED_LENGTH), {
        key: vcekKey,
        dsaEncoding: 'ieee-p1363',
      });
      report.fill(0, SNP_SIGNED_LENGTH);
      for (let i = 0; i < 48; i++) {
        report[O.signatureR + i] = sig[47 - i]!;
        report[O.signatureS + i] = sig[95 - i]!;
      }
      return report;
    },
  };
}

/** What the simulated guest looks like. @public */
export interface SimulatedSnpOptions {
  product?: SnpProductLine;
  /** 48 bytes; default SHA-384("contrast-cc simulated launch measurement"). */
  measurement?: Uint8Array;
  /** 32 bytes (the initdata digest); default zero. */
  hostData?: Uint8Array;
  /** Guest policy; default 0x30000 (SMT allowed, reserved bit 17). */
  policy?: bigint;
  /** Platform info; default 0x1 (SMT enabled). */
  platformInfo?: bigint;
  vmpl?: number;
  tcb?: SimulatedTcb;
  chipId?: Uint8Array;
  /** Reuse a chain (RSA-4096 generation is slow). */
  chain?: SimulatedSnpChain;
}

/** The simulated issuer plus what a verifier needs to trust it. @public */
export interface SimulatedSnpIssuer extends Issuer {
  readonly kind: typeof SNP_EVIDENCE_KIND;
  readonly chain: SimulatedSnpChain;
  readonly trustAnchor: SnpTrustAnchor;
  /** The raw report (no extras), for tests. */
  report(reportData: Uint8Array): Uint8Array;
}

/**
 * Creates an issuer of simulated SNP evidence: `issue(reportData)` returns a v3 report with the
 * VCEK (`extras.vcek`, DER) and ASK+ARK (`extras['cert-chain']`, PEM).
 * @public
 */
export async function createSimulatedSnpIssuer(
  options: SimulatedSnpOptions = {},
): Promise<SimulatedSnpIssuer> {
  const chain =
    options.chain ??
    (await createSimulatedSnpChain({
      ...(options.product ? { product: options.product } : {}),
      ...(options.tcb ? { tcb: options.tcb } : {}),
      ...(options.chipId ? { chipId: options.chipId } : {}),
    }));
  const product = chain.product;
  const measurement =
    options.measurement ??
    new Uint8Array(createHash('sha384').update('contrast-cc simulated launch measurement').digest());
  const hostData = options.hostData ?? new Uint8Array(32);
  if (measurement.length !== 48) throw new RangeError('measurement must be 48 bytes');
  if (hostData.length !== 32) throw new RangeError('hostData must be 32 bytes');
  const tcb = encodeTcb(chain.tcb, product);
  const build = (reportData: Uint8Array): Uint8Array => {
    if (reportData.length !== REPORT_DATA_LENGTH) {
      throw new RangeError(`report data must be ${REPORT_DATA_LENGTH} bytes, got ${reportData.length}`);
    }
    const r = new Uint8Array(SNP_REPORT_SIZE);
    const v = new DataView(r.buffer);
    v.setUint32(O.version, 3, true);
    v.setBigUint64(O.policy, options.policy ?? 0x30000n, true);
    v.setUint32(O.vmpl, options.vmpl ?? 0, true);
    v.setUint32(O.signatureAlgo, 1, true);
    v.setBigUint64(O.currentTcb, tcb, true);
    v.setBigUint64(O.platformInfo, options.platformInfo ?? 0x1n, true);
    v.setUint32(O.keyInfo, 0, true);
    r.set(reportData, O.reportData);
    r.set(measurement, O.measurement);
    r.set(hostData, O.hostData);
    r.set(randomBytes(32), O.reportId);
    r.fill(0xff, O.reportIdMa, O.reportIdMa + 32);
    v.setBigUint64(O.reportedTcb, tcb, true);
    const [fam, mod, step] = CPUID[product];
    r[O.cpuidFamId] = fam;
    r[O.cpuidModId] = mod;
    r[O.cpuidStep] = step;
    r.set(chain.chipId, O.chipId);
    v.setBigUint64(O.committedTcb, tcb, true);
    r[O.currentMajor] = 1;
    r[O.currentMinor] = 55;
    r[O.currentBuild] = 0;
    r[O.committedMajor] = 1;
    r[O.committedMinor] = 55;
    r[O.committedBuild] = 0;
    v.setBigUint64(O.launchTcb, tcb, true);
    return chain.signReport(r);
  };
  return {
    kind: SNP_EVIDENCE_KIND,
    chain,
    trustAnchor: chain.trustAnchor,
    report: build,
    async issue(reportData: Uint8Array): Promise<Evidence> {
      return {
        kind: SNP_EVIDENCE_KIND,
        data: build(reportData),
        extras: {
          vcek: chain.vcekDer,
          'cert-chain': new TextEncoder().encode(chain.certChainPem),
        },
      };
    },
  };
}

/** The serial number (hex) of a DER certificate, e.g. to revoke it in a simulated CRL. @public */
export function certificateSerial(derOrPem: Uint8Array | string): string {
  return loadCertificates(derOrPem)[0]!.serialNumber;
}
