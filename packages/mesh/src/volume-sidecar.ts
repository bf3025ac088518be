import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ContrastError, fromHex, type Logger, noopLogger } from '@contrast-cc/core';
import type { CommandRunner } from './command.js';
import { OUTPUT_FILES } from './initializer.js';
import { type OpenedSecurePv, openSecurePv } from './secure-pv.js';
import {
  describeVolumeProblem,
  type VolumeIntegritySpec,
  type VolumeProblem,
  verifyAndCopyVolumes,
  volumeError,
  watchVolumes,
} from './volume-integrity.js';

/** Options of {@link runVolumeSidecar}. */
export interface VolumeSidecarOptions {
  /** The initializer's output directory: the workload secret is read from there. */
  outDir: string;
  /** A LUKS secure PV to open and mount (upstream `CRYPTSETUP_DEVICE`, mounted on `/state`). */
  securePv?: { device: string; mountPoint: string; integrity?: 'none' | 'hmac-sha256' };
  /** ConfigMap/Secret volumes to check (and copy) before the workload starts, then watch. */
  volumeIntegrity?: VolumeIntegritySpec;
  /** Written when everything is ready (the startup probe: `test -f /done`), removed on a violation. */
  doneFile: string;
  /** Aborting ends the sidecar: unmount, close, resolve. */
  signal: AbortSignal;
  logger?: Logger;
  /** For tests: runs cryptsetup and the file-system tools. */
  run?: CommandRunner;
  /** For tests: the watch's wait between checks. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Whether the initializer must stay alive as a sidecar (what `generate` makes it then). */
export function needsVolumeSidecar(o: Pick<VolumeSidecarOptions, 'securePv' | 'volumeIntegrity'>): boolean {
  return o.securePv !== undefined || (o.volumeIntegrity?.volumes.length ?? 0) > 0;
}

async function readWorkloadSecret(outDir: string): Promise<Uint8Array> {
  const file = path.join(outDir, OUTPUT_FILES.workloadSecret);
  let text: string;
  try {
    text = (await readFile(file, 'utf8')).trim();
  } catch (e) {
    throw new ContrastError(
      'precondition-failed',
      `a secure PV needs a workload secret, but ${file} is missing: the Coordinator sends one only for a ` +
        'policy with a WorkloadSecretID (annotation contrast.edgeless.systems/workload-secret-id)',
      { file, cause: e },
    );
  }
  if (!/^[0-9a-f]{64,}$/.test(text)) {
    throw new ContrastError('invalid-argument', `${file}: not the hex workload secret`, { file });
  }
  return fromHex(text);
}

/**
 * What the initializer does after it got its mesh certificate, when the pod has a secure PV or
 * checked ConfigMap/Secret volumes (`generate` then makes it a sidecar: `restartPolicy: Always`,
 * startup probe `test -f /done`):
 *
 * 1. checks the ConfigMap/Secret volumes and copies the checked bytes to the workload's in-memory
 *    volumes (a mismatch throws before anything else: the workload never starts);
 * 2. opens the secure PV with the key derived from the workload secret (formatting it only when
 *    blank), creates its file system once, mounts it;
 * 3. writes `doneFile`: the kubelet starts the workload containers;
 * 4. stays alive, re-checking the ConfigMap/Secret volumes; on a change it removes `doneFile`
 *    (pod not ready: its readiness probe is the same test) and rejects with the problems
 *    (the initializer exits non-zero; restarted, step 1 refuses again);
 * 5. on `signal` (SIGTERM; the kubelet stops sidecars after the workload containers) unmounts
 *    and closes the volume.
 */
export async function runVolumeSidecar(options: VolumeSidecarOptions): Promise<void> {
  const log = (options.logger ?? noopLogger).child({ component: 'volumes' });
  const spec = options.volumeIntegrity;
  if (spec && spec.volumes.length > 0) {
    await verifyAndCopyVolumes(spec, { logger: log });
  }
  let pv: OpenedSecurePv | undefined;
  if (options.securePv) {
    const secret = await readWorkloadSecret(options.outDir);
    try {
      pv = await openSecurePv({
        ...options.securePv,
        workloadSecret: secret,
        logger: log,
        ...(options.run ? { run: options.run } : {}),
      });
    } finally {
      secret.fill(0);
    }
  }
  await writeFile(options.doneFile, '');
  log.info('volumes ready', { doneFile: options.doneFile });
  let violation: VolumeProblem[] | undefined;
  if (spec && spec.volumes.length > 0) {
    await watchVolumes(spec, {
      signal: options.signal,
      logger: log,
      ...(options.sleep ? { sleep: options.sleep } : {}),
      onViolation: async (problems) => {
        violation = problems;
        await rm(options.doneFile, { force: true });
      },
    });
  } else if (!options.signal.aborted) {
    await new Promise<void>((resolve) =>
      options.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
  }
  if (violation) {
    // The secure PV stays mounted: the workload still has it open (a restarted sidecar finds the
    // mapping and the mount of this run and reuses them).
    log.error('ConfigMap/Secret volumes changed after the start: the pod is no longer ready', {
      problems: violation.map((p) => describeVolumeProblem(p, spec)),
    });
    throw volumeError(violation, spec);
  }
  // SIGTERM: the kubelet stops sidecars after the workload containers, so the volume is free.
  await pv?.close();
}
