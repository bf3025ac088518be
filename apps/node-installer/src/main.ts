#!/usr/bin/env node
import { createJsonLineLogger } from '@contrast-cc/core';
import { runNodeInstaller } from './run.js';

const log = createJsonLineLogger((text) => process.stdout.write(text));
process.exitCode = await runNodeInstaller(process.argv.slice(2), { logger: log });
