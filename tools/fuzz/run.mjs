#!/usr/bin/env node
// pnpm --silent fuzz [args]: runs src/main.ts from source (no build) with the shared TypeScript loader.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const register = createRequire(import.meta.url).resolve('@contrast-cc/build-config/ts-register');
const r = spawnSync(
  process.execPath,
  [
    '--conditions=@contrast-cc/source',
    '--import',
    register,
    path.join(here, 'src/main.ts'),
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit' },
);
process.exit(r.status ?? 1);
