import type { CollateralConfig } from '@contrast-cc/attestation';
import {
  ContrastError,
  createPlatformRegistry,
  type Platform,
  type PlatformRegistry,
} from '@contrast-cc/core';
import type { LoadedRuntimeAssets, QemuTee } from '@contrast-cc/node-installer';
import { createMetalQemuSnpPlatform, type MetalQemuSnpAssets } from '@contrast-cc/platform-baremetal-snp';
import { createMetalQemuTdxPlatform, type MetalQemuTdxAssets } from '@contrast-cc/platform-baremetal-tdx';
import { createPlatformCatalog } from '@contrast-cc/platforms';

/**
 * The platforms the contrast CLI knows: the one catalog every app uses (`@contrast-cc/platforms`).
 * The simulated platforms trust the simulator roots registered in `simulatorDir` (default:
 * $CONTRAST_SIMULATOR_DIR, else the simulator's own default), so a CLI and a Coordinator in
 * different processes agree. Real platforms fetch missing collateral (e.g. a Coordinator's bare TDX
 * quote) from AMD KDS / Intel PCS unless `collateral` says otherwise.
 */
export function cliPlatformRegistry(
  options: { simulatorDir?: string; collateral?: CollateralConfig } = {},
): PlatformRegistry {
  return createPlatformCatalog({
    ...(options.simulatorDir ? { simulatorDir: options.simulatorDir } : {}),
    ...(options.collateral ? { collateral: options.collateral } : {}),
  }).registry;
}

/** The platforms whose runtime Contrast installs itself, and how to build one from assets. */
const INSTALLED_RUNTIMES: Record<
  string,
  { tee: QemuTee; create(assets: LoadedRuntimeAssets['assets']): Platform }
> = {
  'Metal-QEMU-SNP': {
    tee: 'snp',
    create: (assets) => createMetalQemuSnpPlatform({ assets: assets as MetalQemuSnpAssets }),
  },
  'Metal-QEMU-TDX': {
    tee: 'tdx',
    create: (assets) => createMetalQemuTdxPlatform({ assets: assets as MetalQemuTdxAssets }),
  },
};

/**
 * `--assets <file|dir>`: reads the runtime assets description and returns the registry with the
 * platform it names rebuilt on those assets (its RuntimeClass, installer and reference values).
 * Throws `invalid-argument` naming file and field.
 */
export async function registryWithRuntimeAssets(
  registry: PlatformRegistry,
  location: string,
): Promise<{ registry: PlatformRegistry; platform: Platform }> {
  const { loadRuntimeAssets } = await import('@contrast-cc/node-installer');
  const loaded = await loadRuntimeAssets(location, (id) => INSTALLED_RUNTIMES[id]?.tee);
  const platform = (INSTALLED_RUNTIMES[loaded.platformId] as (typeof INSTALLED_RUNTIMES)[string]).create(
    loaded.assets,
  );
  const list = registry.list();
  if (!list.some((p) => p.id === platform.id)) {
    throw new ContrastError(
      'invalid-argument',
      `${location}: platform ${platform.id} is not available here`,
      {
        field: 'platform',
      },
    );
  }
  return {
    registry: createPlatformRegistry(list.map((p) => (p.id === platform.id ? platform : p))),
    platform,
  };
}
