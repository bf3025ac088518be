import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { canonicalManifestJson } from '@contrast-cc/manifest';
import { parseVolumeIntegritySpec } from '@contrast-cc/mesh/volumes';
import { explainRequest, generatePolicy, policyTextFromAny, splitPolicyText } from '@contrast-cc/policy';
import { createContainerRequest, type FixtureCreateContainerRequest } from '@contrast-cc/policy/testing';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { assembleManifest } from './manifest.js';
import { examplesDir, runPipeline } from './test-support/index.js';

const golden = (name: string) =>
  path.join(path.dirname(new URL(import.meta.url).pathname), '__golden__', name);
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function ledgerDir(edit?: (text: string) => string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'contrast-ledger-'));
  cpSync(path.join(examplesDir, 'shop', 'coordinator.yml'), path.join(dir, 'coordinator.yml'));
  const text = readFileSync(path.join(examplesDir, 'ledger', 'ledger.yml'), 'utf8');
  writeFileSync(path.join(dir, 'ledger.yml'), edit ? edit(text) : text);
  return dir;
}

/** The patched StatefulSet's pod spec. */
// biome-ignore lint/suspicious/noExplicitAny: the test walks parsed YAML and asserts its shape
function podSpec(text: string): Record<string, any> {
  const docs = parseAllDocuments(text).map((d) => d.toJSON());
  return docs.find((d) => d?.kind === 'StatefulSet').spec.template.spec;
}

