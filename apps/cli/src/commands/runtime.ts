import { parseArgs } from 'node:util';
import {
  isContrastError,
  isDnsLabel,
  type KubeObject,
  type Platform,
  type PlatformRegistry,
} from '@contrast-cc/core';
import { stringify } from 'yaml';
import type { Command } from '../command.js';
import { type CliIo, EXIT, type ExitCode } from '../io.js';
import { createRuntimeMeasureCommand, RUNTIME_MEASURE_HELP } from './runtime-measure.js';

/** What the `runtime` command needs: the platforms this program knows. */
export interface RuntimeCommandDeps {
  registry: PlatformRegistry;
  /** `--assets <file|dir>`: the registry with the described platform rebuilt on those assets. */
  withAssets?: (
    registry: PlatformRegistry,
    location: string,
  ) => Promise<{ registry: PlatformRegistry; platform: Platform }>;
}

const DEFAULT_NAMESPACE = 'contrast-system';

function help(registry: PlatformRegistry): string {
  const width = Math.max(0, ...registry.ids().map((id) => id.length));
  const platforms =
    registry
      .list()
      .map(
        (p) =>
          `  ${p.id.padEnd(width)}  ${p.displayName}` +
          (p.aliases.length > 0 ? `\n  ${' '.repeat(width)}  aliases: ${p.aliases.join(', ')}` : ''),
      )
      .join('\n') || '  (none)';
  return `contrast runtime — print what a cluster needs to run confidential pods on a platform.

Prints the RuntimeClass name(s) of the platform and, as multi-document YAML you can pipe to
"kubectl apply -f -", the RuntimeClass objects and the node-installer resources (the DaemonSet
that installs the confidential runtime on every matching node, its ServiceAccount, RBAC and
configuration). Platforms whose provider installs the runtime print only the RuntimeClass.

Usage:
  contrast runtime --platform <id> [--assets <file|dir>] [--namespace <ns>] [--image <ref>] [--json]
  contrast runtime measure ...   (see below)

Flags:
  -p, --platform <id>    platform id or alias, see below (required unless --assets names it)
  -a, --assets <file|dir>
                         the runtime to install (bare-metal platforms: Metal-QEMU-SNP,
                         Metal-QEMU-TDX): a runtime assets description, runtime-assets.json or a
                         directory holding one. No release of ours is pinned yet, so these
                         platforms need it; without it they exit 2. See "Runtime assets" below.
  -n, --namespace <ns>   namespace of the node installer (default ${DEFAULT_NAMESPACE}; it must
                         exist: kubectl create namespace ${DEFAULT_NAMESPACE})
      --image <ref>      use this node-installer image instead of the pinned one (e.g. a mirror)
      --json             print { platform, insecure, runtimeClassNames, namespace, objects } as JSON
  -h, --help             show this help

Platforms:
${platforms}

Runtime assets (runtime-assets.json; every digest real, all-zero digests are refused):
  {
    "platform": "Metal-QEMU-SNP",
    "release": "kata 3.x, <what you changed>",
    "installerImage": "<registry>/node-installer@sha256:<64 hex>",
    "snapshotterImage": "<registry>/nydus-snapshotter@sha256:<64 hex>",
    "kernelParams": "<kernel command line of the pod VM>",
    "vmMemoryMiB": 512,
    "files": [ { "path": "snp/share/OVMF.fd", "url": "https://... or file:///...",
                 "sha256": "<64 hex>", "source": "<local copy, relative>", "executable": false },
               ... ],
    "measure": { "firmware": "snp/share/OVMF.fd", "kernel": "share/kata-kernel",
                 "append": "<the full command line QEMU passes>" },
    "launchMeasurements": { "Milan": "<96 hex>", "Genoa": "<96 hex>" }
  }
  Files are placed under /opt/edgeless/<runtime class>/<path>. The files needed: bin/containerd-
  shim-contrast-cc-v2 (Kata's containerd-shim-kata-v2), bin/nydus-overlayfs, <tee>/bin/qemu-
  system-x86_64, <tee>/share/OVMF.fd, share/kata-kernel, share/kata-containers.img. From Kata's
  release tarball (kata-static-<version>-amd64.tar.xz) take the shim, QEMU, the OVMF/TDVF build
  and the confidential kernel and image under opt/kata/; "sha256" may be left out where a local
  "source" is given (it is computed). Launch measurements are computed from "measure" (SNP:
  1 vCPU, EPYC-Milan and EPYC-Genoa; TDX: MRTD) or given; TDX RTMRs must be given
  (launchMeasurements.rtmrs, from a reference pod VM's quote).

Examples:
  contrast runtime --assets runtime-assets.json | kubectl apply -f -
  contrast runtime --platform Metal-QEMU-TDX --assets tdx-runtime/ --json

Exit codes: 0 printed, 1 the platform failed to produce its resources, 2 bad usage or unknown
platform.

${RUNTIME_MEASURE_HELP}`;
}

