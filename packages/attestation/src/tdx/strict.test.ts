// The quote format rules that no signature enforces: the evidence is the quote exactly, the
// declared sizes nest exactly, and the PCK chain is exactly three certificates in strict PEM form.
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { concatBytes } from '@contrast-cc/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveVectors, tdxVectorsDir, vectorFile, vectorQuote } from '../testing/tdx-vectors.js';
import { verifyTdxQuoteFile } from './cli.js';
import type { TdxCollateral } from './collateral.js';
import { loadCollateralDir } from './collateral-dir.js';
import { parseTdxQuote } from './quote.js';
import { createSimulatedTdxIssuer } from './simulator.js';
import { rebuildQuote } from './test-support/rebuild.js';
import { createTdxVerifier } from './verifier.js';
import { verifyTdxQuote } from './verify-node.js';

const V = 'dcapqvl-v4-uptodate';
const AT = new Date('2025-07-19T10:00:34Z');

const reasonOf = (r: ReturnType<typeof verifyTdxQuote>) => (r.ok ? 'accepted' : r.reason);

describe.skipIf(!haveVectors)(`strict quote format (${V})`, () => {
  let padded: Uint8Array;
  let quote: Uint8Array;
  let collateral: TdxCollateral;
  let chainPem: string;
  let tmp: string;
  beforeAll(async () => {
    padded = vectorFile(V, 'quote.bin');
    quote = vectorQuote(V);
    collateral = await loadCollateralDir(path.join(tdxVectorsDir, V));
    chainPem = parseTdxQuote(quote).signatureData.pckChainPem;
    tmp = await mkdtemp(path.join(tmpdir(), 'tdx-strict-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });
  const verify = (q: Uint8Array) => reasonOf(verifyTdxQuote(q, { now: AT, collateral }));
  /** The PCK chain text with `edit` applied, NUL-terminated as the vector carries it. */
  const withPem = (edit: (pem: string) => string) => rebuildQuote(quote, { chain: `${edit(chainPem)}\0` });

  it('the vector as evidence: accepted exactly, and rebuilding it changes nothing', () => {
    expect(rebuildQuote(quote)).toEqual(quote);
    expect(verify(quote)).toBe('accepted');
  });

  it('every single flipped bit (XOR 0x01) of every byte of the quote is refused', () => {
    const codes = new Map<string, number>();
    for (let at = 0; at < quote.length; at++) {
      const q = quote.slice();
      q[at] = q[at]! ^ 0x01;
      const r = verifyTdxQuote(q, { now: AT, collateral });
      expect(r.ok, `byte ${at} flipped was accepted`).toBe(false);
      if (!r.ok) codes.set(r.reason.code, (codes.get(r.reason.code) ?? 0) + 1);
    }
    // The PEM text is unsigned: its flips are refused as malformed (or break the certificates).
    expect(codes.get('malformed')).toBeGreaterThan(100);
  }, 180_000); // ~5,000 full verifications: seconds alone, much longer on a loaded 2-core machine

  describe('trailing bytes after the declared signature data', () => {
    it('verifyTdxQuote refuses them by default, naming the field, and ignores them when allowed', () => {
      expect(padded.length - quote.length).toBe(70);
      expect(verify(padded)).toEqual({
        code: 'malformed',
        field: 'quote',
        message: "70 bytes follow the quote's declared signature data; evidence must be the quote exactly",
      });
      expect(verify(concatBytes(quote, Uint8Array.of(0)))).toMatchObject({
        code: 'malformed',
        field: 'quote',
      });
      const allowed = verifyTdxQuote(padded, { now: AT, collateral, allowTrailingBytes: true });
      expect(allowed.ok ? allowed.claims.details.tcbStatus : allowed.reason).toBe('UpToDate');
      // A pre-parsed quote is held to the same rule.
      expect(reasonOf(verifyTdxQuote(parseTdxQuote(padded), { now: AT, collateral }))).toMatchObject({
        code: 'malformed',
        field: 'quote',
      });
    });

    it('createTdxVerifier refuses them before fetching collateral, unless allowTrailingBytes', async () => {
      let fetches = 0;
      const source = async () => {
        fetches++;
        return collateral;
      };
      const reportData = parseTdxQuote(quote).body.reportData;
      const strict = createTdxVerifier({ collateral: source, requireCollateral: true });
      const r = await strict.verify({ kind: 'tdx-quote', data: padded }, { reportData, now: AT });
      expect(r.ok ? 'accepted' : r.reason).toMatchObject({ code: 'malformed', field: 'quote' });
      expect(fetches).toBe(0);
      expect((await strict.verify({ kind: 'tdx-quote', data: quote }, { reportData, now: AT })).ok).toBe(
        true,
      );
      const lenient = createTdxVerifier({
        collateral: source,
        requireCollateral: true,
        allowTrailingBytes: true,
      });
      expect((await lenient.verify({ kind: 'tdx-quote', data: padded }, { reportData, now: AT })).ok).toBe(
        true,
      );
    });

    it('the file entry point (contrast evidence verify) accepts a padded capture and says what it ignored', async () => {
      const file = path.join(tmp, 'padded.bin');
      writeFileSync(file, padded);
      const out = await verifyTdxQuoteFile({
        quoteFile: file,
        collateralDir: path.join(tdxVectorsDir, V),
        at: AT.toISOString(),
      });
      expect(out.exitCode).toBe(0);
      expect(out.json['ignoredTrailingBytes']).toBe(70);
      expect(out.summary).toContain('Ignored 70 bytes after the quote');
      const exact = path.join(tmp, 'exact.bin');
      writeFileSync(exact, quote);
      const plain = await verifyTdxQuoteFile({ quoteFile: exact, at: AT.toISOString() });
      expect(plain.exitCode).toBe(0);
      expect(plain.json).not.toHaveProperty('ignoredTrailingBytes');
      expect(plain.summary).not.toContain('Ignored');
    });
  });

  it('declared sizes nest exactly: bytes left inside a declared size are malformed', () => {
    const extra = Uint8Array.of(0);
    expect(verify(rebuildQuote(quote, { afterChain: extra }))).toMatchObject({
      code: 'malformed',
      field: 'certification_data.size',
    });
    expect(verify(rebuildQuote(quote, { afterCertificationData: extra }))).toMatchObject({
      code: 'malformed',
      field: 'signature_data_len',
    });
    // A signature data length one byte longer, swallowing one byte of padding: not the quote.
    const longer = padded.slice();
    const at = parseTdxQuote(padded).signedBytes.length;
    new DataView(longer.buffer).setUint32(at, new DataView(longer.buffer).getUint32(at, true) + 1, true);
    expect(reasonOf(verifyTdxQuote(longer, { now: AT, collateral, allowTrailingBytes: true }))).toMatchObject(
      {
        code: 'malformed',
        field: 'signature_data_len',
      },
    );
  });

  describe('the PCK chain: exactly three certificates in strict PEM form', () => {
    const third = (pem: string) =>
      pem.indexOf('-----BEGIN', pem.indexOf('-----BEGIN', pem.indexOf('-----BEGIN') + 1) + 1);

    it('a corrupted BEGIN or END line of the root block is refused, never dropped', () => {
      for (const at of [0, 5, 11, 26]) {
        const r = verify(
          withPem(
            (p) =>
              `${p.slice(0, third(p) + at)}${String.fromCharCode(p.charCodeAt(third(p) + at) ^ 1)}${p.slice(third(p) + at + 1)}`,
          ),
        );
        expect(r, `BEGIN line byte ${at}`).toMatchObject({ code: 'malformed' });
        expect((r as { field: string }).field).toMatch(/^pck_cert_chain/);
      }
      const end = chainPem.lastIndexOf('-----END');
      const r = verify(withPem((p) => `${p.slice(0, end + 9)}c${p.slice(end + 10)}`));
      expect(r).toMatchObject({ code: 'malformed', field: 'pck_cert_chain[2]' });
    });

    it('whitespace other than the line breaks of the strict form is refused', () => {
      const firstBreak = chainPem.indexOf('\n', chainPem.indexOf('\n') + 1);
      const cases: [string, (p: string) => string][] = [
        ['a vertical tab for a line break', (p) => `${p.slice(0, firstBreak)}\v${p.slice(firstBreak + 1)}`],
        [
          'a blank line between blocks',
          (p) => p.replace('-----END CERTIFICATE-----\n', '-----END CERTIFICATE-----\n\n'),
        ],
        ['a space at a line end', (p) => `${p.slice(0, firstBreak)} ${p.slice(firstBreak)}`],
        [
          'a line break inside a base64 line',
          (p) => `${p.slice(0, firstBreak + 10)}\n${p.slice(firstBreak + 10)}`,
        ],
        ['a CR in one line only', (p) => `${p.slice(0, firstBreak)}\r${p.slice(firstBreak)}`],
        ['no final line break', (p) => p.slice(0, -1)],
        ['text before the chain', (p) => `PCK chain\n${p}`],
      ];
      for (const [name, edit] of cases) {
        expect(verify(withPem(edit)), name).toMatchObject({ code: 'malformed' });
      }
    });

    it('one NUL terminator or none is the form; another NUL or a NUL turned line break is refused', () => {
      expect(verify(rebuildQuote(quote, { chain: chainPem }))).toBe('accepted');
      expect(verify(rebuildQuote(quote, { chain: `${chainPem}\0\0` }))).toMatchObject({
        code: 'malformed',
        field: 'pck_cert_chain',
      });
      expect(verify(rebuildQuote(quote, { chain: `${chainPem}\n` }))).toMatchObject({
        code: 'malformed',
        field: 'pck_cert_chain',
      });
    });

    it('CRLF line breaks throughout are the strict form too', () => {
      expect(verify(withPem((p) => p.replaceAll('\n', '\r\n')))).toBe('accepted');
    });

    it('base64 that is not canonical (a padding bit set) is refused although it decodes alike', () => {
      // Find a certificate whose base64 ends in "=" or "==": the last data character has unused
      // low bits; setting one decodes to the same DER with Node's lenient decoder.
      const blocks = [
        ...chainPem.matchAll(/-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=\n]+?)\n-----END CERTIFICATE-----/g),
      ];
      const padded = blocks.find((m) => m[1]!.endsWith('='));
      const sim = padded ? undefined : 'no padded block in this vector';
      expect(sim).toBeUndefined();
      const m = padded!;
      const body = m[1]!;
      const lastData = body.replace(/=+$/, '').length - 1;
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
      const changed = `${body.slice(0, lastData)}${alphabet[alphabet.indexOf(body[lastData]!) ^ 1]}${body.slice(lastData + 1)}`;
      expect(Buffer.from(changed.replaceAll('\n', ''), 'base64')).toEqual(
        Buffer.from(body.replaceAll('\n', ''), 'base64'),
      );
      const r = verify(withPem((p) => p.replace(body, changed)));
      expect(r).toMatchObject({ code: 'malformed' });
      expect((r as { message: string }).message).toContain('not canonical base64');
    });

    it('two or four certificates, or a block of another label, are refused', () => {
      const blocks = chainPem.match(/-----BEGIN CERTIFICATE-----\n[\s\S]+?-----END CERTIFICATE-----\n/g)!;
      expect(blocks).toHaveLength(3);
      const two = rebuildQuote(quote, { chain: blocks.slice(0, 2).join('') });
      expect(verify(two)).toEqual({
        code: 'malformed',
        field: 'pck_cert_chain',
        message: 'the PCK chain holds 2 certificates, expected 3 (PCK, PCK CA, root)',
      });
      const four = rebuildQuote(quote, { chain: [...blocks, blocks[2]!].join('') });
      expect(verify(four)).toMatchObject({ code: 'malformed', field: 'pck_cert_chain' });
      const key = rebuildQuote(quote, {
        chain: `${blocks.join('')}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n`,
      });
      expect(verify(key)).toMatchObject({ code: 'malformed', field: 'pck_cert_chain[3]' });
    });
  });
});

describe('strict quote format (simulated quotes)', () => {
  it('simulated quotes are in the strict form: accepted, and a changed chain line break is refused', async () => {
    const sim = await createSimulatedTdxIssuer();
    const rd = new Uint8Array(64).fill(7);
    const q = sim.quote(rd);
    const ok = verifyTdxQuote(q, { trustAnchors: sim.trustAnchors, reportData: rd });
    expect(ok.ok ? 'accepted' : ok.reason).toBe('accepted');
    const parsed = parseTdxQuote(q);
    expect(parsed.trailingBytes).toBe(0);
    const bad = rebuildQuote(q, { chain: parsed.signatureData.pckChainPem.replace('\n', '\r\n') });
    const r = verifyTdxQuote(bad, { trustAnchors: sim.trustAnchors, reportData: rd });
    expect(reasonOf(r)).toMatchObject({ code: 'malformed', field: 'pck_cert_chain' });
  });
});
