import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCertificates, parseCrl } from '../common/x509.js';
import { verifySignedBy, verifyWithAlgorithm } from '../common/x509-node.js';
import { hasShared, sharedPath } from '../testing/shared-dir.js';
import { parseQeIdentity, parseTcbInfo, splitSignedJson } from './collateral.js';
import { rawJsonMember } from './json-raw.js';
import { INTEL_SGX_ROOT_CA_PEM } from './roots.js';
import { ecdsaP256Ok } from './verify-node.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b ? new TextDecoder().decode(b) : undefined);

describe('rawJsonMember (exact signed bytes, never re-serialised)', () => {
  it('returns the value bytes as written, whitespace and escapes included', () => {
    const doc = enc('{ "a" : {"x":"}\\"{", "y": [1, {"z":"]"}]} ,"signature":"ab" }');
    expect(dec(rawJsonMember(doc, 'a', 'f'))).toBe('{"x":"}\\"{", "y": [1, {"z":"]"}]}');
    expect(dec(rawJsonMember(doc, 'signature', 'f'))).toBe('"ab"');
    expect(rawJsonMember(doc, 'missing', 'f')).toBeUndefined();
    const multi = enc('{"k":"é€😀","v":{"é":1}}');
    expect(dec(rawJsonMember(multi, 'v', 'f'))).toBe('{"é":1}');
  });
  it('refuses what is not a JSON object, naming the field', () => {
    // '{"\u0000":1}' as raw bytes: a control character in a member name (found by tools/fuzz).
    for (const bad of ['[1]', '{"a":{', '{"a" 1}', '{"a":"x}', '', '{"\u0000b":1}', '{"\\q":1}']) {
      expect(() => rawJsonMember(enc(bad), 'a', 'tcb_info')).toThrowError(
        expect.objectContaining({ code: 'invalid-argument', field: 'tcb_info' }),
      );
    }
  });
});

const SGX = 'testvectors/sgx/dcapqvl-sgx-v3';
describe.skipIf(!hasShared(SGX))(
  'collateral code on the SGX vector (another signer chain, Processor CA CRL)',
  () => {
    const file = (f: string) => new Uint8Array(readFileSync(path.join(sharedPath(SGX), f)));
    const root = loadCertificates(INTEL_SGX_ROOT_CA_PEM)[0]!;

    it('verifies SGX TCB info and QE identity signatures over the exact bytes and parses them', () => {
      for (const [name, member] of [
        ['tcb_info', 'tcbInfo'],
        ['qe_identity', 'enclaveIdentity'],
      ] as const) {
        const [signer, chainRoot] = loadCertificates(file(`${name}_issuer_chain.pem`));
        expect(verifySignedBy(signer!, root)).toBe(true);
        expect(Buffer.compare(chainRoot!.der, root.der)).toBe(0);
        const doc = splitSignedJson(file(`${name}.json`), member, name);
        expect(ecdsaP256Ok(signer!.publicKey, doc.signed, doc.signature)).toBe(true);
        const flipped = Uint8Array.from(doc.signed);
        flipped[10] = flipped[10]! ^ 1;
        expect(ecdsaP256Ok(signer!.publicKey, flipped, doc.signature)).toBe(false);
      }
      const info = parseTcbInfo(splitSignedJson(file('tcb_info.json'), 'tcbInfo', 'tcb_info').value);
      expect(info).toMatchObject({ id: 'SGX', version: 3, tcbEvaluationDataNumber: 17 });
      expect(info.tcbLevels[0]).toMatchObject({
        pceSvn: 13,
        tcbStatus: 'SWHardeningNeeded',
        advisoryIds: ['INTEL-SA-00615'],
      });
      expect(info.tcbLevels[0]!.tdxComponents).toBeUndefined();
      const qe = parseQeIdentity(
        splitSignedJson(file('qe_identity.json'), 'enclaveIdentity', 'qe_identity').value,
      );
      expect(qe).toMatchObject({ id: 'QE', version: 2, isvProdId: 1 });
    });

    it('verifies the Processor CA PCK CRL and the root CA CRL signatures', () => {
      const [processorCa] = loadCertificates(file('pck_crl_issuer_chain.pem'));
      expect(processorCa!.subjectCommonName).toBe('Intel SGX PCK Processor CA');
      const pck = parseCrl(file('pck_crl.der'));
      expect(
        verifyWithAlgorithm(pck.signatureAlgorithm, pck.tbs, pck.signature, processorCa!.publicKey),
      ).toBe(true);
      const rootCrl = parseCrl(file('root_ca_crl.der'));
      expect(
        verifyWithAlgorithm(rootCrl.signatureAlgorithm, rootCrl.tbs, rootCrl.signature, root.publicKey),
      ).toBe(true);
    });

    it('names the field of malformed TCB info', () => {
      const value = JSON.parse(dec(file('tcb_info.json'))!).tcbInfo;
      value.tcbLevels[0].tcb.sgxtcbcomponents.pop();
      expect(() => parseTcbInfo(value)).toThrowError(
        expect.objectContaining({ field: 'tcbInfo.tcbLevels[0].tcb.sgxtcbcomponents' }),
      );
      expect(() => parseTcbInfo({ ...value, version: 2 })).toThrowError(
        expect.objectContaining({ field: 'tcbInfo.version' }),
      );
      expect(() => parseTcbInfo({ ...value, nextUpdate: 'soon' })).toThrowError(
        expect.objectContaining({ field: 'tcbInfo.nextUpdate' }),
      );
    });
  },
);
