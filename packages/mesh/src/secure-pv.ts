import { createHash } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { deriveVolumeKey } from '@contrast-cc/certs';
import { ContrastError, type Logger, noopLogger } from '@contrast-cc/core';
import { type CommandResult, type CommandRunner, runCommand } from './command.js';

/** The LUKS (1 and 2) primary header magic, `LUKS\xba\xbe`. */
const LUKS_MAGIC = Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]);
/** The LUKS2 secondary header magic, `SKUL\xba\xbe`. */
const LUKS2_SECONDARY_MAGIC = Buffer.from([0x53, 0x4b, 0x55, 0x4c, 0xba, 0xbe]);
/** Where a LUKS2 secondary header may start (the primary header's size: 16 KiB ... 4 MiB). */
const LUKS2_SECONDARY_OFFSETS = [14, 15, 16, 17, 18, 19, 20, 21, 22].map((bits) => 2 ** bits);

/**
 * How much of the device is read to decide whether it is blank: up to the last possible LUKS2
 * secondary header (4 MiB) plus one 4 KiB block. Only a device whose first
 * {@link BLANK_SCAN_BYTES} are all zero is ever formatted.
 */
export const BLANK_SCAN_BYTES = 4 * 1024 * 1024 + 4096;

/** What the first bytes of a device say. */
export type DeviceContent =
  /** All zero: a new volume, safe to format. */
  | { kind: 'blank' }
  /** A LUKS magic at the primary or a secondary header offset (the header may still be damaged). */
  | { kind: 'luks'; at: number }
  /** Anything else: data we do not recognize. Never formatted. */
  | { kind: 'data' };

