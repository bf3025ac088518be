#!/usr/bin/env node
import { createLogger } from '@contrast-cc/core';
import { runNodeInstaller } from './run.js';

const log = createLogger((r) => {
  process.stdout.write(
    `${JSON.stringify({ time: new Date().toISOString(), level: r.level, msg: r.message, ...r.fields })}\n`,
  );
});
process.exitCode = await runNodeInstaller(process.argv.slice(2), { logger: log });
