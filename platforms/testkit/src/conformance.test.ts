import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Platform, type PlatformSpec, verifyOk } from '@contrast-cc/core';
import { createFakePlatform, FakeIssuer, FakeVerifier } from '@contrast-cc/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type ConformanceFixtures, runPlatformConformance } from './checks.js';
import { describePlatformConformance } from './describe.js';
import { sharedTestDir, sharedTestPath } from './shared.js';

const goldenDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '__golden__', 'fake-platform');
const reportData = new Uint8Array(64).map((_, i) => i);

const fixtures: ConformanceFixtures = {
  goldenDir,
  goldenEvidence: async () => ({
    evidence: await new FakeIssuer({ measurement: '00'.repeat(48) }).issue(reportData),
    reportData,
  }),
};

// The suite, as every platform package runs it.
describePlatformConformance(createFakePlatform(), fixtures);

// The suite must fail when a platform breaks an invariant: each broken platform below is
// caught by exactly the checks named.
const fake = createFakePlatform();
const readGolden = (file: string) => readFile(path.join(goldenDir, file), 'utf8').catch(() => undefined);
const failedChecks = async (platform: Platform) =>
  (await runPlatformConformance(platform, fixtures, readGolden)).filter((o) => !o.ok).map((o) => o.name);

function withAttestation(overrides: Partial<PlatformSpec['attestation']>): Platform {
  return createFakePlatform({ attestation: { ...fake.attestation, ...overrides } });
}

