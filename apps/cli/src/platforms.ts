import { createPlatformRegistry, type PlatformRegistry } from '@contrast-cc/core';
import { aksClhSnp } from '@contrast-cc/platform-aks';
import { metalQemuSnp } from '@contrast-cc/platform-baremetal-snp';
import { metalQemuTdx } from '@contrast-cc/platform-baremetal-tdx';
import {
  createSimulatedSnpPlatform,
  createSimulatedTdxPlatform,
  createSimulatorTrust,
} from '@contrast-cc/platform-simulator';

/**
 * The platforms the contrast CLI knows, registered explicitly. The simulated platforms trust the
 * simulator roots registered in `simulatorDir` (default: $CONTRAST_SIMULATOR_DIR, else the
 * simulator's own default), so a CLI and a Coordinator in different processes agree.
 */
export function cliPlatformRegistry(options: { simulatorDir?: string } = {}): PlatformRegistry {
  const trust = options.simulatorDir ? { trust: createSimulatorTrust({ dir: options.simulatorDir }) } : {};
  return createPlatformRegistry([
    metalQemuSnp,
    metalQemuTdx,
    aksClhSnp,
    createSimulatedSnpPlatform(trust),
    createSimulatedTdxPlatform(trust),
  ]);
}