describe('generate: ConfigMap/Secret volume integrity (examples/ledger)', () => {
  it('writes the digests into the initializer, moves the sources to it and gives the workload checked copies', async () => {
    const result = await runPipeline(ledgerDir());
    const text = result.files.find((f) => f.path === 'ledger.yml')!.text;
    await expect(text).toMatchFileSnapshot(golden('ledger.yml'));
    const { manifest } = assembleManifest({
      workloads: result.workloads,
      platforms: result.platforms,
      workloadOwnerKeys: [],
      seedshareOwnerKeys: [],
    });
    await expect(canonicalManifestJson(manifest)).toMatchFileSnapshot(golden('ledger.manifest.json'));

    const spec = podSpec(text);
    const init = spec.initContainers.find((c: { name: string }) => c.name === 'contrast-initializer');
    expect(init.restartPolicy).toBe('Always');
    expect(init.readinessProbe.exec.command).toEqual(['test', '-f', '/done']);
    expect(init.volumeDevices).toEqual([{ name: 'state', devicePath: '/dev/csi0' }]);
    const env = Object.fromEntries(init.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    const integrity = parseVolumeIntegritySpec(env.CONTRAST_VOLUME_INTEGRITY);
    expect(integrity.volumes.map((v) => [v.name, v.source, v.from, v.to])).toEqual([
      [
        'config',
        { kind: 'ConfigMap', name: 'ledger-config' },
        '/contrast-volumes/source/config',
        '/contrast-volumes/checked/config',
      ],
      [
        'clients',
        { kind: 'Secret', name: 'ledger-tls-policy' },
        '/contrast-volumes/source/clients',
        '/contrast-volumes/checked/clients',
      ],
    ]);
    // The digests are the ConfigMap's data, byte for byte.
    const config = parseAllDocuments(
      readFileSync(path.join(examplesDir, 'ledger', 'ledger.yml'), 'utf8'),
    )[0]!.toJSON();
    expect(integrity.volumes[0]!.files).toEqual([
      { path: 'pg_hba.conf', sha256: sha256(config.data['pg_hba.conf']), mode: 0o644 },
      { path: 'postgresql.conf', sha256: sha256(config.data['postgresql.conf']), mode: 0o644 },
    ]);
    expect(integrity.volumes[1]!.files).toEqual([
      { path: 'allowed-clients', sha256: sha256('ledger-client\n'), mode: 0o440 },
    ]);
    // The workload's volumes of those names are in-memory copies, mounted read-only.
    const volumes = Object.fromEntries(spec.volumes.map((v: { name: string }) => [v.name, v]));
    expect(volumes.config).toEqual({ name: 'config', emptyDir: { medium: 'Memory' } });
    expect(volumes['contrast-src-config']).toEqual({
      name: 'contrast-src-config',
      configMap: { name: 'ledger-config' },
    });
    expect(volumes['contrast-src-clients']).toEqual({
      name: 'contrast-src-clients',
      secret: { secretName: 'ledger-tls-policy', defaultMode: 0o440 },
    });
    const postgres = spec.containers[0];
    expect(postgres.volumeMounts.find((m: { name: string }) => m.name === 'config')).toEqual({
      name: 'config',
      mountPath: '/etc/ledger',
      readOnly: true,
    });
    expect(result.warnings).toEqual([]);
  });

  it('is idempotent: generate on its own output writes the same files', async () => {
    const dir = ledgerDir();
    const first = await runPipeline(dir);
    for (const f of first.files) writeFileSync(f.absolutePath, f.text);
    const second = await runPipeline(dir);
    expect(second.files.map((f) => f.text)).toEqual(first.files.map((f) => f.text));
  });

  it('a ConfigMap that is not in the input is named in a warning (or refused with requireVolumeIntegrity)', async () => {
    const withoutConfig = (t: string) =>
      t.replace(/^apiVersion: v1\nkind: ConfigMap\nmetadata:\n {2}name: ledger-config[\s\S]*?---\n/m, '');
    const result = await runPipeline(ledgerDir(withoutConfig));
    expect(result.warnings).toEqual([
      {
        file: 'ledger.yml',
        field: 'documents[2].spec.template.spec.volumes[1]',
        message: expect.stringContaining(
          'ConfigMap "ledger-config" is not in the input, so its contents are not checked',
        ),
      },
    ]);
    // The Secret is still checked.
    const env = podSpec(result.files.find((f) => f.path === 'ledger.yml')!.text).initContainers[0].env;
    const spec = parseVolumeIntegritySpec(
      env.find((e: { name: string }) => e.name === 'CONTRAST_VOLUME_INTEGRITY').value,
    );
    expect(spec.volumes.map((v) => v.name)).toEqual(['clients']);

    await expect(
      runPipeline(ledgerDir(withoutConfig), { requireVolumeIntegrity: true }),
    ).rejects.toMatchObject({
      problems: [
        expect.objectContaining({ file: 'ledger.yml', field: 'documents[2].spec.template.spec.volumes[1]' }),
      ],
    });
  });

  it('bad references are refused naming file and field', async () => {
    const badItem = (t: string) =>
      t.replace(
        '            secretName: ledger-tls-policy\n',
        '            secretName: ledger-tls-policy\n            items:\n              - key: nope\n                path: x\n',
      );
    await expect(runPipeline(ledgerDir(badItem))).rejects.toMatchObject({
      problems: [
        expect.objectContaining({
          file: 'ledger.yml',
          field: 'documents[3].spec.template.spec.volumes[2].secret.items[0].key',
          message: expect.stringContaining('"nope" is not a key of the Secret'),
        }),
      ],
    });
    const badBase64 = (t: string) =>
      t.replace(
        'stringData:\n  allowed-clients: |\n    ledger-client\n',
        'data:\n  allowed-clients: "%%%"\n',
      );
    await expect(runPipeline(ledgerDir(badBase64))).rejects.toMatchObject({
      problems: [
        expect.objectContaining({
          file: 'ledger.yml',
          field: 'Secret ledger-tls-policy: data.allowed-clients',
        }),
      ],
    });
  });

  it('a pod without an initializer keeps its volumes and says they are not checked', async () => {
    const skipped = (t: string) =>
      t.replace(
        'contrast.edgeless.systems/secure-pv: state:data',
        'contrast.edgeless.systems/skip-initializer: "true"',
      );
    const result = await runPipeline(ledgerDir(skipped));
    expect(result.warnings.map((w) => w.message)).toEqual([
      'volume "config": not checked, the pod has no initializer',
      'volume "clients": not checked, the pod has no initializer',
    ]);
    const spec = podSpec(result.files.find((f) => f.path === 'ledger.yml')!.text);
    expect(spec.volumes.find((v: { name: string }) => v.name === 'config')).toEqual({
      name: 'config',
      configMap: { name: 'ledger-config' },
    });
  });

  it('the real policy binds the digests (initializer env), the secure PV device and the envFrom values', async () => {
    const result = await runPipeline(ledgerDir(), { generatePolicy });
    const spec = parseAllDocuments(result.files.find((f) => f.path === 'ledger.yml')!.text)
      .map((d) => d.toJSON())
      .find((d) => d?.kind === 'StatefulSet');
    const annotation =
      spec.spec.template.metadata.annotations['io.katacontainers.config.hypervisor.cc_init_data'];
    const policyText = policyTextFromAny(annotation);
    type PolicyContainer = {
      OCI: { Annotations: Record<string, string>; Linux: { Devices: unknown[] }; Process: { Env: string[] } };
      devices: unknown[];
    };
    const containers = (splitPolicyText(policyText).data as { containers: PolicyContainer[] }).containers;
    const byName = (n: string) =>
      containers.find((c) => c.OCI.Annotations['io.kubernetes.cri.container-name'] === n)!;
    const init = byName('contrast-initializer');
    expect(init.OCI.Linux.Devices).toEqual([{ Path: '/dev/csi0', Type: 'b' }]);
    expect(init.devices).toEqual([{ container_path: '/dev/csi0' }]);
    const integrityEnv = init.OCI.Process.Env.find((e) => e.startsWith('CONTRAST_VOLUME_INTEGRITY='))!;
    expect(
      parseVolumeIntegritySpec(integrityEnv.slice('CONTRAST_VOLUME_INTEGRITY='.length)).volumes,
    ).toHaveLength(2);
    const postgres = byName('postgres');
    expect(postgres.OCI.Process.Env).toEqual(
      expect.arrayContaining(['POSTGRES_DB=ledger', 'POSTGRES_USER=ledger']),
    );
    expect(postgres.OCI.Linux.Devices).toEqual([]);
  });

  it('contrast policy explain: the secure-PV initializer is ALLOWED with /dev/csi0 and DENIED with another device', async () => {
    const result = await runPipeline(ledgerDir(), { generatePolicy });
    const text = result.files.find((f) => f.path === 'ledger.yml')!.text;
    const ss = parseAllDocuments(text)
      .map((d) => d.toJSON())
      .find((d) => d?.kind === 'StatefulSet');
    const policy = policyTextFromAny(
      ss.spec.template.metadata.annotations['io.katacontainers.config.hypervisor.cc_init_data'],
    );
    type Process = FixtureCreateContainerRequest['OCI']['Process'];
    const init = (
      splitPolicyText(policy).data as {
        containers: { OCI: { Annotations: Record<string, string>; Process: Process }; image: string }[];
      }
    ).containers.find(
      (c) => c.OCI.Annotations['io.kubernetes.cri.container-name'] === 'contrast-initializer',
    )!;
    const image = init.image.replace(/:[^:@/]+@/, '@');
    // The request the kata runtime sends for the injected initializer of pod ledger-0.
    const request = (devices: string[]) =>
      createContainerRequest((r) => {
        r.OCI.Annotations['io.kubernetes.cri.container-name'] = 'contrast-initializer';
        r.OCI.Annotations['io.kubernetes.cri.sandbox-name'] = 'ledger-0';
        r.OCI.Annotations['io.kubernetes.cri.sandbox-namespace'] = 'ledger';
        r.OCI.Annotations['io.kubernetes.cri.image-name'] = image;
        r.storages[0].source = image;
        r.OCI.Process = {
          ...init.OCI.Process,
          Env: init.OCI.Process.Env.map((e) => e.replace('$(host-name)', 'ledger-0')),
        };
        r.OCI.Linux.MaskedPaths = [];
        r.OCI.Linux.ReadonlyPaths = [];
        r.devices = devices.map((d, i) => ({
          id: `0${2 + i}/00`,
          type_: 'blk',
          vm_path: '',
          container_path: d,
          options: [],
        }));
        r.OCI.Linux.Devices = devices.map((d, i) => ({
          Path: d,
          Type: 'b',
          Major: 253,
          Minor: 16 * i,
          FileMode: 0o660,
        }));
      });
    const explain = (devices: string[]) =>
      explainRequest({
        policy,
        kind: 'CreateContainerRequest',
        request: request(devices),
        yaml: text,
        document: 3,
      });
    expect(explain(['/dev/csi0'])).toMatchObject({ allowed: true });
    expect(explain(['/dev/csi0', '/dev/csi1'])).toMatchObject({
      allowed: false,
      field: 'spec.initContainers[0].volumeDevices',
    });
    // Changing a digest in the environment is refused too: the digests are the policy's.
    const tampered = request(['/dev/csi0']);
    tampered.OCI.Process.Env = tampered.OCI.Process.Env.map((e) => e.replace(/"sha256":"0/, '"sha256":"1'));
    expect(
      explainRequest({ policy, kind: 'CreateContainerRequest', request: tampered, yaml: text, document: 3 })
        .allowed,
    ).toBe(false);
  });
});
