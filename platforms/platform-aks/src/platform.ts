import {
  createSnpVerifier,
  refuseApeip,
  SNP_EVIDENCE_KIND,
  type SnpCollateralSource,
  type SnpReferenceValues,
  type SnpTrustAnchor,
} from '@contrast-cc/attestation/snp';
import {
  ContrastError,
  definePlatform,
  type Evidence,
  type Issuer,
  type KubeObject,
  type Platform,
  type Verifier,
  type VerifierContext,
} from '@contrast-cc/core';
import { defaultSnpPolicyValues } from '@contrast-cc/manifest';
import type { AksVcekSource } from './vcek-source.js';

const ID = 'AKS-CLH-SNP';

/** The RuntimeClass AKS provides on node pools created with `--workload-runtime KataCcIsolation`. @public */
export const AKS_RUNTIME_CLASS = 'kata-cc-isolation';
/** The containerd handler behind it on AKS nodes. @public */
export const AKS_RUNTIME_HANDLER = 'kata-cc';
/** The node label AKS sets on Kata CC nodes; the RuntimeClass schedules onto it. @public */
export const AKS_NODE_SELECTOR = { 'kubernetes.azure.com/kata-cc-isolation': 'true' } as const;

/**
 * The RuntimeClass as AKS defines it (for reference and `contrast runtime`; AKS installs and
 * reconciles it, so never apply it yourself). Its handler is `kata-cc`, not its name.
 */
function aksRuntimeClass(): KubeObject {
  return {
    apiVersion: 'node.k8s.io/v1',
    kind: 'RuntimeClass',
    metadata: { name: AKS_RUNTIME_CLASS },
    handler: AKS_RUNTIME_HANDLER,
    scheduling: { nodeSelector: { ...AKS_NODE_SELECTOR } },
  };
}

/**
 * Default `ReferenceValues.snp` entry for AKS, as upstream embedded it: Milan, minimum TCB
 * prefilled (bootloader 3, TEE 0, SNP 8, microcode 115), guest policy ABI 0.31 with SMT. The
 * `TrustedMeasurement` (launch digest of the IGVM image of your AKS node image) is not known to
 * this package: fill it in from your node pool.
 * @public
 */
export function aksReferenceValues(): Record<string, unknown>[] {
  return [
    {
      Platform: ID,
      ProductName: 'Milan',
      MinimumTCB: { BootloaderVersion: 3, TEEVersion: 0, SNPVersion: 8, MicrocodeVersion: 115 },
      ...defaultSnpPolicyValues(31),
    },
  ];
}

/** The manifest entry as the attestation package's reference values; refuses incomplete ones. */
function referenceValuesFromManifest(entry: unknown): SnpReferenceValues {
  const base = 'ReferenceValues.snp[]';
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new ContrastError('invalid-argument', 'reference values must be an object', { field: base });
  }
  const rv = entry as Record<string, unknown> & SnpReferenceValues;
  if (typeof rv.TrustedMeasurement !== 'string' || rv.TrustedMeasurement === '') {
    throw new ContrastError(
      'invalid-argument',
      'please fill in the TrustedMeasurement: the launch digest of the IGVM image of your AKS node pool',
      { field: `${base}.TrustedMeasurement` },
    );
  }
  for (const f of ['BootloaderVersion', 'TEEVersion', 'SNPVersion', 'MicrocodeVersion'] as const) {
    const v = rv.MinimumTCB?.[f];
    if (v === undefined || v === null) {
      throw new ContrastError('invalid-argument', 'the minimum TCB must be complete', {
        field: `${base}.MinimumTCB.${f}`,
      });
    }
  }
  refuseApeip(rv as { APEIP?: unknown }, base);
  const { Insecure: _i, APEIP: _a, AllowedChipIDs, ...rest } = rv as Record<string, unknown>;
  return {
    ...(rest as SnpReferenceValues),
    ...(Array.isArray(AllowedChipIDs) && AllowedChipIDs.length > 0 ? { AllowedChipIDs } : {}),
  };
}

/** Options of {@link createAksPlatform}. @public */
export interface AksPlatformOptions {
  trustAnchors?: SnpTrustAnchor[];
  /**
   * Verifier-side fallback: fetch a VCEK from KDS (or the offline collateral directory) when the
   * evidence carries none, and check the CRL. (THIM serves only the querying VM's own host, so it
   * is used on the guest side, by {@link createAksIssuer}.)
   */
  kds?: SnpCollateralSource;
  /**
   * The VM memory (MiB) AKS's Kata gives a pod before its containers' memory (the `default_memory`
   * of the node's Kata configuration). Default {@link AKS_BASE_MEMORY_MIB}.
   */
  baseMemoryMiB?: number;
}

