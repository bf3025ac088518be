// The node installer of a bare-metal QEMU platform, generated from the pinned runtime assets:
// its configuration (file list, Kata configuration, containerd patches) and the Kubernetes
// objects that run it. The layout follows upstream Contrast's node installer (reference §8.3):
// everything lives under /opt/edgeless/<handler>/ so several runtime versions coexist.

import type { KubeObject, NodeInstallerOptions } from '@contrast-cc/core';
import { stringify as toToml } from 'smol-toml';
import type { RuntimeAssets } from './runtime-assets.js';

/** What differs between the SNP and the TDX flavour of the bare-metal installer. */
export interface InstallerFlavor {
  platformId: string;
  tee: 'snp' | 'tdx';
  handler: string;
  assets: RuntimeAssets;
  /** RuntimeClass overhead and node selection. */
  podOverhead: { memory: string; cpu: string };
  nodeSelector: Record<string, string>;
}

/** The node-installer configuration: the file list the installer fetches and checks. */
export interface InstallerConfig {
  platform: string;
  runtimeHandler: string;
  release: string;
  files: { url: string; path: string; integrity: string; executable: boolean }[];
  kataConfigPath: string;
  containerd: { configPath: string; systemdUnits: string[]; patches: { '2': string; '3': string } };
  debugRuntime: boolean;
}

const PLACEHOLDER = '@@runtimeName@@';
/** Keys of the installer ConfigMap. */
export const CONFIG_KEYS = {
  installer: 'contrast-node-install.json',
  containerdV2: 'containerd-config-patch.v2.toml',
  containerdV3: 'containerd-config-patch.v3.toml',
} as const;

const root = (f: InstallerFlavor) => `/opt/edgeless/${f.handler}`;
const kataConfigName = (f: InstallerFlavor) => `configuration-qemu-${f.tee}.toml`;
const kataConfigPath = (f: InstallerFlavor) => `${root(f)}/etc/${kataConfigName(f)}`;
const shimPath = (f: InstallerFlavor) => `${root(f)}/bin/containerd-shim-contrast-cc-v2`;
const snapshotter = (f: InstallerFlavor) => `nydus-${f.handler}`;
const snapshotterSocket = (f: InstallerFlavor) => `/run/containerd/containerd-nydus-grpc-${f.handler}.sock`;

function placed(f: InstallerFlavor, suffix: string): string {
  const hit = f.assets.files.find((x) => x.path.endsWith(suffix));
  if (!hit) throw new Error(`runtime assets of ${f.platformId} lack a file ending in ${suffix}`);
  return hit.path.replaceAll(PLACEHOLDER, f.handler);
}

/** The installer's file list and settings (`contrast-node-install.json`). */
export function installerConfig(f: InstallerFlavor): InstallerConfig {
  return {
    platform: f.platformId,
    runtimeHandler: f.handler,
    release: f.assets.release,
    files: f.assets.files.map((x) => ({
      url: x.url,
      path: x.path.replaceAll(PLACEHOLDER, f.handler),
      integrity: x.integrity,
      executable: x.executable,
    })),
    kataConfigPath: kataConfigPath(f),
    containerd: {
      configPath: '/etc/containerd/config.toml',
      systemdUnits: ['containerd'],
      patches: { '2': CONFIG_KEYS.containerdV2, '3': CONFIG_KEYS.containerdV3 },
    },
    debugRuntime: false,
  };
}

/**
 * The Kata runtime configuration (`configuration-qemu-snp.toml` / `-tdx.toml`). `kernel_params`
 * replaces Kata's default: it must equal what the launch measurement was computed with.
 */
export function kataConfiguration(f: InstallerFlavor): string {
  const qemu = placed(f, `${f.tee}/bin/qemu-system-x86_64`);
  const hypervisor: Record<string, unknown> = {
    path: qemu,
    valid_hypervisor_paths: [qemu],
    kernel: placed(f, 'share/kata-kernel'),
    image: placed(f, 'share/kata-containers.img'),
    rootfs_type: 'erofs',
    firmware: placed(f, `${f.tee}/share/OVMF.fd`),
    machine_type: 'q35',
    confidential_guest: true,
    ...(f.tee === 'snp' ? { sev_snp_guest: true } : {}),
    kernel_params: f.assets.kernelParams,
    default_vcpus: 1,
    default_memory: f.assets.vmMemoryMiB,
    disable_nesting_checks: true,
    disable_image_nvdimm: true,
    shared_fs: 'none',
    block_device_driver: 'virtio-blk-pci',
    block_device_aio: 'threads',
    enable_annotations: ['default_vcpus', 'default_memory', 'cc_init_data'],
    enable_debug: false,
  };
  return toToml({
    hypervisor: { qemu: hypervisor },
    agent: { kata: { dial_timeout: 90, debug_console_enabled: false } },
    runtime: {
      internetworking_model: 'tcfilter',
      disable_guest_seccomp: true,
      sandbox_cgroup_only: true,
      static_sandbox_resource_mgmt: true,
      experimental_force_guest_pull: true,
      enable_debug: false,
    },
  });
}