function toYaml(objects: KubeObject[]): string {
  return objects.map((o) => stringify(o, { sortMapEntries: false, lineWidth: 0 })).join('---\n');
}

function usageError(io: CliIo, message: string): ExitCode {
  io.stderr(`contrast runtime: ${message}\nRun "contrast runtime --help" for usage.\n`);
  return EXIT.usage;
}

/** Builds the `contrast runtime` command over an explicit platform registry. */
export function createRuntimeCommand(deps: RuntimeCommandDeps): Command {
  return {
    name: 'runtime',
    summary: 'print RuntimeClass names and node-installer YAML for a platform',
    get help() {
      return help(deps.registry);
    },
    async run(args: string[], io: CliIo): Promise<ExitCode> {
      if (args[0] === 'measure') {
        return createRuntimeMeasureCommand().run(args.slice(1), io);
      }
      let values: { platform?: string; assets?: string; namespace?: string; image?: string; json?: boolean };
      try {
        ({ values } = parseArgs({
          args,
          strict: true,
          allowPositionals: false,
          options: {
            platform: { type: 'string', short: 'p' },
            assets: { type: 'string', short: 'a' },
            namespace: { type: 'string', short: 'n' },
            image: { type: 'string' },
            json: { type: 'boolean' },
          },
        }));
      } catch (error) {
        return usageError(io, error instanceof Error ? error.message : String(error));
      }
      let registry = deps.registry;
      let described: Platform | undefined;
      if (values.assets !== undefined) {
        if (!deps.withAssets) return usageError(io, '--assets is not supported here');
        try {
          ({ registry, platform: described } = await deps.withAssets(registry, values.assets));
        } catch (error) {
          if (!isContrastError(error)) throw error;
          io.stderr(`contrast runtime: --assets ${error.message}\n`);
          return EXIT.usage;
        }
        if (values.platform !== undefined && registry.find(values.platform)?.id !== described.id) {
          return usageError(io, `--assets describes ${described.id}, not ${values.platform}`);
        }
        values.platform ??= described.id;
      }
      if (values.platform === undefined || values.platform === '') {
        return usageError(
          io,
          `--platform is required; known platforms: ${registry.ids().join(', ') || '(none registered)'}`,
        );
      }
      const namespace = values.namespace ?? DEFAULT_NAMESPACE;
      if (!isDnsLabel(namespace)) {
        return usageError(
          io,
          `--namespace "${namespace}" is not a valid namespace (lower-case letters, digits and "-", at most 63)`,
        );
      }
      if (values.image !== undefined && !/^[^\s]+$/.test(values.image)) {
        return usageError(io, `--image "${values.image}" is not an image reference`);
      }
      const platform = registry.find(values.platform);
      if (!platform) {
        try {
          registry.get(values.platform);
        } catch (error) {
          return usageError(io, isContrastError(error) ? error.message : String(error));
        }
        return usageError(io, `unknown platform "${values.platform}"`);
      }

      let runtimeClasses: KubeObject[];
      let installer: KubeObject[];
      try {
        runtimeClasses = platform.runtime.runtimeClasses();
        installer = platform.runtime.nodeInstaller({
          namespace,
          ...(values.image ? { image: values.image } : {}),
        });
      } catch (error) {
        if (isContrastError(error) && error.code === 'invalid-argument') {
          // What the user must supply (e.g. the runtime assets of a platform with no pinned release).
          io.stderr(`contrast runtime: ${error.message}\n`);
          return EXIT.usage;
        }
        const message = isContrastError(error) ? error.describe() : String(error);
        io.stderr(`contrast runtime: platform ${platform.id} failed to produce its resources: ${message}\n`);
        return EXIT.failed;
      }
      if (platform.insecure) {
        io.stderr(
          `contrast runtime: WARNING: ${platform.id} is a SIMULATED platform; its attestation proves nothing. Never use it for real workloads.\n`,
        );
      }
      const names = platform.runtime.runtimeClassNames;
      if (values.json) {
        io.stdout(
          `${JSON.stringify(
            {
              platform: platform.id,
              insecure: platform.insecure,
              runtimeClassNames: names,
              namespace,
              objects: [...runtimeClasses, ...installer],
            },
            null,
            2,
          )}\n`,
        );
        return EXIT.ok;
      }
      const header = [
        `# Platform: ${platform.id} (${platform.displayName})`,
        `# RuntimeClass: ${names.join(', ')}`,
        installer.length === 0
          ? '# Node installer: none (the provider installs the runtime)'
          : `# Node installer: namespace ${namespace}`,
      ].join('\n');
      io.stdout(`${header}\n${toYaml([...runtimeClasses, ...installer])}`);
      if (installer.length === 0) {
        io.stderr(
          `contrast runtime: ${platform.id} needs no node installer; only the RuntimeClass is printed.\n`,
        );
      }
      return EXIT.ok;
    },
  };
}
