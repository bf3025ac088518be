// The one list of platforms, with collateral: what the Coordinator and the CLI build, exercised
// through verifiersForReferenceValues (the function the Coordinator builds its verifiers with)
// against loopback stand-ins of KDS / PCS / THIM serving real vectors and simulated chains.
import { createHash, generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CoordinatorClient, requestMeshCertificate, verifiersForReferenceValues } from '@contrast-cc/api';
import { createSimulatedSnpChain, createSimulatedSnpIssuer, encodeTcb } from '@contrast-cc/attestation/snp';
import { collateralRequestOf, parseTdxQuote } from '@contrast-cc/attestation/tdx';
import {
  hasSnpVectors,
  hasTdxVectors,
  snpVectors,
  startFakeKds,
  startFakePcs,
  TDX_VECTORS,
  tdxVectorCollateral,
  tdxVectorQuote,
} from '@contrast-cc/attestation/testing';
import { type RunningCoordinator, startCoordinator } from '@contrast-cc/authority/server';
import { deployment, tempStore } from '@contrast-cc/authority/testing';
import { createPlatformRegistry, toHex, verifyWithAny } from '@contrast-cc/core';
import { createAksIssuer, createAksPlatform, createAksVcekSource } from '@contrast-cc/platform-aks';
import { describe, expect, it } from 'vitest';
import { createPlatformCatalog } from './catalog.js';

const ids = (c: ReturnType<typeof createPlatformCatalog>) => c.platforms.map((p) => p.id);

describe('the platform catalog', () => {
  it('lists every platform once: the CLI and the Coordinator use this list', () => {
    expect(ids(createPlatformCatalog({ collateral: { kdsUrl: '', pcsUrl: '' } }))).toEqual([
      'Metal-QEMU-SNP',
      'Metal-QEMU-TDX',
      'AKS-CLH-SNP',
      'Simulated-SNP',
      'Simulated-TDX',
    ]);
    expect(ids(createPlatformCatalog({ simulated: false }))).toEqual([
      'Metal-QEMU-SNP',
      'Metal-QEMU-TDX',
      'AKS-CLH-SNP',
    ]);
    expect(createPlatformCatalog().registry.find('aks')?.id).toBe('AKS-CLH-SNP');
  });

  it("real platforms fetch from AMD KDS and Intel PCS by default, from the operator's URLs and directory when given, nothing when off", () => {
    expect(createPlatformCatalog().collateral.summary).toEqual([
      'AMD KDS https://kdsintf.amd.com',
      'Intel PCS/PCCS https://api.trustedservices.intel.com',
    ]);
    expect(
      createPlatformCatalog({
        collateral: { kdsUrl: 'http://127.0.0.1:1', pcsUrl: 'https://pccs:8081', dir: '/c' },
      }).collateral.summary,
    ).toEqual([
      'offline collateral directory /c',
      'AMD KDS http://127.0.0.1:1',
      'Intel PCS/PCCS https://pccs:8081',
    ]);
    expect(createPlatformCatalog({ collateral: { kdsUrl: '', pcsUrl: '' } }).collateral.summary).toEqual([]);
  });
});

