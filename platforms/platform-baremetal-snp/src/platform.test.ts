// biome-ignore-all lint/suspicious/noExplicitAny: the tests walk parsed TOML and Kubernetes documents
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KdsClient } from '@contrast-cc/attestation/snp';
import { type Evidence, fromHex, isContrastError, noopLogger } from '@contrast-cc/core';
import { parse as parseToml } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import {
  canonicalRuntimeBytes,
  createMetalQemuSnpPlatform,
  METAL_QEMU_SNP_ASSETS,
  metalQemuSnp,
  metalQemuSnpRuntimeInfo,
  runtimeHash,
} from './index.js';
import { describeConformance } from './test-support/conformance.js';
import { sharedPath } from './test-support/shared.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const goldenDir = path.join(here, '__golden__');

// A real Genoa report (project-oak test data), verified at the time its owners use.
const vectorDir = sharedPath('testvectors/snp/oak-genoa-v5-vcek');
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

describeConformance(
  metalQemuSnp,
  {
    goldenDir,
    goldenEvidence: async () => ({
      evidence: vectorEvidence(),
      reportData: fromHex(expected!.report.report_data),
      now: verifyAt,
      referenceValues: vectorReferenceValues(),
    }),
  },
  vectorDir !== undefined,
);

describe('Metal-QEMU-SNP runtime', () => {
  const info = metalQemuSnpRuntimeInfo();

  it('names the RuntimeClass after the hash of the pinned runtime', () => {
    expect(info.runtimeHash).toMatch(/^[0-9a-f]{64}$/);
    expect(metalQemuSnp.runtime.runtimeClassNames).toEqual([
      `contrast-cc-metal-qemu-snp-${info.runtimeHash.slice(0, 8)}`,
    ]);
  });

  it('hashes a documented canonical encoding', async () => {
    const text = new TextDecoder().decode(canonicalRuntimeBytes('Metal-QEMU-SNP', METAL_QEMU_SNP_ASSETS));
    await expect(text).toMatchFileSnapshot(path.join(goldenDir, 'runtime-canonical.txt'));
    expect(text.startsWith('contrast-runtime/v1\nplatform\tMetal-QEMU-SNP\n')).toBe(true);
  });

  it('changes the handler when any placed file, the kernel command line or the VM memory changes', () => {
    const base = runtimeHash('Metal-QEMU-SNP', METAL_QEMU_SNP_ASSETS);
    const files = METAL_QEMU_SNP_ASSETS.files.map((f, i) =>
      i === 2 ? { ...f, integrity: 'sha256-AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' } : f,
    );
    const variants = [
      { ...METAL_QEMU_SNP_ASSETS, files },
      { ...METAL_QEMU_SNP_ASSETS, kernelParams: `${METAL_QEMU_SNP_ASSETS.kernelParams} debug` },
      { ...METAL_QEMU_SNP_ASSETS, vmMemoryMiB: 1024 },
    ];
    const hashes = new Set(variants.map((a) => runtimeHash('Metal-QEMU-SNP', a)));
    expect(hashes.size).toBe(3);
    expect(hashes.has(base)).toBe(false);
    const other = createMetalQemuSnpPlatform({ assets: variants[0]! });
    expect(other.runtime.runtimeClassNames[0]).not.toBe(metalQemuSnp.runtime.runtimeClassNames[0]);
    // Image references only deliver the files: a mirror keeps the handler.
    const mirrored = { ...METAL_QEMU_SNP_ASSETS, installerImage: 'mirror.example/installer@sha256:ab' };
    expect(runtimeHash('Metal-QEMU-SNP', mirrored)).toBe(base);
  });

  it('refuses fields that would break the canonical encoding', () => {
    expect(() => runtimeHash('Metal-QEMU-SNP', { ...METAL_QEMU_SNP_ASSETS, kernelParams: 'a\tb' })).toThrow(
      /kernel params/,
    );
  });

  it('generates the installer config, Kata configuration and containerd patches (golden)', async () => {
    await expect(`${JSON.stringify(info.installerConfig, null, 2)}\n`).toMatchFileSnapshot(
      path.join(goldenDir, 'contrast-node-install.json'),
    );
    await expect(info.kataConfiguration).toMatchFileSnapshot(
      path.join(goldenDir, 'configuration-qemu-snp.toml'),
    );
    await expect(info.containerdPatch.v2).toMatchFileSnapshot(
      path.join(goldenDir, 'containerd-config-patch.v2.toml'),
    );
    await expect(info.containerdPatch.v3).toMatchFileSnapshot(
      path.join(goldenDir, 'containerd-config-patch.v3.toml'),
    );
  });

  it('points the Kata configuration at the placed files with the measured kernel command line', () => {
    const kata = parseToml(info.kataConfiguration) as {
      hypervisor: { qemu: Record<string, unknown> };
    };
    const q = kata.hypervisor.qemu;
    const placed = new Set(info.installerConfig.files.map((f) => f.path));
    for (const key of ['path', 'kernel', 'image', 'firmware']) {
      expect(placed.has(q[key] as string), key).toBe(true);
      expect(q[key]).toMatch(new RegExp(`^/opt/edgeless/${info.handler}/`));
    }
    expect(q['kernel_params']).toBe(METAL_QEMU_SNP_ASSETS.kernelParams);
    expect(q['sev_snp_guest']).toBe(true);
    expect(q['default_memory']).toBe(METAL_QEMU_SNP_ASSETS.vmMemoryMiB);
    expect(info.installerConfig.files.every((f) => !f.path.includes('@@'))).toBe(true);
  });

  it('registers the runtime and snapshotter in the containerd patches', () => {
    const v2 = parseToml(info.containerdPatch.v2) as Record<string, any>;
    const rt = v2['plugins']['io.containerd.grpc.v1.cri'].containerd.runtimes[info.handler];
    expect(rt.runtime_type).toBe('io.containerd.contrast-cc.v2');
    expect(rt.snapshotter).toBe(`nydus-${info.handler}`);
    expect(rt.options.ConfigPath).toBe(info.installerConfig.kataConfigPath);
    expect(v2['proxy_plugins'][`nydus-${info.handler}`].type).toBe('snapshot');
    const v3 = parseToml(info.containerdPatch.v3) as Record<string, any>;
    expect(v3['version']).toBe(3);
    expect(v3['plugins']['io.containerd.cri.v1.runtime'].containerd.runtimes[info.handler]).toEqual(rt);
  });

  it('runs the installer from the pinned image (or a given mirror) with the node root at /host', () => {
    const objects = metalQemuSnp.runtime.nodeInstaller({ namespace: 'ops' });
    const ds = objects.find((o) => o.kind === 'DaemonSet') as any;
    expect(ds.metadata.name).toBe(`${info.handler}-nodeinstaller`);
    const installer = ds.spec.template.spec.initContainers[0];
    expect(installer.image).toBe(METAL_QEMU_SNP_ASSETS.installerImage);
    expect(installer.image).toMatch(/@sha256:[0-9a-f]{64}$/);
    expect(installer.securityContext.privileged).toBe(true);
    expect(ds.spec.template.spec.volumes[0]).toEqual({
      name: 'host-mount',
      hostPath: { path: '/', type: 'Directory' },
    });
    const mirrored = metalQemuSnp.runtime
      .nodeInstaller({ namespace: 'ops', image: 'mirror.example/ni@sha256:ab' })
      .find((o) => o.kind === 'DaemonSet') as any;
    expect(mirrored.spec.template.spec.initContainers[0].image).toBe('mirror.example/ni@sha256:ab');
    const cm = objects.find((o) => o.kind === 'ConfigMap') as any;
    expect(JSON.parse(cm.data['contrast-node-install.json'])).toEqual(info.installerConfig);
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
      expect(r.ok ? 'accepted' : `${r.reason.code}:${r.reason.field}`).toBe('collateral-missing:crl');
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
