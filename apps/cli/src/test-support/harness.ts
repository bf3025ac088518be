// Test helpers of the CLI: captured I/O and the location of ../shared.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CliIo } from '../io.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

/** `../shared` beside the repository, or CONTRAST_SHARED_DIR; undefined (with a notice) when absent. */
export function sharedDir(what: string): string | undefined {
  const dir = process.env.CONTRAST_SHARED_DIR ?? path.resolve(repoRoot, '../shared');
  if (existsSync(dir)) return dir;
  console.warn(`skipping ${what}: ${dir} not found (set CONTRAST_SHARED_DIR)`);
  return undefined;
}

/** CliIo writing into strings. */
export function captureIo(cwd = process.cwd()): { io: CliIo; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: (t) => {
        out += t;
      },
      stderr: (t) => {
        err += t;
      },
      cwd,
      env: {},
    },
    out: () => out,
    err: () => err,
  };
}

/** A small valid manifest (one coordinator policy, one SNP entry) with the given owner keys. */
export function sampleManifest(
  ownerKeysHex: string[],
  seedshareKeysHex: string[] = [],
): Record<string, unknown> {
  return {
    Policies: {
      ['c0'.repeat(32)]: {
        SANs: ['coordinator', '*'],
        WorkloadSecretID: 'apps/v1/StatefulSet/default/coordinator',
        Role: 'coordinator',
      },
    },
    ReferenceValues: {
      snp: [
        {
          Platform: 'Metal-QEMU-SNP',
          ProductName: 'Genoa',
          TrustedMeasurement: 'ab'.repeat(48),
          MinimumTCB: { BootloaderVersion: 9, TEEVersion: 0, SNPVersion: 23, MicrocodeVersion: 72 },
          GuestPolicy: { ABIMinor: 0, ABIMajor: 0, SMT: true, MigrateMA: false, Debug: false },
          PlatformInfo: { SMTEnabled: true },
        },
      ],
    },
    WorkloadOwnerPubKeys: ownerKeysHex,
    SeedshareOwnerPubKeys: seedshareKeysHex,
  };
}

/** Every file under dir with its bytes and mtime: proves a command wrote or touched nothing. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = `${statSync(p).mtimeMs}:${readFileSync(p, 'base64')}`;
    }
  };
  walk(dir);
  return out;
}
