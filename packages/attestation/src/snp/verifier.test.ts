import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isContrastError } from '@contrast-cc/core';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { hasSnpVectors, snpVectors } from '../testing/snp-vectors.js';
import { parseSnpReport, SNP_REPORT_SIZE } from './report.js';
import { createSnpVerifier, verifySnpEvidenceFiles } from './verifier.js';
import { verifySnpReport } from './verify-node.js';

const vectors = snpVectors();
const byName = (name: string) => vectors.find((v) => v.name === name)!;
const tmp = mkdtempSync(path.join(tmpdir(), 'snp-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!hasSnpVectors)('verifySnpEvidenceFiles (contrast evidence verify --snp-report)', () => {
  it('exit 0 with hex claims for a valid vector; the JSON is serializable', async () => {
    const v = byName('oak-turin-v5-vcek');
    const out = await verifySnpEvidenceFiles({
      reportFile: path.join(v.dir, 'report.bin'),
      certFile: path.join(v.dir, 'vcek.der'),
      certChainFile: path.join(v.dir, 'cert_chain.pem'),
      at: '2025-10-01T08:00:00Z',
    });
    expect(out.exitCode).toBe(0);
    const json = JSON.parse(JSON.stringify(out.json));
    expect(json).toMatchObject({
      ok: true,
      kind: 'snp',
      claims: { measurement: v.expected.report.measurement, product: 'Turin' },
    });
    expect(out.summary).toContain('SNP report VALID');
    expect(out.summary).toContain('fmc 0');
  });

  it('accepts a PEM bundle VCEK+ASK+ARK as --cert', async () => {
    const v = byName('azure-milan-v2-hcl');
    const out = await verifySnpEvidenceFiles({
      reportFile: path.join(v.dir, 'report.bin'),
      certFile: path.join(v.dir, 'vcek_ask_ark.pem'),
      at: '2024-01-01T00:00:00Z',
    });
    expect(out.exitCode).toBe(0);
  });

  it('exit 1 for a rejected report (expired VLEK at 2026-11-27)', async () => {
    const v = byName('trustee-milan-v3-vlek-aws');
    const out = await verifySnpEvidenceFiles({
      reportFile: path.join(v.dir, 'report.bin'),
      certFile: path.join(v.dir, 'vlek.der'),
      at: '2026-11-27T00:00:00Z',
    });
    expect(out.exitCode).toBe(1);
    expect(out.json).toMatchObject({ ok: false, reason: { code: 'certificate-expired' } });
  });

  it('exit 2 for unreadable, truncated, oversized or unparseable input and a bad --at', async () => {
    const v = byName('gsg-milan-v2-vcek');
    const truncated = path.join(tmp, 'truncated.bin');
    writeFileSync(truncated, v.report!.subarray(0, 1000));
    const oversized = path.join(tmp, 'oversized.bin');
    writeFileSync(oversized, new Uint8Array([...v.report!, 0]));
    const badVersion = path.join(tmp, 'v9.bin');
    const b = v.report!.slice();
    b[0] = 9;
    writeFileSync(badVersion, b);
    const reserved = path.join(tmp, 'reserved.bin');
    const rb = v.report!.slice();
    rb[0x400] = 0x01;
    writeFileSync(reserved, rb);
    const garbageCert = path.join(tmp, 'garbage.pem');
    writeFileSync(garbageCert, 'not a certificate');
    const cert = path.join(v.dir, 'vcek.der');
    const cases: [Parameters<typeof verifySnpEvidenceFiles>[0], string][] = [
      [{ reportFile: path.join(tmp, 'missing.bin'), certFile: cert }, 'snp-report'],
      [{ reportFile: truncated, certFile: cert }, 'report'],
      [{ reportFile: oversized, certFile: cert }, 'report'],
      [{ reportFile: badVersion, certFile: cert }, 'version'],
      [{ reportFile: reserved, certFile: cert }, 'signature'],
      [{ reportFile: path.join(v.dir, 'report.bin'), certFile: garbageCert }, 'vcek'],
      [{ reportFile: path.join(v.dir, 'report.bin'), certFile: path.join(tmp, 'nope.der') }, 'cert'],
      [{ reportFile: path.join(v.dir, 'report.bin'), certFile: cert, at: 'yesterday' }, 'at'],
    ];
    for (const [input, field] of cases) {
      const out = await verifySnpEvidenceFiles(input);
      expect(out.exitCode, JSON.stringify(input)).toBe(2);
      expect(out.json, JSON.stringify(input)).toMatchObject({ ok: false, reason: { field } });
      expect(out.summary).toContain('bad input');
    }
  });
});

