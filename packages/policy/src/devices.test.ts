import { describe, expect, it } from 'vitest';
import { splitPolicyText } from './assemble.js';
import { explainRequest } from './explain.js';
import {
  createContainerRequest,
  type FixtureCreateContainerRequest,
  type FixtureDevice,
  type FixtureLinuxDevice,
  fixtureDeploymentYaml,
  generateFixturePolicy,
} from './testing/index.js';

// Raw block volumes (volumeDevices): a CreateContainerRequest carries each one twice, as the
// runtime sends it: an agent `devices` entry (the hot-plugged virtio-blk device, by PCI path) and an
// OCI `Linux.Devices` entry with the host's major/minor numbers.

const yaml = (devices: string) =>
  fixtureDeploymentYaml({
    container: devices,
    spec: `      volumes:
        - name: raw
          persistentVolumeClaim:
            claimName: raw
        - name: other
          persistentVolumeClaim:
            claimName: other
`,
  });

const WITH_DEVICE = yaml(`          volumeDevices:
            - name: raw
              devicePath: /dev/xvda
`);
const WITHOUT_DEVICE = yaml('');

async function policyFor(
  text: string,
  more: Parameters<typeof generateFixturePolicy>[1] = {},
): Promise<string> {
  return (await generateFixturePolicy(text, more)).policyText;
}

const blk = (path: string, id = '02/00'): FixtureDevice => ({
  id,
  type_: 'blk',
  vm_path: '',
  container_path: path,
  options: [],
});
const oci = (path: string, minor = 0): FixtureLinuxDevice => ({
  Path: path,
  Type: 'b',
  Major: 253,
  Minor: minor,
  FileMode: 0o660,
});

function explain(policy: string, change: (r: FixtureCreateContainerRequest) => void, text: string) {
  return explainRequest({
    policy,
    kind: 'CreateContainerRequest',
    request: createContainerRequest(change),
    yaml: text,
  });
}

const withDevices =
  (devices: FixtureDevice[], linux: FixtureLinuxDevice[]) => (r: FixtureCreateContainerRequest) => {
    r.devices = devices;
    r.OCI.Linux.Devices = linux;
  };

