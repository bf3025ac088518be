import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createSimulatedSnpChain,
  createSimulatedSnpIssuer,
  createSnpVerifier,
  type SimulatedSnpChain,
  SNP_EVIDENCE_KIND,
  type SnpCollateralSource,
  type SnpReferenceValues,
  type SnpTrustAnchor,
} from '@contrast-cc/attestation/snp';
import {
  createSimulatedTdxIssuer,
  createTdxVerifier,
  type SimulatedTdFields,
  type SimulatedTdx,
  TDX_EVIDENCE_KIND,
  type TdxCollateralSource,
  type TdxReferenceValues,
  type TdxTrustAnchors,
} from '@contrast-cc/attestation/tdx';
import {
  ContrastError,
  concatBytes,
  definePlatform,
  type Evidence,
  type Issuer,
  type IssuerContext,
  type KubeObject,
  type Platform,
  runtimeClassName,
  toHex,
  type Verifier,
  type VerifierContext,
  type VerifyExpectations,
  type VerifyResult,
  verifyFail,
} from '@contrast-cc/core';
import { defaultSnpPolicyValues } from '@contrast-cc/manifest';
import { createSimulatorTrust, type SimulatorTrust } from './trust.js';

/** A fixed 48-byte value of the simulated runtime, derived from a label. */
function label(name: string): Uint8Array {
  return new Uint8Array(createHash('sha384').update(`contrast-cc simulator: ${name}`).digest());
}

/** The simulated launch measurements (fixed, so reference values can name them). @public */
export const SIMULATED_MEASUREMENTS = {
  snp: { measurement: toHex(label('Simulated-SNP launch measurement')) },
  tdx: {
    mrTd: toHex(label('Simulated-TDX MRTD')),
    mrSeam: toHex(label('Simulated-TDX MRSEAM')),
    rtmrs: [0, 1, 2, 3].map((i) => toHex(label(`Simulated-TDX RTMR${i}`))),
  },
} as const;

/** TCB of the simulated Genoa chain (the attestation simulator's default). */
const SIMULATED_SNP_TCB = { bootloader: 10, tee: 0, snp: 23, microcode: 84 } as const;

/**
 * The runtime hash of a simulated platform: sha256 over `contrast-simulated-runtime/v1`, the
 * platform id and its measurements, one `key<TAB>value` line each, LF-terminated.
 */
export function simulatedRuntimeHash(platformId: string, measurements: Record<string, string>): string {
  const lines = [
    'contrast-simulated-runtime/v1',
    `platform\t${platformId}`,
    ...Object.entries(measurements).map(([k, v]) => `${k}\t${v}`),
  ];
  return createHash('sha256')
    .update(`${lines.join('\n')}\n`)
    .digest('hex');
}

function runtimeClass(handler: string): KubeObject {
  return {
    apiVersion: 'node.k8s.io/v1',
    kind: 'RuntimeClass',
    metadata: {
      name: handler,
      labels: { 'addonmanager.kubernetes.io/mode': 'Reconcile' },
      annotations: {
        'contrast.edgeless.systems/insecure': 'true: simulated platform, attestation proves nothing',
      },
    },
    handler,
  };
}

function hostDataOf(context: IssuerContext): Uint8Array {
  const h = context.hostData ?? new Uint8Array(32);
  if (h.length !== 32) {
    throw new ContrastError('invalid-argument', `hostData must be 32 bytes, got ${h.length}`, {
      field: 'hostData',
    });
  }
  return h;
}

/** Resolves the trust directory on first use: `$CONTRAST_SIMULATOR_DIR` or `<tmp>/contrast-simulator`. */
function lazyDefaultTrust(): SimulatorTrust {
  let trust: SimulatorTrust | undefined;
  const get = () => {
    trust ??= createSimulatorTrust({
      dir: process.env['CONTRAST_SIMULATOR_DIR'] ?? path.join(tmpdir(), 'contrast-simulator'),
    });
    return trust;
  };
  return {
    get dir() {
      return get().dir;
    },
    registerSnpRoot: (r) => get().registerSnpRoot(r),
    registerTdxRoot: (p) => get().registerTdxRoot(p),
    snpTrustAnchors: () => get().snpTrustAnchors(),
    tdxTrustAnchors: () => get().tdxTrustAnchors(),
  };
}

