// The node-installer program: `node-installer <platform> [-config=...] [-restart=true] ...`, as the
// DaemonSet runs it (Go-style single-dash flags, like upstream's). Thin: flags -> installRuntime /
// uninstallRuntime of @contrast-cc/node-installer -> restart of containerd's systemd unit.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { isContrastError, type Logger } from '@contrast-cc/core';
import {
  CONTAINERD_TARGETS,
  type ContainerdTarget,
  type InstallResult,
  installRuntime,
  parseInstallerConfig,
  uninstallRuntime,
} from '@contrast-cc/node-installer';

export const USAGE = `node-installer — install a Contrast Kata runtime on this node (run by the node-installer DaemonSet).

Usage:
  node-installer <platform> [flags]

Flags (one or two dashes, "-flag=value" or "-flag value"):
  -config=<file>               installer configuration (default /config/contrast-node-install.json);
                               the Kata configuration is read from the same directory
  -host-root=<dir>             the node's / (default /host)
  -image-root=<dir>            root for file:/// URLs (default /: the installer image)
  -target=containerd|k3s|rke2  where containerd's configuration is: /etc/containerd/config.toml,
                               or the K3s / RKE2 config.toml.tmpl (default: the configuration's)
  -containerd-config=<path>    another configuration file on the node (".tmpl": a K3s-style template)
  -systemd-unit=<a,b>          units to restart, the first existing one (default: the target's)
  -containerd-config-version=2|3
                               version of a new configuration when the node has none (default 2)
  -restart=true|false          restart containerd when its configuration changed (default false)
  -uninstall                   remove the runtime directory and the runtime from containerd
  -h, -help                    show this help

Exit codes: 0 installed (or nothing to do), 1 the installation failed (nothing half-installed),
2 bad usage or bad configuration.
`;

/** Runs a program (the systemd restart on the host). */
export type Exec = (file: string, args: string[]) => Promise<{ stdout: string }>;

const execAsync = promisify(execFile);
const defaultExec: Exec = async (file, args) => ({ stdout: (await execAsync(file, args)).stdout });

export interface RunOptions {
  logger: Logger;
  exec?: Exec;
  stderr?: (text: string) => void;
}

interface Flags {
  platform: string;
  config: string;
  hostRoot: string;
  imageRoot: string;
  target?: ContainerdTarget;
  restart: boolean;
  uninstall: boolean;
}

class UsageError extends Error {}