/** Reads the start of `device` and classifies it; never writes. */
export async function inspectDevice(device: string): Promise<DeviceContent> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(device, 'r');
  } catch (e) {
    throw new ContrastError('io-error', `cannot open the secure PV device ${device} for reading`, {
      cause: e,
    });
  }
  const buf = Buffer.alloc(BLANK_SCAN_BYTES);
  let filled = 0;
  try {
    while (filled < buf.length) {
      const { bytesRead } = await handle.read(buf, filled, buf.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
  } catch (e) {
    throw new ContrastError('io-error', `cannot read the secure PV device ${device}`, { cause: e });
  } finally {
    await handle.close();
  }
  const head = buf.subarray(0, filled);
  if (head.subarray(0, LUKS_MAGIC.length).equals(LUKS_MAGIC)) return { kind: 'luks', at: 0 };
  for (const at of LUKS2_SECONDARY_OFFSETS) {
    if (head.subarray(at, at + LUKS2_SECONDARY_MAGIC.length).equals(LUKS2_SECONDARY_MAGIC)) {
      return { kind: 'luks', at };
    }
  }
  return head.every((b) => b === 0) ? { kind: 'blank' } : { kind: 'data' };
}

/** Options of {@link prepareSecurePv} and {@link openSecurePv}. */
export interface SecurePvOptions {
  /** The block device (upstream `CRYPTSETUP_DEVICE`, `/dev/csi0`); a file image in tests. */
  device: string;
  /** The pod's workload secret (the raw bytes, not hex); the volume key is derived from it. */
  workloadSecret: Uint8Array;
  /**
   * `none` (default): LUKS2 with aes-xts-plain64 (confidentiality). `hmac-sha256`: LUKS2 with
   * dm-integrity (AEAD-style authenticated sectors; a modified sector reads as an I/O error); it
   * needs device-mapper already when formatting.
   */
  integrity?: 'none' | 'hmac-sha256';
  /** Default `cryptsetup` (Debian's cryptsetup-bin). */
  cryptsetup?: string;
  /** Runs the programs; default {@link runCommand}. */
  run?: CommandRunner;
  logger?: Logger;
}

/** What {@link prepareSecurePv} did. */
export interface PreparedSecurePv {
  /** True when this call wrote a new LUKS2 header (the device was blank). */
  formatted: boolean;
}

const stderrLine = (r: CommandResult) =>
  r.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join('; ') || `exit ${r.code}`;

/** cryptsetup's exit code for "no key available with this passphrase" (cryptsetup(8)). */
const CRYPTSETUP_WRONG_KEY = 2;

async function withKey<T>(secret: Uint8Array, f: (key: Uint8Array) => Promise<T>): Promise<T> {
  const key = deriveVolumeKey(secret);
  try {
    return await f(key);
  } finally {
    key.fill(0);
  }
}

/**
 * Makes sure `device` is a LUKS volume the workload secret opens, without opening it (needs no
 * device-mapper):
 *
 * - all zero in its first {@link BLANK_SCAN_BYTES}: a new volume; `cryptsetup luksFormat --type
 *   luks2` with the volume key on stdin (`--key-file=-`) -> `formatted: true`;
 * - a LUKS header: checked with `cryptsetup isLuks`, then the key with `cryptsetup open
 *   --test-passphrase --key-file=-`; never formatted again (upstream bug #2455);
 * - anything else: refused (`precondition-failed`): it may be a volume whose header was
 *   destroyed, or a disk with other data, and formatting would erase it.
 *
 * A key no slot accepts is `permission-denied`; a damaged header `precondition-failed`. Neither
 * writes to the device. The key exists only in memory (derived, piped to cryptsetup, zeroed);
 * messages and logs name the device, never the key.
 */
export async function prepareSecurePv(options: SecurePvOptions): Promise<PreparedSecurePv> {
  const log = (options.logger ?? noopLogger).child({ component: 'secure-pv' });
  const run = options.run ?? runCommand;
  const cryptsetup = options.cryptsetup ?? 'cryptsetup';
  const { device } = options;
  const content = await inspectDevice(device);
  if (content.kind === 'data') {
    throw new ContrastError(
      'precondition-failed',
      `secure PV ${device} has no LUKS header but is not blank (its first ${BLANK_SCAN_BYTES} bytes are not all zero): ` +
        'refusing to format it, which would erase what it holds. If it is a damaged Contrast volume, restore its ' +
        'header from a backup (cryptsetup luksHeaderRestore); if it is a new disk with leftovers, zero its first 4 MiB.',
      { field: 'CRYPTSETUP_DEVICE' },
    );
  }
  if (content.kind === 'blank') {
    const integrity = options.integrity ?? 'none';
    log.info('formatting a new LUKS2 volume', { device, integrity });
    const args = [
      'luksFormat',
      '--type',
      'luks2',
      '--batch-mode',
      // The passphrase is a 256-bit HKDF output, not a password: a slow KDF adds no strength, and
      // argon2's memory would not fit the sidecar's limit.
      '--pbkdf',
      'pbkdf2',
      '--pbkdf-force-iterations',
      '1000',
      ...(integrity === 'none' ? [] : ['--integrity', integrity]),
      '--key-file=-',
      device,
    ];
    const r = await withKey(options.workloadSecret, (key) => run(cryptsetup, args, key));
    if (r.code !== 0) {
      throw new ContrastError(
        'io-error',
        `cryptsetup luksFormat of secure PV ${device} failed: ${stderrLine(r)}`,
        { field: 'CRYPTSETUP_DEVICE' },
      );
    }
  }
  const isLuks = await run(cryptsetup, ['isLuks', device]);
  if (isLuks.code !== 0) {
    throw new ContrastError(
      'precondition-failed',
      `secure PV ${device} carries a LUKS magic at byte ${content.kind === 'luks' ? content.at : 0} but cryptsetup cannot ` +
        `read its header (${stderrLine(isLuks)}): the header is damaged. Refusing to start; the device is left as it is ` +
        '(restore the header from a backup with cryptsetup luksHeaderRestore).',
      { field: 'CRYPTSETUP_DEVICE' },
    );
  }
  const test = await withKey(options.workloadSecret, (key) =>
    run(cryptsetup, ['open', '--test-passphrase', '--key-file=-', device], key),
  );
  if (test.code === CRYPTSETUP_WRONG_KEY) {
    throw new ContrastError(
      'permission-denied',
      `the workload secret does not open secure PV ${device}: no LUKS key slot accepts the key derived from it ` +
        '(another WorkloadSecretID, another Coordinator seed, or a foreign volume). Refusing to start; the device is unchanged.',
      { field: 'CRYPTSETUP_DEVICE' },
    );
  }
  if (test.code !== 0) {
    throw new ContrastError(
      'precondition-failed',
      `cannot check the key of secure PV ${device}: ${stderrLine(test)}`,
      { field: 'CRYPTSETUP_DEVICE' },
    );
  }
  log.info(content.kind === 'blank' ? 'formatted secure PV' : 'secure PV accepts the workload key', {
    device,
  });
  return { formatted: content.kind === 'blank' };
}

/** Options of {@link openSecurePv}. */
export interface OpenSecurePvOptions extends SecurePvOptions {
  /** Where to mount the opened volume (upstream `/state`, shared Bidirectional with the workload). */
  mountPoint: string;
  /** The device-mapper name; default `contrast-pv-<first 8 hex of SHA-256(device)>`. */
  mapperName?: string;
  /** Default `blkid`, `mkfs.ext4`, `mount`, `umount`. */
  tools?: { blkid?: string; mkfs?: string; mount?: string; umount?: string };
}

/** An opened and mounted secure PV. */
export interface OpenedSecurePv {
  formatted: boolean;
  /** True when this call created the file system. */
  createdFilesystem: boolean;
  mapperPath: string;
  mountPoint: string;
  /** Unmounts and closes the mapping. */
  close(): Promise<void>;
}

/** Whether `dir` is a mount point in this mount namespace (/proc/self/mountinfo, field 5). */
async function isMountPoint(dir: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile('/proc/self/mountinfo', 'utf8');
  } catch {
    return false;
  }
  const target = path.resolve(dir);
  return text.split('\n').some((line) => {
    const field = line.split(' ')[4];
    // mountinfo escapes space, tab, newline and backslash as octal.
    return (
      field !== undefined &&
      field.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(Number.parseInt(o, 8))) === target
    );
  });
}