/**
 * A guest allowance (MiB) for the VM beyond its containers: `DEFMEMSZ=256` of the node builder of
 * microsoft/kata-containers in one version (later builds moved to 0 plus a 512 MiB default
 * workload memory; a node image may differ: pass `baseMemoryMiB`). The VM memory of a pod with
 * only memory requests is this plus the requests, through the `default_memory` annotation
 * generate writes. Not verified on a cluster.
 * @public
 */
export const AKS_BASE_MEMORY_MIB = 256;

/** Upstream's limitation (docs, "Planned features and limitations"), as generate says it. */
const AKS_MEMORY_LIMITS =
  'on AKS container memory limits are applied wrongly (a known bug of the AKS runtime; upstream advises memory requests only).';

function createAksVerifier(context: VerifierContext, options: AksPlatformOptions): Verifier {
  return createSnpVerifier({
    referenceValues: referenceValuesFromManifest(context.referenceValues),
    product: 'Milan',
    logger: context.logger,
    ...(context.now ? { now: context.now } : {}),
    ...(options.trustAnchors ? { trustAnchors: options.trustAnchors } : {}),
    ...(options.kds ? { kds: options.kds } : {}),
  });
}

/** Options of {@link createAksIssuer}. @public */
export interface AksIssuerOptions {
  /**
   * Produces the raw 1184-byte SNP report for a REPORT_DATA (inside the pod VM: configfs-tsm or
   * /dev/sev-guest). Injected: this package does not talk to the hardware itself.
   */
  getReport(reportData: Uint8Array): Promise<Uint8Array>;
  vcekSource: AksVcekSource;
}

/**
 * The guest-side issuer for AKS pod VMs: the hardware report plus the VCEK and ASK/ARK from
 * THIM (or KDS), as `snp-report` evidence with `vcek` and `cert-chain` extras.
 * @public
 */
export function createAksIssuer(options: AksIssuerOptions): Issuer {
  return {
    kind: SNP_EVIDENCE_KIND,
    async issue(reportData: Uint8Array): Promise<Evidence> {
      const data = await options.getReport(reportData);
      const c = await options.vcekSource.collateralFor(data);
      return {
        kind: SNP_EVIDENCE_KIND,
        data,
        extras: { vcek: c.vcek, 'cert-chain': new TextEncoder().encode(c.certChain) },
      };
    },
  };
}

/**
 * Builds the AKS-CLH-SNP platform: Kata CC pods on AKS (cloud-hypervisor, IGVM, Microsoft's
 * Kata), runtime class `kata-cc-isolation` installed by AKS, policy bound by the legacy
 * `io.katacontainers.config.agent.policy` annotation (sha256 of the policy text = HOST_DATA).
 * Upstream Contrast dropped AKS; this project keeps it for its users.
 * @public
 */
export function createAksPlatform(options: AksPlatformOptions = {}): Platform {
  return definePlatform({
    id: ID,
    aliases: ['aks'],
    displayName: 'Azure Kubernetes Service, Cloud Hypervisor, AMD SEV-SNP',
    runtime: {
      runtimeClassNames: [AKS_RUNTIME_CLASS],
      runtimeClasses: () => [aksRuntimeClass()],
      nodeInstaller: () => [],
      // The vCPU counts the node pool's IGVM measurement covers are not known here (the user
      // fills in the TrustedMeasurement), so the count is not checked.
      vmSizing: {
        baseVcpus: 1,
        baseMemoryMiB: options.baseMemoryMiB ?? AKS_BASE_MEMORY_MIB,
        memoryLimitsUnreliable: AKS_MEMORY_LIMITS,
      },
    },
    attestation: {
      tee: 'snp',
      evidenceKinds: [SNP_EVIDENCE_KIND],
      defaultReferenceValues: aksReferenceValues,
      createVerifier: (context) => createAksVerifier(context, options),
      policyBinding: 'legacy-policy-annotation',
    },
    // Images are pulled on the host and mounted through the tardev snapshotter (dm-verity
    // layers); the Microsoft genpolicy settings apply, so no patch over the base here.
    policy: { settingsPatch: {}, guestPull: false },
  });
}

/** AKS-CLH-SNP with AMD's roots and no online fallback. @public */
export const aksClhSnp: Platform = createAksPlatform();
