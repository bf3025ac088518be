import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { haveVectors, intelRootsDir } from '../testing/tdx-vectors.js';
import { INTEL_SGX_ROOT_CA_PEM, INTEL_SGX_ROOT_CA_SHA256 } from './roots.js';
import { intelTrustAnchors } from './verify.js';

describe('embedded Intel SGX Root CA', () => {
  const cert = new X509Certificate(INTEL_SGX_ROOT_CA_PEM);
  it('has the published SHA-256 fingerprint', () => {
    expect(createHash('sha256').update(cert.raw).digest('hex')).toBe(INTEL_SGX_ROOT_CA_SHA256);
    expect(INTEL_SGX_ROOT_CA_SHA256).toBe('44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3');
    expect(cert.subject).toContain('CN=Intel SGX Root CA');
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(intelTrustAnchors().intel).toBe(true);
  });
  it.skipIf(!haveVectors)('equals the DER in ../shared/testvectors/intel-roots', () => {
    const der = readFileSync(path.join(intelRootsDir, 'Intel_SGX_Root_CA.der'));
    expect(Buffer.from(cert.raw).equals(der)).toBe(true);
  });
});
