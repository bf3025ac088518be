import { type EgressRule, type IngressRule, parseEgressConfig, parseIngressConfig } from '@contrast-cc/mesh';
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
  CONTRAST_INGRESS_LISTEN_ADDRESS: z.string().min(1).default('0.0.0.0'),
  CONTRAST_WORKLOAD_HOST: z.string().min(1).default('127.0.0.1'),
  CONTRAST_TLS_DIR: z.string().min(1).default('/contrast/tls-config'),
  CONTRAST_READY_FILE: z.string().default('/ready'),
  CONTRAST_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});

export type ServiceMeshEnv = z.infer<typeof ServiceMeshEnvSchema>;

/** Parses the environment; errors name the variable (and the annotation entry). */
export function parseConfig(
  env: Record<string, string | undefined>,
): ServiceMeshEnv & { ingress: IngressRule[]; egress: EgressRule[] } {
  const parsed = ServiceMeshEnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${issue.path.join('.')}: ${issue.message}`);
  }
  const c = parsed.data;
  const mtlsPorts = c.CONTRAST_INGRESS_MTLS_PORTS ? c.CONTRAST_INGRESS_MTLS_PORTS.split(',').map(Number) : [];
  const ingress = parseIngressConfig(c.CONTRAST_INGRESS_PROXY_CONFIG, mtlsPorts) ?? [];
  const egress = parseEgressConfig(c.CONTRAST_EGRESS_PROXY_CONFIG);
  return { ...c, ingress, egress };
}