describe('the conformance suite catches broken platforms', () => {
  it('passes the intact fake platform completely', async () => {
    expect(await failedChecks(fake)).toEqual([]);
  });

  it('catches an invalid id slipped past definePlatform', async () => {
    const broken = { ...fake, id: 'not a valid id!' } as Platform;
    expect(await failedChecks(broken)).toContain(
      'descriptor: identity, runtime, attestation and policy fields follow the contract',
    );
  });

  it('catches a descriptor without the brand', async () => {
    const broken = { ...fake, $$type: 'something-else' } as unknown as Platform;
    expect(await failedChecks(broken)).toContain(
      'descriptor: is a branded platform of a supported contract version',
    );
  });

  it('catches an unknown contract version', async () => {
    const broken = { ...fake, apiVersion: 99 } as Platform;
    expect(await failedChecks(broken)).toContain(
      'descriptor: is a branded platform of a supported contract version',
    );
  });

  it('catches a verifier that accepts anything', async () => {
    const lax = withAttestation({
      createVerifier: () => ({
        kinds: ['fake'],
        verify: async (_evidence, expected) =>
          verifyOk({
            kind: 'fake',
            reportData: expected.reportData,
            measurement: '',
            insecure: true,
            details: {},
          }),
      }),
    });
    const failed = await failedChecks(lax);
    expect(failed).toContain('attestation: every tampered byte is rejected');
    expect(failed).toContain(
      'attestation: evidence checked against another REPORT_DATA is rejected as report-data-mismatch',
    );
    expect(failed).toContain('attestation: a foreign evidence kind is refused as unsupported-evidence-kind');
    expect(failed).toContain(
      'attestation: truncated, empty and random evidence are failures, never exceptions',
    );
  });

  it('catches a verifier that throws on garbage instead of returning a failure', async () => {
    const throwing = withAttestation({
      createVerifier: (ctx) => {
        const inner = new FakeVerifier(ctx.referenceValues as object);
        return {
          kinds: inner.kinds,
          verify: async (evidence, expected) => {
            JSON.parse(new TextDecoder().decode(evidence.data));
            return inner.verify(evidence, expected);
          },
        };
      },
    });
    const failed = await failedChecks(throwing);
    expect(failed).toContain(
      'attestation: truncated, empty and random evidence are failures, never exceptions',
    );
    expect(failed).not.toContain('attestation: golden evidence is accepted and its claims are bound');
  });

  it('catches a verifier that rejects the golden evidence', async () => {
    const strict = withAttestation({ defaultReferenceValues: () => [{ measurement: 'ff'.repeat(48) }] });
    expect(await failedChecks(strict)).toContain(
      'attestation: golden evidence is accepted and its claims are bound',
    );
  });

  it('catches claims that misstate the platform as secure', async () => {
    const lying = createFakePlatform({ insecure: false });
    expect(await failedChecks(lying)).toContain(
      'attestation: golden evidence is accepted and its claims are bound',
    );
  });

  const RUNTIME_CLASS_RULE =
    'runtime: one RuntimeClass per declared name, with a valid handler and matching overhead';
  const withRuntimeClass = (name: string, handler: string) =>
    createFakePlatform({
      runtime: {
        ...fake.runtime,
        runtimeClassNames: [name],
        runtimeClasses: () =>
          fake.runtime.runtimeClasses().map((o) => ({ ...o, metadata: { ...o.metadata, name }, handler })),
      },
    });

  it('catches a contrast-cc-* RuntimeClass whose handler differs from its name, and the golden drift', async () => {
    const name = fake.runtime.runtimeClassNames[0]!;
    expect(name.startsWith('contrast-cc-')).toBe(true);
    expect(await failedChecks(withRuntimeClass(name, 'kata'))).toEqual([
      RUNTIME_CLASS_RULE,
      'runtime: RuntimeClass output equals the golden file',
    ]);
  });

  it('catches a handler that is not an RFC 1123 label, whatever the class name', async () => {
    for (const [name, handler] of [
      ['kata-cc-isolation', 'Kata_CC'],
      ['kata-cc-isolation', ''],
      ['kata-cc-isolation', `k${'a'.repeat(63)}`],
    ] as const) {
      expect(await failedChecks(withRuntimeClass(name, handler))).toContain(RUNTIME_CLASS_RULE);
    }
  });

  it('accepts a provider-installed class whose handler differs from its name (AKS: kata-cc-isolation -> kata-cc)', async () => {
    const failed = await failedChecks(withRuntimeClass('kata-cc-isolation', 'kata-cc'));
    expect(failed).not.toContain(RUNTIME_CLASS_RULE);
    expect(failed).toContain('runtime: RuntimeClass output equals the golden file');
  });

  it('catches RuntimeClass objects whose names differ from the declared names', async () => {
    const broken = createFakePlatform({
      runtime: { ...fake.runtime, runtimeClassNames: ['kata-cc-isolation'] },
    });
    expect(await failedChecks(broken)).toContain(RUNTIME_CLASS_RULE);
  });

  it('catches installer objects outside the requested namespace', async () => {
    const broken = createFakePlatform({
      runtime: {
        ...fake.runtime,
        nodeInstaller: (o) => fake.runtime.nodeInstaller({ ...o, namespace: 'kube-system' }),
      },
    });
    expect(await failedChecks(broken)).toContain(
      'runtime: node-installer objects are valid and live in the requested namespace',
    );
  });

  it('reports a missing golden file as a failure', async () => {
    const outcomes = await runPlatformConformance(fake, fixtures, async () => undefined);
    expect(outcomes.filter((o) => !o.ok).map((o) => o.message)).toEqual([
      'golden file runtime-classes.yaml is missing',
      'golden file node-installer.yaml is missing',
    ]);
  });
});

// With the evidence unavailable, the evidence checks are skipped (a goldenEvidence that throws
// would fail them) while the descriptor and runtime checks still run against the goldens.
describePlatformConformance(
  createFakePlatform(),
  {
    goldenDir,
    goldenEvidence: async () => {
      throw new Error('evidence checks must be skipped');
    },
  },
  { skipEvidence: 'testing the skip option' },
);

describe('sharedTestPath', () => {
  const saved = process.env['CONTRAST_SHARED_DIR'];
  afterEach(() => {
    if (saved === undefined) delete process.env['CONTRAST_SHARED_DIR'];
    else process.env['CONTRAST_SHARED_DIR'] = saved;
  });

  it('resolves under $CONTRAST_SHARED_DIR and returns undefined (with a notice) for a missing path', () => {
    process.env['CONTRAST_SHARED_DIR'] = goldenDir;
    expect(sharedTestPath('runtime-classes.yaml')).toBe(path.join(goldenDir, 'runtime-classes.yaml'));
    expect(sharedTestPath('no-such-vector')).toBeUndefined();
  });

  it('falls back to <workspace root>/../shared', () => {
    delete process.env['CONTRAST_SHARED_DIR'];
    const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
    expect(sharedTestDir()).toBe(path.resolve(repoRoot, '../shared'));
  });
});
