// Offline and composite sources of SNP certificates (next to KDS in ./kds.ts).
//
// An offline collateral directory is flat, so that a Kubernetes ConfigMap (binaryData) mounted as
// a volume can hold it:
//   snp-<Product>-cert_chain.pem        ASK + ARK (KDS /vcek/v1/<Product>/cert_chain)
//   snp-<Product>-vlek-cert_chain.pem   ASVK + ARK (KDS /vlek/v1/<Product>/cert_chain)
//   snp-<Product>-crl.der               the product's CRL (KDS /vcek/v1/<Product>/crl)
//   snp-<Product>-vlek-crl.der          the VLEK CRL (KDS /vlek/v1/<Product>/crl)
//   snp-vcek-<anything>.der|.pem        VCEKs; the one whose hwID and SPLs match the report is used
// <Product> is Milan, Genoa or Turin.

import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ContrastError, isContrastError } from '@contrast-cc/core';
import { loadCertificates } from '../common/x509.js';
import { parseSnpKeyExtensions } from './certs.js';
import type { SnpCollateral, SnpCollateralSource } from './kds.js';
import { decodeTcb, type SnpProductLine, type SnpReport } from './report.js';

/** File names of the offline SNP collateral directory. @public */
export const SNP_COLLATERAL_FILES = {
  certChain: (product: SnpProductLine, key: 'vcek' | 'vlek' = 'vcek') =>
    `snp-${product}${key === 'vlek' ? '-vlek' : ''}-cert_chain.pem`,
  crl: (product: SnpProductLine, key: 'vcek' | 'vlek' = 'vcek') =>
    `snp-${product}${key === 'vlek' ? '-vlek' : ''}-crl.der`,
  vcekPrefix: 'snp-vcek-',
} as const;

function productOf(report: SnpReport, product: SnpProductLine | undefined): SnpProductLine {
  const p = product ?? report.product;
  if (!p) {
    throw new ContrastError(
      'invalid-argument',
      'the product line is unknown (v2 report): pass it explicitly',
      {
        field: 'product',
      },
    );
  }
  return p;
}

/**
 * SNP collateral read from an offline directory (air-gapped clusters; e.g. a ConfigMap mounted
 * into the Coordinator). Missing files throw `not-found` naming the file.
 * @public
 */
export class SnpCollateralDirectory implements SnpCollateralSource {
  constructor(readonly dir: string) {}

  get description(): string {
    return `collateral directory ${this.dir}`;
  }

  private async read(name: string): Promise<Uint8Array> {
    const file = path.join(this.dir, name);
    try {
      return new Uint8Array(await readFile(file));
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      throw new ContrastError(
        code === 'ENOENT' ? 'not-found' : 'io-error',
        `${file}: ${code === 'ENOENT' ? 'no such file' : (code ?? String(cause))}`,
        { file, cause },
      );
    }
  }

  async collateralFor(report: SnpReport, options: { product?: SnpProductLine } = {}): Promise<SnpCollateral> {
    if (report.signingKey !== 'vcek') {
      throw new ContrastError('not-found', 'only VCEKs are looked up; a VLEK must come with the evidence', {
        field: 'signing_key',
      });
    }
    const product = productOf(report, options.product);
    const tcb = product === report.product ? report.reportedTcb : decodeTcb(report.reportedTcbRaw, product);
    const hwid = product === 'Turin' ? report.chipId.subarray(0, 8) : report.chipId;
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => n.startsWith(SNP_COLLATERAL_FILES.vcekPrefix)).sort();
    } catch (cause) {
      throw new ContrastError('not-found', `${this.dir}: cannot list the directory`, {
        file: this.dir,
        cause,
      });
    }
    let vcek: Uint8Array | undefined;
    for (const name of names) {
      const bytes = await this.read(name);
      try {
        const [cert] = loadCertificates(bytes, name);
        if (!cert) continue;
        const ext = parseSnpKeyExtensions(cert);
        const matches =
          ext.productName.startsWith(product) &&
          ext.hwId !== undefined &&
          Buffer.from(ext.hwId).equals(Buffer.from(hwid)) &&
          ext.blSpl === tcb.bootloader &&
          ext.teeSpl === tcb.tee &&
          ext.snpSpl === tcb.snp &&
          ext.ucodeSpl === tcb.microcode &&
          (product !== 'Turin' || ext.fmcSpl === tcb.fmc);
        if (matches) {
          vcek = bytes;
          break;
        }
      } catch (e) {
        if (!isContrastError(e)) throw e;
        // Not a VCEK we can read: skip it (the directory may hold other files).
      }
    }
    if (!vcek) {
      throw new ContrastError(
        'not-found',
        `${this.dir} holds no ${SNP_COLLATERAL_FILES.vcekPrefix}* VCEK for this chip at its reported TCB`,
        { file: this.dir },
      );
    }
    const certChain = new TextDecoder().decode(await this.read(SNP_COLLATERAL_FILES.certChain(product)));
    return { vcek, certChain };
  }

  getCrl(product: SnpProductLine, key: 'vcek' | 'vlek' = 'vcek'): Promise<Uint8Array> {
    return this.read(SNP_COLLATERAL_FILES.crl(product, key));
  }
}

/**
 * Tries each source in order (e.g. the offline directory, then THIM, then KDS) and returns the
 * first answer; when all fail, the error names every source's failure.
 * @public
 */
export function firstSnpCollateral(sources: readonly SnpCollateralSource[]): SnpCollateralSource {
  if (sources.length === 1) return sources[0]!;
  const attempt = async <T>(run: (s: SnpCollateralSource) => Promise<T>): Promise<T> => {
    const problems: string[] = [];
    for (const s of sources) {
      try {
        return await run(s);
      } catch (e) {
        problems.push(`${s.description}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    throw new ContrastError('unavailable', problems.join('; '));
  };
  return {
    description: sources.map((s) => s.description).join(', then '),
    collateralFor: (report, options) => attempt((s) => s.collateralFor(report, options)),
    getCrl: (product, key) => attempt((s) => s.getCrl(product, key)),
  };
}
