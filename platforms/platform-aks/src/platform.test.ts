import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KdsClient } from '@contrast-cc/attestation/snp';
import { type Evidence, fromHex, isContrastError, noopLogger, toHex } from '@contrast-cc/core';
import { describePlatformConformance, sharedTestPath } from '@contrast-cc/platform-testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AKS_BASE_MEMORY_MIB,
  AKS_RUNTIME_HANDLER,
  aksClhSnp,
  aksReferenceValues,
  createAksIssuer,
  createAksPlatform,
  createAksVcekSource,
  THIM_PATH,
} from './index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const goldenDir = path.join(here, '__golden__');

// A real Milan report from an Azure confidential VM (trustee / go-sev-guest test data): ABI 0.31
// guest policy and a TCB exactly at the AKS minimum (bootloader 3, SNP 8, microcode 115).
const vectorDir = sharedTestPath('testvectors/snp/azure-milan-v2-hcl');
const genoaDir = sharedTestPath('testvectors/snp/azure-genoa-v3-hcl');
const expected = vectorDir
  ? (JSON.parse(readFileSync(path.join(vectorDir, 'expected.json'), 'utf8')) as {
      report: { measurement: string; report_data: string; reported_tcb: string };
    })
  : undefined;
const verifyAt = new Date('2026-01-01T00:00:00Z');

function pemBlocks(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
}
const read = (dir: string, f: string) => new Uint8Array(readFileSync(path.join(dir, f)));
const vcekPem = () => pemBlocks(readFileSync(path.join(vectorDir!, 'vcek_ask_ark.pem'), 'utf8'))[0]!;
const chainPem = () => readFileSync(path.join(vectorDir!, 'cert_chain.pem'), 'utf8');

function vectorEvidence(): Evidence {
  return {
    kind: 'snp-report',
    data: read(vectorDir!, 'report.bin'),
    extras: {
      vcek: new TextEncoder().encode(vcekPem()),
      'cert-chain': new TextEncoder().encode(chainPem()),
    },
  };
}
const vectorReferenceValues = (o: Record<string, unknown> = {}) => ({
  ...aksReferenceValues()[0],
  TrustedMeasurement: expected?.report.measurement,
  ...o,
});

describePlatformConformance(
  aksClhSnp,
  {
    goldenDir,
    goldenEvidence: async () => ({
      evidence: vectorEvidence(),
      reportData: fromHex(expected!.report.report_data),
      now: verifyAt,
      referenceValues: vectorReferenceValues(),
    }),
  },
  { skipEvidence: vectorDir ? undefined : 'the shared test vector is not found' },
);

describe(`${aksClhSnp.id} runtime`, () => {
  it('RuntimeClass: AKS provides kata-cc-isolation (handler kata-cc) on kata-cc-isolation nodes; nothing to install', () => {
    expect(aksClhSnp.runtime.runtimeClassNames).toEqual(['kata-cc-isolation']);
    const [rc] = aksClhSnp.runtime.runtimeClasses();
    expect(rc).toMatchObject({
      kind: 'RuntimeClass',
      metadata: { name: 'kata-cc-isolation' },
      handler: AKS_RUNTIME_HANDLER,
      scheduling: { nodeSelector: { 'kubernetes.azure.com/kata-cc-isolation': 'true' } },
    });
    expect(aksClhSnp.runtime.nodeInstaller({ namespace: 'contrast-system' })).toEqual([]);
    expect(aksClhSnp.attestation.policyBinding).toBe('legacy-policy-annotation');
  });
});

describe(`${aksClhSnp.id} pod VM sizing`, () => {
  it('says memory limits are applied wrongly, sizes with a 256 MiB guest allowance (configurable), checks no vCPU count', () => {
    expect(aksClhSnp.runtime.vmSizing).toMatchObject({ baseVcpus: 1, baseMemoryMiB: AKS_BASE_MEMORY_MIB });
    expect(aksClhSnp.runtime.vmSizing?.memoryLimitsUnreliable).toMatch(/memory limits are applied wrongly/);
    expect(aksClhSnp.runtime.vmSizing?.measuredVcpuCounts).toBeUndefined();
    expect(createAksPlatform({ baseMemoryMiB: 2048 }).runtime.vmSizing?.baseMemoryMiB).toBe(2048);
  });
});