/** The default device-mapper name of a device. */
export function mapperNameOf(device: string): string {
  return `contrast-pv-${createHash('sha256').update(device).digest('hex').slice(0, 8)}`;
}

/**
 * {@link prepareSecurePv}, then `cryptsetup open` (key on stdin), `mkfs.ext4` when the opened
 * volume holds no file system yet (`blkid -p` finds none: the first start, or a first start that
 * died before mkfs), and `mount` on `mountPoint`. Needs device-mapper (a real guest; not this
 * build machine). On a failure after `open` the mapping is closed again.
 */
export async function openSecurePv(options: OpenSecurePvOptions): Promise<OpenedSecurePv> {
  const log = (options.logger ?? noopLogger).child({ component: 'secure-pv' });
  const run = options.run ?? runCommand;
  const cryptsetup = options.cryptsetup ?? 'cryptsetup';
  const tools = {
    blkid: 'blkid',
    mkfs: 'mkfs.ext4',
    mount: 'mount',
    umount: 'umount',
    ...options.tools,
  };
  const { device, mountPoint } = options;
  const { formatted } = await prepareSecurePv(options);
  const name = options.mapperName ?? mapperNameOf(device);
  const mapperPath = `/dev/mapper/${name}`;
  // A restarted sidecar finds the mapping (and the mount) of its previous run in the same VM.
  const active = (await run(cryptsetup, ['status', name])).code === 0;
  const opened = active
    ? { code: 0, stdout: '', stderr: '' }
    : await withKey(options.workloadSecret, (key) =>
        run(cryptsetup, ['open', '--type', 'luks2', '--key-file=-', device, name], key),
      );
  if (active) log.info('secure PV already open (restarted sidecar)', { device, name });
  if (opened.code !== 0) {
    throw new ContrastError(
      opened.code === CRYPTSETUP_WRONG_KEY ? 'permission-denied' : 'io-error',
      `cryptsetup open of secure PV ${device} as ${name} failed: ${stderrLine(opened)}`,
      { field: 'CRYPTSETUP_DEVICE' },
    );
  }
  const closeMapping = async () => {
    const r = await run(cryptsetup, ['close', name]);
    if (r.code !== 0) log.warn('cryptsetup close failed', { name, error: stderrLine(r) });
  };
  try {
    // blkid -p: 0 = a signature found, 2 = nothing found (util-linux blkid(8)).
    const probe = await run(tools.blkid, ['-p', '-o', 'value', '-s', 'TYPE', mapperPath]);
    let createdFilesystem = false;
    if (probe.code === 2) {
      log.info('creating the file system of the secure PV', { device, fs: 'ext4' });
      const mk = await run(tools.mkfs, ['-q', mapperPath]);
      if (mk.code !== 0) {
        throw new ContrastError('io-error', `mkfs.ext4 on ${mapperPath} failed: ${stderrLine(mk)}`);
      }
      createdFilesystem = true;
    } else if (probe.code !== 0) {
      throw new ContrastError('io-error', `blkid cannot probe ${mapperPath}: ${stderrLine(probe)}`);
    }
    await mkdir(mountPoint, { recursive: true });
    const mounted = (await isMountPoint(mountPoint))
      ? { code: 0, stdout: '', stderr: '' }
      : await run(tools.mount, [mapperPath, mountPoint]);
    if (mounted.code !== 0) {
      throw new ContrastError(
        'io-error',
        `mount ${mapperPath} on ${mountPoint} failed: ${stderrLine(mounted)}`,
      );
    }
    log.info('secure PV mounted', { device, mountPoint, formatted, createdFilesystem });
    return {
      formatted,
      createdFilesystem,
      mapperPath,
      mountPoint,
      close: async () => {
        const u = await run(tools.umount, [mountPoint]);
        if (u.code !== 0) log.warn('umount failed', { mountPoint, error: stderrLine(u) });
        await closeMapping();
      },
    };
  } catch (e) {
    await closeMapping();
    throw e;
  }
}