describe('volumeDevices in the policy', () => {
  it('writes the device as the agent sees it: OCI path and type, agent container path', async () => {
    const data = splitPolicyText(await policyFor(WITH_DEVICE)).data as {
      containers: { OCI: { Linux: { Devices: unknown[] } }; devices: unknown[] }[];
    };
    const web = data.containers[1]!;
    expect(web.OCI.Linux.Devices).toEqual([{ Path: '/dev/xvda', Type: 'b' }]);
    expect(web.devices).toEqual([{ container_path: '/dev/xvda' }]);
    // The pause container has none.
    expect(data.containers[0]!.devices).toEqual([]);
  });

  it('ALLOWS a request that carries the container its device (any host major/minor, blk or scsi)', async () => {
    const policy = await policyFor(WITH_DEVICE);
    expect(explain(policy, withDevices([blk('/dev/xvda')], [oci('/dev/xvda')]), WITH_DEVICE)).toMatchObject({
      allowed: true,
    });
    expect(
      explain(
        policy,
        withDevices(
          [{ ...blk('/dev/xvda', '0:0:0:1'), type_: 'scsi' }],
          [{ ...oci('/dev/xvda'), Major: 8, Minor: 16 }],
        ),
        WITH_DEVICE,
      ),
    ).toMatchObject({ allowed: true });
    // Without the device (not attached yet) the container is still the policy's.
    expect(explain(policy, () => {}, WITH_DEVICE)).toMatchObject({ allowed: true });
  });

  it('DENIES a request that adds another device, naming volumeDevices', async () => {
    const policy = await policyFor(WITH_DEVICE);
    const both = explain(
      policy,
      withDevices([blk('/dev/xvda'), blk('/dev/xvdb', '03/00')], [oci('/dev/xvda'), oci('/dev/xvdb', 16)]),
      WITH_DEVICE,
    );
    expect(both).toMatchObject({ allowed: false, field: 'spec.containers[0].volumeDevices' });
    // Either list alone is enough to refuse.
    expect(
      explain(policy, withDevices([blk('/dev/xvda')], [oci('/dev/xvda'), oci('/dev/xvdb', 16)]), WITH_DEVICE)
        .allowed,
    ).toBe(false);
    expect(
      explain(
        policy,
        withDevices([blk('/dev/xvda'), blk('/dev/xvdb', '03/00')], [oci('/dev/xvda')]),
        WITH_DEVICE,
      ).allowed,
    ).toBe(false);
  });

  it('DENIES the right path with the wrong kind: a character device, an unknown transport, options, twice', async () => {
    const policy = await policyFor(WITH_DEVICE);
    const denied = (devices: FixtureDevice[], linux: FixtureLinuxDevice[]) =>
      explain(policy, withDevices(devices, linux), WITH_DEVICE).allowed;
    expect(denied([blk('/dev/xvda')], [{ ...oci('/dev/xvda'), Type: 'c' }])).toBe(false);
    expect(denied([{ ...blk('/dev/xvda'), type_: 'nvdimm' }], [oci('/dev/xvda')])).toBe(false);
    expect(denied([{ ...blk('/dev/xvda'), options: ['ro'] }], [oci('/dev/xvda')])).toBe(false);
    expect(denied([blk('/dev/xvda'), blk('/dev/xvda', '03/00')], [oci('/dev/xvda')])).toBe(false);
    expect(denied([blk('/dev/xvda')], [oci('/dev/xvda'), oci('/dev/xvda', 1)])).toBe(false);
  });

  it('DENIES any device for a container without volumeDevices', async () => {
    const policy = await policyFor(WITHOUT_DEVICE);
    expect(explain(policy, () => {}, WITHOUT_DEVICE)).toMatchObject({ allowed: true });
    expect(
      explain(policy, withDevices([blk('/dev/xvda')], [oci('/dev/xvda')]), WITHOUT_DEVICE),
    ).toMatchObject({
      allowed: false,
      field: 'spec.containers[0].volumeDevices',
    });
  });

  it('refuses a volumeDevice that names no volume or a path outside /dev, naming the field', async () => {
    await expect(
      policyFor(
        yaml(`          volumeDevices:\n            - name: nope\n              devicePath: /dev/xvda\n`),
      ),
    ).rejects.toMatchObject({ field: 'spec.containers[0].volumeDevices[0].name' });
    await expect(
      policyFor(
        yaml(`          volumeDevices:\n            - name: raw\n              devicePath: /etc/passwd\n`),
      ),
    ).rejects.toMatchObject({ field: 'spec.containers[0].volumeDevices[0].devicePath' });
    await expect(
      policyFor(
        yaml(
          `          volumeDevices:\n            - name: raw\n              devicePath: /dev/a\n            - name: other\n              devicePath: /dev/a\n`,
        ),
      ),
    ).rejects.toMatchObject({ field: 'spec.containers[0].volumeDevices[1].devicePath' });
  });
});

describe('environment from ConfigMaps and Secrets is bound by the policy', () => {
  const envYaml = fixtureDeploymentYaml({
    beforeEnv: `          envFrom:
            - configMapRef:
                name: web-config
`,
    env: `            - name: TOKEN
              valueFrom:
                secretKeyRef:
                  name: web-secret
                  key: token
`,
  });
  const configMaps = [{ metadata: { name: 'web-config' }, data: { LEVEL: 'debug' } }];
  const secrets = [
    { metadata: { name: 'web-secret' }, data: { token: Buffer.from('s3cret').toString('base64') } },
  ];

  const envPolicy = (cms = configMaps, secs = secrets) =>
    policyFor(envYaml, { configMaps: cms, secrets: secs });

  it('allows the values the ConfigMap and Secret had at generate time and denies others', async () => {
    const policy = await envPolicy();
    const withEnv =
      (...env: string[]) =>
      (r: FixtureCreateContainerRequest) => {
        r.OCI.Process.Env.push(...env);
      };
    expect(explain(policy, withEnv('LEVEL=debug', 'TOKEN=s3cret'), envYaml)).toMatchObject({ allowed: true });
    expect(explain(policy, withEnv('LEVEL=trace'), envYaml)).toMatchObject({
      allowed: false,
      field: 'spec.containers[0].env',
    });
    expect(explain(policy, withEnv('TOKEN=guessed'), envYaml).allowed).toBe(false);
  });

  it('refuses a reference to a ConfigMap or Secret that is not in the input, naming the field', async () => {
    await expect(envPolicy([], secrets)).rejects.toMatchObject({
      field: 'spec.containers[0].envFrom[0].configMapRef.name',
    });
    await expect(envPolicy(configMaps, [])).rejects.toMatchObject({
      field: 'spec.containers[0].env[1].valueFrom.secretKeyRef.name',
    });
  });
});
