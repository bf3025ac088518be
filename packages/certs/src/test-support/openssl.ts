import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** True when an `openssl` binary is on PATH. */
export const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
// biome-ignore lint/suspicious/noConsole: a visible notice when the openssl cross-checks are skipped
if (!hasOpenssl) console.warn('skipping openssl cross-checks: no openssl binary on PATH');

/** A temporary directory with helpers to write files and run openssl in it. */
export function opensslDir() {
  const dir = mkdtempSync(path.join(tmpdir(), 'contrast-certs-'));
  return {
    dir,
    file(name: string, content: string | Uint8Array) {
      const p = path.join(dir, name);
      writeFileSync(p, content);
      return p;
    },
    /** Runs openssl; returns status and output instead of throwing. */
    run(args: string[]) {
      const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
      return { status: r.status, out: `${r.stdout}${r.stderr}` };
    },
    runOk(args: string[]): string {
      return execFileSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
