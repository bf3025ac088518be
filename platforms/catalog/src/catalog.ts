// The one list of platforms every app uses. Adding a platform = its package + one line below.

import {
  type CollateralConfig,
  type CollateralSources,
  createCollateralSources,
  DEFAULT_COLLATERAL_URLS,
} from '@contrast-cc/attestation';
import { createPlatformRegistry, type Platform, type PlatformRegistry } from '@contrast-cc/core';
import { createAksPlatform } from '@contrast-cc/platform-aks';
import { createMetalQemuSnpPlatform } from '@contrast-cc/platform-baremetal-snp';
import { createMetalQemuTdxPlatform } from '@contrast-cc/platform-baremetal-tdx';
import {
  createSimulatedSnpPlatform,
  createSimulatedTdxPlatform,
  createSimulatorTrust,
} from '@contrast-cc/platform-simulator';

/** Options of {@link createPlatforms}. @public */
export interface PlatformCatalogOptions {
  /**
   * Where verifiers get collateral the evidence does not carry. Real platforms use AMD KDS and
   * Intel PCS unless `kdsUrl` / `pcsUrl` is given (a mirror, a PCCS) or set to `''` (off); the
   * offline `dir` is read first. Simulated platforms use only what is given explicitly (a
   * loopback stand-in serving the simulator's chain), never the vendors' services.
   */
  collateral?: CollateralConfig;
  /** Include Simulated-SNP and Simulated-TDX (insecure). Default true (the registry still marks them insecure). */
  simulated?: boolean;
  /** The simulator trust directory (default `$CONTRAST_SIMULATOR_DIR`, else the simulator's default). */
  simulatorDir?: string;
}

/** The platforms with the collateral sources they were built with. @public */
export interface PlatformCatalog {
  platforms: Platform[];
  registry: PlatformRegistry;
  /** The sources real platforms use (for a startup log line: `collateral.summary`). */
  collateral: CollateralSources;
}

/** The collateral config real platforms use: vendor defaults filled in, `''` = off. */
function realCollateral(config: CollateralConfig): CollateralConfig {
  const out: CollateralConfig = { ...config };
  const kds = config.kdsUrl ?? DEFAULT_COLLATERAL_URLS.kdsUrl;
  const pcs = config.pcsUrl ?? DEFAULT_COLLATERAL_URLS.pcsUrl;
  if (kds) out.kdsUrl = kds;
  else delete out.kdsUrl;
  if (pcs) out.pcsUrl = pcs;
  else delete out.pcsUrl;
  return out;
}

/**
 * Builds every platform this project ships, in one list: Metal-QEMU-SNP, Metal-QEMU-TDX,
 * AKS-CLH-SNP and (unless `simulated: false`) Simulated-SNP and Simulated-TDX, each verifier wired
 * to the deployment's collateral sources.
 * @public
 */
export function createPlatformCatalog(options: PlatformCatalogOptions = {}): PlatformCatalog {
  const config = options.collateral ?? {};
  const real = createCollateralSources(realCollateral(config));
  const platforms: Platform[] = [
    createMetalQemuSnpPlatform(real.snp ? { kds: real.snp } : {}),
    createMetalQemuTdxPlatform(real.tdx ? { collateral: real.tdx } : {}),
    createAksPlatform(real.snp ? { kds: real.snp } : {}),
  ];
  if (options.simulated !== false) {
    // Only what the operator named (absent URLs are off here): no vendor service for simulators.
    const explicit = createCollateralSources(config);
    const collateral = {
      ...(explicit.snp ? { snp: explicit.snp } : {}),
      ...(explicit.tdx ? { tdx: explicit.tdx } : {}),
    };
    const trust = options.simulatorDir ? { trust: createSimulatorTrust({ dir: options.simulatorDir }) } : {};
    platforms.push(
      createSimulatedSnpPlatform({ ...trust, collateral }),
      createSimulatedTdxPlatform({ ...trust, collateral }),
    );
  }
  return { platforms, registry: createPlatformRegistry(platforms), collateral: real };
}
