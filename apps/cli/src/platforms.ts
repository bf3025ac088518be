import { createPlatformRegistry, type PlatformRegistry } from '@contrast-cc/core';
import { metalQemuSnp } from '@contrast-cc/platform-baremetal-snp';
import { metalQemuTdx } from '@contrast-cc/platform-baremetal-tdx';

/** The platforms the contrast CLI knows, registered explicitly. */
export function cliPlatformRegistry(): PlatformRegistry {
  return createPlatformRegistry([metalQemuSnp, metalQemuTdx]);
}
