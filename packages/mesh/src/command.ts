import { spawn } from 'node:child_process';
import { ContrastError } from '@contrast-cc/core';

/** What a finished command returned. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program without a shell, feeds `stdin` (then closes it) and collects its output; never
 * throws for a non-zero exit. The seam for every tool the initializer runs: `nft` / `iptables`
 * (traffic rules), `cryptsetup`, `blkid`, `mkfs.ext4`, `mount`, `umount` (secure PV). Tests wrap it
 * to record what was run, or to prefix `ip netns exec <ns>`.
 */
export type CommandRunner = (
  file: string,
  args: readonly string[],
  stdin?: string | Uint8Array,
) => Promise<CommandResult>;

/**
 * The real {@link CommandRunner}: `spawn` with `LC_ALL=C` (stable messages) and no shell. A
 * program that is not installed is an `unavailable` ContrastError naming it.
 */
export const runCommand: CommandRunner = (file, args, stdin) =>
  new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(
        e.code === 'ENOENT'
          ? new ContrastError('unavailable', `${file} is not installed (not found on PATH)`, { cause: e })
          : new ContrastError('io-error', `cannot run ${file}: ${e.message}`, { cause: e }),
      );
    });
    // A program that exits without reading its input closes the pipe: not an error of ours.
    child.stdin.on('error', () => {});
    child.on('close', (code, signal) => {
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.end(
      stdin === undefined
        ? undefined
        : typeof stdin === 'string'
          ? stdin
          : Buffer.from(stdin.buffer, stdin.byteOffset, stdin.byteLength),
    );
  });
