import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCrl } from '../common/x509.js';
import { parseSnpReport } from './report.js';
import {
  certificateSerial,
  createSimulatedSnpChain,
  createSimulatedSnpIssuer,
  type SimulatedSnpChain,
  type SimulatedSnpIssuer,
} from './simulator.js';
import { amdTrustAnchors, verifySnpReport } from './verify-node.js';

let chain: SimulatedSnpChain;
let issuer: SimulatedSnpIssuer;
const reportData = new Uint8Array(64).fill(7);

beforeAll(async () => {
  chain = await createSimulatedSnpChain({ product: 'Genoa' });
  issuer = await createSimulatedSnpIssuer({ chain, hostData: new Uint8Array(32).fill(0xab) });
}, 120_000);

const verifyEvidence = (data: Uint8Array, extra: Parameters<typeof verifySnpReport>[1] = {}) =>
  verifySnpReport(data, {
    vcek: chain.vcekDer,
    certChain: chain.certChainPem,
    trustAnchors: [chain.trustAnchor],
    ...extra,
  });

describe('simulated SNP issuer', () => {
  it('produces a real v3 report the verifier accepts when told to trust the local root; claims are insecure', async () => {
    const ev = await issuer.issue(reportData);
    expect(ev.kind).toBe('snp-report');
    const parsed = parseSnpReport(ev.data);
    expect(parsed.version).toBe(3);
    expect(parsed.product).toBe('Genoa');
    const r = verifySnpReport(ev.data, {
      vcek: ev.extras!.vcek!,
      certChain: ev.extras!['cert-chain']!,
      trustAnchors: [chain.trustAnchor],
      reportData,
      referenceValues: { ProductName: 'Genoa', HostData: ['ab'.repeat(32)], MinimumTCB: { SNPVersion: 23 } },
    });
    if (!r.ok) throw new Error(r.reason.message);
    expect(r.claims.insecure).toBe(true);
    expect(r.claims.policyDigest).toBe('ab'.repeat(32));
  });

  it('is rejected against the default AMD roots', async () => {
    const r = verifySnpReport(issuer.report(reportData), { vcek: chain.vcekDer });
    expect(r).toMatchObject({ ok: false, reason: { code: 'chain-invalid' } });
    const r2 = verifySnpReport(issuer.report(reportData), {
      vcek: chain.vcekDer,
      trustAnchors: amdTrustAnchors(),
      certChain: chain.certChainPem,
    });
    expect(r2).toMatchObject({ ok: false, reason: { code: 'chain-invalid', field: 'cert-chain' } });
  });

  it('the simulated chain passes openssl verify (independent checker)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'snp-sim-'));
    try {
      writeFileSync(path.join(dir, 'ark.pem'), chain.arkPem);
      writeFileSync(path.join(dir, 'ask.pem'), chain.askPem);
      writeFileSync(path.join(dir, 'vcek.der'), chain.vcekDer);
      execFileSync('openssl', ['x509', '-inform', 'der', '-in', 'vcek.der', '-out', 'vcek.pem'], {
        cwd: dir,
      });
      const out = execFileSync(
        'openssl',
        ['verify', '-CAfile', 'ark.pem', '-untrusted', 'ask.pem', 'vcek.pem'],
        {
          cwd: dir,
          encoding: 'utf8',
        },
      );
      expect(out).toContain('vcek.pem: OK');
      // And openssl reads the CRL we sign, with the revoked serial.
      writeFileSync(path.join(dir, 'crl.der'), chain.signCrl([certificateSerial(chain.vcekDer)]));
      const crlText = execFileSync(
        'openssl',
        ['crl', '-inform', 'der', '-in', 'crl.der', '-noout', '-text', '-CAfile', 'ark.pem'],
        {
          cwd: dir,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      expect(crlText.replace(/\s/g, '')).toContain(`SerialNumber:${certificateSerial(chain.vcekDer)}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a VCEK revoked in a CRL signed by the ARK: revoked', () => {
    const serial = certificateSerial(chain.vcekDer);
    const crl = chain.signCrl([serial]);
    expect(parseCrl(crl).revoked.has(serial)).toBe(true);
    const r = verifyEvidence(issuer.report(reportData), { crl });
    expect(r).toMatchObject({ ok: false, reason: { code: 'revoked', field: 'vcek' } });
    const askRevoked = verifyEvidence(issuer.report(reportData), {
      crl: chain.signCrl([certificateSerial(chain.askPem)]),
    });
    expect(askRevoked).toMatchObject({ ok: false, reason: { code: 'revoked', field: 'ask' } });
    const clean = verifyEvidence(issuer.report(reportData), { crl: chain.signCrl(['0123']) });
    expect(clean.ok && clean.claims.details.revocation).toBe('checked');
  });

  it('a CRL that is expired, tampered or from another root: collateral-invalid; missing but required: collateral-missing', async () => {
    const expired = chain.signCrl([], {
      thisUpdate: new Date('2020-01-01T00:00:00Z'),
      nextUpdate: new Date('2020-02-01T00:00:00Z'),
    });
    expect(verifyEvidence(issuer.report(reportData), { crl: expired })).toMatchObject({
      ok: false,
      reason: { code: 'collateral-invalid', field: 'crl' },
    });
    const tampered = chain.signCrl(['0123']);
    tampered[tampered.length - 5]! ^= 1;
    expect(verifyEvidence(issuer.report(reportData), { crl: tampered })).toMatchObject({
      ok: false,
      reason: { code: 'collateral-invalid', field: 'crl' },
    });
    const other = await createSimulatedSnpChain({ product: 'Genoa' });
    expect(verifyEvidence(issuer.report(reportData), { crl: other.signCrl([]) })).toMatchObject({
      ok: false,
      reason: { code: 'collateral-invalid', field: 'crl' },
    });
    expect(verifyEvidence(issuer.report(reportData), { requireCrl: true })).toMatchObject({
      ok: false,
      reason: { code: 'collateral-missing', field: 'crl' },
    });
  }, 120_000);

  it('binding checks: a chip or TCB that does not match the VCEK is chain-invalid even when signed', () => {
    const r = issuer.report(reportData);
    r[0x1a0]! ^= 0xff; // CHIP_ID
    expect(verifyEvidence(chain.signReport(r))).toMatchObject({
      ok: false,
      reason: { code: 'chain-invalid', field: 'vcek.hwID' },
    });
    const t = issuer.report(reportData);
    t[0x180 + 6]! += 1; // REPORTED_TCB.snp (Genoa layout)
    expect(verifyEvidence(chain.signReport(t))).toMatchObject({
      ok: false,
      reason: { code: 'chain-invalid', field: 'vcek.snpSPL' },
    });
    const c = issuer.report(reportData);
    c[0x189] = 0x01; // CPUID model of a Milan, VCEK of a Genoa
    expect(verifyEvidence(chain.signReport(c))).toMatchObject({
      ok: false,
      reason: { code: 'chain-invalid', field: 'product' },
    });
  });

  it('Turin: the simulator uses the Turin TCB layout and 8-byte hwID', async () => {
    const turin = await createSimulatedSnpIssuer({ product: 'Turin' });
    const r = verifySnpReport(turin.report(reportData), {
      vcek: turin.chain.vcekDer,
      trustAnchors: [turin.trustAnchor],
    });
    if (!r.ok) throw new Error(r.reason.message);
    expect(r.claims.details.product).toBe('Turin');
    const p = parseSnpReport(turin.report(reportData));
    expect(p.reportedTcb).toMatchObject({ fmc: 0, bootloader: 1, tee: 0, snp: 2, microcode: 71 });
    expect(p.chipId.subarray(8).every((b) => b === 0)).toBe(true);
  }, 120_000);
});

describe('simulated chain with fixed keys', () => {
  it('two chains from the same ARK key trust each other (a platform can embed its simulator root)', async () => {
    const ark = await createSimulatedSnpChain({ product: 'Genoa' });
    const { generateKeyPairSync } = await import('node:crypto');
    const arkKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const a = await createSimulatedSnpChain({ product: 'Genoa', keys: { ark: arkKey, ask: arkKey } });
    const b = await createSimulatedSnpIssuer({
      chain: await createSimulatedSnpChain({ product: 'Genoa', keys: { ark: arkKey, ask: arkKey } }),
    });
    const r = verifySnpReport(b.report(new Uint8Array(64)), {
      vcek: b.chain.vcekDer,
      trustAnchors: [a.trustAnchor],
    });
    expect(r.ok).toBe(true);
    const other = verifySnpReport(b.report(new Uint8Array(64)), {
      vcek: b.chain.vcekDer,
      trustAnchors: [ark.trustAnchor],
    });
    expect(other).toMatchObject({ ok: false, reason: { code: 'chain-invalid' } });
  }, 120_000);
});
