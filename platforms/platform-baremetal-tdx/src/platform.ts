import { TDX_EVIDENCE_KIND } from '@contrast-cc/attestation/tdx';
import { definePlatform, type Platform, runtimeClassName } from '@contrast-cc/core';
import {
  containerdPatch,
  type InstallerFlavor,
  installerConfig,
  kataConfiguration,
  nodeInstallerObjects,
  runtimeClassObject,
} from './installer.js';
import { metalTdxReferenceValues } from './reference-values.js';
import { METAL_QEMU_TDX_ASSETS, type RuntimeAssets } from './runtime-assets.js';
import { runtimeHash } from './runtime-hash.js';
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

/**
 * genpolicy settings for this runtime (JSON merge patch over the base settings): images are
 * pulled inside the guest (the Kata config sets `experimental_force_guest_pull`), so the policy
 * expects `image_guest_pull` storages. Everything else keeps the base settings.
 */
export const METAL_QEMU_SETTINGS_PATCH = { cluster_config: { guest_pull: true } } as const;

/** Options of {@link createMetalQemuTdxPlatform}. */
export interface MetalQemuTdxOptions extends TdxPlatformVerifierOptions {
  /** Runtime release data; default the pinned {@link METAL_QEMU_TDX_ASSETS}. */
  assets?: RuntimeAssets;
}

/** What the platform generates for its runtime, for tools and tests. */
export interface MetalQemuTdxRuntimeInfo {
  runtimeHash: string;
  handler: string;
  installerConfig: ReturnType<typeof installerConfig>;
  kataConfiguration: string;
  containerdPatch: { v2: string; v3: string };
}

/** Builds the Metal-QEMU-TDX platform (e.g. with another release's assets or trust anchors). */
export function createMetalQemuTdxPlatform(options: MetalQemuTdxOptions = {}): Platform {
  const assets = options.assets ?? METAL_QEMU_TDX_ASSETS;
  const flavor = tdxFlavor(assets);
  return definePlatform({
    id: ID,
    aliases: ['baremetal-tdx', 'metal-tdx'],
    displayName: 'Bare metal, QEMU, Intel TDX',
    runtime: {
      runtimeClassNames: [flavor.handler],
      runtimeClasses: () => [runtimeClassObject(flavor)],
      nodeInstaller: (o) => nodeInstallerObjects(flavor, o),
      podOverhead: { ...METAL_QEMU_TDX_POD_OVERHEAD },
    },
    attestation: {
      tee: 'tdx',
      evidenceKinds: [TDX_EVIDENCE_KIND],
      defaultReferenceValues: () => metalTdxReferenceValues(ID, assets),
      createVerifier: (context) => createTdxPlatformVerifier(context, options),
      policyBinding: 'initdata',
    },
    policy: { settingsPatch: structuredClone(METAL_QEMU_SETTINGS_PATCH), guestPull: true },
  });
}

function tdxFlavor(assets: RuntimeAssets): InstallerFlavor {
  const handler = runtimeClassName(ID, runtimeHash(ID, assets));
  return {
    platformId: ID,
    tee: 'tdx',
    handler,
    assets,
    podOverhead: { ...METAL_QEMU_TDX_POD_OVERHEAD },
    nodeSelector: { ...METAL_QEMU_TDX_NODE_SELECTOR },
  };
}

/** The generated runtime configuration (hash, handler, installer config, Kata TOML, containerd patches). */
export function metalQemuTdxRuntimeInfo(
  assets: RuntimeAssets = METAL_QEMU_TDX_ASSETS,
): MetalQemuTdxRuntimeInfo {
  const flavor = tdxFlavor(assets);
  return {
    runtimeHash: runtimeHash(ID, assets),
    handler: flavor.handler,
    installerConfig: installerConfig(flavor),
    kataConfiguration: kataConfiguration(flavor),
    containerdPatch: { v2: containerdPatch(flavor, 2), v3: containerdPatch(flavor, 3) },
  };
}

/** The Metal-QEMU-TDX platform with the pinned runtime and Intel's root. @public */
export const metalQemuTdx: Platform = createMetalQemuTdxPlatform();
