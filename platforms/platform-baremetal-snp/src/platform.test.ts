import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KdsClient } from '@contrast-cc/attestation/snp';
import { type Evidence, fromHex, isContrastError, noopLogger } from '@contrast-cc/core';
import { canonicalRuntimeBytes, runtimeHash } from '@contrast-cc/node-installer';
import { fixtureAssets, labelDigest, refusalsWithoutAssets } from '@contrast-cc/node-installer/testing';
import { describePlatformConformance, sharedTestPath } from '@contrast-cc/platform-testkit';
import { describe, expect, it } from 'vitest';
import {
  createMetalQemuSnpPlatform,
  type MetalQemuSnpAssets,
  metalQemuSnp,
  metalQemuSnpRuntimeInfo,
} from './index.js';

/** Runtime assets of these tests: digests of labels (fixture data, not a release of anything). */
const TEST_ASSETS: MetalQemuSnpAssets = fixtureAssets('snp', {
  Milan: labelDigest('sha384', 'milan'),
  Genoa: labelDigest('sha384', 'genoa'),
});
const configured = createMetalQemuSnpPlatform({ assets: TEST_ASSETS });

const here = path.dirname(fileURLToPath(import.meta.url));
const goldenDir = path.join(here, '__golden__');

// A real Genoa report (project-oak test data), verified at the time its owners use.
const vectorDir = sharedTestPath('testvectors/snp/oak-genoa-v5-vcek');
const expected = vectorDir
  ? (JSON.parse(readFileSync(path.join(vectorDir, 'expected.json'), 'utf8')) as {
      report: { measurement: string; report_data: string };
    })
  : undefined;
const verifyAt = new Date('2025-10-01T08:00:00Z');

/** Reference values matching the vector: its measurement, its TCB as the minimum. */
function vectorReferenceValues(overrides: Record<string, unknown> = {}) {
  const [, genoa] = metalQemuSnp.attestation.defaultReferenceValues() as Record<string, unknown>[];
  return {
    ...genoa,
    TrustedMeasurement: expected?.report.measurement,
    // reported_tcb 0x541900000000000a: BL 10, TEE 0, SNP 25, microcode 84.
    MinimumTCB: { BootloaderVersion: 10, TEEVersion: 0, SNPVersion: 25, MicrocodeVersion: 84 },
    ...overrides,
  };
}

function vectorEvidence(): Evidence {
  const dir = vectorDir!;
  return {
    kind: 'snp-report',
    data: new Uint8Array(readFileSync(path.join(dir, 'report.bin'))),
    extras: {
      vcek: new Uint8Array(readFileSync(path.join(dir, 'vcek.der'))),
      'cert-chain': new Uint8Array(readFileSync(path.join(dir, 'cert_chain.pem'))),
    },
  };
}

