// The node installer of a bare-metal Kata/QEMU runtime, generated from pinned runtime assets:
// its configuration (file list, Kata configuration, containerd patches) and the Kubernetes
// objects that run it. The layout follows upstream Contrast's node installer (reference §8.3):
// everything lives under /opt/edgeless/<handler>/ so several runtime versions coexist.

import {
  ContrastError,
  type KubeObject,
  type NodeInstallerOptions,
  type PlatformPolicy,
  type PlatformRuntime,
  runtimeClassName,
} from '@contrast-cc/core';
import { stringify as toToml } from 'smol-toml';
import { RUNTIME_NAME_PLACEHOLDER, RUNTIME_ROOT, type RuntimeAssets } from './runtime-assets.js';
import { runtimeHash } from './runtime-hash.js';

/** The TEE a QEMU runtime launches its pod VMs in. @public */
export type QemuTee = 'snp' | 'tdx';

/**
 * Where the TEE's QEMU runtime keeps its hypervisor pieces (paths relative to the runtime root
 * `/opt/edgeless/<handler>`; each must be a placed file of the assets) and the Kata hypervisor
 * settings only this TEE needs.
 * @public
 */
export interface QemuTeeProfile {
  qemu: string;
  firmware: string;
  kernel: string;
  image: string;
  /** Extra `[hypervisor.qemu]` keys, written right after `confidential_guest`. */
  hypervisorExtras: Readonly<Record<string, unknown>>;
}

const SHARED_GUEST_IMAGES = { kernel: 'share/kata-kernel', image: 'share/kata-containers.img' } as const;

/** The default layout per TEE: QEMU and OVMF built for the TEE, kernel and image shared. @public */
export const QEMU_TEE_PROFILES: Readonly<Record<QemuTee, QemuTeeProfile>> = {
  snp: {
    qemu: 'snp/bin/qemu-system-x86_64',
    firmware: 'snp/share/OVMF.fd',
    ...SHARED_GUEST_IMAGES,
    hypervisorExtras: { sev_snp_guest: true },
  },
  tdx: {
    qemu: 'tdx/bin/qemu-system-x86_64',
    firmware: 'tdx/share/OVMF.fd',
    ...SHARED_GUEST_IMAGES,
    hypervisorExtras: {},
  },
};

/** What a platform tells the installer generator: the part that differs per platform and TEE. @public */
export interface QemuRuntimeOptions<M = unknown> {
  /** The platform id, e.g. `Metal-QEMU-SNP`: it names the runtime and the installer's mode. */
  platformId: string;
  tee: QemuTee;
  assets: RuntimeAssets<M>;
  /** RuntimeClass overhead (VM memory and VMM threads). */
  podOverhead: { memory: string; cpu: string };
  /** Node labels the RuntimeClass schedules onto and the installer runs on. */
  nodeSelector: Readonly<Record<string, string>>;
  /** Overrides the TEE's default layout ({@link QEMU_TEE_PROFILES}). */
  profile?: QemuTeeProfile;
  /**
   * The vCPU counts the platform's reference values measure (`PodVmSizing.measuredVcpuCounts`);
   * absent: generate does not check the count.
   */
  measuredVcpuCounts?: readonly number[];
}

/** Kata `default_vcpus` of every generated configuration: each pod VM starts from one vCPU. */
const QEMU_BASE_VCPUS = 1;

/** The node-installer configuration: the file list the installer fetches and checks. @public */
export interface InstallerConfig {
  platform: string;
  runtimeHandler: string;
  release: string;
  files: { url: string; path: string; integrity: string; executable: boolean }[];
  kataConfigPath: string;
  containerd: { configPath: string; systemdUnits: string[]; patches: { '2': string; '3': string } };
  debugRuntime: boolean;
}

/** What the runtime generates, in one value for tools and tests. @public */
export interface QemuRuntimeInfo {
  runtimeHash: string;
  handler: string;
  installerConfig: InstallerConfig;
  kataConfiguration: string;
  containerdPatch: { v2: string; v3: string };
}

