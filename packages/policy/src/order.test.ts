// Order and presence: a pod whose initializer and service-mesh sidecar were injected gets no
// workload container before both were created and started in its sandbox, and every env variable
// its spec sets must be in the request. Checked with the agent's own state mechanism (ops on
// data.pstate) through explainRequests, as `contrast policy explain` runs it.
import { describe, expect, it } from 'vitest';
import { explainRequests } from './explain.js';
import { generatePolicy } from './generate.js';
import { DEFAULT_SETTINGS } from './rules/default-settings.js';
import { FIXTURE_APP_IMAGE as APP, createContainerRequest, fixtureImages } from './testing/index.js';

const pod = {
  metadata: { name: 'web', namespace: 'shop' },
  spec: {
    initContainers: [
      { name: 'contrast-initializer', image: APP, command: ['/web'], env: [{ name: 'ROLE', value: 'init' }] },
      { name: 'contrast-service-mesh', image: APP, command: ['/web'], restartPolicy: 'Always' },
    ],
    containers: [{ name: 'web', image: APP, command: ['/web'], env: [{ name: 'MODE', value: 'prod' }] }],
  },
};

async function policy(startFirst: string[], specEnvPresence?: boolean) {
  return (
    await generatePolicy({
      pod,
      kind: 'Deployment',
      images: fixtureImages(),
      settings: DEFAULT_SETTINGS,
      binding: 'initdata',
      startFirst,
      ...(specEnvPresence === undefined ? {} : { specEnvPresence }),
    })
  ).annotation.value;
}

const ids: Record<string, string> = {
  'contrast-initializer': '1'.repeat(64),
  'contrast-service-mesh': '2'.repeat(64),
  web: '3'.repeat(64),
};

/** The CreateContainerRequest of container `name` (its own id, bundle and env). */
function create(name: string, env?: string[]) {
  const id = ids[name]!;
  return {
    kind: 'CreateContainerRequest',
    request: createContainerRequest((r) => {
      r.container_id = id;
      r.exec_id = id;
      r.OCI.Root.Path = `/run/kata-containers/${id}/rootfs`;
      r.storages[0].mount_point = `/run/kata-containers/${id}/rootfs`;
      r.OCI.Annotations['io.kubernetes.cri.container-name'] = name;
      r.OCI.Annotations['io.katacontainers.pkg.oci.bundle_path'] =
        `/run/containerd/io.containerd.runtime.v2.task/k8s.io/${id}`;
      r.OCI.Process.Env =
        env ??
        {
          'contrast-initializer': ['PATH=/bin', 'HOSTNAME=web-7c56d66754-pq9qp', 'ROLE=init'],
          'contrast-service-mesh': ['PATH=/bin', 'HOSTNAME=web-7c56d66754-pq9qp'],
          web: ['PATH=/bin', 'HOSTNAME=web-7c56d66754-pq9qp', 'MODE=prod'],
        }[name]!;
    }),
  };
}
const start = (name: string) => ({ kind: 'StartContainerRequest', request: { container_id: ids[name] } });

const GOOD = [
  create('contrast-initializer'),
  start('contrast-initializer'),
  create('contrast-service-mesh'),
  start('contrast-service-mesh'),
  create('web'),
  start('web'),
];

describe('order and presence of containers', () => {
  it('allows the injected containers first, then the workload', async () => {
    const p = await policy(['contrast-initializer', 'contrast-service-mesh']);
    const out = explainRequests({ policy: p, requests: GOOD });
    expect(out.map((r) => r.allowed)).toEqual([true, true, true, true, true, true]);
  });

  it.each([
    ['without the initializer', GOOD.slice(2), 'contrast-initializer', 'contrast-service-mesh'],
    [
      'with the initializer created but not started',
      [GOOD[0]!, ...GOOD.slice(2)],
      'contrast-initializer',
      'contrast-service-mesh',
    ],
    ['without the sidecar', [...GOOD.slice(0, 2), ...GOOD.slice(4)], 'contrast-service-mesh', 'web'],
    [
      'with the initializer after the app',
      [...GOOD.slice(2), ...GOOD.slice(0, 2)],
      'contrast-initializer',
      'contrast-service-mesh',
    ],
  ])('denies a container %s, naming the missing one', async (_, requests, missing, deniedContainer) => {
    const p = await policy(['contrast-initializer', 'contrast-service-mesh']);
    const out = explainRequests({ policy: p, requests });
    const denied = out.find((r) => !r.allowed)!;
    expect(denied.kind).toBe('CreateContainerRequest');
    expect(denied.failure?.context.required).toBe(JSON.stringify(missing));
    expect(denied.message).toContain(`container "${missing}" must be created and started in this sandbox`);
    expect(denied.container).toBe(
      deniedContainer === 'web' ? 'spec.containers[0]' : 'spec.initContainers[1]',
    );
  });

  it('denies a request missing an env variable the spec sets, and one with a changed value', async () => {
    const p = await policy(['contrast-initializer', 'contrast-service-mesh']);
    const missing = explainRequests({
      policy: p,
      requests: [...GOOD.slice(0, 4), create('web', ['PATH=/bin', 'HOSTNAME=web-7c56d66754-pq9qp'])],
    }).at(-1)!;
    expect(missing.allowed).toBe(false);
    expect(missing.message).toContain(
      'env variable MODE, which the pod spec sets, is missing from the request',
    );
    const changed = explainRequests({
      policy: p,
      requests: [
        ...GOOD.slice(0, 4),
        create('web', ['PATH=/bin', 'HOSTNAME=web-7c56d66754-pq9qp', 'MODE=dev']),
      ],
    }).at(-1)!;
    expect(changed.allowed).toBe(false);
  });

  it('leaves pods without injected containers and Kata parity mode as before', async () => {
    const plain = await policy([]);
    expect(
      explainRequests({ policy: plain, requests: [create('web'), start('web')] }).every((r) => r.allowed),
    ).toBe(true);
    const kata = await policy([], false);
    expect(
      explainRequests({
        policy: kata,
        requests: [create('web', ['PATH=/bin', 'HOSTNAME=web-7c56d66754-pq9qp'])],
      })[0]?.allowed,
    ).toBe(true);
  });
});
