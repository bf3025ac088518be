import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import path from 'node:path';
import { ContrastError } from '@contrast-cc/core';

/** Writes `data` to `file` atomically: temp file in the same directory, fsync, rename, fsync dir. */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o755 });
    const handle = await fs.open(tmp, 'wx', mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, file);
    const d = await fs.open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch (cause) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw new ContrastError('io-error', `cannot write ${file}`, { cause, file });
  }
}

/** The files the initializer writes, relative to its output directory (upstream layout). */
export const OUTPUT_FILES = Object.freeze({
  certChain: 'tls-config/certChain.pem',
  key: 'tls-config/key.pem',
  meshCa: 'tls-config/mesh-ca.pem',
  rootCa: 'tls-config/coordinator-root-ca.pem',
  workloadSecret: 'secrets/workload-secret-seed',
});
