// @contrast-cc/policy/testing: the fixture of a small web workload, shared by the policy tests
// and the policy-eval benchmark. The images' recorded facts and the Kata agent requests its
// container sends, as containerd and the kata shim would write them. For tests only.
import { parse } from 'yaml';
import { type GeneratePolicyInput, generatePolicy } from '../generate.js';
import { RecordedImageSource } from '../images/recorded.js';
import { DEFAULT_SETTINGS } from '../rules/default-settings.js';
import type { GeneratedPolicy } from '../types.js';

/** The pause image genpolicy adds to every pod. */
export const FIXTURE_PAUSE_IMAGE = 'ghcr.io/edgelesssys/kubernetes/pause:3.6';
/** The workload's image, pinned (tag and digest) as `contrast generate` writes it. */
export const FIXTURE_APP_IMAGE = `registry.example/shop/web:1.0@sha256:${'a'.repeat(64)}`;
/** The container (and bundle) id of every fixture request. */
export const FIXTURE_CONTAINER_ID = 'c'.repeat(64);

/**
 * Recorded facts of the two fixture images: the pause image (entrypoint `/pause`, user
 * 65535:65535) and the app (env `PATH=/bin`, entrypoint `/web`, cmd `--port=8080`, workdir `/srv`).
 * A new source each call, so what one test resolves (`resolved`) is not seen by another.
 */
export function fixtureImages(): RecordedImageSource {
  return new RecordedImageSource({
    [FIXTURE_PAUSE_IMAGE]: {
      reference: `${FIXTURE_PAUSE_IMAGE}@sha256:${'b'.repeat(64)}`,
      digest: `sha256:${'b'.repeat(64)}`,
      config: { Entrypoint: ['/pause'], User: '65535:65535' },
    },
    [FIXTURE_APP_IMAGE]: {
      reference: FIXTURE_APP_IMAGE,
      digest: `sha256:${'a'.repeat(64)}`,
      config: { Env: ['PATH=/bin'], Entrypoint: ['/web'], Cmd: ['--port=8080'], WorkingDir: '/srv' },
    },
  });
}

/** A storage entry of a CreateContainerRequest. */
export type FixtureStorage = { driver: string; source: string; fstype: string; mount_point: string };
/** An OCI mount of a CreateContainerRequest (as the agent's protobuf names it). */
export type FixtureMount = { destination: string; source: string; type_: string; options: string[] };
/** A process of an OCI spec or an ExecProcessRequest. */
export type FixtureProcess = {
  Args: string[];
  Env: string[];
  Cwd: string;
  User: { UID: number; GID: number; AdditionalGids: number[] };
};

/** A device of a CreateContainerRequest (the agent's `Device`: a hot-plugged block device or VFIO). */
export type FixtureDevice = {
  id: string;
  type_: string;
  vm_path: string;
  container_path: string;
  options: string[];
};
/** An OCI `Linux.Devices` entry (major/minor as the host runtime sends them). */
export type FixtureLinuxDevice = {
  Path: string;
  Type: string;
  Major: number;
  Minor: number;
  FileMode?: number;
};

/** The CreateContainerRequest body the fixture builds; every part is mutable for tests to tamper with. */
export type FixtureCreateContainerRequest = {
  container_id: string;
  exec_id: string;
  devices?: FixtureDevice[];
  /** The image's guest-pull storage (one entry, so tests can reach `storages[0]`). */
  storages: [FixtureStorage];
  OCI: {
    Version: string;
    Root: { Path: string; Readonly: boolean };
    Annotations: Record<string, string>;
    Mounts?: FixtureMount[];
    Process: FixtureProcess & {
      Capabilities: { Bounding: string[]; Effective: string[]; Permitted: string[] };
    };
    Linux: {
      Namespaces: Array<{ Type: string; Path: string }>;
      MaskedPaths: string[];
      ReadonlyPaths: string[];
      Devices?: FixtureLinuxDevice[];
    };
  };
};

/**
 * The CreateContainerRequest of container `web` of pod `shop/web-7c56d66754-pq9qp` running
 * {@link FIXTURE_APP_IMAGE} with args `["/web"]`, env `PATH=/bin MODE=prod HOSTNAME=<pod>`, cwd
 * `/srv`, root user, the default capabilities and the runtime's masked and read-only paths.
 * `overrides` changes the fresh body before it is returned.
 */