describe.skipIf(!hasTdxVectors)(
  'Metal-QEMU-TDX from a manifest entry, collateral from a loopback PCS',
  () => {
    it('verifies a real quote with the TCB status Intel collateral gives; PCS down is collateral-unavailable; a tampered quote is refused', async () => {
      const v = TDX_VECTORS.find((x) => x.name === 'dcapqvl-v4-uptodate')!;
      const quote = tdxVectorQuote(v.name, v.quote);
      const body = parseTdxQuote(quote).body;
      const pcs = await startFakePcs([
        {
          fmspc: collateralRequestOf(parseTdxQuote(quote)).fmspc,
          collateral: await tdxVectorCollateral(v.name),
        },
      ]);
      try {
        const catalog = createPlatformCatalog({
          collateral: { pcsUrl: pcs.url, kdsUrl: '' },
          simulated: false,
        });
        const entry = {
          Platform: 'Metal-QEMU-TDX',
          MrTd: toHex(body.mrTd),
          MrSeam: toHex(body.mrSeam),
          Rtmrs: body.rtmrs.map(toHex),
          Xfam: toHex(body.xfam),
          TdAttributes: toHex(body.tdAttributes),
        };
        const verifiers = verifiersForReferenceValues(catalog.registry, { tdx: [entry] } as never);
        const expected = { reportData: body.reportData, now: new Date(v.at) };
        const ok = await verifyWithAny(verifiers, { kind: 'tdx-quote', data: quote }, expected);
        expect(ok.ok ? (ok.claims.details as { tcbStatus?: string }).tcbStatus : ok.reason).toBe('UpToDate');
        const bad = Uint8Array.from(quote);
        bad[200] = bad[200]! ^ 1;
        const refused = await verifyWithAny(verifiers, { kind: 'tdx-quote', data: bad }, expected);
        expect(refused.ok ? 'accepted' : refused.reason.code).not.toBe('accepted');

        // A fresh catalog (nothing cached) with PCS failing: a clear refusal naming URL and status.
        pcs.failWith = 500;
        const fresh = createPlatformCatalog({
          collateral: { pcsUrl: pcs.url, kdsUrl: '' },
          simulated: false,
        });
        const down = await verifyWithAny(
          verifiersForReferenceValues(fresh.registry, { tdx: [entry] } as never),
          { kind: 'tdx-quote', data: quote },
          expected,
        );
        expect(down.ok ? 'accepted' : `${down.reason.code}: ${down.reason.message}`).toMatch(
          new RegExp(`^collateral-unavailable: .*${pcs.url}/.*HTTP 500`),
        );
      } finally {
        await pcs.close();
      }
    });
  },
);

describe.skipIf(!hasSnpVectors)('Metal-QEMU-SNP from a manifest entry, VCEK from a loopback KDS', () => {
  it('fetches the VCEK and chain of a real report by its KDS paths, then the CRL; no CRL served is collateral-unavailable naming the URL', async () => {
    const v = snpVectors().find((x) => x.name === 'oak-genoa-v5-vcek')!;
    const kds = await startFakeKds([
      { product: 'Genoa', certChain: v.certChain, vceks: [{ report: v.report!, vcek: v.leaf }] },
    ]);
    try {
      const catalog = createPlatformCatalog({
        collateral: { kdsUrl: kds.url, pcsUrl: '' },
        simulated: false,
      });
      const r = v.expected.report as Record<string, string>;
      const entry = {
        Platform: 'Metal-QEMU-SNP',
        ProductName: 'Genoa',
        TrustedMeasurement: r.measurement,
        MinimumTCB: { BootloaderVersion: 0, TEEVersion: 0, SNPVersion: 0, MicrocodeVersion: 0 },
      };
      const verifiers = verifiersForReferenceValues(catalog.registry, { snp: [entry] } as never);
      const result = await verifyWithAny(
        verifiers,
        { kind: 'snp-report', data: v.report! },
        { reportData: v.report!.subarray(0x50, 0x90), now: v.verifyAt },
      );
      // No AMD-signed CRL exists in the vectors; revocation is required online, so this refusal
      // (after the VCEK and chain were fetched by their exact paths) is the expected outcome.
      expect(
        result.ok ? 'accepted' : `${result.reason.code}:${result.reason.field}: ${result.reason.message}`,
      ).toMatch(new RegExp(`^collateral-unavailable:crl: .*${kds.url}/vcek/v1/Genoa/crl: HTTP 404`));
      expect(kds.requests.some((p) => p.startsWith(`/vcek/v1/Genoa/${r.chip_id}?`))).toBe(true);
      expect(kds.requests).toContain('/vcek/v1/Genoa/cert_chain');
    } finally {
      await kds.close();
    }
  });
});

