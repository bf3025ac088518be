import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Evidence, fromHex, isContrastError, noopLogger } from '@contrast-cc/core';
import { canonicalRuntimeBytes, runtimeHash } from '@contrast-cc/node-installer';
import { fixtureAssets, labelDigest, refusalsWithoutAssets } from '@contrast-cc/node-installer/testing';
import { describePlatformConformance, sharedTestPath } from '@contrast-cc/platform-testkit';
import { describe, expect, it } from 'vitest';
import {
  createMetalQemuTdxPlatform,
  type MetalQemuTdxAssets,
  metalQemuTdx,
  metalQemuTdxRuntimeInfo,
} from './index.js';

/** Runtime assets of these tests: digests of labels (fixture data, not a release of anything). */
const TEST_ASSETS: MetalQemuTdxAssets = fixtureAssets('tdx', {
  mrTd: labelDigest('sha384', 'mrtd'),
  rtmrs: [0, 1, 2, 3].map((i) => labelDigest('sha384', `rtmr${i}`)) as [string, string, string, string],
  rtmr0Alternatives: [],
});
const configured = createMetalQemuTdxPlatform({ assets: TEST_ASSETS });

const here = path.dirname(fileURLToPath(import.meta.url));
const goldenDir = path.join(here, '__golden__');

// A real TDX quote with its full Intel collateral (Phala dcap-qvl test data), UpToDate at the
// time its owners use (the collateral's last valid second).
const vectorDir = sharedTestPath('testvectors/tdx/dcapqvl-v4-uptodate');
type Body = Record<'mrtd' | 'mrseam' | 'xfam' | 'report_data' | `rtmr${0 | 1 | 2 | 3}`, string>;
const body = vectorDir
  ? (JSON.parse(readFileSync(path.join(vectorDir, 'expected.json'), 'utf8')) as { td_quote_body: Body })
      .td_quote_body
  : undefined;
const verifyAt = new Date('2025-07-19T10:00:34Z');

function vectorReferenceValues(overrides: Record<string, unknown> = {}) {
  const [entry] = metalQemuTdx.attestation.defaultReferenceValues() as Record<string, unknown>[];
  return {
    ...entry,
    MrTd: body!.mrtd,
    MrSeam: body!.mrseam,
    Rtmrs: [body!.rtmr0, body!.rtmr1, body!.rtmr2, body!.rtmr3],
    Rtmr0Alternatives: [],
    ...overrides,
  };
}

const COLLATERAL_FILES = [
  'tcb_info.json',
  'tcb_info_issuer_chain.pem',
  'qe_identity.json',
  'qe_identity_issuer_chain.pem',
  'pck_crl.der',
  'pck_crl_issuer_chain.pem',
  'root_ca_crl.der',
];

function vectorEvidence(without: string[] = []): Evidence {
  const dir = vectorDir!;
  const present = new Set(readdirSync(dir));
  const extras: Record<string, Uint8Array> = {};
  for (const f of COLLATERAL_FILES) {
    if (present.has(f) && !without.includes(f)) extras[f] = new Uint8Array(readFileSync(path.join(dir, f)));
  }
  // The captured quote carries 70 bytes of zero padding after its signature data; evidence is the
  // quote exactly (its declared length, 4936 bytes).
  const data = new Uint8Array(readFileSync(path.join(dir, 'quote.bin'))).slice(0, QUOTE_LENGTH);
  return { kind: 'tdx-quote', data, extras };
}
const QUOTE_LENGTH = 4936;

describePlatformConformance(
  configured,
  {
    goldenDir,
    goldenEvidence: async () => ({
      evidence: vectorEvidence(),
      reportData: fromHex(body!.report_data),
      now: verifyAt,
      referenceValues: vectorReferenceValues(),
    }),
  },
  { skipEvidence: vectorDir ? undefined : 'the shared test vector is not found' },
);

