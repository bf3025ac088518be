// The verifier page in real headless Chromium (Debian's `chromium`, driven by playwright-core):
// live Simulated-SNP and Simulated-TDX Coordinators on loopback (VALID, the expected manifest
// hash), a Coordinator running another manifest and an evidence-tampering proxy (NOT VALID with
// the reason), and offline real evidence from ../shared/testvectors (the same verdicts as the
// functions `contrast evidence verify` runs). Screenshots go to .test-results/page/. One browser
// launch for the file.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CoordinatorClient,
  createEvidenceBundle,
  verifiersForReferenceValues,
  verifyCoordinator,
} from '@contrast-cc/api';
import { verifySnpEvidenceFiles } from '@contrast-cc/attestation/snp';
import { verifyTdxQuoteFile } from '@contrast-cc/attestation/tdx';
import { type RunningCoordinator, startCoordinator } from '@contrast-cc/authority/server';
import { deployment, ownerSignature } from '@contrast-cc/authority/testing';
import { createPlatformRegistry, fromHex, noopLogger, type Platform } from '@contrast-cc/core';
import {
  createSimulatedSnpPlatform,
  createSimulatedTdxPlatform,
  createSimulatorTrust,
  simulatedSnpReferenceValues,
  simulatedTdxReferenceValues,
} from '@contrast-cc/platform-simulator';
import { DirectoryHistoryStore } from '@contrast-cc/store';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain ESM build script without types
import { buildPage } from '../build.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');
const shared = process.env.CONTRAST_SHARED_DIR ?? path.resolve(repoRoot, '../shared');
const CHROMIUM = process.env.CONTRAST_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  process.emitWarning(
    `skipping the verifier page tests: no Chromium at ${CHROMIUM} (apt-get install chromium)`,
  );
}
const haveVectors = existsSync(path.join(shared, 'testvectors'));
if (!haveVectors) process.emitWarning('skipping the offline page tests: ../shared/testvectors not found');
const shots = path.join(here, '..', '.test-results', 'page');

interface LiveCoordinator {
  running: RunningCoordinator;
  store: DirectoryHistoryStore;
  url: string;
  manifest: Uint8Array;
  platform: Platform;
}