/** Options of the simulated platforms. @public */
export interface SimulatedPlatformOptions {
  /** The shared trust directory; default `$CONTRAST_SIMULATOR_DIR` or `<tmp>/contrast-simulator`. */
  trust?: SimulatorTrust;
  /**
   * Collateral sources, as for real platforms (`createCollateralSources`): SNP evidence without
   * certificates gets its VCEK and chain from `snp` (and the CRL is then checked); TDX quotes get
   * TCB info, QE identity and CRLs from `tdx` (and are then evaluated like real ones). A loopback
   * stand-in serving the simulator's chain or collateral makes the online path testable.
   */
  collateral?: { snp?: SnpCollateralSource; tdx?: TdxCollateralSource };
  /** Simulated-SNP: the key chain of the issuer (registered in `trust`); generated when absent. */
  snpChain?: SimulatedSnpChain;
  /** Simulated-TDX: the simulated platform of the issuer (registered in `trust`); generated when absent. */
  tdxSimulator?: SimulatedTdx;
}

const SIM_SNP = 'Simulated-SNP';
const SIM_TDX = 'Simulated-TDX';

/** Default `ReferenceValues.snp` entry of Simulated-SNP: complete (nothing to fill in), insecure. */
export function simulatedSnpReferenceValues(): Record<string, unknown> {
  return {
    Platform: SIM_SNP,
    Insecure: true,
    ProductName: 'Genoa',
    TrustedMeasurement: SIMULATED_MEASUREMENTS.snp.measurement,
    MinimumTCB: {
      BootloaderVersion: SIMULATED_SNP_TCB.bootloader,
      TEEVersion: SIMULATED_SNP_TCB.tee,
      SNPVersion: SIMULATED_SNP_TCB.snp,
      MicrocodeVersion: SIMULATED_SNP_TCB.microcode,
    },
    ...defaultSnpPolicyValues(),
  };
}

/** Default `ReferenceValues.tdx` entry of Simulated-TDX: complete, insecure. */
export function simulatedTdxReferenceValues(): Record<string, unknown> {
  return {
    Platform: SIM_TDX,
    Insecure: true,
    MrTd: SIMULATED_MEASUREMENTS.tdx.mrTd,
    MrSeam: SIMULATED_MEASUREMENTS.tdx.mrSeam,
    Rtmrs: [...SIMULATED_MEASUREMENTS.tdx.rtmrs],
    Rtmr0Alternatives: [],
    // Repeated on purpose in platform-baremetal-tdx: each platform owns its defaults (a trust
    // decision), platforms cannot share code, and a shared default would belong with the manifest
    // schema.
    Xfam: 'e702060000000000',
    AllowedPIIDs: [],
    MemoryIntegrity: false,
    SMTDisabled: false,
    StaticPlatform: false,
    MinTCBEvaluationDataNumber: 0,
  };
}

function asObject(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new ContrastError('invalid-argument', 'reference values must be an object', { field });
  }
  return v as Record<string, unknown>;
}

/**
 * A verifier over the roots of the trust directory. The roots are read when it first verifies and
 * then kept: a verification does no file-system access. They are read again only when evidence
 * fails with `chain-invalid` (its root may have been registered since, by a process that started
 * issuing after this verifier read the directory); when that read finds other roots, the evidence
 * is verified once more against them. A read that began before a verification began never counts
 * as that verification's re-read (the evidence's root was registered before it was sent).
 */
