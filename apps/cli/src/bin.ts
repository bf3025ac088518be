#!/usr/bin/env node
// First, before any module that loads @peculiar/x509 (tsyringe needs the Reflect metadata API at
// load time): in the bundled bin, a CJS polyfill imported deeper in the graph can run after the
// ESM code that needs it.
import 'reflect-metadata';
import { runCli } from './cli.js';

const code = await runCli(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  cwd: process.cwd(),
  env: process.env,
});
process.exitCode = code;
