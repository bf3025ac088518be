import { type PeerAddress, parsePeerList } from '@contrast-cc/authority';
import { z } from 'zod';

const bool = z
  .enum(['1', '0', 'true', 'false', ''])
  .optional()
  .transform((v) => v === '1' || v === 'true');
const port = z.coerce.number().int().min(0).max(65535);

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
  CONTRAST_ALLOW_INSECURE_RUNTIMES: bool,
  /**
   * Where evidence comes from: the guest's configfs-tsm, or (insecure: tests, demo, benchmarks) the
   * core fake issuer or a simulated platform (`$CONTRAST_SIMULATOR_DIR` is its trust directory).
   */
  CONTRAST_ISSUER: z.enum(['tsm', 'fake', 'simulated-snp', 'simulated-tdx']).default('tsm'),
  CONTRAST_TSM_PATH: z.string().optional(),
  /** The policy hash the insecure issuers bind (HOST_DATA / MRCONFIGID for the simulated ones). */
  CONTRAST_FAKE_POLICY_HASH: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  CONTRAST_FAKE_MEASUREMENT: z
    .string()
    .regex(/^[0-9a-f]{96}$/)
    .optional(),
  /**
   * Peer recovery (a stale replica recovers itself from an active one): `kubernetes` (the
   * EndpointSlices of the `coordinator` Service), a list `host:port,host:port`, or `off`.
   * Default: `kubernetes` with the ConfigMap store (replicas share it), else `off`.
   */
  CONTRAST_PEERS: z.string().trim().optional(),
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
  const parsed = CoordinatorConfigSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${issue.path.join('.')}: ${issue.message}`);
  }
  const c = parsed.data;
  if (c.CONTRAST_ISSUER !== 'tsm' && !c.CONTRAST_ALLOW_INSECURE_RUNTIMES) {
    throw new Error(
      `CONTRAST_ISSUER: "${c.CONTRAST_ISSUER}" needs CONTRAST_ALLOW_INSECURE_RUNTIMES=1 (it proves nothing)`,
    );
  }
  peerDiscovery(c);
  return c;
}