function lazyAnchoredVerifier<A extends object>(
  kind: string,
  loadAnchors: () => Promise<A | undefined>,
  build: (anchors: A) => Verifier,
  dir: () => string,
): Verifier {
  type Loaded = { anchors: A; verifier: Verifier };
  let current: Loaded | undefined;
  let started = 0; // reads begun
  let applied = 0; // the latest read whose result is `current`
  let inflight: { seq: number; done: Promise<Loaded | undefined> } | undefined;
  /** The roots as read by a read that began after read number `after` (one shared read at a time). */
  const readAfter = (after: number): Promise<Loaded | undefined> => {
    if (inflight && inflight.seq > after) return inflight.done;
    const seq = ++started;
    const done = loadAnchors()
      .then((anchors) => {
        const empty = !anchors || (Array.isArray(anchors) && anchors.length === 0);
        if (seq > applied && !empty) {
          applied = seq;
          if (current?.anchors !== anchors) current = { anchors, verifier: build(anchors) };
        }
        return current;
      })
      .finally(() => {
        if (inflight?.seq === seq) inflight = undefined;
      });
    inflight = { seq, done };
    return done;
  };
  return {
    kinds: [kind],
    async verify(evidence: Evidence, expected: VerifyExpectations): Promise<VerifyResult> {
      if (evidence.kind !== kind) {
        return verifyFail(
          'unsupported-evidence-kind',
          `expected ${kind} evidence, got "${evidence.kind}"`,
          'kind',
        );
      }
      const since = started;
      const used = current ?? (await readAfter(0));
      if (!used) return verifyFail('chain-invalid', `no simulated root is registered in ${dir()}`, 'trust');
      const result = await used.verifier.verify(evidence, expected);
      if (result.ok || result.reason.code !== 'chain-invalid') return result;
      const fresh = await readAfter(since);
      if (!fresh || fresh.anchors === used.anchors) return result;
      return fresh.verifier.verify(evidence, expected);
    },
  };
}

/** Memoizes an async setup; a failed attempt is forgotten so that the next call retries. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= make();
    pending.catch(() => {
      pending = undefined;
    });
    return pending;
  };
}

/** What differs between the two simulated platforms. */
interface SimulatedSpec {
  id: string;
  tee: 'snp' | 'tdx';
  evidenceKind: string;
  aliases: string[];
  displayName: string;
  handler: string;
  referenceValues: () => Record<string, unknown>;
  createVerifier: (context: VerifierContext) => Verifier;
  createIssuer: (context: IssuerContext) => Issuer;
}

/** A simulated platform: insecure, a RuntimeClass but nothing to install, initdata binding, no guest pull. */
function defineSimulatedPlatform(spec: SimulatedSpec): Platform {
  return definePlatform({
    id: spec.id,
    aliases: spec.aliases,
    displayName: spec.displayName,
    insecure: true,
    runtime: {
      runtimeClassNames: [spec.handler],
      runtimeClasses: () => [runtimeClass(spec.handler)],
      nodeInstaller: () => [],
      // No real VM: the vCPU base only (the simulated measurement does not depend on the count).
      vmSizing: { baseVcpus: 1 },
    },
    attestation: {
      tee: spec.tee,
      evidenceKinds: [spec.evidenceKind],
      defaultReferenceValues: () => [spec.referenceValues()],
      createVerifier: spec.createVerifier,
      createIssuer: spec.createIssuer,
      policyBinding: 'initdata',
    },
    policy: { settingsPatch: {}, guestPull: false },
  });
}

/** Builds Simulated-SNP over a trust directory. @public */
export function createSimulatedSnpPlatform(options: SimulatedPlatformOptions = {}): Platform {
  const trust = options.trust ?? lazyDefaultTrust();
  const handler = runtimeClassName(SIM_SNP, simulatedRuntimeHash(SIM_SNP, SIMULATED_MEASUREMENTS.snp));
  const getChain = once(async () => {
    const c =
      options.snpChain ??
      (await createSimulatedSnpChain({ product: 'Genoa', tcb: { ...SIMULATED_SNP_TCB } }));
    await trust.registerSnpRoot({ product: c.product, ark: c.arkPem, ask: c.askPem });
    return c;
  });
  return defineSimulatedPlatform({
    id: SIM_SNP,
    tee: 'snp',
    evidenceKind: SNP_EVIDENCE_KIND,
    aliases: ['simulated-snp-insecure', 'sim-snp'],
    displayName: 'Simulated AMD SEV-SNP (INSECURE, local key chain)',
    handler,
    referenceValues: simulatedSnpReferenceValues,
    createVerifier(context: VerifierContext) {
      const rv = asObject(context.referenceValues, 'ReferenceValues.snp[]') as SnpReferenceValues;
      createSnpVerifier({ referenceValues: rv }); // validates the shape now (throws on misuse)
      return lazyAnchoredVerifier<SnpTrustAnchor[]>(
        SNP_EVIDENCE_KIND,
        () => trust.snpTrustAnchors(),
        (trustAnchors) =>
          createSnpVerifier({
            referenceValues: rv,
            trustAnchors,
            ...(options.collateral?.snp ? { kds: options.collateral.snp } : {}),
            logger: context.logger,
            ...(context.now ? { now: context.now } : {}),
          }),
        () => trust.dir,
      );
    },
    createIssuer(context: IssuerContext) {
      const hostData = hostDataOf(context);
      return {
        kind: SNP_EVIDENCE_KIND,
        async issue(reportData: Uint8Array): Promise<Evidence> {
          const issuer = await createSimulatedSnpIssuer({
            chain: await getChain(),
            measurement: label('Simulated-SNP launch measurement'),
            hostData,
          });
          return issuer.issue(reportData);
        },
      };
    },
  });
}

