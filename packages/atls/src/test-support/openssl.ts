import { spawnSync } from 'node:child_process';

/** True when an `openssl` binary is on PATH. */
export const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
// biome-ignore lint/suspicious/noConsole: a visible notice when the openssl cross-checks are skipped
if (!hasOpenssl) console.warn('skipping openssl cross-checks: no openssl binary on PATH');
