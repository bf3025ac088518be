import {
  type InterceptionPlan,
  type MeshConfig,
  meshConfigFromEnv,
  planInterception,
} from '@contrast-cc/mesh';
import { z } from 'zod';

/** The service-mesh proxy's configuration from the environment. */
export const ServiceMeshEnvSchema = z.object({
  CONTRAST_INGRESS_PROXY_CONFIG: z.string().default(''),
  CONTRAST_EGRESS_PROXY_CONFIG: z.string().default(''),
  /** Ports needing a mesh client certificate (upstream: every port not listed in the ingress config). */
  CONTRAST_INGRESS_MTLS_PORTS: z
    .string()
    .regex(/^(\d+(,\d+)*)?$/, 'must be a comma-separated list of ports')
    .default(''),
  CONTRAST_ADMIN_PORT: z.string().optional(),
  /**
   * Direct mode: serve each ingress port on this address (no traffic rules; tests, the demo).
   * Unset: intercepted mode, the listeners the initializer's traffic rules redirect to.
   */
  CONTRAST_INGRESS_LISTEN_ADDRESS: z.string().min(1).optional(),
  CONTRAST_WORKLOAD_HOST: z.string().min(1).default('127.0.0.1'),
  CONTRAST_TLS_DIR: z.string().min(1).default('/contrast/tls-config'),
  CONTRAST_READY_FILE: z.string().default('/ready'),
  CONTRAST_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});

export type ServiceMeshEnv = z.infer<typeof ServiceMeshEnvSchema>;

/**
 * Parses the environment; errors name the variable (and the annotation entry). `argv` may carry
 * `-l <level>` / `--log-level <level>`, as the sidecar `contrast generate` injects has
 * (`args: [-l, debug]`, upstream's form); it overrides CONTRAST_LOG_LEVEL.
 */
export function parseConfig(
  env: Record<string, string | undefined>,
  argv: readonly string[] = [],
): ServiceMeshEnv & { mesh: MeshConfig; interception?: InterceptionPlan } {
  const logLevel = logLevelFlag(argv);
  const parsed = ServiceMeshEnvSchema.safeParse(
    logLevel === undefined ? env : { ...env, CONTRAST_LOG_LEVEL: logLevel },
  );
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${issue.path.join('.')}: ${issue.message}`);
  }
  const c = parsed.data;
  // The same reading and plan as the initializer's (which installed the rules).
  const mesh = meshConfigFromEnv(env);
  const interception =
    c.CONTRAST_INGRESS_LISTEN_ADDRESS === undefined ? (planInterception(mesh) ?? undefined) : undefined;
  return { ...c, mesh, ...(interception ? { interception } : {}) };
}

function logLevelFlag(argv: readonly string[]): string | undefined {
  let level: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-l' || a === '--log-level') {
      level = argv[++i];
      if (level === undefined) throw new Error(`${a}: needs a level (debug, info, warn, error)`);
    } else if (a.startsWith('--log-level=')) {
      level = a.slice('--log-level='.length);
    } else {
      throw new Error(`${a}: unknown argument (only -l/--log-level <level>)`);
    }
  }
  if (level !== undefined && !['debug', 'info', 'warn', 'error'].includes(level))
    throw new Error(`-l/--log-level: "${level}" is not one of debug, info, warn, error`);
  return level;
}