/** Builds Simulated-TDX over a trust directory. @public */
export function createSimulatedTdxPlatform(options: SimulatedPlatformOptions = {}): Platform {
  const trust = options.trust ?? lazyDefaultTrust();
  const m = SIMULATED_MEASUREMENTS.tdx;
  const handler = runtimeClassName(
    SIM_TDX,
    simulatedRuntimeHash(SIM_TDX, {
      mrTd: m.mrTd,
      mrSeam: m.mrSeam,
      ...Object.fromEntries(m.rtmrs.map((r, i) => [`rtmr${i}`, r])),
    }),
  );
  const td: SimulatedTdFields = {
    mrTd: label('Simulated-TDX MRTD'),
    mrSeam: label('Simulated-TDX MRSEAM'),
    rtmrs: [0, 1, 2, 3].map((i) => label(`Simulated-TDX RTMR${i}`)),
  };
  const getSim = once(async () => {
    const s = options.tdxSimulator ?? (await createSimulatedTdxIssuer({ td }));
    await trust.registerTdxRoot(s.rootCertificatePem);
    return s;
  });
  return defineSimulatedPlatform({
    id: SIM_TDX,
    tee: 'tdx',
    evidenceKind: TDX_EVIDENCE_KIND,
    aliases: ['simulated-tdx-insecure', 'sim-tdx'],
    displayName: 'Simulated Intel TDX (INSECURE, local key chain)',
    handler,
    referenceValues: simulatedTdxReferenceValues,
    createVerifier(context: VerifierContext) {
      const rv = asObject(context.referenceValues, 'ReferenceValues.tdx[]') as TdxReferenceValues;
      createTdxVerifier({ referenceValues: rv }); // validates the shape now (throws on misuse)
      return lazyAnchoredVerifier<TdxTrustAnchors>(
        TDX_EVIDENCE_KIND,
        () => trust.tdxTrustAnchors(),
        (trustAnchors) =>
          createTdxVerifier({
            referenceValues: rv,
            trustAnchors,
            // Without a source the simulator has no collateral; with one, TCB info is required.
            ...(options.collateral?.tdx
              ? { collateral: options.collateral.tdx, requireCollateral: true }
              : { requireCollateral: false }),
            logger: context.logger,
            ...(context.now ? { now: context.now } : {}),
          }),
        () => trust.dir,
      );
    },
    createIssuer(context: IssuerContext) {
      const mrConfigId = concatBytes(hostDataOf(context), new Uint8Array(16));
      return {
        kind: TDX_EVIDENCE_KIND,
        async issue(reportData: Uint8Array): Promise<Evidence> {
          if (reportData.length !== 64) {
            throw new ContrastError('invalid-argument', 'REPORT_DATA must be 64 bytes', {
              field: 'reportData',
            });
          }
          const s = await getSim();
          return { kind: TDX_EVIDENCE_KIND, data: s.quote(reportData, { ...td, mrConfigId }) };
        },
      };
    },
  });
}

/** Simulated-SNP over the default trust directory. @public */
export const simulatedSnp: Platform = createSimulatedSnpPlatform();
/** Simulated-TDX over the default trust directory. @public */
export const simulatedTdx: Platform = createSimulatedTdxPlatform();
