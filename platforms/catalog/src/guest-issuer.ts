// Where a guest program's evidence comes from (the Coordinator's, the initializer's): the issuer
// its environment chooses (see guest-env.ts), opened the same way in both.
import { ConfigfsTsmIssuer } from '@contrast-cc/api/tsm';
import { fromHex, type Issuer, type Logger } from '@contrast-cc/core';
import { FakeIssuer } from '@contrast-cc/core/testing';
import { createAksVcekSource } from '@contrast-cc/platform-aks';
import { createPlatformCatalog } from './catalog.js';
import type { IssuerEnv } from './guest-env.js';

/** Options of {@link openGuestIssuer}. @public */
export interface GuestIssuerOptions {
  logger: Logger;
  /** Who the evidence speaks for, in the warning of an insecure issuer ("this pod proves nothing"). */
  subject: string;
  /**
   * AKS: THIM's base URL (`CONTRAST_THIM_URL`, http://169.254.169.254 on Azure): SNP evidence from
   * configfs-tsm without a VCEK gets it and its chain from THIM. Absent or `off`: none.
   */
  thimUrl?: string | undefined;
  /** The simulated platforms' trust directory (default `$CONTRAST_SIMULATOR_DIR`). */
  simulatorDir?: string;
}

/**
 * Opens the issuer `env` chooses (parse it with `parseGuestEnv` first, which refuses an insecure
 * one without the opt-in): configfs-tsm (`tsm`); the simulator platform's issuer (`simulated-snp`
 * / `simulated-tdx`: the real report/quote format, its key chain in the simulator trust directory,
 * `CONTRAST_FAKE_POLICY_HASH` bound as HOST_DATA / MRCONFIGID); or the core fake issuer (`fake`).
 * The insecure ones are announced with a warning.
 * @public
 */
export async function openGuestIssuer(env: IssuerEnv, options: GuestIssuerOptions): Promise<Issuer> {
  const log = options.logger;
  const policyHash = env.CONTRAST_FAKE_POLICY_HASH;
  if (env.CONTRAST_ISSUER === 'simulated-snp' || env.CONTRAST_ISSUER === 'simulated-tdx') {
    log.warn(`INSECURE: using a simulated platform issuer; this ${options.subject} proves nothing`, {
      issuer: env.CONTRAST_ISSUER,
    });
    const id = env.CONTRAST_ISSUER === 'simulated-snp' ? 'Simulated-SNP' : 'Simulated-TDX';
    const catalog = createPlatformCatalog({
      simulated: true,
      ...(options.simulatorDir ? { simulatorDir: options.simulatorDir } : {}),
    });
    const create = catalog.platforms.find((p) => p.id === id)?.attestation.createIssuer;
    if (!create) throw new Error(`CONTRAST_ISSUER: the platform ${id} has no issuer`);
    return create({ logger: log, ...(policyHash ? { hostData: fromHex(policyHash) } : {}) });
  }
  if (env.CONTRAST_ISSUER === 'fake') {
    log.warn(`INSECURE: using the fake issuer; this ${options.subject} proves nothing`);
    return new FakeIssuer({
      ...(policyHash ? { policyDigest: policyHash } : {}),
      ...(env.CONTRAST_FAKE_MEASUREMENT ? { measurement: env.CONTRAST_FAKE_MEASUREMENT } : {}),
    });
  }
  const thim =
    options.thimUrl && options.thimUrl !== 'off'
      ? createAksVcekSource({ thimBaseUrl: options.thimUrl, logger: log })
      : undefined;
  return ConfigfsTsmIssuer.open({
    ...(env.CONTRAST_TSM_PATH ? { root: env.CONTRAST_TSM_PATH } : {}),
    ...(thim ? { snpCertificates: (report: Uint8Array) => thim.collateralFor(report) } : {}),
    logger: log,
  });
}