/** Keys of the installer ConfigMap (besides the Kata configuration, named after the TEE). @public */
export const INSTALLER_CONFIG_KEYS = {
  installer: 'contrast-node-install.json',
  containerdV2: 'containerd-config-patch.v2.toml',
  containerdV3: 'containerd-config-patch.v3.toml',
} as const;

/**
 * genpolicy settings of a runtime whose Kata configuration forces guest pull (JSON merge patch
 * over the base settings): the policy expects `image_guest_pull` storages.
 * @public
 */
export const GUEST_PULL_SETTINGS_PATCH = { cluster_config: { guest_pull: true } } as const;

/** One generated Kata/QEMU runtime: handler, installer configuration and Kubernetes objects. @public */
export interface QemuRuntime {
  readonly platformId: string;
  readonly tee: QemuTee;
  /** sha256 of the canonical runtime (see `canonicalRuntimeBytes`). */
  readonly runtimeHash: string;
  /** RuntimeClass name and containerd handler: `contrast-cc-<platform>-<8 hex of the hash>`. */
  readonly handler: string;
  /** `configuration-qemu-<tee>.toml`. */
  readonly kataConfigName: string;
  installerConfig(): InstallerConfig;
  kataConfiguration(): string;
  containerdPatch(version: 2 | 3): string;
  /** The installer ConfigMap's data: file name -> content. */
  configFiles(): Record<string, string>;
  runtimeClass(): KubeObject;
  nodeInstallerObjects(options: NodeInstallerOptions): KubeObject[];
  /** The `runtime` part of a platform definition. */
  platformRuntime(): PlatformRuntime;
  /** The `policy` part of a platform definition: guest pull, as the Kata configuration forces it. */
  platformPolicy(): PlatformPolicy;
  info(): QemuRuntimeInfo;
}

/**
 * Builds the runtime of a bare-metal Kata/QEMU platform from its pinned assets. Throws
 * `invalid-argument` (naming `assets.files`) when the assets lack a file the TEE profile needs.
 * @public
 */
