import { SNP_EVIDENCE_KIND } from '@contrast-cc/attestation/snp';
import { definePlatform, type Platform } from '@contrast-cc/core';
import {
  createQemuRuntime,
  type QemuRuntime,
  type QemuRuntimeInfo,
  unconfiguredQemuRuntime,
} from '@contrast-cc/node-installer';
import { metalSnpReferenceValues } from './reference-values.js';
import type { MetalQemuSnpAssets } from './runtime-assets.js';
import { createSnpPlatformVerifier, type SnpPlatformVerifierOptions } from './verifier.js';

const ID = 'Metal-QEMU-SNP';

/** VM overhead declared on the RuntimeClass (memory as upstream, cpu for the VMM threads). */
export const METAL_QEMU_SNP_POD_OVERHEAD = { memory: '1152Mi', cpu: '250m' } as const;

/**
 * The node label that marks SEV-SNP nodes: the RuntimeClass schedules pods onto them and the
 * node installer runs only there. The cluster admin sets it (`kubectl label node <n>
 * contrast.edgeless.systems/tee=sev-snp`).
 */
export const METAL_QEMU_SNP_NODE_SELECTOR = { 'contrast.edgeless.systems/tee': 'sev-snp' } as const;

const SNP_MEASURED_VCPUS = [1] as const;

/** Options of {@link createMetalQemuSnpPlatform}. */
export interface MetalQemuSnpOptions extends SnpPlatformVerifierOptions {
  /**
   * Runtime release data (files, images, launch measurements). Without it no release is pinned:
   * the runtime refuses to produce RuntimeClass and installer objects, saying to supply assets.
   */
  assets?: MetalQemuSnpAssets;
}

function snpRuntime(assets: MetalQemuSnpAssets): QemuRuntime {
  return createQemuRuntime({
    platformId: ID,
    tee: 'snp',
    assets,
    podOverhead: METAL_QEMU_SNP_POD_OVERHEAD,
    nodeSelector: METAL_QEMU_SNP_NODE_SELECTOR,
    // The launch measurement holds one VMSA per vCPU; the reference values are the 1-vCPU
    // digests (APEIP, which extrapolates to other counts, is refused by the verifier).
    measuredVcpuCounts: SNP_MEASURED_VCPUS,
  });
}

/** Builds the Metal-QEMU-SNP platform (e.g. with another release's assets or trust anchors). */
export function createMetalQemuSnpPlatform(options: MetalQemuSnpOptions = {}): Platform {
  const assets = options.assets;
  const runtime = assets ? snpRuntime(assets) : unconfiguredQemuRuntime(ID, SNP_MEASURED_VCPUS);
  return definePlatform({
    id: ID,
    aliases: ['baremetal-snp', 'metal-snp'],
    displayName: 'Bare metal, QEMU, AMD SEV-SNP',
    runtime: runtime.platformRuntime(),
    attestation: {
      tee: 'snp',
      evidenceKinds: [SNP_EVIDENCE_KIND],
      defaultReferenceValues: () => metalSnpReferenceValues(ID, assets),
      createVerifier: (context) => createSnpPlatformVerifier(context, options),
      policyBinding: 'initdata',
    },
    policy: runtime.platformPolicy(),
  });
}

/** The generated runtime configuration (hash, handler, installer config, Kata TOML, containerd patches). */
export function metalQemuSnpRuntimeInfo(assets: MetalQemuSnpAssets): QemuRuntimeInfo {
  return snpRuntime(assets).info();
}

/** The Metal-QEMU-SNP platform (no runtime release pinned: supply assets) with AMD's roots. @public */
export const metalQemuSnp: Platform = createMetalQemuSnpPlatform();