describe('AKS reference values', () => {
  it('prefill Milan, the AKS minimum TCB and ABI 0.31, and leave the measurement to the user', () => {
    const [v] = aksReferenceValues();
    expect(v).toMatchObject({
      Platform: 'AKS-CLH-SNP',
      ProductName: 'Milan',
      MinimumTCB: { BootloaderVersion: 3, TEEVersion: 0, SNPVersion: 8, MicrocodeVersion: 115 },
      GuestPolicy: { ABIMinor: 31, ABIMajor: 0, SMT: true, Debug: false },
    });
    expect(v).not.toHaveProperty('TrustedMeasurement');
    try {
      aksClhSnp.attestation.createVerifier({ referenceValues: v, logger: noopLogger });
      expect.unreachable();
    } catch (e) {
      expect(isContrastError(e) && e.field).toBe('ReferenceValues.snp[].TrustedMeasurement');
    }
  });

  it('refuses APEIP (multi-vCPU recomputation) saying what to give instead, rather than ignoring it', () => {
    const v = { ...aksReferenceValues()[0], TrustedMeasurement: '00'.repeat(48), APEIP: '0000ffff' };
    expect(() => aksClhSnp.attestation.createVerifier({ referenceValues: v, logger: noopLogger })).toThrow(
      /one ReferenceValues\.snp entry per vCPU count.*contrast runtime measure --snp/,
    );
    try {
      aksClhSnp.attestation.createVerifier({ referenceValues: v, logger: noopLogger });
    } catch (e) {
      expect(isContrastError(e) && e.field).toBe('ReferenceValues.snp[].APEIP');
    }
  });
});

describe.skipIf(!vectorDir)('AKS verifier on a real Azure Milan report', () => {
  const verify = (rv: unknown, evidence = vectorEvidence()) =>
    aksClhSnp.attestation
      .createVerifier({ referenceValues: rv, logger: noopLogger })
      .verify(evidence, { reportData: fromHex(expected!.report.report_data), now: verifyAt });

  it('accepts it; HOST_DATA (the legacy policy hash slot) is the policy digest', async () => {
    const r = await verify(vectorReferenceValues());
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.claims.policyDigest).toBe('00'.repeat(32));
  });

  it('rejects a higher minimum TCB and a guest policy below ABI 0.31 is not what this report has', async () => {
    const high = await verify(
      vectorReferenceValues({
        MinimumTCB: { BootloaderVersion: 3, TEEVersion: 0, SNPVersion: 9, MicrocodeVersion: 115 },
      }),
    );
    expect(high.ok ? 'accepted' : high.reason.code).toBe('tcb-too-low');
    const abi = await verify(
      vectorReferenceValues({ GuestPolicy: { ABIMinor: 32, ABIMajor: 0, SMT: true } }),
    );
    expect(abi.ok ? 'accepted' : abi.reason.code).toBe('policy-mismatch');
  });

  it.skipIf(!genoaDir)('refuses a Genoa report: AKS Kata CC runs on Milan', async () => {
    const g = JSON.parse(readFileSync(path.join(genoaDir!, 'expected.json'), 'utf8'));
    const r = await aksClhSnp.attestation
      .createVerifier({
        referenceValues: vectorReferenceValues({ TrustedMeasurement: g.report.measurement }),
        logger: noopLogger,
      })
      .verify(
        {
          kind: 'snp-report',
          data: read(genoaDir!, 'report.bin'),
          extras: { vcek: read(genoaDir!, 'vcek.pem'), 'cert-chain': read(genoaDir!, 'cert_chain.pem') },
        },
        { reportData: fromHex(g.report.report_data), now: verifyAt },
      );
    expect(r.ok ? 'accepted' : r.reason.code).toBe('chain-invalid');
  });

  it('documents the HCL wrapper of Azure CVM reports: REPORT_DATA[0:32] = sha256(variable data)', () => {
    // Azure CVMs (unlike AKS pod VMs, whose REPORT_DATA is the aTLS binding) wrap the report in
    // an HCL document: report at 0x20, IGVM request header at 0x4C0 (5 x u32), variable data after.
    const hcl = read(vectorDir!, 'hcl-report.bin');
    const view = new DataView(hcl.buffer, hcl.byteOffset, hcl.byteLength);
    const variableSize = view.getUint32(0x4c0 + 16, true);
    const variable = hcl.subarray(0x4c0 + 20, 0x4c0 + 20 + variableSize);
    expect(toHex(hcl.subarray(0x20, 0x4c0))).toBe(toHex(read(vectorDir!, 'report.bin')));
    expect(createHash('sha256').update(variable).digest('hex')).toBe(
      expected!.report.report_data.slice(0, 64),
    );
  });
});

