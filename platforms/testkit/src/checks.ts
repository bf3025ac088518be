import {
  bytesEqual,
  type Evidence,
  isDnsLabel,
  isDnsSubdomain,
  isPlatform,
  type KubeObject,
  noopLogger,
  type Platform,
  SUPPORTED_PLATFORM_API_VERSIONS,
  type Verifier,
  type VerifyResult,
  validatePlatform,
} from '@contrast-cc/core';
import { stringify } from 'yaml';

/** What a platform package hands the conformance suite. @public */
export interface ConformanceFixtures {
  /** Directory holding the golden files (`runtime-classes.yaml`, `node-installer.yaml`). */
  goldenDir: string;
  /**
   * Evidence the platform's verifier must accept, with the REPORT_DATA it binds, the time to
   * verify at (real vectors need a past time) and the reference values to verify against
   * (default: the platform's first default entry).
   */
  goldenEvidence(): Promise<GoldenEvidence>;
  /**
   * Offsets into the golden evidence whose change must be rejected. Default: 16 offsets spread
   * over the whole document.
   */
  tamperOffsets?: number[];
  /** Evidence of a kind this platform does not handle. Default: a random blob of kind `conformance-foreign`. */
  foreignEvidence?: Evidence;
  /** Namespace for the node-installer golden output. Default: `contrast-system`. */
  installerNamespace?: string;
}

/** @public */
export interface GoldenEvidence {
  evidence: Evidence;
  reportData: Uint8Array;
  now?: Date;
  referenceValues?: unknown;
}

/** How a check compares generated text with its golden file (vitest snapshots or plain files). @public */
export type GoldenMatcher = (file: string, actual: string) => Promise<void>;

/** One conformance check: throws an Error with a precise message when the platform breaks the rule. @public */
export interface ConformanceCheck {
  name: string;
  /** True for the checks that verify the golden evidence (they cannot run without it). */
  needsEvidence: boolean;
  run(matchGolden: GoldenMatcher): Promise<void>;
}

class ConformanceFailure extends Error {
  override name = 'ConformanceFailure';
}

function fail(message: string): never {
  throw new ConformanceFailure(message);
}

/** RuntimeClasses of Contrast's own runtimes; their handler must equal their name. */
const CONTRAST_RUNTIME_PREFIX = 'contrast-cc-';

const CLUSTER_SCOPED = new Set([
  'Namespace',
  'RuntimeClass',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
]);

/** Kubernetes objects as multi-document YAML, the form of the golden files. @public */
export function toYamlDocuments(objects: KubeObject[]): string {
  return objects.map((o) => stringify(o, { sortMapEntries: false, lineWidth: 0 })).join('---\n');
}

function flipByte(data: Uint8Array, offset: number): Uint8Array {
  const copy = data.slice();
  copy[offset] = copy[offset]! ^ 0x01;
  return copy;
}

function spreadOffsets(length: number, count = 16): number[] {
  if (length === 0) return [];
  const out = new Set<number>();
  for (let i = 0; i < count; i++) out.add(Math.min(length - 1, Math.floor((i * length) / count)));
  out.add(length - 1);
  return [...out];
}

function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