function runtimeFragment(f: InstallerFlavor): Record<string, unknown> {
  return {
    runtime_type: 'io.containerd.contrast-cc.v2',
    runtime_path: shimPath(f),
    pod_annotations: ['io.katacontainers.*'],
    privileged_without_host_devices: true,
    snapshotter: snapshotter(f),
    options: { ConfigPath: kataConfigPath(f) },
  };
}

/**
 * The containerd config patch, merged into the node's config by the installer: the snapshotter
 * proxy plugin, the runtime, and the image options guest pull needs. Config version 2 keeps the
 * runtimes under the CRI plugin; version 3 splits runtime and images plugins.
 */
export function containerdPatch(f: InstallerFlavor, version: 2 | 3): string {
  const proxy = { [snapshotter(f)]: { type: 'snapshot', address: snapshotterSocket(f) } };
  const imageOptions = { discard_unpacked_layers: false, disable_snapshot_annotations: false };
  const plugins =
    version === 2
      ? {
          'io.containerd.grpc.v1.cri': {
            containerd: { ...imageOptions, runtimes: { [f.handler]: runtimeFragment(f) } },
          },
        }
      : {
          'io.containerd.cri.v1.images': imageOptions,
          'io.containerd.cri.v1.runtime': { containerd: { runtimes: { [f.handler]: runtimeFragment(f) } } },
        };
  return toToml({ version, proxy_plugins: proxy, plugins });
}

/** The RuntimeClass of this runtime (handler = name, as upstream). */
export function runtimeClassObject(f: InstallerFlavor): KubeObject {
  return {
    apiVersion: 'node.k8s.io/v1',
    kind: 'RuntimeClass',
    metadata: { name: f.handler, labels: { 'addonmanager.kubernetes.io/mode': 'Reconcile' } },
    handler: f.handler,
    overhead: { podFixed: { ...f.podOverhead } },
    scheduling: { nodeSelector: { ...f.nodeSelector } },
  };
}

/**
 * The node-installer resources: a ServiceAccount with a ClusterRole to watch pods, the
 * ConfigMap holding the generated configuration, and the DaemonSet `<handler>-nodeinstaller`
 * (privileged installer init container with the node's `/` at `/host`, then the guest-pull
 * snapshotter). The namespace is the user's and is not created here.
 */
export function nodeInstallerObjects(f: InstallerFlavor, options: NodeInstallerOptions): KubeObject[] {
  const name = `${f.handler}-nodeinstaller`;
  const ns = options.namespace;
  const labels = { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'contrast' };
  const configMapName = `${name}-config`;
  const hostMount = { name: 'host-mount', mountPath: '/host' };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: ns, labels } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name, labels },
      rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: ns }],
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: configMapName, namespace: ns, labels },
      data: {
        [CONFIG_KEYS.installer]: `${JSON.stringify(installerConfig(f), null, 2)}\n`,
        [kataConfigName(f)]: kataConfiguration(f),
        [CONFIG_KEYS.containerdV2]: containerdPatch(f, 2),
        [CONFIG_KEYS.containerdV3]: containerdPatch(f, 3),
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name, namespace: ns, labels },
      spec: {
        selector: { matchLabels: { 'app.kubernetes.io/name': name } },
        template: {
          metadata: {
            labels,
            annotations: {
              'contrast.edgeless.systems/pod-role': 'contrast-node-installer',
              'contrast.edgeless.systems/platform': f.platformId,
            },
          },
          spec: {
            serviceAccountName: name,
            hostPID: true,
            nodeSelector: { ...f.nodeSelector },
            initContainers: [
              {
                name: 'installer',
                image: options.image ?? f.assets.installerImage,
                command: ['/bin/node-installer', f.platformId],
                args: ['-restart=true', `-config=/config/${CONFIG_KEYS.installer}`],
                securityContext: { privileged: true },
                volumeMounts: [hostMount, { name: 'installer-config', mountPath: '/config', readOnly: true }],
              },
            ],
            containers: [
              {
                name: 'nydus-snapshotter',
                image: f.assets.snapshotterImage,
                command: [
                  'containerd-nydus-grpc',
                  `--root=/var/lib/nydus-snapshotter/${f.handler}`,
                  `--address=/host${snapshotterSocket(f)}`,
                  '--config=/share/nydus-snapshotter/config-coco-guest-pulling.toml',
                  `--nydus-overlayfs-path=${root(f)}/bin/nydus-overlayfs`,
                ],
                securityContext: { privileged: true },
                volumeMounts: [
                  { ...hostMount, mountPropagation: 'Bidirectional' },
                  {
                    name: 'var-lib-nydus-snapshotter',
                    mountPath: '/var/lib/nydus-snapshotter',
                    mountPropagation: 'Bidirectional',
                  },
                ],
                resources: { requests: { cpu: '10m', memory: '64Mi' } },
              },
            ],
            volumes: [
              { name: 'host-mount', hostPath: { path: '/', type: 'Directory' } },
              { name: 'installer-config', configMap: { name: configMapName } },
              {
                name: 'var-lib-nydus-snapshotter',
                hostPath: { path: '/var/lib/nydus-snapshotter', type: 'DirectoryOrCreate' },
              },
            ],
          },
        },
      },
    },
  ];
}