export function createContainerRequest(
  overrides: (r: FixtureCreateContainerRequest) => void = () => {},
): FixtureCreateContainerRequest {
  const bundle = FIXTURE_CONTAINER_ID;
  const image = FIXTURE_APP_IMAGE.replace(':1.0', '');
  const r: FixtureCreateContainerRequest = {
    container_id: bundle,
    exec_id: bundle,
    storages: [
      {
        driver: 'image_guest_pull',
        source: image,
        fstype: 'overlay',
        mount_point: `/run/kata-containers/${bundle}/rootfs`,
      },
    ],
    OCI: {
      Version: '1.1.0',
      Root: { Path: `/run/kata-containers/${bundle}/rootfs`, Readonly: false },
      Annotations: {
        'io.kubernetes.cri.container-type': 'container',
        'io.kubernetes.cri.container-name': 'web',
        'io.kubernetes.cri.sandbox-name': 'web-7c56d66754-pq9qp',
        'io.kubernetes.cri.sandbox-namespace': 'shop',
        'io.kubernetes.cri.sandbox-id': 'd'.repeat(64),
        'io.kubernetes.cri.image-name': image,
        'io.katacontainers.pkg.oci.bundle_path': `/run/containerd/io.containerd.runtime.v2.task/k8s.io/${bundle}`,
        'io.katacontainers.pkg.oci.container_type': 'pod_container',
      },
      Process: {
        Args: ['/web'],
        Env: ['PATH=/bin', 'MODE=prod', 'HOSTNAME=web-7c56d66754-pq9qp'],
        Cwd: '/srv',
        User: { UID: 0, GID: 0, AdditionalGids: [0] },
        Capabilities: {
          Bounding: ['$(default_caps)'],
          Effective: ['$(default_caps)'],
          Permitted: ['$(default_caps)'],
        },
      },
      Linux: {
        Namespaces: [
          { Type: 'ipc', Path: '' },
          { Type: 'uts', Path: '' },
          { Type: 'mount', Path: '' },
        ],
        MaskedPaths: [
          '/proc/acpi',
          '/proc/asound',
          '/proc/kcore',
          '/proc/keys',
          '/proc/latency_stats',
          '/proc/timer_list',
          '/proc/timer_stats',
          '/proc/sched_debug',
          '/proc/scsi',
          '/sys/firmware',
        ],
        ReadonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
      },
    },
  };
  overrides(r);
  return r;
}

/** An ExecProcessRequest (exec id `e1`) running `args` in the fixture container, as `kubectl exec` or a probe sends it. */
export function execProcessRequest(args: string[]): {
  container_id: string;
  exec_id: string;
  process: FixtureProcess;
} {
  return {
    container_id: FIXTURE_CONTAINER_ID,
    exec_id: 'e1',
    process: { Args: args, Cwd: '/srv', Env: ['PATH=/bin'], User: { UID: 0, GID: 0, AdditionalGids: [0] } },
  };
}

/**
 * The YAML of Deployment `shop/web` whose container is what {@link createContainerRequest} sends
 * for (image, command `/web`, env `MODE=prod`), with text inserted: `beforeEnv` (e.g. `envFrom`),
 * `env` (more env entries), `container` (more container keys) and `spec` (more pod spec keys),
 * each as indented YAML lines.
 */
export function fixtureDeploymentYaml(
  parts: { beforeEnv?: string; env?: string; container?: string; spec?: string } = {},
): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: ${FIXTURE_APP_IMAGE}
          command:
            - /web
${parts.beforeEnv ?? ''}          env:
            - name: MODE
              value: prod
${parts.env ?? ''}${parts.container ?? ''}${parts.spec ?? ''}`;
}

/**
 * The policy `contrast generate` writes for the Deployment (pod template, name and namespace of
 * `shop/web`) in `yaml`: initdata binding, default settings, the fixture images unless `more`
 * says otherwise (e.g. ConfigMaps and Secrets for env).
 */
export async function generateFixturePolicy(
  yaml: string,
  more: Partial<Pick<GeneratePolicyInput, 'images' | 'configMaps' | 'secrets'>> = {},
): Promise<GeneratedPolicy> {
  const doc = parse(yaml);
  return generatePolicy({
    pod: {
      ...doc.spec.template,
      metadata: { ...doc.spec.template.metadata, name: 'web', namespace: 'shop' },
    },
    kind: 'Deployment',
    images: fixtureImages(),
    settings: DEFAULT_SETTINGS,
    binding: 'initdata',
    ...more,
  });
}
