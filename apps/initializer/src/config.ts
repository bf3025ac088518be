import {
  type InterceptionPlan,
  meshConfigFromEnv,
  parseHostPort,
  parseVolumeIntegritySpec,
  planInterception,
  type VolumeIntegritySpec,
} from '@contrast-cc/mesh';
import { issuerEnvShape, parseGuestEnv } from '@contrast-cc/platforms';
import { z } from 'zod';

/** Where the initializer looks without configuration: the ready Coordinators of its namespace. */
const DEFAULT_COORDINATOR_HOST = 'coordinator-ready';
/** The Coordinator's HTTPS API port (the StatefulSet's `api` port). */
const COORDINATOR_API_PORT = 1314;

/** The initializer's configuration from the environment. */
export const InitializerConfigSchema = z.object({
  /** `host:port` of the Coordinator's API (upstream `coordinator-ready:7777`; here the HTTPS API port). */
  CONTRAST_COORDINATOR: z
    .string()
    .regex(/^(\[[0-9a-fA-F:]+\]|[^:]+):\d{1,5}$/, 'must be host:port')
    .optional(),
  /**
   * The Coordinator's host name alone, as `contrast generate` injects it (upstream's variable:
   * `coordinator-ready.<namespace>`); the port is the API port, 1314. CONTRAST_COORDINATOR wins.
   */
  COORDINATOR_HOST: z
    .string()
    .regex(/^[^\s:/]+$/, 'must be a host name without a port')
    .optional(),
  CONTRAST_OUT_DIR: z.string().min(1).default('/contrast'),
  /**
   * CONTRAST_ISSUER `tsm`: the guest's configfs-tsm. For tests, only with
   * CONTRAST_ALLOW_INSECURE_RUNTIMES: `fake` or `simulated-snp` / `simulated-tdx` (binding
   * CONTRAST_FAKE_POLICY_HASH as HOST_DATA / MRCONFIGID, as the Kata runtime binds the initdata
   * digest; what the container end-to-end run gives the initializer in place of a TEE). See
   * `issuerEnvShape`.
   */
  ...issuerEnvShape,
  /**
   * AKS: the Azure instance metadata endpoint (THIM), http://169.254.169.254 on Azure; when set,
   * SNP evidence takes its VCEK and chain from THIM when configfs-tsm gives none.
   */
  CONTRAST_THIM_URL: z
    .string()
    .regex(/^https?:\/\/[^\s/]+/, 'must be an http(s) URL')
    .optional(),
  CONTRAST_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** Give up after this many seconds (0: never). */
  CONTRAST_DEADLINE_SECONDS: z.coerce.number().int().min(0).default(0),
  /**
   * Install the pod's inbound traffic rules from the mesh variables (CONTRAST_INGRESS_PROXY_CONFIG,
   * CONTRAST_INGRESS_MTLS_PORTS, CONTRAST_EGRESS_PROXY_CONFIG, CONTRAST_ADMIN_PORT) with this
   * backend before asking for the certificate; `contrast generate` writes `auto` where it injects
   * the service mesh. `off` (the default outside a pod): touch no rules.
   */
  CONTRAST_TRAFFIC_RULES: z.enum(['off', 'auto', 'nft', 'iptables-nft', 'iptables-legacy']).default('off'),
  /**
   * JSON `{policyHashes, referenceValues, rootCa?}`: the Coordinator this pod accepts (see
   * `coordinatorExpectations`). Absent: the Coordinator is not verified (upstream's behaviour;
   * a warning is logged).
   */
  CONTRAST_EXPECTED_COORDINATOR: z.string().min(1).optional(),
  /** Set by `contrast generate` when the pod has no service mesh: the rules are removed. */
  CONTRAST_SERVICE_MESH_DISABLED: z.enum(['true', 'false']).optional(),
  /** The secure PV's block device (upstream's variable; `generate` sets `/dev/csi0`). */
  CRYPTSETUP_DEVICE: z.string().startsWith('/', 'must be an absolute path').optional(),
  /** Where the opened secure PV is mounted (shared with the workload's volume, Bidirectional). */
  CONTRAST_SECURE_PV_MOUNT: z.string().startsWith('/', 'must be an absolute path').default('/state'),
  /** `none`: LUKS2 aes-xts; `hmac-sha256`: LUKS2 with dm-integrity (new volumes only). */
  CONTRAST_SECURE_PV_INTEGRITY: z.enum(['none', 'hmac-sha256']).default('none'),
  /** JSON: the ConfigMap/Secret volumes to check (`generate` writes it; bound by the policy). */
  CONTRAST_VOLUME_INTEGRITY: z.string().min(1).optional(),
  /** The startup (and readiness) probe's file of the sidecar. */
  CONTRAST_DONE_FILE: z.string().startsWith('/', 'must be an absolute path').default('/done'),
});

export type InitializerConfig = z.infer<typeof InitializerConfigSchema>;

export function parseConfig(env: Record<string, string | undefined>): InitializerConfig & {
  host: string;
  port: number;
  interception?: InterceptionPlan | null;
  volumeIntegrity: VolumeIntegritySpec | undefined;
} {
  const c = parseGuestEnv(InitializerConfigSchema, env);
  const { host, port } = c.CONTRAST_COORDINATOR
    ? parseHostPort(c.CONTRAST_COORDINATOR, 'CONTRAST_COORDINATOR')
    : { host: c.COORDINATOR_HOST ?? DEFAULT_COORDINATOR_HOST, port: COORDINATOR_API_PORT };
  let volumeIntegrity: VolumeIntegritySpec | undefined;
  try {
    volumeIntegrity = c.CONTRAST_VOLUME_INTEGRITY
      ? parseVolumeIntegritySpec(c.CONTRAST_VOLUME_INTEGRITY)
      : undefined;
  } catch (e) {
    throw new Error((e as Error).message);
  }
  if (c.CONTRAST_TRAFFIC_RULES === 'off') return { ...c, host, port, volumeIntegrity };
  // The sidecar reads the same variables and plans the same listeners.
  const interception =
    c.CONTRAST_SERVICE_MESH_DISABLED === 'true' ? null : planInterception(meshConfigFromEnv(env));
  return { ...c, host, port, interception, volumeIntegrity };
}