describePlatformConformance(
  configured,
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

describe('Metal-QEMU-SNP runtime', () => {
  const info = metalQemuSnpRuntimeInfo(TEST_ASSETS);

  it('sizes pod VMs like its Kata configuration; its reference values measure a 1-vCPU VM', () => {
    expect(configured.runtime.vmSizing).toEqual({
      baseVcpus: 1,
      baseMemoryMiB: 512,
      measuredVcpuCounts: [1],
    });
    expect(info.kataConfiguration).toMatch(/default_vcpus = 1\n[\s\S]*default_memory = 512\n/);
    expect(metalQemuSnp.runtime.vmSizing).toEqual({ baseVcpus: 1, measuredVcpuCounts: [1] });
  });

  it("names the RuntimeClass after the hash of the runtime's assets", async () => {
    const text = new TextDecoder().decode(canonicalRuntimeBytes('Metal-QEMU-SNP', TEST_ASSETS));
    await expect(text).toMatchFileSnapshot(path.join(goldenDir, 'runtime-canonical.txt'));
    expect(info.runtimeHash).toBe(runtimeHash('Metal-QEMU-SNP', TEST_ASSETS));
    expect(configured.runtime.runtimeClassNames).toEqual([
      `contrast-cc-metal-qemu-snp-${info.runtimeHash.slice(0, 8)}`,
    ]);
    const files = TEST_ASSETS.files.map((f, i) =>
      i === 2 ? { ...f, integrity: 'sha256-AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' } : f,
    );
    const other = createMetalQemuSnpPlatform({ assets: { ...TEST_ASSETS, files } });
    expect(other.runtime.runtimeClassNames[0]).not.toBe(configured.runtime.runtimeClassNames[0]);
  });

  it('generates the installer config, Kata configuration and containerd patches (golden)', async () => {
    const configMap = configured.runtime
      .nodeInstaller({ namespace: 'contrast-system' })
      .find((o) => o.kind === 'ConfigMap') as unknown as { data: Record<string, string> };
    expect(Object.keys(configMap.data)).toContain('configuration-qemu-snp.toml');
    for (const [file, content] of Object.entries(configMap.data)) {
      await expect(content).toMatchFileSnapshot(path.join(goldenDir, file));
    }
    expect(JSON.parse(configMap.data['contrast-node-install.json']!)).toEqual(info.installerConfig);
  });
});

describe('Metal-QEMU-SNP without runtime assets', () => {
  it('has the generic RuntimeClass name and refuses RuntimeClass and installer objects, saying to supply --assets', () => {
    expect(metalQemuSnp.runtime.runtimeClassNames).toEqual(['contrast-cc-metal-qemu-snp']);
    for (const refusal of refusalsWithoutAssets(metalQemuSnp.runtime)) {
      expect(refusal).toMatch(
        /^invalid-argument:assets:the Metal-QEMU-SNP runtime has no pinned release.*Supply them with --assets <file\|dir>/,
      );
    }
  });
});

describe('Metal-QEMU-SNP reference values', () => {
  it('leaves the minimum TCB for the user and the measurement for the release', () => {
    const values = metalQemuSnp.attestation.defaultReferenceValues() as Record<string, unknown>[];
    expect(values.map((v) => v['ProductName'])).toEqual(['Milan', 'Genoa']);
    for (const v of values) {
      expect(v['Platform']).toBe('Metal-QEMU-SNP');
      expect(v).not.toHaveProperty('MinimumTCB');
      expect(v).not.toHaveProperty('TrustedMeasurement'); // unreleased runtime
      expect(v['GuestPolicy']).toMatchObject({ ABIMinor: 0, ABIMajor: 0, SMT: true, Debug: false });
    }
  });

  it('refuses to build a verifier from values that are not filled in, naming the field', () => {
    const build = (rv: unknown) => () =>
      metalQemuSnp.attestation.createVerifier({ referenceValues: rv, logger: noopLogger });
    const [milan] = metalQemuSnp.attestation.defaultReferenceValues();
    const problems: [unknown, string][] = [
      [milan, 'ReferenceValues.snp[].TrustedMeasurement'],
      [
        { ...(milan as object), TrustedMeasurement: '00'.repeat(48) },
        'ReferenceValues.snp[].MinimumTCB.BootloaderVersion',
      ],
      [
        {
          ...(milan as object),
          TrustedMeasurement: '00'.repeat(48),
          MinimumTCB: { BootloaderVersion: 1, TEEVersion: 0, SNPVersion: 1, MicrocodeVersion: null },
        },
        'ReferenceValues.snp[].MinimumTCB.MicrocodeVersion',
      ],
      [
        {
          ...(milan as object),
          TrustedMeasurement: '00'.repeat(48),
          MinimumTCB: { BootloaderVersion: 1, TEEVersion: 0, SNPVersion: 1, MicrocodeVersion: 1 },
          APEIP: '0000ffff',
        },
        'ReferenceValues.snp[].APEIP',
      ],
    ];
    for (const [rv, field] of problems) {
      try {
        build(rv)();
        expect.unreachable('accepted incomplete reference values');
      } catch (e) {
        expect(isContrastError(e) && e.code === 'invalid-argument' && e.field).toBe(field);
      }
    }
  });
});

describe.skipIf(!vectorDir)('Metal-QEMU-SNP verifier on a real Genoa report', () => {
  const verify = async (rv: unknown, evidence = vectorEvidence()) =>
    metalQemuSnp.attestation
      .createVerifier({ referenceValues: rv, logger: noopLogger })
      .verify(evidence, { reportData: fromHex(expected!.report.report_data), now: verifyAt });

  it('accepts it with matching reference values and reports HOST_DATA as the policy digest', async () => {
    const r = await verify(vectorReferenceValues());
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.claims.measurement).toBe(expected!.report.measurement);
      expect(r.claims.policyDigest).toBe('00'.repeat(32));
      expect(r.claims.insecure).toBe(false);
    }
  });

  it('rejects another measurement as measurement-mismatch', async () => {
    const r = await verify(vectorReferenceValues({ TrustedMeasurement: 'ab'.repeat(48) }));
    expect(r.ok ? 'accepted' : r.reason.code).toBe('measurement-mismatch');
  });

  it('rejects a TCB below the filled-in minimum as tcb-too-low', async () => {
    const r = await verify(
      vectorReferenceValues({
        MinimumTCB: { BootloaderVersion: 10, TEEVersion: 0, SNPVersion: 26, MicrocodeVersion: 84 },
      }),
    );
    expect(r.ok ? 'accepted' : r.reason.code).toBe('tcb-too-low');
  });

  it('rejects it under the Milan entry (product mismatch) and without its VCEK', async () => {
    const r = await verify(vectorReferenceValues({ ProductName: 'Milan' }));
    expect(r.ok ? 'accepted' : r.reason.code).toBe('chain-invalid');
    const { vcek: _v, ...rest } = vectorEvidence().extras!;
    const r2 = await verify(vectorReferenceValues(), { ...vectorEvidence(), extras: rest });
    expect(r2.ok ? 'accepted' : r2.reason.code).toBe('collateral-missing');
  });
});

