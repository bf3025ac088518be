import type { CollateralConfig } from '@contrast-cc/attestation';
import { type PeerAddress, parsePeerList } from '@contrast-cc/authority';
import { issuerEnvShape, parseGuestEnv } from '@contrast-cc/platforms';
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
/** An http(s) base URL, or `off`. */
const collateralUrl = z
  .string()
  .trim()
  .refine((v) => v === 'off' || /^https?:\/\/[^\s/]+/.test(v), 'must be an http(s) URL or "off"')
  .optional();

/** The Coordinator's configuration from the environment (flags override, see `main.ts`). */
export const CoordinatorConfigSchema = z.object({
  CONTRAST_LISTEN_ADDRESS: z.string().min(1).default('0.0.0.0'),
  CONTRAST_API_PORT: port.default(1314),
  /** Probes and metrics; `off` disables them. */
  CONTRAST_METRICS_PORT: z.union([z.literal('off'), port]).default(9102),
  /** The transit API for Vault/OpenBao auto-unseal (upstream's port); `off` disables it. */
  CONTRAST_TRANSIT_PORT: z.union([z.literal('off'), port]).default(8200),
  CONTRAST_STORE: z.enum(['dir', 'configmap']).optional(),
  CONTRAST_STORE_DIR: z.string().min(1).default('/var/lib/contrast/history'),
  CONTRAST_NAMESPACE: z.string().optional(),
  CONTRAST_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /**
   * Where evidence comes from (CONTRAST_ISSUER, CONTRAST_TSM_PATH) and the insecure opt-in
   * (CONTRAST_ALLOW_INSECURE_RUNTIMES) for tests, demo and benchmarks: see `issuerEnvShape`.
   */
  ...issuerEnvShape,
  /**
   * Peer recovery (a stale replica recovers itself from an active one): `kubernetes` (the
   * EndpointSlices of the `coordinator` Service), a list `host:port,host:port`, or `off`.
   * Default: `kubernetes` with the ConfigMap store (replicas share it), else `off`.
   */
  CONTRAST_PEERS: z.string().trim().optional(),
  /**
   * Collateral for evidence that does not carry it (configfs-tsm TDX quotes, SNP reports without
   * an extended certificate table). AMD KDS (or a mirror of its paths) for SNP VCEKs, chains and
   * CRLs; default https://kdsintf.amd.com, `off` disables it.
   */
  CONTRAST_KDS_URL: collateralUrl,
  /** Intel PCS v4 or an operator's PCCS for TDX collateral; default https://api.trustedservices.intel.com, `off` disables it. */
  CONTRAST_PCS_URL: collateralUrl,
  /**
   * AKS: the Azure instance metadata endpoint (THIM), http://169.254.169.254 on Azure; when set,
   * the Coordinator's own SNP evidence takes its VCEK and chain from THIM (then KDS) when configfs-tsm
   * gives none.
   */
  CONTRAST_THIM_URL: collateralUrl,
  /** An offline collateral directory (e.g. a mounted ConfigMap), read before the network. */
  CONTRAST_COLLATERAL_DIR: z.string().min(1).optional(),
  /** Where fetched collateral is cached on disk (default: memory only). */
  CONTRAST_COLLATERAL_CACHE_DIR: z.string().min(1).optional(),
  /** Per-request timeout of collateral fetches, ms (default 20000). */
  CONTRAST_COLLATERAL_TIMEOUT_MS: z.coerce.number().int().positive().optional(),
  /** Retries of a collateral fetch after 429/503 or a network error (default 3). */
  CONTRAST_COLLATERAL_RETRIES: z.coerce.number().int().min(0).max(10).optional(),
  KUBERNETES_SERVICE_HOST: z.string().optional(),
  HOSTNAME: z.string().optional(),
});

/** @public */
export type CoordinatorConfig = z.infer<typeof CoordinatorConfigSchema>;

/** Where the peers for automatic recovery come from (see `CONTRAST_PEERS`). @public */
export type PeerDiscovery =
  | { mode: 'off' }
  | { mode: 'kubernetes' }
  | { mode: 'static'; peers: PeerAddress[] };

/** The store backend the configuration selects (`configmap` in a cluster unless set). @public */
export function storeBackend(c: CoordinatorConfig): 'dir' | 'configmap' {
  return c.CONTRAST_STORE ?? (c.KUBERNETES_SERVICE_HOST ? 'configmap' : 'dir');
}

/**
 * Peer recovery from `CONTRAST_PEERS`. Unset: on (`kubernetes`) when replicas share the ConfigMap
 * store, off with a directory store (one process; nobody to ask). Throws naming the variable.
 * @public
 */
export function peerDiscovery(c: CoordinatorConfig): PeerDiscovery {
  const v = c.CONTRAST_PEERS;
  if (v === undefined || v === '')
    return storeBackend(c) === 'configmap' ? { mode: 'kubernetes' } : { mode: 'off' };
  if (v === 'off') return { mode: 'off' };
  if (v === 'kubernetes') return { mode: 'kubernetes' };
  try {
    return { mode: 'static', peers: parsePeerList(v) };
  } catch (e) {
    const field = (e as { field?: string }).field;
    throw new Error(
      `CONTRAST_PEERS: ${field ? `${field}: ` : ''}${(e as Error).message} (use "kubernetes", "off" or host:port,host:port)`,
    );
  }
}

/** Parses the environment; throws an Error naming the variable. */
export function parseConfig(env: Record<string, string | undefined>): CoordinatorConfig {
  const c = parseGuestEnv(CoordinatorConfigSchema, env);
  peerDiscovery(c);
  return c;
}

/**
 * The collateral settings of `CONTRAST_KDS_URL`, `CONTRAST_PCS_URL`, `CONTRAST_COLLATERAL_DIR`,
 * `CONTRAST_COLLATERAL_CACHE_DIR`, `CONTRAST_COLLATERAL_TIMEOUT_MS` and `CONTRAST_COLLATERAL_RETRIES`:
 * unset URLs are absent (the platform catalog then uses AMD's and Intel's for real platforms),
 * `off` is `''` (no source).
 * @public
 */
export function collateralConfig(c: CoordinatorConfig): CollateralConfig {
  const url = (v: string | undefined) => (v === undefined ? {} : { value: v === 'off' ? '' : v });
  const kds = url(c.CONTRAST_KDS_URL);
  const pcs = url(c.CONTRAST_PCS_URL);
  return {
    ...('value' in kds ? { kdsUrl: kds.value } : {}),
    ...('value' in pcs ? { pcsUrl: pcs.value } : {}),
    ...(c.CONTRAST_COLLATERAL_DIR ? { dir: c.CONTRAST_COLLATERAL_DIR } : {}),
    ...(c.CONTRAST_COLLATERAL_CACHE_DIR ? { cacheDir: c.CONTRAST_COLLATERAL_CACHE_DIR } : {}),
    ...(c.CONTRAST_COLLATERAL_TIMEOUT_MS ? { timeoutMs: c.CONTRAST_COLLATERAL_TIMEOUT_MS } : {}),
    ...(c.CONTRAST_COLLATERAL_RETRIES !== undefined ? { maxRetries: c.CONTRAST_COLLATERAL_RETRIES } : {}),
  };
}
