// The verified-chain cache of verifySnpReport is keyed by the exact certificate bytes: a caller that
// reuses and mutates its buffers must never get an answer built from other bytes.
import { generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SnpTrustAnchor } from './certs.js';
import { createSimulatedSnpChain, createSimulatedSnpIssuer, type SimulatedSnpIssuer } from './simulator.js';
import { verifySnpReport } from './verify-node.js';

let issuer: SimulatedSnpIssuer;
/** One array for every call: the cache is per trust-anchor array (as a verifier holds it). */
let trustAnchors: SnpTrustAnchor[];
const reportData = new Uint8Array(64).fill(3);

beforeAll(async () => {
  const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const chain = await createSimulatedSnpChain({ product: 'Genoa', keys: { ark: rsa(), ask: rsa() } });
  issuer = await createSimulatedSnpIssuer({ chain });
  trustAnchors = [issuer.trustAnchor];
}, 60_000);

const outcome = (r: ReturnType<typeof verifySnpReport>) =>
  r.ok ? 'accepted' : `${r.reason.code} ${r.reason.field ?? ''}`.trim();

function verify(vcek: Uint8Array | string, certChain: Uint8Array | string) {
  return verifySnpReport(issuer.report(reportData), {
    vcek,
    certChain,
    trustAnchors,
    reportData,
  });
}

/** The offset of the first content byte of the certificate's serial number (DER, v3, long lengths). */
function serialOffset(der: Uint8Array): number {
  // 30 82 LL LL | 30 82 LL LL | a0 03 02 01 02 | 02 <len> <serial...>
  expect([der[0], der[1], der[4], der[5], der[8], der[13]]).toEqual([0x30, 0x82, 0x30, 0x82, 0xa0, 0x02]);
  return 15;
}

describe('SNP chain cache', () => {
  it('a VCEK buffer changed in place after an accepted verification is verified again, not served from the cache', () => {
    const vcek = new Uint8Array(issuer.chain.vcekDer);
    const certChain = new TextEncoder().encode(issuer.chain.certChainPem);
    expect(outcome(verify(vcek, certChain))).toBe('accepted');
    expect(outcome(verify(vcek, certChain))).toBe('accepted');
    // One bit of the serial: same length, same signature (so the same short cache key), other TBS.
    const at = serialOffset(vcek);
    vcek[at] = vcek[at]! ^ 0x01;
    expect(outcome(verify(vcek, certChain))).toBe('chain-invalid vcek');
    expect(outcome(verify(vcek, certChain))).toBe('chain-invalid vcek');
    // Restored: accepted again (a refusal is not stuck to the buffer either).
    vcek[at] = vcek[at]! ^ 0x01;
    expect(outcome(verify(vcek, certChain))).toBe('accepted');
    // Equal bytes in another buffer (as every request decodes its own) are accepted.
    expect(outcome(verify(new Uint8Array(vcek), new Uint8Array(certChain)))).toBe('accepted');
  });

  it('a supplied ASK/ARK buffer changed in place after an accepted verification is refused', () => {
    const vcek = new Uint8Array(issuer.chain.vcekDer);
    const certChain = new TextEncoder().encode(issuer.chain.certChainPem);
    expect(outcome(verify(vcek, certChain))).toBe('accepted');
    // A base64 character in the middle of the ASK (its key or signature), same length.
    const text = issuer.chain.certChainPem;
    const askEnd = text.indexOf('-----END CERTIFICATE-----');
    let at = Math.floor(askEnd / 2);
    while (!/[A-Za-z]/.test(text[at]!)) at++;
    const original = certChain[at]!;
    certChain[at] = original === 0x41 ? 0x42 : 0x41; // 'A' <-> 'B'
    expect(outcome(verify(vcek, certChain))).toBe('chain-invalid cert-chain');
    certChain[at] = original;
    expect(outcome(verify(vcek, certChain))).toBe('accepted');
  });

  it('a PEM string and its bytes are both accepted; a mutated byte view of the same buffer is refused', () => {
    const pem = issuer.chain.certChainPem;
    expect(outcome(verify(issuer.chain.vcekDer, pem))).toBe('accepted');
    // The VCEK as a view inside a larger buffer (byteOffset != 0), changed after acceptance.
    const backing = new Uint8Array(issuer.chain.vcekDer.length + 16);
    backing.set(issuer.chain.vcekDer, 8);
    const view = backing.subarray(8, 8 + issuer.chain.vcekDer.length);
    expect(outcome(verify(view, pem))).toBe('accepted');
    backing[8 + serialOffset(view)]! ^= 0x01;
    expect(outcome(verify(view, pem))).toBe('chain-invalid vcek');
  });
});