function parseFlags(argv: string[]): Flags | 'help' {
  const values = new Map<string, string>();
  const positionals: string[] = [];
  const known = new Set([
    'config',
    'host-root',
    'image-root',
    'target',
    'containerd-config',
    'systemd-unit',
    'containerd-config-version',
    'restart',
    'uninstall',
    'h',
    'help',
  ]);
  const booleans = new Set(['restart', 'uninstall', 'h', 'help']);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const m = /^--?([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(arg);
    if (!m) {
      positionals.push(arg);
      continue;
    }
    const name = m[1] as string;
    if (!known.has(name)) throw new UsageError(`unknown flag -${name}`);
    let value = m[2];
    if (value === undefined) {
      if (booleans.has(name)) value = 'true';
      else {
        value = argv[++i];
        if (value === undefined) throw new UsageError(`-${name} needs a value`);
      }
    }
    values.set(name, value);
  }
  if (values.has('h') || values.has('help')) return 'help';
  const bool = (name: string) => {
    const v = values.get(name) ?? 'false';
    if (v !== 'true' && v !== 'false') throw new UsageError(`-${name} must be true or false, not "${v}"`);
    return v === 'true';
  };
  if (positionals.length !== 1)
    throw new UsageError('give exactly one platform, e.g. node-installer Metal-QEMU-SNP');
  let target: ContainerdTarget | undefined;
  const preset = values.get('target');
  if (preset !== undefined) {
    if (!(preset in CONTAINERD_TARGETS))
      throw new UsageError(`-target must be containerd, k3s or rke2, not "${preset}"`);
    target = { ...CONTAINERD_TARGETS[preset as keyof typeof CONTAINERD_TARGETS] };
  }
  const configPath = values.get('containerd-config');
  if (configPath !== undefined) {
    if (!configPath.startsWith('/'))
      throw new UsageError('-containerd-config must be an absolute path on the node');
    target = { configPath, systemdUnits: target?.systemdUnits ?? [] };
  }
  const units = values.get('systemd-unit');
  if (units !== undefined) {
    if (!target) throw new UsageError('-systemd-unit needs -target or -containerd-config');
    target.systemdUnits = units.split(',').filter((u) => u !== '');
  }
  const version = values.get('containerd-config-version');
  if (version !== undefined) {
    if (version !== '2' && version !== '3') throw new UsageError('-containerd-config-version must be 2 or 3');
    if (!target) throw new UsageError('-containerd-config-version needs -target or -containerd-config');
    target.newConfigVersion = Number(version) as 2 | 3;
  }
  return {
    platform: positionals[0] as string,
    config: values.get('config') ?? '/config/contrast-node-install.json',
    hostRoot: values.get('host-root') ?? '/host',
    imageRoot: values.get('image-root') ?? '/',
    ...(target ? { target } : {}),
    restart: bool('restart'),
    uninstall: bool('uninstall'),
  };
}

/**
 * Restarts the first of `units` that exists on the host (through PID 1's mount namespace: the
 * DaemonSet runs with hostPID), so that containerd reads its new configuration.
 */
async function restartContainerd(units: string[], exec: Exec, log: Logger): Promise<void> {
  const host = (args: string[]) => exec('nsenter', ['--target', '1', '--mount', '--', 'systemctl', ...args]);
  for (const unit of units) {
    const { stdout } = await host(['show', '--property=LoadState', '--value', unit]);
    if (stdout.trim() !== 'loaded') continue;
    log.info('restarting containerd', { unit });
    await host(['restart', unit]);
    return;
  }
  throw new Error(
    `none of the systemd units ${units.join(', ')} exists on the node; restart containerd yourself`,
  );
}

/** The program: returns the exit code. */
export async function runNodeInstaller(argv: string[], options: RunOptions): Promise<number> {
  const log = options.logger;
  const stderr = options.stderr ?? ((t: string) => process.stderr.write(t));
  let flags: Flags | 'help';
  try {
    flags = parseFlags(argv);
  } catch (error) {
    stderr(`node-installer: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (flags === 'help') {
    stderr(USAGE);
    return 0;
  }
  let result: InstallResult;
  try {
    let text: string;
    try {
      text = await readFile(flags.config, 'utf8');
    } catch (error) {
      stderr(`node-installer: ${flags.config}: cannot read (${(error as NodeJS.ErrnoException).code})\n`);
      return 2;
    }
    const config = parseInstallerConfig(text, flags.config);
    if (config.platform !== flags.platform) {
      stderr(
        `node-installer: ${flags.config}: platform: the configuration is for ${config.platform}, not ${flags.platform}\n`,
      );
      return 2;
    }
    const common = {
      hostRoot: flags.hostRoot,
      config,
      logger: log,
      ...(flags.target ? { containerd: flags.target } : {}),
    };
    result = flags.uninstall
      ? await uninstallRuntime(common)
      : await installRuntime({
          ...common,
          configDir: path.dirname(flags.config),
          imageRoot: flags.imageRoot,
        });
  } catch (error) {
    const message = isContrastError(error) ? error.message : (error as Error).message;
    stderr(`node-installer: ${message}\n`);
    return isContrastError(error) && error.code === 'invalid-argument' ? 2 : 1;
  }
  log.info(flags.uninstall ? 'uninstalled' : 'installed', {
    runtimeDir: result.runtimeDir,
    filesChanged: result.filesChanged,
    containerdChanged: result.containerdChanged,
  });
  if (flags.restart && result.restartUnits.length > 0) {
    try {
      await restartContainerd(result.restartUnits, options.exec ?? defaultExec, log);
    } catch (error) {
      stderr(`node-installer: ${(error as Error).message}\n`);
      return 1;
    }
  }
  return 0;
}
