// Strictness checks on bytes the signatures do not cover. They belong in the attestation
// package's verifiers; until they are there, the simulator applies them so that every flipped
// byte of its evidence is refused (the conformance suite demands it).

import { parseTdxQuote } from '@contrast-cc/attestation/tdx';
import { isContrastError, type VerifyResult, verifyFail } from '@contrast-cc/core';

const SNP_SIGNATURE_RESERVED = { start: 0x330, end: 0x4a0 } as const;

/** Non-zero reserved bytes after R and S in an SNP report's signature field. */
export function snpUnsignedTailProblem(data: Uint8Array): VerifyResult | undefined {
  if (data.length !== SNP_SIGNATURE_RESERVED.end) return undefined;
  for (let i = SNP_SIGNATURE_RESERVED.start; i < SNP_SIGNATURE_RESERVED.end; i++) {
    if (data[i] !== 0) {
      return verifyFail(
        'malformed',
        `reserved byte 0x${i.toString(16)} of the signature field is not zero`,
        'signature',
      );
    }
  }
  return undefined;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+?)-----END CERTIFICATE-----/g;

/** Padding after a TDX quote, or a PCK chain that is not exactly three well-formed certificates. */
export function tdxStrictnessProblem(data: Uint8Array): VerifyResult | undefined {
  let quote: ReturnType<typeof parseTdxQuote>;
  try {
    quote = parseTdxQuote(data);
  } catch (e) {
    if (!isContrastError(e)) throw e;
    return undefined; // the verifier reports it
  }
  if (quote.trailingBytes > 0) {
    return verifyFail('malformed', `${quote.trailingBytes} bytes follow the quote's signature data`, 'quote');
  }
  const pem = quote.signatureData.pckChainPem;
  let count = 0;
  for (const m of pem.matchAll(PEM_BLOCK)) {
    const b64 = m[1]!.replace(/\r?\n/g, '');
    if (Buffer.from(b64, 'base64').toString('base64') !== b64) {
      return verifyFail(
        'malformed',
        `PCK chain certificate ${count} is not canonical base64`,
        'pck_cert_chain',
      );
    }
    count++;
  }
  if (!/^[\r\n]*\0?$/.test(pem.replace(PEM_BLOCK, '')) || count !== 3) {
    return verifyFail(
      'malformed',
      'the PCK chain must be exactly three PEM certificates (PCK, PCK CA, root)',
      'pck_cert_chain',
    );
  }
  return undefined;
}