describe.skipIf(!vectorDir)('AKS VCEK source: THIM with KDS fallback (loopback fakes)', () => {
  let server: Server;
  let base = '';
  const hits = { thim: 0, kdsVcek: 0, kdsChain: 0 };
  let thimMode: 'ok' | 'down' | 'garbage' | 'other-tcb' | 'huge' = 'ok';
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    if (url === THIM_PATH) {
      hits.thim++;
      if (req.headers['metadata'] !== 'true') return void res.writeHead(400).end('Metadata header required');
      if (thimMode === 'down') return void res.writeHead(503).end();
      if (thimMode === 'garbage') return void res.writeHead(200).end('<html>');
      if (thimMode === 'huge') return void res.writeHead(200).end(Buffer.alloc(2 * 1024 * 1024, 0x20));
      const tcbm = thimMode === 'other-tcb' ? '0000000000000001' : expected!.report.reported_tcb.slice(2);
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(
          JSON.stringify({ vcekCert: vcekPem(), certificateChain: chainPem(), tcbm, cacheControl: '3600' }),
        );
    }
    if (url === '/vcek/v1/Milan/cert_chain') {
      hits.kdsChain++;
      return void res.writeHead(200).end(chainPem());
    }
    if (url.startsWith('/vcek/v1/Milan/')) {
      hits.kdsVcek++;
      return void res.writeHead(200).end(new X509Certificate(vcekPem()).raw);
    }
    res.writeHead(404).end();
  };
  beforeAll(async () => {
    server = createServer(handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const report = () => read(vectorDir!, 'report.bin');
  const kds = () => new KdsClient({ baseUrl: base, minIntervalMs: 0 });

  it('takes the VCEK from THIM (Metadata header) and caches it for cacheControl seconds', async () => {
    thimMode = 'ok';
    let clock = 0;
    const source = createAksVcekSource({ thimBaseUrl: base, kds: kds(), now: () => clock });
    const before = hits.thim;
    expect((await source.collateralFor(report())).source).toBe('thim');
    expect((await source.collateralFor(report())).source).toBe('thim');
    expect(hits.thim - before).toBe(1);
    clock += 3_601_000;
    await source.collateralFor(report());
    expect(hits.thim - before).toBe(2);
  });

  it.each(['down', 'garbage', 'other-tcb', 'huge'] as const)(
    'falls back to KDS when THIM is %s',
    async (mode) => {
      thimMode = mode;
      const before = hits.kdsVcek;
      const c = await createAksVcekSource({ thimBaseUrl: base, kds: kds() }).collateralFor(report());
      expect(c.source).toBe('kds');
      expect(hits.kdsVcek - before).toBe(1);
    },
  );

  it('fails as unavailable without a fallback, naming the THIM problem', async () => {
    thimMode = 'down';
    await expect(createAksVcekSource({ thimBaseUrl: base }).collateralFor(report())).rejects.toMatchObject({
      code: 'unavailable',
      message: expect.stringContaining('THIM answered HTTP 503'),
    });
    // An answer of 2 MiB is not read past its first MiB.
    thimMode = 'huge';
    await expect(createAksVcekSource({ thimBaseUrl: base }).collateralFor(report())).rejects.toMatchObject({
      code: 'unavailable',
      message: expect.stringContaining('THIM response is larger than 1048576 bytes'),
    });
  });

  it('feeds the guest-side issuer whose evidence the AKS verifier accepts', async () => {
    thimMode = 'ok';
    const issuer = createAksIssuer({
      getReport: async () => report(),
      vcekSource: createAksVcekSource({ thimBaseUrl: base }),
    });
    const evidence = await issuer.issue(fromHex(expected!.report.report_data));
    const r = await aksClhSnp.attestation
      .createVerifier({ referenceValues: vectorReferenceValues(), logger: noopLogger })
      .verify(evidence, { reportData: fromHex(expected!.report.report_data), now: verifyAt });
    expect(r.ok).toBe(true);
  });
});