describe.skipIf(!hasSnpVectors)('createSnpVerifier (evidence kind snp-report)', () => {
  it('accepts a real report and refuses it with a non-zero reserved signature byte (malformed)', async () => {
    const v = byName('oak-genoa-v5-vcek');
    const verifier = createSnpVerifier({ now: () => v.verifyAt });
    const evidence = {
      kind: 'snp-report',
      data: v.report!,
      extras: { vcek: v.leaf, 'cert-chain': v.certChain },
    };
    const reportData = parseSnpReport(v.report!).reportData;
    expect((await verifier.verify(evidence, { reportData })).ok).toBe(true);
    for (const at of [0x330, 0x3e8, 0x49f]) {
      const data = v.report!.slice();
      data[at] = 0x01;
      expect(await verifier.verify({ ...evidence, data }, { reportData })).toMatchObject({
        ok: false,
        reason: { code: 'malformed', field: 'signature' },
      });
    }
  });
});

describe('fuzz: random, truncated and oversized input never escapes as an exception', () => {
  const vcek = hasSnpVectors ? byName('gsg-milan-v2-vcek') : undefined;

  it('parseSnpReport throws only ContrastError with a field', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 2 * SNP_REPORT_SIZE }), (bytes) => {
        try {
          parseSnpReport(bytes);
        } catch (e) {
          expect(isContrastError(e)).toBe(true);
          expect((e as { field?: string }).field).toBeTruthy();
        }
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: SNP_REPORT_SIZE, maxLength: SNP_REPORT_SIZE }),
        fc.integer({ min: 2, max: 5 }),
        (bytes, version) => {
          bytes[0] = version;
          bytes[1] = bytes[2] = bytes[3] = 0;
          bytes[0x30] = bytes[0x30]! & 3;
          bytes.fill(0, 0x31, 0x34);
          const r = parseSnpReport(bytes);
          expect(r.version).toBe(version);
          expect(() => JSON.stringify(r, (_, x) => (typeof x === 'bigint' ? x.toString() : x))).not.toThrow();
        },
      ),
      { numRuns: 200 },
    );
  });

  it.skipIf(!vcek)(
    'the CLI entry point maps random files to exit 2 (or 1 when a 1184-byte blob parses)',
    async () => {
      const v = vcek!;
      const file = path.join(tmp, 'fuzz.bin');
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.uint8Array({ minLength: 0, maxLength: 2500 }),
            fc.integer({ min: 0, max: 2 * SNP_REPORT_SIZE }).map((n) => {
              const b = new Uint8Array(n);
              b.set(v.report!.subarray(0, Math.min(n, SNP_REPORT_SIZE)));
              return b;
            }),
          ),
          async (bytes) => {
            writeFileSync(file, bytes);
            const out = await verifySnpEvidenceFiles({
              reportFile: file,
              certFile: path.join(v.dir, 'vcek.der'),
            });
            if (bytes.length !== SNP_REPORT_SIZE) expect(out.exitCode).toBe(2);
            else expect([0, 1, 2]).toContain(out.exitCode);
            const json = JSON.parse(JSON.stringify(out.json));
            if (!json.ok)
              expect(json.reason).toMatchObject({ code: expect.any(String), message: expect.any(String) });
          },
        ),
        { numRuns: 60 },
      );
    },
  );

  it.skipIf(!vcek)(
    'verifySnpReport returns a failure (never throws) for random reports, certs and mutations',
    () => {
      const v = vcek!;
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 0, maxLength: 1500 }),
          fc.uint8Array({ maxLength: 300 }),
          (report, cert) => {
            const a = verifySnpReport(report, { vcek: v.leaf, now: v.verifyAt });
            const b = verifySnpReport(v.report!, { vcek: cert, now: v.verifyAt });
            const c = verifySnpReport(report.length === SNP_REPORT_SIZE ? report : v.report!.slice(), {
              vcek: cert,
            });
            expect(a.ok || b.ok || c.ok).toBe(false);
          },
        ),
        { numRuns: 200 },
      );
      fc.assert(
        fc.property(
          fc.array(
            fc.tuple(fc.integer({ min: 0, max: SNP_REPORT_SIZE - 1 }), fc.integer({ min: 1, max: 255 })),
            {
              minLength: 1,
              maxLength: 8,
            },
          ),
          (flips) => {
            const bad = v.report!.slice();
            for (const [i, x] of flips) bad[i]! ^= x;
            const changed = bad.some((b, i) => b !== v.report![i]);
            const r = verifySnpReport(bad, { vcek: v.leaf, certChain: v.certChain, now: v.verifyAt });
            // Bytes after the signature fields (reserved) are not signed; anything else must fail.
            const signedOrSig = flips.some(([i]) => i < 0x2a0 + 72 || (i >= 0x2e8 && i < 0x2e8 + 72));
            if (changed && signedOrSig) expect(r.ok).toBe(false);
          },
        ),
        { numRuns: 300 },
      );
    },
  );
});