export function createQemuRuntime<M>(options: QemuRuntimeOptions<M>): QemuRuntime {
  const { platformId, tee, assets } = options;
  const profile = options.profile ?? QEMU_TEE_PROFILES[tee];
  const hash = runtimeHash(platformId, assets);
  const handler = runtimeClassName(platformId, hash);
  const root = RUNTIME_ROOT.replaceAll(RUNTIME_NAME_PLACEHOLDER, handler);
  const kataConfigName = `configuration-qemu-${tee}.toml`;
  const kataConfigPath = `${root}/etc/${kataConfigName}`;
  const shimPath = `${root}/bin/containerd-shim-contrast-cc-v2`;
  const snapshotter = `nydus-${handler}`;
  const snapshotterSocket = `/run/containerd/containerd-nydus-grpc-${handler}.sock`;
  const onNode = (p: string) => p.replaceAll(RUNTIME_NAME_PLACEHOLDER, handler);

  const placed = (relative: string): string => {
    const target = `${RUNTIME_ROOT}/${relative}`;
    if (!assets.files.some((f) => f.path === target)) {
      throw new ContrastError(
        'invalid-argument',
        `the runtime assets of ${platformId} lack the file ${target} the ${tee} runtime needs`,
        { field: 'assets.files' },
      );
    }
    return onNode(target);
  };
  const qemu = placed(profile.qemu);
  const firmware = placed(profile.firmware);
  const kernel = placed(profile.kernel);
  const image = placed(profile.image);

  const installerConfig = (): InstallerConfig => ({
    platform: platformId,
    runtimeHandler: handler,
    release: assets.release,
    files: assets.files.map((x) => ({
      url: x.url,
      path: onNode(x.path),
      integrity: x.integrity,
      executable: x.executable,
    })),
    kataConfigPath,
    containerd: {
      configPath: '/etc/containerd/config.toml',
      systemdUnits: ['containerd'],
      patches: { '2': INSTALLER_CONFIG_KEYS.containerdV2, '3': INSTALLER_CONFIG_KEYS.containerdV3 },
    },
    debugRuntime: false,
  });

  // `kernel_params` replaces Kata's default: it must equal what the launch measurement was
  // computed with.
  const kataConfiguration = (): string =>
    toToml({
      hypervisor: {
        qemu: {
          path: qemu,
          valid_hypervisor_paths: [qemu],
          kernel,
          image,
          rootfs_type: 'erofs',
          firmware,
          machine_type: 'q35',
          confidential_guest: true,
          ...profile.hypervisorExtras,
          kernel_params: assets.kernelParams,
          default_vcpus: QEMU_BASE_VCPUS,
          default_memory: assets.vmMemoryMiB,
          disable_nesting_checks: true,
          disable_image_nvdimm: true,
          shared_fs: 'none',
          block_device_driver: 'virtio-blk-pci',
          block_device_aio: 'threads',
          enable_annotations: ['default_vcpus', 'default_memory', 'cc_init_data'],
          enable_debug: false,
        },
      },
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

  const runtimeFragment = () => ({
    runtime_type: 'io.containerd.contrast-cc.v2',
    runtime_path: shimPath,
    pod_annotations: ['io.katacontainers.*'],
    privileged_without_host_devices: true,
    snapshotter,
    options: { ConfigPath: kataConfigPath },
  });

  // Merged into the node's containerd config by the installer: the snapshotter proxy plugin, the
  // runtime, and the image options guest pull needs. Config version 2 keeps the runtimes under
  // the CRI plugin; version 3 splits runtime and images plugins.
  const containerdPatch = (version: 2 | 3): string => {
    const proxy = { [snapshotter]: { type: 'snapshot', address: snapshotterSocket } };
    const imageOptions = { discard_unpacked_layers: false, disable_snapshot_annotations: false };
    const plugins =
      version === 2
        ? {
            'io.containerd.grpc.v1.cri': {
              containerd: { ...imageOptions, runtimes: { [handler]: runtimeFragment() } },
            },
          }
        : {
            'io.containerd.cri.v1.images': imageOptions,
            'io.containerd.cri.v1.runtime': { containerd: { runtimes: { [handler]: runtimeFragment() } } },
          };
    return toToml({ version, proxy_plugins: proxy, plugins });
  };

  const configFiles = (): Record<string, string> => ({
    [INSTALLER_CONFIG_KEYS.installer]: `${JSON.stringify(installerConfig(), null, 2)}\n`,
    [kataConfigName]: kataConfiguration(),
    [INSTALLER_CONFIG_KEYS.containerdV2]: containerdPatch(2),
    [INSTALLER_CONFIG_KEYS.containerdV3]: containerdPatch(3),
  });

  // Handler = name, as upstream names its RuntimeClasses.
  const runtimeClass = (): KubeObject => ({
    apiVersion: 'node.k8s.io/v1',
    kind: 'RuntimeClass',
    metadata: { name: handler, labels: { 'addonmanager.kubernetes.io/mode': 'Reconcile' } },
    handler,
    overhead: { podFixed: { ...options.podOverhead } },
    scheduling: { nodeSelector: { ...options.nodeSelector } },
  });

  // A ServiceAccount with a ClusterRole to watch pods, the ConfigMap holding the generated
  // configuration, and the DaemonSet `<handler>-nodeinstaller` (privileged installer init
  // container with the node's `/` at `/host`, then the guest-pull snapshotter). The namespace
  // is the user's and is not created here.
  const nodeInstallerObjects = (o: NodeInstallerOptions): KubeObject[] => {
    const name = `${handler}-nodeinstaller`;
    const ns = o.namespace;
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
        data: configFiles(),
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
                'contrast.edgeless.systems/platform': platformId,
              },
            },
            spec: {
              serviceAccountName: name,
              hostPID: true,
              nodeSelector: { ...options.nodeSelector },
              initContainers: [
                {
                  name: 'installer',
                  image: o.image ?? assets.installerImage,
                  command: ['/bin/node-installer', platformId],
                  args: ['-restart=true', `-config=/config/${INSTALLER_CONFIG_KEYS.installer}`],
                  securityContext: { privileged: true },
                  volumeMounts: [
                    hostMount,
                    { name: 'installer-config', mountPath: '/config', readOnly: true },
                  ],
                },
              ],
              containers: [
                {
                  name: 'nydus-snapshotter',
                  image: assets.snapshotterImage,
                  command: [
                    'containerd-nydus-grpc',
                    `--root=/var/lib/nydus-snapshotter/${handler}`,
                    `--address=/host${snapshotterSocket}`,
                    '--config=/share/nydus-snapshotter/config-coco-guest-pulling.toml',
                    `--nydus-overlayfs-path=${root}/bin/nydus-overlayfs`,
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
  };

  return {
    platformId,
    tee,
    runtimeHash: hash,
    handler,
    kataConfigName,
    installerConfig,
    kataConfiguration,
    containerdPatch,
    configFiles,
    runtimeClass,
    nodeInstallerObjects,
    platformRuntime: () => ({
      runtimeClassNames: [handler],
      runtimeClasses: () => [runtimeClass()],
      nodeInstaller: (o) => nodeInstallerObjects(o),
      podOverhead: { ...options.podOverhead },
      vmSizing: {
        baseVcpus: QEMU_BASE_VCPUS,
        baseMemoryMiB: assets.vmMemoryMiB,
        ...(options.measuredVcpuCounts ? { measuredVcpuCounts: [...options.measuredVcpuCounts] } : {}),
      },
    }),
    platformPolicy: () => ({ settingsPatch: structuredClone(GUEST_PULL_SETTINGS_PATCH), guestPull: true }),
    info: () => ({
      runtimeHash: hash,
      handler,
      installerConfig: installerConfig(),
      kataConfiguration: kataConfiguration(),
      containerdPatch: { v2: containerdPatch(2), v3: containerdPatch(3) },
    }),
  };
}

/**
 * The runtime of a platform whose assets are not known (no release pinned, none supplied): its
 * RuntimeClass name is the platform's generic `contrast-cc-<platform>` (what users write in
 * their YAML), and asking it for RuntimeClass or installer objects throws `invalid-argument`
 * (field `assets`) saying what to supply. Nothing with a placeholder digest is ever produced.
 * @public
 */
export function unconfiguredQemuRuntime(
  platformId: string,
  measuredVcpuCounts?: readonly number[],
): Pick<QemuRuntime, 'platformRuntime' | 'platformPolicy'> {
  const refuse = (): never => {
    throw new ContrastError(
      'invalid-argument',
      `the ${platformId} runtime has no pinned release: its files, image digests and launch measurements are unknown. ` +
        `Supply them with --assets <file|dir> (a runtime assets description; see "contrast runtime --help")`,
      { field: 'assets' },
    );
  };
  return {
    platformRuntime: () => ({
      runtimeClassNames: [`contrast-cc-${platformId.toLowerCase()}`],
      runtimeClasses: refuse,
      nodeInstaller: refuse,
      // The VM memory is part of the unknown assets; the vCPU base is the same in every release.
      vmSizing: {
        baseVcpus: QEMU_BASE_VCPUS,
        ...(measuredVcpuCounts ? { measuredVcpuCounts: [...measuredVcpuCounts] } : {}),
      },
    }),
    platformPolicy: () => ({ settingsPatch: structuredClone(GUEST_PULL_SETTINGS_PATCH), guestPull: true }),
  };
}
