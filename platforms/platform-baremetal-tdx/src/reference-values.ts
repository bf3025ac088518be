import type { MetalQemuTdxAssets } from './runtime-assets.js';

/**
 * The default `ReferenceValues.tdx` entry for Metal-QEMU-TDX: XFAM `e702060000000000`, no memory
 * integrity requirement, no PIID pinning, as upstream. **`MrSeam` is left out on purpose**: it is
 * the hash of the TDX module on the user's hosts (`sha384sum /boot/efi/EFI/TDX/TDX-SEAM.so`), and
 * the manifest reports it as "please fill in". MRTD and RTMR0-3 come from the runtime's assets;
 * without assets they are absent and manifest validation fails.
 */
export function metalTdxReferenceValues(
  platformId: string,
  assets: MetalQemuTdxAssets | undefined,
): unknown[] {
  const m = assets?.launchMeasurements;
  return [
    {
      Platform: platformId,
      ...(m ? { MrTd: m.mrTd, Rtmrs: [...m.rtmrs], Rtmr0Alternatives: [...m.rtmr0Alternatives] } : {}),
      // Repeated on purpose in platform-simulator (Simulated-TDX): each platform owns its defaults
      // (a trust decision), platforms cannot share code, and a shared default would belong with the
      // manifest schema.
      Xfam: 'e702060000000000',
      AllowedPIIDs: [],
      MemoryIntegrity: false,
      SMTDisabled: false,
      StaticPlatform: false,
      MinTCBEvaluationDataNumber: 0,
    },
  ];
}
