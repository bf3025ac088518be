// Agent requests for tests of `contrast policy explain`: the CreateContainerRequest containerd and
// the Kata shim send for a container of a generated pod, synthesized from the pod's policy data
// (runtime defaults from the policy with placeholders filled in as the runtime would), and the
// request sequence of a whole pod (the injected containers first). Not real runtime captures:
// those need a cluster (the agent's /tmp/policy.jsonl).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { decodeInitdataAnnotation, parseInitdataToml } from '@contrast-cc/policy';
import { parseAllDocuments } from 'yaml';

const INITDATA = 'io.katacontainers.config.hypervisor.cc_init_data';

// biome-ignore lint/suspicious/noExplicitAny: free-form agent request bodies, mutated per test
export type Body = Record<string, any>;
export interface PolicyContainer {
  OCI: Body;
  storages: Body[];
  image: string;
  source_path: string;
  required_started?: string[];
}
export interface PolicyData {
  containers: PolicyContainer[];
  common: Record<string, unknown>;
}

/** The policy data of the generated workload in `file` (decoded from its initdata annotation). */
export function policyDataOf(file: string): PolicyData {
  const doc = parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS())
    .find((o) => o?.spec?.template?.metadata?.annotations?.[INITDATA] ?? o?.spec?.jobTemplate);
  const template = doc.spec.jobTemplate ? doc.spec.jobTemplate.spec.template : doc.spec.template;
  const annotation = template.metadata.annotations[INITDATA];
  const text = parseInitdataToml(decodeInitdataAnnotation(annotation)).data['policy.rego'] as string;
  return JSON.parse(text.slice(text.indexOf('\npolicy_data := ') + 16));
}

/**
 * The CreateContainerRequest containerd + the Kata shim send for one container of the pod, in the
 * agent's JSON form (the shape of Kata's own policy test cases): the bulky runtime defaults (mounts,
 * capabilities, masked paths) come from the policy with its placeholders filled in as the runtime
 * would; what the YAML and the image decide (image, command, env, user) is written out here.
 */
export function createRequest(
  data: PolicyData,
  containerName: string,
  overrides: (r: Body) => void = () => {},
  pod = 'web-7c56d66754-pq9qp',
): Body {
  const c = data.containers.find(
    (x) => x.OCI.Annotations['io.kubernetes.cri.container-name'] === containerName,
  );
  if (!c) throw new Error(`no policy container ${containerName}`);
  const bundle = createHash('sha256').update(containerName).digest('hex');
  const sandboxId = 'e'.repeat(64);
  const rootfs = `/run/kata-containers/${bundle}/rootfs`;
  const shared = `/run/kata-containers/shared/containers/${bundle}-0123456789abcdef-`;
  const concrete = (p: string) =>
    p.startsWith('$(sfprefix)')
      ? shared + p.slice('$(sfprefix)'.length).replace(/\$$/, '').replaceAll('\\.', '.')
      : p.startsWith('^$(spath)/')
        ? // A block or persistent volume: the agent's storage directory of the device.
          `${String(data.common.spath)}/cGVyc2lzdGVudC12b2x1bWU`
        : p.startsWith('^')
          ? p.slice(1).replace(/\$$/, '').replaceAll('\\.', '.')
          : p.replaceAll('$(bundle-id)', bundle).replaceAll('$(root_path)', rootfs);
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(c.OCI.Annotations as Record<string, string>))
    annotations[k] = concrete(v);
  Object.assign(annotations, {
    'io.kubernetes.cri.sandbox-id': sandboxId,
    'io.kubernetes.cri.sandbox-name': pod,
    'io.kubernetes.cri.image-name': c.image,
  });
  const r: Body = {
    container_id: bundle,
    exec_id: bundle,
    storages: [
      { driver: 'image_guest_pull', source: c.image, fstype: 'overlay', options: [], mount_point: rootfs },
    ],
    OCI: {
      Version: '1.1.0',
      Annotations: annotations,
      Root: { Path: rootfs, Readonly: c.OCI.Root.Readonly },
      Mounts: (c.OCI.Mounts as Body[])
        .filter((m) => !m.destination.startsWith('/var/run/secrets/azure'))
        .map((m) => ({ ...m, source: concrete(m.source ?? '') })),
      Process: {
        ...structuredClone(c.OCI.Process),
        Env: (c.OCI.Process.Env as string[]).map((e) => e.replace('$(host-name)', pod)),
      },
      Linux: {
        Namespaces: [
          ...c.OCI.Linux.Namespaces,
          { Type: 'network', Path: '/run/netns/cni-00000000-0000-0000-0000-000000000000' },
        ],
        MaskedPaths: c.OCI.Linux.MaskedPaths,
        ReadonlyPaths: c.OCI.Linux.ReadonlyPaths,
        Sysctl: c.OCI.Linux.Sysctl,
        Resources: { Devices: [] },
      },
    },
  };
  overrides(r);
  return r;
}

/**
 * The requests the runtime sends before `containerName` may be created: Create and Start of each
 * injected container its policy requires first (the initializer, the service-mesh sidecar).
 */
export function injectedFirst(data: PolicyData, containerName: string): Body[] {
  const c = data.containers.find(
    (x) => x.OCI.Annotations['io.kubernetes.cri.container-name'] === containerName,
  );
  return (c?.required_started ?? []).flatMap((name) => {
    const r = createRequest(data, name);
    return [
      { kind: 'CreateContainerRequest', request: r },
      { kind: 'StartContainerRequest', request: { container_id: r.container_id } },
    ];
  });
}

/** `request` after the injected containers it needs, as the sequence a pod's agent receives. */
export function afterInjected(data: PolicyData, containerName: string, request: Body): Body[] {
  return [...injectedFirst(data, containerName), { kind: 'CreateContainerRequest', request }];
}

/**
 * The container requests a pod's agent receives, in order: Create and Start of the injected
 * containers (as the policy requires them), then of the pod's other containers in policy order.
 */
export function podRequests(data: PolicyData, pod: string): Body[] {
  const names = data.containers
    .map((c) => c.OCI.Annotations['io.kubernetes.cri.container-name'] as string | undefined)
    .filter((n): n is string => n !== undefined);
  const first = data.containers.flatMap((c) => c.required_started ?? []);
  const ordered = [...new Set([...first.filter((n) => names.includes(n)), ...names])];
  return ordered.flatMap((name) => {
    const r = createRequest(data, name, () => {}, pod);
    return [
      { kind: 'CreateContainerRequest', request: r },
      { kind: 'StartContainerRequest', request: { container_id: r.container_id } },
    ];
  });
}