describe('Metal-QEMU-TDX runtime', () => {
  const info = metalQemuTdxRuntimeInfo(TEST_ASSETS);

  it('sizes pod VMs like its Kata configuration; only a 1-vCPU VM attests unless RTMR0 alternatives exist', () => {
    expect(configured.runtime.vmSizing).toEqual({
      baseVcpus: 1,
      baseMemoryMiB: 512,
      measuredVcpuCounts: [1],
    });
    expect(info.kataConfiguration).toMatch(/default_vcpus = 1\n[\s\S]*default_memory = 512\n/);
    expect(metalQemuTdx.runtime.vmSizing).toEqual({ baseVcpus: 1, measuredVcpuCounts: [1] });
    const withAlternatives = createMetalQemuTdxPlatform({
      assets: {
        ...TEST_ASSETS,
        launchMeasurements: {
          ...TEST_ASSETS.launchMeasurements,
          rtmr0Alternatives: [labelDigest('sha384', 'x')],
        },
      },
    });
    // the alternatives do not say which counts they are for: the verifier decides
    expect(withAlternatives.runtime.vmSizing).toEqual({ baseVcpus: 1, baseMemoryMiB: 512 });
  });

  it("names the RuntimeClass after the hash of the runtime's assets", async () => {
    const text = new TextDecoder().decode(canonicalRuntimeBytes('Metal-QEMU-TDX', TEST_ASSETS));
    await expect(text).toMatchFileSnapshot(path.join(goldenDir, 'runtime-canonical.txt'));
    expect(text).toContain('/tdx/bin/qemu-system-x86_64');
    expect(info.runtimeHash).toBe(runtimeHash('Metal-QEMU-TDX', TEST_ASSETS));
    expect(configured.runtime.runtimeClassNames).toEqual([
      `contrast-cc-metal-qemu-tdx-${info.runtimeHash.slice(0, 8)}`,
    ]);
    const files = TEST_ASSETS.files.map((f, i) =>
      i === 3 ? { ...f, integrity: 'sha256-AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' } : f,
    );
    const other = createMetalQemuTdxPlatform({ assets: { ...TEST_ASSETS, files } });
    expect(other.runtime.runtimeClassNames[0]).not.toBe(configured.runtime.runtimeClassNames[0]);
  });

  it('generates the installer config, Kata configuration and containerd patches (golden)', async () => {
    const configMap = configured.runtime
      .nodeInstaller({ namespace: 'contrast-system' })
      .find((o) => o.kind === 'ConfigMap') as unknown as { data: Record<string, string> };
    expect(Object.keys(configMap.data)).toContain('configuration-qemu-tdx.toml');
    for (const [file, content] of Object.entries(configMap.data)) {
      await expect(content).toMatchFileSnapshot(path.join(goldenDir, file));
    }
    expect(JSON.parse(configMap.data['contrast-node-install.json']!)).toEqual(info.installerConfig);
  });
});

describe('Metal-QEMU-TDX without runtime assets', () => {
  it('has the generic RuntimeClass name and refuses RuntimeClass and installer objects, saying to supply --assets', () => {
    expect(metalQemuTdx.runtime.runtimeClassNames).toEqual(['contrast-cc-metal-qemu-tdx']);
    for (const refusal of refusalsWithoutAssets(metalQemuTdx.runtime)) {
      expect(refusal).toMatch(
        /^invalid-argument:assets:the Metal-QEMU-TDX runtime has no pinned release.*Supply them with --assets <file\|dir>/,
      );
    }
  });
});

describe('Metal-QEMU-TDX reference values', () => {
  it('leaves MrSeam for the user and MRTD/RTMRs for the release', () => {
    const [v] = metalQemuTdx.attestation.defaultReferenceValues() as Record<string, unknown>[];
    expect(v).toMatchObject({ Platform: 'Metal-QEMU-TDX', Xfam: 'e702060000000000', MemoryIntegrity: false });
    expect(v).not.toHaveProperty('MrSeam');
    expect(v).not.toHaveProperty('MrTd');
  });

  it('refuses to build a verifier without MRTD or MRSEAM, naming the field', () => {
    const [v] = metalQemuTdx.attestation.defaultReferenceValues() as Record<string, unknown>[];
    const cases: [unknown, string][] = [
      [v, 'ReferenceValues.tdx[].MrTd'],
      [{ ...v, MrTd: '00'.repeat(48), Rtmrs: ['00'.repeat(48), '', '', ''] }, 'ReferenceValues.tdx[].MrSeam'],
    ];
    for (const [rv, field] of cases) {
      try {
        metalQemuTdx.attestation.createVerifier({ referenceValues: rv, logger: noopLogger });
        expect.unreachable('accepted incomplete reference values');
      } catch (e) {
        expect(isContrastError(e) && e.code === 'invalid-argument' && e.field).toBe(field);
      }
    }
  });
});