describe.skipIf(!haveChromium)('the verifier page in headless Chromium', () => {
  let root: string;
  let browser: Browser;
  let pageServer: Server;
  let pageUrl: string;
  let snp: LiveCoordinator;
  let tdx: LiveCoordinator;
  let simulatorRoots: string;
  const closers: (() => Promise<void>)[] = [];

  async function startLive(platform: Platform, rv: Record<string, unknown>, tee: 'snp' | 'tdx', tag: string) {
    const d = deployment(['web'], { tag });
    const manifestJson = { ...d.manifestJson, ReferenceValues: { [tee]: [rv] } };
    const manifest = new TextEncoder().encode(JSON.stringify(manifestJson, null, 2));
    const registry = createPlatformRegistry([platform]);
    const store = await DirectoryHistoryStore.open(mkdtempSync(path.join(root, 'store-')));
    const running = await startCoordinator({
      store,
      platforms: registry,
      issuer: platform.attestation.createIssuer!({
        logger: noopLogger,
        hostData: fromHex(d.hashes.coordinator!),
      }),
      allowInsecure: true,
      host: '127.0.0.1',
      port: 0,
      metricsPort: null,
    });
    closers.push(async () => {
      await running.close();
      await store.close();
    });
    const client = await CoordinatorClient.connect({
      host: '127.0.0.1',
      port: running.port,
      verifiers: verifiersForReferenceValues(registry, manifestJson.ReferenceValues as never),
      allowInsecure: true,
    });
    await client.setManifest({
      manifest,
      policies: d.policies,
      signature: ownerSignature(manifest, '0'.repeat(64)),
    });
    return { running, store, url: `https://127.0.0.1:${running.port}`, manifest, platform };
  }

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'contrast-verifier-web-'));
    mkdirSync(shots, { recursive: true });
    const trust = createSimulatorTrust({ dir: path.join(root, 'simulator') });
    snp = await startLive(createSimulatedSnpPlatform({ trust }), simulatedSnpReferenceValues(), 'snp', 'snp');
    tdx = await startLive(createSimulatedTdxPlatform({ trust }), simulatedTdxReferenceValues(), 'tdx', 'tdx');
    const snpDir = path.join(trust.dir, 'snp-roots');
    const tdxDir = path.join(trust.dir, 'tdx-roots');
    simulatorRoots = JSON.stringify({
      snp: readdirSync(snpDir).map((n) => JSON.parse(readFileSync(path.join(snpDir, n), 'utf8'))),
      tdx: readdirSync(tdxDir).map((n) => readFileSync(path.join(tdxDir, n), 'utf8')),
    });
    const { html } = (await buildPage()) as { html: string };
    pageServer = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(html);
    });
    await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
    pageUrl = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}/`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (pageServer ? pageServer.close(() => resolve()) : resolve()));
    for (const close of closers) await close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  /** A fresh page (the Coordinators' self-signed TLS certificates accepted, as a user would). */
  async function open(query = ''): Promise<{ page: Page; requests: string[] }> {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(`${r.method()} ${r.url()}`));
    await page.goto(`${pageUrl}${query}`);
    return { page, requests };
  }

  async function verdict(page: Page, shot: string) {
    await page.waitForFunction(() => {
      const v = document.getElementById('result')?.dataset.verdict;
      return v === 'valid' || v === 'not-valid';
    });
    await page.screenshot({ path: path.join(shots, `${shot}.png`), fullPage: true });
    return page.evaluate(() => {
      const r = document.getElementById('result')!;
      const row = (k: string) => r.querySelector(`tr[data-row="${k}"] td`)?.textContent ?? '';
      return {
        verdict: r.dataset.verdict,
        title: r.querySelector('h2')?.textContent ?? '',
        reason: r.querySelector('.reason')?.textContent ?? '',
        manifestHash: row('Manifest hash'),
        rootCa: row('Root CA SHA-256 fingerprint'),
        history: [...r.querySelectorAll('#history li')].map((li) => li.textContent),
      };
    });
  }

  async function live(page: Page, coordinator: string, manifest: Uint8Array | undefined) {
    await page.fill('#coordinator', coordinator);
    if (manifest) {
      await page.setInputFiles('#manifest', {
        name: 'manifest.json',
        mimeType: 'application/json',
        buffer: Buffer.from(manifest),
      });
    }
    await page.click('summary');
    await page.fill('#simulator', simulatorRoots);
    await page.check('#insecure');
    await page.click('#verify-live');
  }

  const sha256 = async (b: Uint8Array) =>
    Buffer.from(await crypto.subtle.digest('SHA-256', b as BufferSource)).toString('hex');

  it('Simulated-SNP Coordinator, manifest file: VALID with its manifest hash, history and root CA', async () => {
    const { page, requests } = await open();
    await live(page, snp.url, snp.manifest);
    const v = await verdict(page, 'snp-valid');
    expect(v.verdict, v.reason).toBe('valid');
    expect(v.title).toBe('VALID (SIMULATED PLATFORM: INSECURE)');
    expect(v.manifestHash).toBe(await sha256(snp.manifest));
    expect(v.history).toEqual([`0: ${await sha256(snp.manifest)}`]);
    const state = await snp.running.authority.state();
    const rootDer = Buffer.from((state.rootCaPem ?? '').replace(/-----[^-]+-----|\s/g, ''), 'base64');
    expect(v.rootCa).toBe(await sha256(rootDer));
    // The page made one request beyond loading itself: the attestation, to the Coordinator.
    expect(requests.filter((r) => !r.startsWith(`GET ${pageUrl}`))).toEqual([`POST ${snp.url}/v1/attest`]);
    await page.context().close();
  });

  it('Simulated-TDX Coordinator, manifest hash in the URL: VALID', async () => {
    const hash = await sha256(tdx.manifest);
    const { page } = await open(`?coordinator=${encodeURIComponent(tdx.url)}&manifest-hash=${hash}`);
    await live(page, tdx.url, undefined);
    const v = await verdict(page, 'tdx-valid');
    expect(v.verdict, v.reason).toBe('valid');
    expect(v.manifestHash).toBe(hash);
    await page.context().close();
  });

  it('a Coordinator that runs another manifest: NOT VALID, manifest-mismatch', async () => {
    // The manifest the user expects: the TDX Coordinator's, with one more seed-share owner.
    const expected = JSON.parse(new TextDecoder().decode(tdx.manifest)) as {
      SeedshareOwnerPubKeys: string[];
    };
    expected.SeedshareOwnerPubKeys = [...expected.SeedshareOwnerPubKeys, ...expected.SeedshareOwnerPubKeys];
    const { page } = await open();
    await live(page, tdx.url, new TextEncoder().encode(JSON.stringify(expected, null, 2)));
    const v = await verdict(page, 'other-manifest-not-valid');
    expect(v.verdict).toBe('not-valid');
    expect(v.reason).toMatch(/^manifest-mismatch \(manifest\): /);
    await page.context().close();
  });

  it('evidence tampered by a proxy in between: NOT VALID, the evidence signature', async () => {
    // The proxy forwards the attestation to the SNP Coordinator and flips one byte of the report.
    const proxy = createServer((req, res) => {
      if (req.method === 'OPTIONS') {
        res.writeHead(204, {
          'access-control-allow-origin': '*',
          'access-control-allow-methods': 'POST',
          'access-control-allow-headers': 'content-type',
        });
        res.end();
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const up = httpsRequest(
          `${snp.url}/v1/attest`,
          { method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json' } },
          (upRes) => {
            const body: Buffer[] = [];
            upRes.on('data', (c: Buffer) => body.push(c));
            upRes.on('end', () => {
              const answer = JSON.parse(Buffer.concat(body).toString('utf8'));
              const report = Buffer.from(answer.evidence.data, 'base64');
              report[0x90]! ^= 0x01;
              answer.evidence.data = report.toString('base64');
              res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
              res.end(JSON.stringify(answer));
            });
          },
        );
        up.end(Buffer.concat(chunks));
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const { page } = await open();
      await live(page, `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, snp.manifest);
      const v = await verdict(page, 'tampered-not-valid');
      expect(v.verdict).toBe('not-valid');
      expect(v.reason).toMatch(/^evidence-rejected \(evidence\.signature\): .*signature does not verify/);
      await page.context().close();
    } finally {
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });

  it('an evidence bundle saved by the SDK (contrast verify --save-evidence): the same verdict; damaged: NOT VALID naming the part', async () => {
    const saved = await verifyCoordinator({
      host: '127.0.0.1',
      port: snp.running.port,
      manifest: snp.manifest,
      registry: createPlatformRegistry([snp.platform]),
      allowInsecure: true,
    });
    expect(saved.verdict.ok).toBe(true);
    const text = await createEvidenceBundle({
      savedAt: saved.at,
      coordinator: `127.0.0.1:${snp.running.port}`,
      attestation: saved.attestation,
      manifest: snp.manifest,
    });
    const { page } = await open();
    await page.click('summary');
    await page.fill('#simulator', simulatorRoots);
    await page.check('#insecure');
    await page.setInputFiles('#bundle', {
      name: 'ev.json',
      mimeType: 'application/json',
      buffer: Buffer.from(text),
    });
    await page.click('#verify-bundle');
    const v = await verdict(page, 'bundle-valid');
    expect(v.verdict, v.reason).toBe('valid');
    expect(v.manifestHash).toBe(saved.verdict.ok ? saved.verdict.report.manifestHash : '');
    expect(v.rootCa).toBe(saved.verdict.ok ? saved.verdict.report.rootCaFingerprint : '');

    const damaged = Buffer.from(text);
    damaged[text.indexOf('"attestation": ') + 100]! ^= 0x01;
    await page.evaluate(() => {
      document.getElementById('result')!.dataset.verdict = 'pending';
    });
    await page.setInputFiles('#bundle', { name: 'bad.json', mimeType: 'application/json', buffer: damaged });
    await page.click('#verify-bundle');
    const bad = await verdict(page, 'bundle-damaged-not-valid');
    expect(bad.verdict).toBe('not-valid');
    expect(bad.reason).toMatch(/^invalid-input \(attestation\): bundle part "attestation" is damaged/);
    await page.context().close();
  });

  describe.skipIf(!haveVectors)(
    'offline mode with real evidence: the same verdicts as contrast evidence verify',
    () => {
      async function offline(page: Page, files: Record<string, string | string[]>, at: string) {
        for (const [input, file] of Object.entries(files)) await page.setInputFiles(`#${input}`, file);
        await page.fill('#at', at);
        await page.click('#verify-offline');
      }

      it('SNP report (oak-milan-v3-vcek) with its VCEK and chain; then a tampered copy', async () => {
        const dir = path.join(shared, 'testvectors/snp/oak-milan-v3-vcek');
        const at = '2025-06-01T00:00:00Z';
        const cli = await verifySnpEvidenceFiles({
          reportFile: path.join(dir, 'report.bin'),
          certFile: path.join(dir, 'vcek.der'),
          certChainFile: path.join(dir, 'cert_chain.pem'),
          at,
        });
        const { page } = await open();
        await offline(
          page,
          {
            'snp-report': path.join(dir, 'report.bin'),
            vcek: path.join(dir, 'vcek.der'),
            'cert-chain': path.join(dir, 'cert_chain.pem'),
          },
          at,
        );
        const v = await verdict(page, 'offline-snp-valid');
        expect(cli.json.ok).toBe(true);
        expect(v.verdict, v.reason).toBe('valid');

        const tampered = path.join(root, 'report-tampered.bin');
        const bytes = readFileSync(path.join(dir, 'report.bin'));
        bytes[0x90]! ^= 0x01;
        (await import('node:fs')).writeFileSync(tampered, bytes);
        const cliBad = await verifySnpEvidenceFiles({
          reportFile: tampered,
          certFile: path.join(dir, 'vcek.der'),
          certChainFile: path.join(dir, 'cert_chain.pem'),
          at,
        });
        await offline(page, { 'snp-report': tampered }, at);
        const bad = await verdict(page, 'offline-snp-tampered-not-valid');
        expect(cliBad.json.ok).toBe(false);
        const reason = (cliBad.json as { reason: { code: string; field?: string } }).reason;
        expect(bad.verdict).toBe('not-valid');
        expect(bad.reason).toMatch(new RegExp(`^${reason.code} \\(${reason.field}\\): `));
        await page.context().close();
      });

      it('TDX quote (dcapqvl-v4-uptodate) with its collateral: VALID, UpToDate; an expired time: NOT VALID', async () => {
        const dir = path.join(shared, 'testvectors/tdx/dcapqvl-v4-uptodate');
        const names = [
          'tcb_info.json',
          'tcb_info_issuer_chain.pem',
          'qe_identity.json',
          'qe_identity_issuer_chain.pem',
          'pck_crl.der',
          'root_ca_crl.der',
        ];
        const { page } = await open();
        for (const [at, shot] of [
          ['2025-07-19T10:00:34Z', 'offline-tdx-valid'],
          ['2030-01-01T00:00:00Z', 'offline-tdx-late-not-valid'],
        ] as const) {
          const cli = await verifyTdxQuoteFile({
            quoteFile: path.join(dir, 'quote.bin'),
            collateralDir: dir,
            at,
          });
          await page.evaluate(() => {
            document.getElementById('result')!.dataset.verdict = 'pending';
          });
          await offline(
            page,
            { 'tdx-quote': path.join(dir, 'quote.bin'), collateral: names.map((n) => path.join(dir, n)) },
            at,
          );
          const v = await verdict(page, shot);
          expect(v.verdict === 'valid').toBe(cli.result.ok);
          if (cli.result.ok) {
            expect(cli.result.claims.details.tcbStatus).toBe('UpToDate');
            const tcbRow = await page.evaluate(
              () => document.querySelector('tr[data-row="TCB status"] td')?.textContent,
            );
            expect(tcbRow).toBe('UpToDate');
          } else {
            expect(v.reason).toMatch(
              new RegExp(`^${cli.result.reason.code} \\(${cli.result.reason.field}\\): `),
            );
          }
        }
        await page.context().close();
      });
    },
  );
});
