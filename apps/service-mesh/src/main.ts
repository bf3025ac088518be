#!/usr/bin/env node
import { writeFile } from 'node:fs/promises';
import { createJsonLineLogger, isContrastError } from '@contrast-cc/core';
import { readMeshCredentials, startMeshProxy } from '@contrast-cc/mesh';
import { parseConfig } from './config.js';

async function main(): Promise<void> {
  const env = parseConfig(process.env, process.argv.slice(2));
  const log = createJsonLineLogger((text) => process.stdout.write(text), { level: env.CONTRAST_LOG_LEVEL });
  const proxy = await startMeshProxy({
    credentials: await readMeshCredentials(env.CONTRAST_TLS_DIR),
    ingress: env.mesh.ingress ?? [],
    egress: env.mesh.egress,
    ...(env.interception ? { interception: env.interception } : {}),
    ...(env.CONTRAST_INGRESS_LISTEN_ADDRESS
      ? { ingressListenHost: env.CONTRAST_INGRESS_LISTEN_ADDRESS }
      : {}),
    ...(env.mesh.adminPort !== undefined ? { adminPort: env.mesh.adminPort } : {}),
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
  process.stderr.write(
    `service-mesh: ${isContrastError(e) ? e.describe() : ((e as Error)?.message ?? String(e))}\n`,
  );
  process.exit(1);
});
