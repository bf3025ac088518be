import { execFileSync, spawnSync } from 'node:child_process';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spkiOfCertificate } from './der.js';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
if (!hasOpenssl) console.warn('skipping spkiOfCertificate cross-checks: no openssl binary on PATH');

const dir = mkdtempSync(path.join(tmpdir(), 'api-der-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A self-signed DER certificate made by openssl (an independent encoder). */
function opensslCertificate(name: string, keyArgs: string[]): Uint8Array {
  const out = path.join(dir, `${name}.der`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      ...keyArgs,
      '-nodes',
      '-subj',
      `/CN=${name}`,
      '-days',
      '1',
      '-keyout',
      path.join(dir, `${name}.key`),
      '-outform',
      'DER',
      '-out',
      out,
    ],
    { stdio: 'ignore' },
  );
  return new Uint8Array(readFileSync(out));
}

describe.skipIf(!hasOpenssl)('spkiOfCertificate', () => {
  const certs = hasOpenssl
    ? [
        opensslCertificate('p256', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']),
        opensslCertificate('p384', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384']),
        opensslCertificate('rsa', ['-newkey', 'rsa:2048']),
      ]
    : [];

  it('returns the SPKI exactly as node reads it, for P-256, P-384 and RSA certificates', () => {
    for (const der of certs) {
      const expected = new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' });
      const ours = spkiOfCertificate(der);
      expect(Buffer.from(ours).equals(expected)).toBe(true);
      expect(createPublicKey({ key: Buffer.from(ours), format: 'der', type: 'spki' }).type).toBe('public');
    }
  });

  it('refuses truncated input, wrong tags and lengths beyond the input, naming the field', () => {
    const der = certs[0]!;
    const broken = [
      new Uint8Array(),
      der.subarray(0, 40),
      Uint8Array.from(der, (b, i) => (i === 0 ? 0x31 : b)),
      Uint8Array.from(der, (b, i) => (i === 1 ? 0x85 : b)),
      new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]),
    ];
    for (const b of broken) {
      expect(() => spkiOfCertificate(b)).toThrow(expect.objectContaining({ field: 'certificate' }));
    }
  });
});
