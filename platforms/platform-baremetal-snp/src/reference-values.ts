import { defaultSnpPolicyValues } from '@contrast-cc/manifest';
import type { MetalQemuSnpAssets } from './runtime-assets.js';

/**
 * Default `ReferenceValues.snp` entries for Metal-QEMU-SNP, one per product (Milan, Genoa), as
 * upstream: guest policy ABI 0.0 with SMT allowed and everything else off, platform with SMT
 * enabled. `MinimumTCB` is left out on purpose: it depends on the user's firmware (`snphost
 * show tcb`), and the manifest reports it as "please fill in". `TrustedMeasurement` is the
 * launch digest of the runtime's assets (computed from its firmware and kernel); without assets
 * it is absent and manifest validation fails: no one deploys on an unknown runtime by accident.
 */
export function metalSnpReferenceValues(
  platformId: string,
  assets: MetalQemuSnpAssets | undefined,
): unknown[] {
  return (['Milan', 'Genoa'] as const).map((product) => {
    const measurement = assets?.launchMeasurements[product];
    return {
      Platform: platformId,
      ProductName: product,
      ...(measurement ? { TrustedMeasurement: measurement } : {}),
      ...defaultSnpPolicyValues(),
    };
  });
}