async function verifySafely(verifier: Verifier, evidence: Evidence, reportData: Uint8Array, now?: Date) {
  try {
    return await verifier.verify(evidence, now ? { reportData, now } : { reportData });
  } catch (error) {
    fail(
      `verifier threw instead of returning a failure: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

function describeResult(r: VerifyResult): string {
  return r.ok ? 'accepted' : `rejected (${r.reason.code}: ${r.reason.message})`;
}

/**
 * The checks every platform must pass, as plain async functions. `describePlatformConformance`
 * wraps each in a vitest `it`; `runPlatformConformance` runs them without a test runner.
 * @public
 */
export function platformConformanceChecks(
  platform: Platform,
  fixtures: ConformanceFixtures,
): ConformanceCheck[] {
  const namespace = fixtures.installerNamespace ?? 'contrast-system';
  let golden: GoldenEvidence | undefined;
  const getGolden = async () => {
    golden ??= await fixtures.goldenEvidence();
    return golden;
  };
  const makeVerifier = async () => {
    const g = await getGolden();
    const referenceValues = g.referenceValues ?? platform.attestation.defaultReferenceValues()[0];
    return platform.attestation.createVerifier({
      referenceValues,
      logger: noopLogger,
      now: () => g.now ?? new Date(),
    });
  };

  return [
    {
      name: 'descriptor: is a branded platform of a supported contract version',
      needsEvidence: false,
      async run() {
        if (!isPlatform(platform)) fail('not built with definePlatform() (missing $$type brand)');
        if (!SUPPORTED_PLATFORM_API_VERSIONS.includes(platform.apiVersion)) {
          fail(
            `apiVersion ${platform.apiVersion} is not supported (${SUPPORTED_PLATFORM_API_VERSIONS.join(', ')})`,
          );
        }
      },
    },
    {
      name: 'descriptor: identity, runtime, attestation and policy fields follow the contract',
      needsEvidence: false,
      async run() {
        const problems = validatePlatform(platform);
        if (problems.length > 0) fail(problems.map((p) => `${p.field}: ${p.message}`).join('; '));
      },
    },
    {
      name: 'runtime: one RuntimeClass per declared name, with a valid handler and matching overhead',
      needsEvidence: false,
      async run() {
        const objects = platform.runtime.runtimeClasses();
        const names = objects.map((o) => o.metadata?.name);
        if (JSON.stringify(names) !== JSON.stringify(platform.runtime.runtimeClassNames)) {
          fail(
            `RuntimeClass objects ${JSON.stringify(names)} do not match runtimeClassNames ${JSON.stringify(platform.runtime.runtimeClassNames)}`,
          );
        }
        for (const o of objects) {
          if (o.apiVersion !== 'node.k8s.io/v1' || o.kind !== 'RuntimeClass') {
            fail(`${o.metadata.name}: expected node.k8s.io/v1 RuntimeClass, got ${o.apiVersion} ${o.kind}`);
          }
          const handler = o['handler'];
          if (typeof handler !== 'string' || !isDnsLabel(handler)) {
            fail(`${o.metadata.name}: handler "${String(handler)}" is not an RFC 1123 label`);
          }
          // Upstream's naming contract: a Contrast runtime's RuntimeClass is named after its
          // containerd handler. Classes a provider installs (AKS: kata-cc-isolation -> kata-cc)
          // keep their own handler.
          if (o.metadata.name.startsWith(CONTRAST_RUNTIME_PREFIX) && handler !== o.metadata.name) {
            fail(
              `${o.metadata.name}: handler "${handler}" differs from its name (required for ${CONTRAST_RUNTIME_PREFIX}* classes)`,
            );
          }
          const overhead = (o['overhead'] as { podFixed?: unknown } | undefined)?.podFixed;
          if (
            platform.runtime.podOverhead &&
            JSON.stringify(overhead) !== JSON.stringify(platform.runtime.podOverhead)
          ) {
            fail(
              `${o.metadata.name}: overhead ${JSON.stringify(overhead)} differs from podOverhead ${JSON.stringify(platform.runtime.podOverhead)}`,
            );
          }
        }
      },
    },
    {
      name: 'runtime: node-installer objects are valid and live in the requested namespace',
      needsEvidence: false,
      async run() {
        for (const [i, o] of platform.runtime.nodeInstaller({ namespace }).entries()) {
          if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string')
            fail(`object ${i}: apiVersion and kind are required`);
          if (typeof o.metadata?.name !== 'string' || !isDnsSubdomain(o.metadata.name)) {
            fail(`object ${i} (${o.kind}): metadata.name "${String(o.metadata?.name)}" is not a valid name`);
          }
          if (!CLUSTER_SCOPED.has(o.kind) && o.metadata.namespace !== namespace) {
            fail(
              `${o.kind}/${o.metadata.name}: namespace "${String(o.metadata.namespace)}", expected "${namespace}"`,
            );
          }
        }
      },
    },
    {
      name: 'runtime: RuntimeClass output equals the golden file',
      needsEvidence: false,
      async run(matchGolden) {
        await matchGolden('runtime-classes.yaml', toYamlDocuments(platform.runtime.runtimeClasses()));
      },
    },
    {
      name: 'runtime: node-installer output equals the golden file',
      needsEvidence: false,
      async run(matchGolden) {
        await matchGolden(
          'node-installer.yaml',
          toYamlDocuments(platform.runtime.nodeInstaller({ namespace })),
        );
      },
    },
    {
      name: 'attestation: default reference values are plain JSON data',
      needsEvidence: false,
      async run() {
        const values = platform.attestation.defaultReferenceValues();
        if (!Array.isArray(values)) fail('defaultReferenceValues() must return a list');
        const again = JSON.parse(JSON.stringify(values));
        if (JSON.stringify(again) !== JSON.stringify(values))
          fail('default reference values do not survive JSON');
      },
    },
    {
      name: 'attestation: golden evidence is accepted and its claims are bound',
      needsEvidence: true,
      async run() {
        const g = await getGolden();
        const result = await verifySafely(await makeVerifier(), g.evidence, g.reportData, g.now);
        if (!result.ok) fail(`golden evidence ${describeResult(result)}`);
        const { claims } = result;
        if (!bytesEqual(claims.reportData, g.reportData))
          fail('claims.reportData differs from the expected REPORT_DATA');
        if (!platform.attestation.evidenceKinds.includes(claims.kind))
          fail(`claims.kind "${claims.kind}" is not a declared evidence kind`);
        if (claims.insecure !== platform.insecure)
          fail(`claims.insecure is ${claims.insecure}, platform.insecure is ${platform.insecure}`);
      },
    },
    {
      name: 'attestation: evidence checked against another REPORT_DATA is rejected as report-data-mismatch',
      needsEvidence: true,
      async run() {
        const g = await getGolden();
        const other = g.reportData.slice();
        other[0] = other[0]! ^ 0xff;
        const result = await verifySafely(await makeVerifier(), g.evidence, other, g.now);
        if (result.ok || result.reason.code !== 'report-data-mismatch')
          fail(`expected report-data-mismatch, got ${describeResult(result)}`);
      },
    },
    {
      name: 'attestation: every tampered byte is rejected',
      needsEvidence: true,
      async run() {
        const g = await getGolden();
        const verifier = await makeVerifier();
        const offsets = fixtures.tamperOffsets ?? spreadOffsets(g.evidence.data.length);
        if (offsets.length === 0) fail('no tamper offsets: golden evidence is empty');
        for (const offset of offsets) {
          const tampered = { ...g.evidence, data: flipByte(g.evidence.data, offset) };
          const result = await verifySafely(verifier, tampered, g.reportData, g.now);
          if (result.ok) fail(`evidence with byte ${offset} flipped was accepted`);
        }
      },
    },
    {
      name: 'attestation: a foreign evidence kind is refused as unsupported-evidence-kind',
      needsEvidence: true,
      async run() {
        const g = await getGolden();
        const foreign = fixtures.foreignEvidence ?? {
          kind: 'conformance-foreign',
          data: pseudoRandomBytes(1184, 7),
        };
        if (platform.attestation.evidenceKinds.includes(foreign.kind))
          fail(`fixture error: "${foreign.kind}" is one of the platform's own kinds`);
        const result = await verifySafely(await makeVerifier(), foreign, g.reportData, g.now);
        if (result.ok || result.reason.code !== 'unsupported-evidence-kind') {
          fail(`expected unsupported-evidence-kind, got ${describeResult(result)}`);
        }
      },
    },
    {
      name: 'attestation: truncated, empty and random evidence are failures, never exceptions',
      needsEvidence: true,
      async run() {
        const g = await getGolden();
        const verifier = await makeVerifier();
        const data = g.evidence.data;
        const inputs = [
          new Uint8Array(0),
          data.slice(0, 1),
          data.slice(0, Math.floor(data.length / 2)),
          data.slice(0, data.length - 1),
          pseudoRandomBytes(data.length, 1),
          pseudoRandomBytes(data.length * 2 + 3, 2),
        ];
        for (const [i, input] of inputs.entries()) {
          const result = await verifySafely(verifier, { ...g.evidence, data: input }, g.reportData, g.now);
          if (result.ok) fail(`malformed input ${i} (${input.length} bytes) was accepted`);
        }
      },
    },
  ];
}

/** The outcome of one check when run without vitest. @public */
export interface ConformanceOutcome {
  name: string;
  ok: boolean;
  message?: string;
}

/**
 * Runs every check and returns the outcomes, comparing golden files byte for byte (a missing
 * golden file is a failure). For vendors' own CI and for testing the suite itself.
 * @public
 */
export async function runPlatformConformance(
  platform: Platform,
  fixtures: ConformanceFixtures,
  readGolden: (file: string) => Promise<string | undefined>,
): Promise<ConformanceOutcome[]> {
  const matchGolden: GoldenMatcher = async (file, actual) => {
    const expected = await readGolden(file);
    if (expected === undefined) fail(`golden file ${file} is missing`);
    if (expected !== actual) fail(`output differs from golden file ${file}`);
  };
  const outcomes: ConformanceOutcome[] = [];
  for (const check of platformConformanceChecks(platform, fixtures)) {
    try {
      await check.run(matchGolden);
      outcomes.push({ name: check.name, ok: true });
    } catch (error) {
      outcomes.push({
        name: check.name,
        ok: false,
        message: error instanceof Error ? error.message : String(error),
      });
    }
  }
  return outcomes;
}
