import { ContrastError } from '@contrast-cc/core';
import { parsePort } from './address.js';
import { type EgressRule, type IngressRule, parseEgressConfig, parseIngressConfig } from './annotations.js';

/**
 * The mesh configuration of one pod, as `contrast generate` writes it into the injected initializer
 * and sidecar (the same variables in both, pinned by the pod's policy):
 * - `CONTRAST_INGRESS_PROXY_CONFIG`: the ingress annotation (upstream grammar);
 * - `CONTRAST_EGRESS_PROXY_CONFIG`: the egress annotation;
 * - `CONTRAST_ADMIN_PORT`: the admin-interface annotation;
 * - `CONTRAST_INGRESS_MTLS_PORTS`: the ports the pod declares (containerPorts) that the ingress
 *   annotation does not name, plus the admin port when not named: upstream's default, every other
 *   inbound port needs a mesh client certificate.
 */
export interface MeshConfig {
  /** `null`: the ingress annotation says `DISABLED` (no inbound rules, as upstream). */
  ingress: IngressRule[] | null;
  egress: EgressRule[];
  adminPort?: number;
}

/** The environment variables of {@link MeshConfig}. */
export const MESH_ENV = Object.freeze({
  ingress: 'CONTRAST_INGRESS_PROXY_CONFIG',
  egress: 'CONTRAST_EGRESS_PROXY_CONFIG',
  adminPort: 'CONTRAST_ADMIN_PORT',
  mtlsPorts: 'CONTRAST_INGRESS_MTLS_PORTS',
});

/** Parses a comma-separated port list; errors name `field`. */
export function parsePortList(text: string, field: string): number[] {
  if (text.trim() === '') return [];
  return text.split(',').map((p, i) => parsePort(p.trim(), `${field}[${i}]`));
}

/**
 * Reads the mesh configuration from the environment (see {@link MeshConfig}). Errors are
 * `invalid-argument` ContrastErrors naming the variable and entry.
 */
export function meshConfigFromEnv(env: Record<string, string | undefined>): MeshConfig {
  const adminText = env[MESH_ENV.adminPort];
  const adminPort =
    adminText === undefined || adminText === '' ? undefined : parsePort(adminText, MESH_ENV.adminPort);
  const mtlsPorts = parsePortList(env[MESH_ENV.mtlsPorts] ?? '', MESH_ENV.mtlsPorts);
  const ingress = parseIngressConfig(env[MESH_ENV.ingress] ?? '', mtlsPorts);
  const egress = parseEgressConfig(env[MESH_ENV.egress] ?? '');
  if (adminPort !== undefined && ingress && !ingress.some((r) => r.port === adminPort)) {
    // The admin interface is a port like any other: mTLS unless the annotation names it.
    ingress.push({ name: `mtls-${adminPort}`, port: adminPort, mode: 'mtls' });
  }
  return { ingress, egress, ...(adminPort !== undefined ? { adminPort } : {}) };
}

/** First port of the proxy's own listeners (the redirect targets), as upstream's 15006/15007 range. */
export const PROXY_PORT_BASE = 15100;

/** An inbound port redirected to a proxy listener. */
export interface Redirect extends IngressRule {
  mode: 'mtls' | 'tls';
  /** The proxy's listener this port is redirected to (on every address of the pod). */
  proxyPort: number;
}

/**
 * What the traffic rules of a pod do: which inbound ports go to which proxy listener, which pass
 * through in plain text; every other new inbound connection is refused (TCP: reset) or dropped.
 * `null` when ingress is `DISABLED`: no inbound rules.
 */
export interface InterceptionPlan {
  redirects: Redirect[];
  passthrough: number[];
}

/**
 * Plans the interception: one proxy listener per redirected port, numbered from
 * {@link PROXY_PORT_BASE} in the order of the configuration, skipping every port the configuration
 * uses itself (inbound ports, the admin port, egress listeners). Node cannot read a redirected
 * socket's original destination (no `SO_ORIGINAL_DST`), so the listener a connection arrives on
 * tells the proxy which workload port it was meant for. The initializer (rules) and the sidecar
 * (listeners) compute the same plan from the same variables.
 */
export function planInterception(config: MeshConfig): InterceptionPlan | null {
  if (!config.ingress) return null;
  const used = new Set<number>([
    ...config.ingress.map((r) => r.port),
    ...config.egress.map((e) => e.listenPort),
    ...(config.adminPort !== undefined ? [config.adminPort] : []),
  ]);
  let next = PROXY_PORT_BASE;
  const redirects: Redirect[] = [];
  const passthrough: number[] = [];
  for (const rule of config.ingress) {
    if (rule.mode === 'plain') {
      passthrough.push(rule.port);
      continue;
    }
    while (used.has(next)) next++;
    if (next > 65535) {
      throw new ContrastError('invalid-argument', 'too many ingress ports for the proxy port range', {
        field: MESH_ENV.ingress,
      });
    }
    redirects.push({ ...rule, mode: rule.mode, proxyPort: next });
    used.add(next);
    next++;
  }
  return { redirects, passthrough };
}