describe.skipIf(!vectorDir)('Metal-QEMU-SNP online mode (loopback fake of AMD KDS)', () => {
  it('fetches the missing VCEK for the report chip and TCB, and fails closed without a CRL', async () => {
    const requests: string[] = [];
    const server = createServer((req, res) => {
      const url = req.url ?? '';
      requests.push(url);
      if (url === '/vcek/v1/Genoa/cert_chain')
        return void res.end(readFileSync(path.join(vectorDir!, 'cert_chain.pem')));
      if (url.startsWith('/vcek/v1/Genoa/') && !url.endsWith('/crl'))
        return void res.end(readFileSync(path.join(vectorDir!, 'vcek.der')));
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const platform = createMetalQemuSnpPlatform({
        kds: new KdsClient({ baseUrl: base, minIntervalMs: 0 }),
      });
      const { vcek: _v, 'cert-chain': _c, ...noCerts } = vectorEvidence().extras!;
      const r = await platform.attestation
        .createVerifier({ referenceValues: vectorReferenceValues(), logger: noopLogger })
        .verify(
          { ...vectorEvidence(), extras: noCerts },
          { reportData: fromHex(expected!.report.report_data), now: verifyAt },
        );
      const chipId = (
        JSON.parse(readFileSync(path.join(vectorDir!, 'expected.json'), 'utf8')) as {
          report: { chip_id: string };
        }
      ).report.chip_id;
      expect(requests.some((u) => u.startsWith(`/vcek/v1/Genoa/${chipId}?`) && u.includes('snpSPL=25'))).toBe(
        true,
      );
      expect(requests).toContain('/vcek/v1/Genoa/crl');
      // Revocation is checked in online mode: no CRL, no acceptance.
      expect(r.ok ? 'accepted' : `${r.reason.code}:${r.reason.field}`).toBe('collateral-unavailable:crl');
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
