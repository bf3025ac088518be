// Test-only: re-encodes a quote with parts replaced, lengths recomputed (the signed header and
// body stay as they are).
import { concatBytes } from '@contrast-cc/core';
import { parseTdxQuote } from '../quote.js';

function le16(v: number) {
  return Uint8Array.of(v & 0xff, v >> 8);
}
function le32(v: number) {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

export interface QuoteChanges {
  /** The PCK chain bytes (text is UTF-8 encoded); default the quote's own, NUL-terminated as captured. */
  chain?: string | Uint8Array;
  /** Bytes inside the certification data after the PCK chain (its declared size covers them). */
  afterChain?: Uint8Array;
  /** Bytes inside the signature data after the certification data (signature_data_len covers them). */
  afterCertificationData?: Uint8Array;
}

/** The quote re-encoded with the given changes. */
export function rebuildQuote(quote: Uint8Array, changes: QuoteChanges = {}): Uint8Array {
  const q = parseTdxQuote(quote);
  const sd = q.signatureData;
  const own = concatBytes(new TextEncoder().encode(sd.pckChainPem), Uint8Array.of(0));
  const chain =
    changes.chain === undefined
      ? own
      : typeof changes.chain === 'string'
        ? new TextEncoder().encode(changes.chain)
        : changes.chain;
  const cert = concatBytes(
    sd.qeReport.raw,
    sd.qeReportSignature,
    le16(sd.qeAuthData.length),
    sd.qeAuthData,
    le16(5),
    le32(chain.length),
    chain,
    changes.afterChain ?? new Uint8Array(),
  );
  const sig = concatBytes(
    sd.signature,
    sd.attestationKey,
    le16(6),
    le32(cert.length),
    cert,
    changes.afterCertificationData ?? new Uint8Array(),
  );
  return concatBytes(q.signedBytes, le32(sig.length), sig);
}
