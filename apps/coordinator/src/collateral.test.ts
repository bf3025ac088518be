// A Coordinator process fetching collateral: Simulated-SNP evidence without certificates gets its
// VCEK, chain and CRL from a loopback KDS stand-in (CONTRAST_KDS_URL), Simulated-TDX quotes their
// TCB info, QE identity and CRLs from a loopback PCS stand-in (CONTRAST_PCS_URL). With the stand-in
// down the mesh certificate is refused with collateral-unavailable; once it is back, issued.
import { generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoordinatorClient, requestMeshCertificate, verifiersForReferenceValues } from '@contrast-cc/api';
import { createSimulatedSnpChain } from '@contrast-cc/attestation/snp';
import { collateralRequestOf, createSimulatedTdxIssuer, parseTdxQuote } from '@contrast-cc/attestation/tdx';
import { startFakeKds, startFakePcs } from '@contrast-cc/attestation/testing';
import { deployment, registry } from '@contrast-cc/authority/testing';
import { type Issuer, noopLogger } from '@contrast-cc/core';
import {
  createSimulatedSnpPlatform,
  createSimulatedTdxPlatform,
  createSimulatorTrust,
  simulatedSnpReferenceValues,
  simulatedTdxReferenceValues,
} from '@contrast-cc/platform-simulator';
import { afterAll, describe, expect, it } from 'vitest';
import { coordinatorProcesses } from './test-support/coordinator-process.js';

const d = deployment(['web']);
const coordinators = coordinatorProcesses(d);
afterAll(() => coordinators.killAll());

/** The pod's issuer without what the simulator would attach: a bare report/quote, as configfs-tsm may give. */
function bare(issuer: Issuer): Issuer {
  return {
    kind: issuer.kind,
    async issue(reportData) {
      const e = await issuer.issue(reportData);
      return { kind: e.kind, data: e.data };
    },
  };
}

describe('Coordinator process with collateral services', () => {
  it('issues mesh certificates to simulated SNP and TDX pods whose evidence carries no collateral, refusing while the service is down', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'coordinator-collateral-'));
    const trust = createSimulatorTrust({ dir: path.join(root, 'simulator') });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const chain = await createSimulatedSnpChain({ product: 'Genoa', keys: { ark: rsa, ask: rsa } });
    const tdxSim = await createSimulatedTdxIssuer();
    const web = Buffer.from(d.hashes.web!, 'hex');
    const snpPod = bare(
      createSimulatedSnpPlatform({ trust, snpChain: chain }).attestation.createIssuer!({
        logger: noopLogger,
        hostData: web,
      }),
    );
    const tdxPod = createSimulatedTdxPlatform({ trust, tdxSimulator: tdxSim }).attestation.createIssuer!({
      logger: noopLogger,
      hostData: web,
    });
    const sample = await snpPod.issue(new Uint8Array(64));
    const kds = await startFakeKds([
      {
        product: 'Genoa',
        certChain: chain.certChainPem,
        crl: chain.signCrl([]),
        vceks: [{ report: sample.data, vcek: chain.vcekDer }],
      },
    ]);
    const quote = (await tdxPod.issue(new Uint8Array(64))).data;
    const pcs = await startFakePcs([
      { fmspc: collateralRequestOf(parseTdxQuote(quote)).fmspc, collateral: await tdxSim.createCollateral() },
    ]);
    await kds.stop();
    await pcs.stop();
    try {
      const c = await coordinators.start(path.join(root, 'store'), {
        CONTRAST_SIMULATOR_DIR: trust.dir,
        CONTRAST_KDS_URL: kds.url,
        CONTRAST_PCS_URL: pcs.url,
        CONTRAST_COLLATERAL_RETRIES: '0',
      });
      expect(c.p.lines.find((l) => l.msg === 'collateral sources')?.sources).toEqual([
        `AMD KDS ${kds.url}`,
        `Intel PCS/PCCS ${pcs.url}`,
      ]);
      // The manifest: the Coordinator's own (fake) entry plus both simulated platforms, all insecure.
      const manifest = structuredClone(d.manifestJson) as Record<string, unknown> & {
        ReferenceValues: Record<string, unknown[]>;
      };
      manifest.ReferenceValues = {
        snp: [...d.manifestJson.ReferenceValues.snp, simulatedSnpReferenceValues()],
        tdx: [simulatedTdxReferenceValues()],
      };
      const client = await CoordinatorClient.connect({
        host: '127.0.0.1',
        port: c.port,
        verifiers: verifiersForReferenceValues(registry(), d.manifestJson.ReferenceValues as never),
        coordinatorPolicyHashes: [d.hashes.coordinator!],
        allowInsecure: true,
      });
      await client.setManifest({
        manifest: new TextEncoder().encode(JSON.stringify(manifest)),
        policies: d.policies,
      });

      const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const publicKey = new Uint8Array((key.publicKey as KeyObject).export({ type: 'spki', format: 'der' }));
      const meshCert = (issuer: Issuer) =>
        requestMeshCertificate({ host: '127.0.0.1', port: c.port, issuer, publicKey });

      for (const [pod, service, path_] of [
        [snpPod, kds, '/vcek/v1/Genoa/'],
        [tdxPod, pcs, '/certification/v4/'],
      ] as const) {
        const refused = await meshCert(pod).catch((e: Error) => e);
        expect(String(refused)).toContain('collateral-unavailable');
        expect(String(refused)).toContain(`${service.url}`);
        expect(String(refused)).toContain('ECONNREFUSED');
        await service.start();
        const cert = await meshCert(pod);
        const leaf = new X509Certificate(cert.cert_chain.split(/(?<=-----END CERTIFICATE-----\n)/)[0]!);
        expect(leaf.subjectAltName).toContain('DNS:web');
        expect(service.requests.some((p) => p.includes(path_))).toBe(true);
      }
      expect(kds.requests).toContain('/vcek/v1/Genoa/crl');
      expect(pcs.requests).toContain('/tdx/certification/v4/qe/identity');
      const refusals = c.p.lines.filter((l) => l.msg === 'refused evidence').map((l) => l.code);
      expect(refusals).toEqual(['collateral-unavailable', 'collateral-unavailable']);
    } finally {
      await kds.close();
      await pcs.close();
    }
  }, 300_000);
});