/** A loopback stand-in of Azure's THIM endpoint serving one VCEK document. */
async function startFakeThim(doc: Record<string, string>) {
  const requests: { url: string; metadata: string | undefined }[] = [];
  const server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', metadata: req.headers.metadata as string | undefined });
    if (req.url !== '/metadata/THIM/amd/certification' || req.headers.metadata !== 'true') {
      res.writeHead(400).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('AKS-CLH-SNP in the Coordinator', () => {
  it('a workload whose evidence carries THIM certificates (legacy policy annotation binding) gets a mesh certificate', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const chain = await createSimulatedSnpChain({ product: 'Milan', keys: { ark: rsa, ask: rsa } });
    // The pod's policy: on AKS, HOST_DATA is sha256 of the policy text of the annotation.
    const policyText = new TextEncoder().encode(
      'package agent_policy\ndefault CreateContainerRequest := true\n',
    );
    const policyHash = createHash('sha256').update(policyText).digest('hex');
    const measurement = new Uint8Array(48).fill(0x5a);
    const thim = await startFakeThim({
      vcekCert: new X509Certificate(chain.vcekDer).toString(),
      certificateChain: chain.certChainPem,
      tcbm: encodeTcb(chain.tcb as never, 'Milan')
        .toString(16)
        .padStart(16, '0'),
      cacheControl: '86400',
    });
    const d = deployment(['web']);
    const manifestJson = structuredClone(d.manifestJson) as Record<string, unknown> & {
      Policies: Record<string, unknown>;
      ReferenceValues: { snp: Record<string, unknown>[] };
    };
    manifestJson.Policies[policyHash] = {
      SANs: ['aks-web', '127.0.0.1'],
      WorkloadSecretID: 'apps/v1/Deployment/default/aks-web',
    };
    // Only AKS: a manifest never mixes simulated and real platforms. (The chain is simulated, so
    // claims are marked insecure, which the Coordinator and the client allow here.)
    manifestJson.ReferenceValues.snp = [
      {
        Platform: 'AKS-CLH-SNP',
        ProductName: 'Milan',
        TrustedMeasurement: toHex(measurement),
        MinimumTCB: { BootloaderVersion: 0, TEEVersion: 0, SNPVersion: 0, MicrocodeVersion: 0 },
      },
    ];
    const registry = createPlatformRegistry([createAksPlatform({ trustAnchors: [chain.trustAnchor] })]);
    // The guest-side issuer of AKS: the hardware report (here simulated) plus the VCEK from THIM.
    const aksIssuer = (hostData: Uint8Array) => {
      const sim = createSimulatedSnpIssuer({ chain, measurement, hostData });
      return createAksIssuer({
        getReport: async (reportData) => (await sim).report(reportData),
        vcekSource: createAksVcekSource({ thimBaseUrl: thim.url }),
      });
    };
    const store = await tempStore();
    let coordinator: RunningCoordinator | undefined;
    try {
      coordinator = await startCoordinator({
        store,
        platforms: registry,
        issuer: aksIssuer(Buffer.from(d.hashes.coordinator!, 'hex')),
        allowInsecure: true,
      });
      const client = await CoordinatorClient.connect({
        host: coordinator.host,
        port: coordinator.port,
        verifiers: verifiersForReferenceValues(registry, manifestJson.ReferenceValues as never),
        coordinatorPolicyHashes: [d.hashes.coordinator!],
        allowInsecure: true,
      });
      const set = await client.setManifest({
        manifest: new TextEncoder().encode(JSON.stringify(manifestJson)),
        policies: [...d.policies, policyText],
      });
      // The AKS guest's issuer: the hardware report (here simulated) plus the VCEK from THIM.
      const issuer = aksIssuer(Buffer.from(policyHash, 'hex'));
      const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const cert = await requestMeshCertificate({
        host: coordinator.host,
        port: coordinator.port,
        issuer,
        publicKey: new Uint8Array((key.publicKey as KeyObject).export({ type: 'spki', format: 'der' })),
      });
      expect(thim.requests[0]).toEqual({ url: '/metadata/THIM/amd/certification', metadata: 'true' });
      const leaf = new X509Certificate(cert.cert_chain.split(/(?<=-----END CERTIFICATE-----\n)/)[0]!);
      expect(leaf.subjectAltName).toContain('DNS:aks-web');
      expect(leaf.publicKey.equals(key.publicKey as KeyObject)).toBe(true);
      expect(new X509Certificate(set.root_ca).publicKey).toBeDefined();

      // Another policy text (HOST_DATA not in the manifest) is refused.
      const refused = await requestMeshCertificate({
        host: coordinator.host,
        port: coordinator.port,
        issuer: aksIssuer(new Uint8Array(32).fill(1)),
        publicKey: new Uint8Array((key.publicKey as KeyObject).export({ type: 'spki', format: 'der' })),
      }).catch((e: Error) => e);
      expect(String(refused)).toMatch(/policy hash .* not found in manifest/);
    } finally {
      await coordinator?.close();
      await store.close();
      await thim.close();
    }
  }, 60_000);
});
