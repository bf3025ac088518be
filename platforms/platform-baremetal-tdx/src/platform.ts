import { TDX_EVIDENCE_KIND } from '@contrast-cc/attestation/tdx';
import { definePlatform, type Platform } from '@contrast-cc/core';
import {
  createQemuRuntime,
  type QemuRuntime,
  type QemuRuntimeInfo,
  unconfiguredQemuRuntime,
} from '@contrast-cc/node-installer';
import { metalTdxReferenceValues } from './reference-values.js';
import type { MetalQemuTdxAssets } from './runtime-assets.js';
import { createTdxPlatformVerifier, type TdxPlatformVerifierOptions } from './verifier.js';

const ID = 'Metal-QEMU-TDX';

/** VM overhead declared on the RuntimeClass (memory as upstream, cpu for the VMM threads). */
export const METAL_QEMU_TDX_POD_OVERHEAD = { memory: '1152Mi', cpu: '250m' } as const;

/**
 * The node label that marks TDX nodes: the RuntimeClass schedules pods onto them and the
 * node installer runs only there. The cluster admin sets it (`kubectl label node <n>
 * contrast.edgeless.systems/tee=tdx`).
 */
export const METAL_QEMU_TDX_NODE_SELECTOR = { 'contrast.edgeless.systems/tee': 'tdx' } as const;

/** Options of {@link createMetalQemuTdxPlatform}. */
export interface MetalQemuTdxOptions extends TdxPlatformVerifierOptions {
  /**
   * Runtime release data (files, images, launch measurements). Without it no release is pinned:
   * the runtime refuses to produce RuntimeClass and installer objects, saying to supply assets.
   */
  assets?: MetalQemuTdxAssets;
}

function tdxRuntime(assets: MetalQemuTdxAssets): QemuRuntime {
  return createQemuRuntime({
    platformId: ID,
    tee: 'tdx',
    assets,
    podOverhead: METAL_QEMU_TDX_POD_OVERHEAD,
    nodeSelector: METAL_QEMU_TDX_NODE_SELECTOR,
    ...measuredVcpus(assets),
  });
}

/**
 * RTMR0 depends on the vCPU count. The assets' `rtmrs[0]` is the 1-vCPU value; the verifier also
 * accepts any of `rtmr0Alternatives`, which do not say which counts they are for: with
 * alternatives generate does not check the count (the verifier decides), without them only a
 * 1-vCPU pod VM attests.
 */
function measuredVcpus(assets: MetalQemuTdxAssets | undefined): { measuredVcpuCounts?: readonly number[] } {
  return assets && assets.launchMeasurements.rtmr0Alternatives.length > 0 ? {} : { measuredVcpuCounts: [1] };
}

/** Builds the Metal-QEMU-TDX platform (e.g. with another release's assets or trust anchors). */
export function createMetalQemuTdxPlatform(options: MetalQemuTdxOptions = {}): Platform {
  const assets = options.assets;
  const runtime = assets ? tdxRuntime(assets) : unconfiguredQemuRuntime(ID, [1]);
  return definePlatform({
    id: ID,
    aliases: ['baremetal-tdx', 'metal-tdx'],
    displayName: 'Bare metal, QEMU, Intel TDX',
    runtime: runtime.platformRuntime(),
    attestation: {
      tee: 'tdx',
      evidenceKinds: [TDX_EVIDENCE_KIND],
      defaultReferenceValues: () => metalTdxReferenceValues(ID, assets),
      createVerifier: (context) => createTdxPlatformVerifier(context, options),
      policyBinding: 'initdata',
    },
    policy: runtime.platformPolicy(),
  });
}

/** The generated runtime configuration (hash, handler, installer config, Kata TOML, containerd patches). */
export function metalQemuTdxRuntimeInfo(assets: MetalQemuTdxAssets): QemuRuntimeInfo {
  return tdxRuntime(assets).info();
}

/** The Metal-QEMU-TDX platform (no runtime release pinned: supply assets) with Intel's root. @public */
export const metalQemuTdx: Platform = createMetalQemuTdxPlatform();
