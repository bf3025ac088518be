#!/usr/bin/env node
import { writeFile } from 'node:fs/promises';
import { createLogger } from '@contrast-cc/core';
import { z } from 'zod';
import { parseEgressConfig, parseIngressConfig } from './config.js';
import { readMeshCredentials, startMeshProxy } from './proxy.js';

const EnvSchema = z.object({
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

async function main(): Promise<void> {
  const parsed = EnvSchema.safeParse(process.env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${issue.path.join('.')}: ${issue.message}`);
  }
  const env = parsed.data;
  const log = createLogger(
    (r) => {
      process.stdout.write(
        `${JSON.stringify({ time: new Date().toISOString(), level: r.level, msg: r.message, ...r.fields })}\n`,
      );
    },
    { level: env.CONTRAST_LOG_LEVEL },
  );
  const mtlsPorts = env.CONTRAST_INGRESS_MTLS_PORTS
    ? env.CONTRAST_INGRESS_MTLS_PORTS.split(',').map(Number)
    : [];
  const ingress = parseIngressConfig(env.CONTRAST_INGRESS_PROXY_CONFIG, mtlsPorts) ?? [];
  const egress = parseEgressConfig(env.CONTRAST_EGRESS_PROXY_CONFIG);
  const proxy = await startMeshProxy({
    credentials: await readMeshCredentials(env.CONTRAST_TLS_DIR),
    ingress,
    egress,
    ingressListenHost: env.CONTRAST_INGRESS_LISTEN_ADDRESS,
    workloadHost: env.CONTRAST_WORKLOAD_HOST,
    logger: log,
  });
  if (env.CONTRAST_READY_FILE) await writeFile(env.CONTRAST_READY_FILE, 'ready\n').catch(() => undefined);
  log.info('listening', { ports: proxy.ports });
  const stop = () => {
    proxy.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`service-mesh: ${(e as Error)?.message ?? String(e)}\n`);
  process.exit(1);
});
