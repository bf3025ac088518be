import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadCertificates } from '../common/x509.js';
import { verifySignedBy } from '../common/x509-node.js';
import { hasShared, sharedPath } from '../testing/shared-dir.js';
import { AMD_ROOTS } from './roots.js';
import { amdTrustAnchors } from './verify-node.js';

// SHA-256 over the DER of AMD's published certificates (KDS cert_chain).
const FINGERPRINTS = {
  Milan: {
    ark: '69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd',
    ask: '67d303bd3905fd38db8b20e0793699870e7fa612eaad5dec358293fd8c0bac1b',
    asvk: 'c5e081f59b7efab1fe2f8b505e159704e72f29cab7ef7cf628a05a42439082f5',
  },
  Genoa: {
    ark: '4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1',
    ask: '5464738c1546aed5f2cecf1dc98c5c960a92e8913238a61711bc90ec6e828521',
    asvk: '197e610743a917d6b9bb982a5a9226ccc0a15b611be0619e626aca9151457372',
  },
  Turin: {
    ark: '1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a',
    ask: '5b77ef5fe7a7a004fd9032668fba9d0fda22f88c4442069a479636a6ae3b3185',
    asvk: '104e10a8bd060a3c20a434261a57d0588fd65a88915b4f65b08bdecaf8df1a3c',
  },
} as const;

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('embedded AMD roots', () => {
  for (const product of ['Milan', 'Genoa', 'Turin'] as const) {
    it(`${product}: ARK/ASK/ASVK have AMD's fingerprints and chain correctly`, () => {
      const roots = AMD_ROOTS[product];
      const [ark] = loadCertificates(roots.ark);
      const [ask] = loadCertificates(roots.ask);
      const [asvk] = loadCertificates(roots.asvk);
      expect(sha256(ark!.der)).toBe(FINGERPRINTS[product].ark);
      expect(sha256(ask!.der)).toBe(FINGERPRINTS[product].ask);
      expect(sha256(asvk!.der)).toBe(FINGERPRINTS[product].asvk);
      expect(ark!.subjectCommonName).toBe(`ARK-${product}`);
      expect(ask!.subjectCommonName).toBe(`SEV-${product}`);
      expect(asvk!.subjectCommonName).toBe(`SEV-VLEK-${product}`);
      expect(verifySignedBy(ark!, ark!)).toBe(true);
      expect(verifySignedBy(ask!, ark!)).toBe(true);
      expect(verifySignedBy(asvk!, ark!)).toBe(true);
    });
  }

  it('the default anchors are AMD (secure) and products do not cross-sign', () => {
    const anchors = amdTrustAnchors();
    expect(anchors.map((a) => [a.product, a.insecure])).toEqual([
      ['Milan', false],
      ['Genoa', false],
      ['Turin', false],
    ]);
    expect(verifySignedBy(anchors[0]!.ask!, anchors[1]!.ark)).toBe(false);
  });

  it.skipIf(!hasShared('testvectors/amd-roots'))('equal the bytes in amd-roots/', () => {
    for (const product of ['Milan', 'Genoa', 'Turin'] as const) {
      const p = product.toLowerCase();
      const vcek = loadCertificates(
        readFileSync(sharedPath(`testvectors/amd-roots/${p}_vcek_cert_chain.pem`)),
      );
      const vlek = loadCertificates(
        readFileSync(sharedPath(`testvectors/amd-roots/${p}_vlek_cert_chain.pem`)),
      );
      expect(sha256(vcek[0]!.der)).toBe(FINGERPRINTS[product].ask);
      expect(sha256(vcek[1]!.der)).toBe(FINGERPRINTS[product].ark);
      expect(sha256(vlek[0]!.der)).toBe(FINGERPRINTS[product].asvk);
    }
  });
});
