#!/usr/bin/env node
import { createJsonLineLogger, isContrastError } from '@contrast-cc/core';
import { needsVolumeSidecar, runInitializer, runVolumeSidecar } from '@contrast-cc/mesh';
import { openGuestIssuer } from '@contrast-cc/platforms';
import { parseConfig } from './config.js';
import { coordinatorExpectations } from './coordinator.js';

async function main(): Promise<void> {
  const config = parseConfig(process.env);
  const log = createJsonLineLogger((text) => process.stdout.write(text), {
    level: config.CONTRAST_LOG_LEVEL,
  });
  const issuer = await openGuestIssuer(config, {
    logger: log,
    subject: 'pod',
    thimUrl: config.CONTRAST_THIM_URL,
  });
  const coordinator = config.CONTRAST_EXPECTED_COORDINATOR
    ? coordinatorExpectations(config.CONTRAST_EXPECTED_COORDINATOR, {
        allowInsecure: config.CONTRAST_ALLOW_INSECURE_RUNTIMES,
        fakeIssuer: config.CONTRAST_ISSUER === 'fake',
        logger: log,
      })
    : undefined;
  if (!coordinator) {
    log.warn(
      'CONTRAST_EXPECTED_COORDINATOR is not set: the Coordinator is not verified (upstream behaviour)',
    );
  }
  const abort = new AbortController();
  process.on('SIGTERM', () => abort.abort());
  await runInitializer({
    host: config.host,
    port: config.port,
    issuer,
    outDir: config.CONTRAST_OUT_DIR,
    signal: abort.signal,
    ...(coordinator ? { coordinator } : {}),
    logger: log,
    ...(config.CONTRAST_TRAFFIC_RULES !== 'off'
      ? { trafficRules: { plan: config.interception ?? null, backend: config.CONTRAST_TRAFFIC_RULES } }
      : {}),
    ...(config.CONTRAST_DEADLINE_SECONDS > 0 ? { deadlineMs: config.CONTRAST_DEADLINE_SECONDS * 1000 } : {}),
  });
  const volumes = {
    ...(config.CRYPTSETUP_DEVICE
      ? {
          securePv: {
            device: config.CRYPTSETUP_DEVICE,
            mountPoint: config.CONTRAST_SECURE_PV_MOUNT,
            integrity: config.CONTRAST_SECURE_PV_INTEGRITY,
          },
        }
      : {}),
    ...(config.volumeIntegrity ? { volumeIntegrity: config.volumeIntegrity } : {}),
  };
  if (needsVolumeSidecar(volumes)) {
    // A sidecar from here on: ready when the done file exists, ends on SIGTERM.
    await runVolumeSidecar({
      ...volumes,
      outDir: config.CONTRAST_OUT_DIR,
      doneFile: config.CONTRAST_DONE_FILE,
      signal: abort.signal,
      logger: log,
    });
  }
  log.info('done');
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(
      `initializer: ${isContrastError(e) ? e.describe() : ((e as Error)?.message ?? String(e))}\n`,
    );
    process.exit(1);
  },
);