describe.skipIf(!vectorDir)('Metal-QEMU-TDX verifier on a real quote with collateral', () => {
  const verify = (rv: unknown, evidence = vectorEvidence()) =>
    metalQemuTdx.attestation
      .createVerifier({ referenceValues: rv, logger: noopLogger })
      .verify(evidence, { reportData: fromHex(body!.report_data), now: verifyAt });

  it('accepts it and reports MRTD and MRCONFIGID[0:32] as measurement and policy digest', async () => {
    const r = await verify(vectorReferenceValues());
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.claims.measurement).toBe(body!.mrtd);
      expect(r.claims.policyDigest).toBe('00'.repeat(32));
      expect(r.claims.details['tcbStatus']).toBe('UpToDate');
    }
  });

  it('rejects another MRSEAM, MRTD or RTMR as measurement-mismatch', async () => {
    for (const o of [
      { MrSeam: 'ab'.repeat(48) },
      { MrTd: 'ab'.repeat(48) },
      { Rtmrs: [body!.rtmr0, body!.rtmr1, 'ab'.repeat(48), body!.rtmr3] },
    ]) {
      const r = await verify(vectorReferenceValues(o));
      expect(r.ok ? 'accepted' : r.reason.code).toBe('measurement-mismatch');
    }
  });

  it('accepts an RTMR0 listed among the alternatives (other vCPU counts)', async () => {
    const r = await verify(
      vectorReferenceValues({
        Rtmrs: ['ab'.repeat(48), body!.rtmr1, body!.rtmr2, body!.rtmr3],
        Rtmr0Alternatives: [body!.rtmr0],
      }),
    );
    expect(r.ok).toBe(true);
  });

  it('refuses the padded capture: bytes after the signature data are unauthenticated', async () => {
    const padded = new Uint8Array(readFileSync(path.join(vectorDir!, 'quote.bin')));
    expect(padded.length).toBeGreaterThan(QUOTE_LENGTH);
    const r = await verify(vectorReferenceValues(), { ...vectorEvidence(), data: padded });
    expect(r.ok ? 'accepted' : r.reason.code).toBe('malformed');
  });

  it('refuses a quote whose PCK chain has a corrupted (silently droppable) root certificate', async () => {
    const e = vectorEvidence();
    const text = new TextDecoder('latin1').decode(e.data);
    const third = text.indexOf('-----BEGIN', text.indexOf('-----BEGIN', text.indexOf('-----BEGIN') + 1) + 1);
    // A broken BEGIN line would make the block vanish from a lenient PEM reader.
    const marker = e.data.slice();
    marker[third + 23] = marker[third + 23]! ^ 0x01;
    const r1 = await verify(vectorReferenceValues(), { ...e, data: marker });
    expect(r1.ok ? 'accepted' : r1.reason.code).toBe('malformed');
    // A changed base64 character inside the root certificate.
    const inside = e.data.slice();
    inside[third + 400] = inside[third + 400]! ^ 0x01;
    const r2 = await verify(vectorReferenceValues(), { ...e, data: inside });
    expect(r2.ok ? 'accepted' : r2.reason.code).toMatch(/^(malformed|chain-invalid)$/);
  });

  it('requires the collateral (TCB status) and refuses expired collateral', async () => {
    const r = await verify(vectorReferenceValues(), vectorEvidence(['tcb_info.json']));
    expect(r.ok ? 'accepted' : r.reason.code).toBe('collateral-missing');
    const late = await metalQemuTdx.attestation
      .createVerifier({ referenceValues: vectorReferenceValues(), logger: noopLogger })
      .verify(vectorEvidence(), {
        reportData: fromHex(body!.report_data),
        now: new Date('2025-08-01T00:00:00Z'),
      });
    expect(late.ok).toBe(false);
  });
});
