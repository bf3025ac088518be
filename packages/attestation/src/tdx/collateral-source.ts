// Offline and composite sources of TDX collateral (next to Intel PCS / a PCCS in ./pcs.ts).
//
// The offline collateral directory is flat (a ConfigMap mounted as a volume can hold it); the
// files are the PCS response bodies and issuer-chain headers:
//   tdx-tcb_info-<FMSPC>.json            /tdx/certification/v4/tcb?fmspc=<FMSPC> (body)
//   tdx-tcb_info_issuer_chain.pem        its TCB-Info-Issuer-Chain header (URL-decoded)
//   tdx-qe_identity.json                 /tdx/certification/v4/qe/identity
//   tdx-qe_identity_issuer_chain.pem     its SGX-Enclave-Identity-Issuer-Chain header
//   tdx-pck_crl-platform.der             /sgx/certification/v4/pckcrl?ca=platform&encoding=der
//   tdx-pck_crl-processor.der            ... ca=processor
//   tdx-pck_crl_issuer_chain.pem         its SGX-PCK-CRL-Issuer-Chain header (optional)
//   tdx-root_ca_crl.der                  /sgx/certification/v4/rootcacrl
// <FMSPC> is 12 hex digits, upper case as PCS writes it (lower case is accepted too).

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ContrastError } from '@contrast-cc/core';
import type { TdxCollateral } from './collateral.js';
import type { CollateralRequest } from './verifier.js';

/** A source of TDX collateral for one platform (FMSPC, PCK CA). @public */
export interface TdxCollateralSource {
  (request: CollateralRequest): Promise<TdxCollateral>;
  /** A description for logs and errors (base URL or directory). */
  description?: string;
}

/** File names of the offline TDX collateral directory. @public */
export const TDX_COLLATERAL_FILES = {
  tcbInfo: (fmspc: string) => `tdx-tcb_info-${fmspc.toUpperCase()}.json`,
  tcbInfoIssuerChain: 'tdx-tcb_info_issuer_chain.pem',
  qeIdentity: 'tdx-qe_identity.json',
  qeIdentityIssuerChain: 'tdx-qe_identity_issuer_chain.pem',
  pckCrl: (ca: 'platform' | 'processor') => `tdx-pck_crl-${ca}.der`,
  pckCrlIssuerChain: 'tdx-pck_crl_issuer_chain.pem',
  rootCaCrl: 'tdx-root_ca_crl.der',
} as const;

/**
 * TDX collateral read from an offline directory (air-gapped clusters). A missing required file
 * throws `not-found` naming it; the PCK CRL issuer chain is optional (the verifier checks the CRL
 * against the quote's own PCK CA).
 * @public
 */
export function tdxCollateralDirectory(dir: string): TdxCollateralSource {
  const read = async (names: string[], required: boolean): Promise<Uint8Array | undefined> => {
    for (const name of names) {
      const file = path.join(dir, name);
      try {
        return new Uint8Array(await readFile(file));
      } catch (cause) {
        const code = (cause as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT') {
          throw new ContrastError('io-error', `${file}: ${code ?? String(cause)}`, { file, cause });
        }
      }
    }
    if (!required) return undefined;
    const file = path.join(dir, names[0]!);
    throw new ContrastError('not-found', `${file}: no such file`, { file });
  };
  const source: TdxCollateralSource = async (request) => {
    const f = TDX_COLLATERAL_FILES;
    const [
      tcbInfo,
      tcbInfoIssuerChain,
      qeIdentity,
      qeIdentityIssuerChain,
      pckCrl,
      pckCrlIssuerChain,
      rootCaCrl,
    ] = await Promise.all([
      read([f.tcbInfo(request.fmspc), `tdx-tcb_info-${request.fmspc.toLowerCase()}.json`], true),
      read([f.tcbInfoIssuerChain], true),
      read([f.qeIdentity], true),
      read([f.qeIdentityIssuerChain], true),
      read([f.pckCrl(request.ca)], true),
      read([f.pckCrlIssuerChain], false),
      read([f.rootCaCrl], true),
    ]);
    return {
      tcbInfo: tcbInfo!,
      tcbInfoIssuerChain: tcbInfoIssuerChain!,
      qeIdentity: qeIdentity!,
      qeIdentityIssuerChain: qeIdentityIssuerChain!,
      pckCrl: pckCrl!,
      ...(pckCrlIssuerChain ? { pckCrlIssuerChain } : {}),
      rootCaCrl: rootCaCrl!,
    };
  };
  source.description = `collateral directory ${dir}`;
  return source;
}

/**
 * Tries each source in order (e.g. the offline directory, then PCS) and returns the first
 * answer; when all fail, the error names every source's failure.
 * @public
 */
export function firstTdxCollateral(sources: readonly TdxCollateralSource[]): TdxCollateralSource {
  if (sources.length === 1) return sources[0]!;
  const source: TdxCollateralSource = async (request) => {
    const problems: string[] = [];
    for (const s of sources) {
      try {
        return await s(request);
      } catch (e) {
        problems.push(`${s.description ?? 'source'}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    throw new ContrastError('unavailable', problems.join('; '));
  };
  source.description = sources.map((s) => s.description ?? 'source').join(', then ');
  return source;
}

/** The PCS (or PCCS) client as a collateral source. @public */
export function pcsCollateralSource(client: {
  baseUrl: string;
  getCollateral(request: CollateralRequest): Promise<TdxCollateral>;
}): TdxCollateralSource {
  const source: TdxCollateralSource = (request) => client.getCollateral(request);
  source.description = `PCS ${client.baseUrl}`;
  return source;
}
