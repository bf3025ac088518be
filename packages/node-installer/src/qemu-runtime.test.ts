// biome-ignore-all lint/suspicious/noExplicitAny: the tests walk parsed TOML and Kubernetes documents
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isContrastError } from '@contrast-cc/core';
import { parse as parseToml } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import {
  canonicalRuntimeBytes,
  createQemuRuntime,
  type QemuTee,
  RUNTIME_NAME_PLACEHOLDER,
  runtimeHash,
} from './index.js';
import { INSTALLER_CONFIG_KEYS } from './qemu-runtime.js';
import { fixtureAssets, sri } from './testing/index.js';

const goldenDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '__golden__');
const platformIdOf = (tee: QemuTee) => `Test-QEMU-${tee.toUpperCase()}`;
const runtimeOf = (tee: QemuTee, assets = fixtureAssets(tee, null)) =>
  createQemuRuntime({
    platformId: platformIdOf(tee),
    tee,
    assets,
    podOverhead: { memory: '1Gi', cpu: '100m' },
    nodeSelector: { 'example.com/tee': tee },
  });

describe.each(['snp', 'tdx'] as const)('QEMU runtime (%s)', (tee) => {
  const rt = runtimeOf(tee);
  const assets = fixtureAssets(tee, null);

  it('names the handler after the runtime hash of its canonical bytes (golden)', async () => {
    const text = new TextDecoder().decode(canonicalRuntimeBytes(platformIdOf(tee), assets));
    await expect(text).toMatchFileSnapshot(path.join(goldenDir, tee, 'runtime-canonical.txt'));
    expect(rt.runtimeHash).toBe(runtimeHash(platformIdOf(tee), assets));
    expect(rt.handler).toBe(`contrast-cc-test-qemu-${tee}-${rt.runtimeHash.slice(0, 8)}`);
  });

  it('generates the installer ConfigMap files (golden)', async () => {
    const files = rt.configFiles();
    expect(Object.keys(files)).toEqual([
      INSTALLER_CONFIG_KEYS.installer,
      `configuration-qemu-${tee}.toml`,
      INSTALLER_CONFIG_KEYS.containerdV2,
      INSTALLER_CONFIG_KEYS.containerdV3,
    ]);
    for (const [name, content] of Object.entries(files)) {
      await expect(content).toMatchFileSnapshot(path.join(goldenDir, tee, name));
    }
  });

  it('lists every placed file under /opt/edgeless/<handler> with its integrity', () => {
    const config = rt.installerConfig();
    expect(config.files).toHaveLength(assets.files.length);
    for (const [i, f] of config.files.entries()) {
      expect(f.path.startsWith(`/opt/edgeless/${rt.handler}/`)).toBe(true);
      expect(f.path).not.toContain(RUNTIME_NAME_PLACEHOLDER);
      expect(f.integrity).toBe(assets.files[i]!.integrity);
    }
    expect(config.kataConfigPath).toBe(`/opt/edgeless/${rt.handler}/etc/configuration-qemu-${tee}.toml`);
  });

  it('points the Kata configuration at the placed files, with the measured kernel command line', () => {
    const q = (parseToml(rt.kataConfiguration()) as any).hypervisor.qemu;
    const placed = new Set(rt.installerConfig().files.map((f) => f.path));
    for (const key of ['path', 'kernel', 'image', 'firmware']) expect(placed.has(q[key]), key).toBe(true);
    expect(q.path).toBe(`/opt/edgeless/${rt.handler}/${tee}/bin/qemu-system-x86_64`);
    expect(q.firmware).toBe(`/opt/edgeless/${rt.handler}/${tee}/share/OVMF.fd`);
    expect(q.confidential_guest).toBe(true);
    expect(q.sev_snp_guest).toBe(tee === 'snp' ? true : undefined);
    expect(q.kernel_params).toBe(assets.kernelParams);
    expect(q.default_memory).toBe(assets.vmMemoryMiB);
    expect((parseToml(rt.kataConfiguration()) as any).runtime.experimental_force_guest_pull).toBe(true);
    expect(rt.platformPolicy()).toEqual({
      settingsPatch: { cluster_config: { guest_pull: true } },
      guestPull: true,
    });
  });

  it('registers the runtime and its snapshotter in both containerd config versions', () => {
    const v2 = parseToml(rt.containerdPatch(2)) as any;
    const r = v2.plugins['io.containerd.grpc.v1.cri'].containerd.runtimes[rt.handler];
    expect(r.runtime_type).toBe('io.containerd.contrast-cc.v2');
    expect(r.runtime_path).toBe(`/opt/edgeless/${rt.handler}/bin/containerd-shim-contrast-cc-v2`);
    expect(r.snapshotter).toBe(`nydus-${rt.handler}`);
    expect(r.options.ConfigPath).toBe(rt.installerConfig().kataConfigPath);
    expect(v2.proxy_plugins[`nydus-${rt.handler}`]).toEqual({
      type: 'snapshot',
      address: `/run/containerd/containerd-nydus-grpc-${rt.handler}.sock`,
    });
    const v3 = parseToml(rt.containerdPatch(3)) as any;
    expect(v3.version).toBe(3);
    expect(v3.plugins['io.containerd.cri.v1.runtime'].containerd.runtimes[rt.handler]).toEqual(r);
    expect(v3.plugins['io.containerd.cri.v1.images'].discard_unpacked_layers).toBe(false);
  });

  it('runs the installer from the pinned image (or a mirror) with the node root at /host', () => {
    const objects = rt.nodeInstallerObjects({ namespace: 'ops' });
    expect(objects.map((o) => o.kind)).toEqual([
      'ServiceAccount',
      'ClusterRole',
      'ClusterRoleBinding',
      'ConfigMap',
      'DaemonSet',
    ]);
    const ds = objects.find((o) => o.kind === 'DaemonSet') as any;
    expect(ds.metadata).toMatchObject({ name: `${rt.handler}-nodeinstaller`, namespace: 'ops' });
    expect(ds.spec.template.spec.nodeSelector).toEqual({ 'example.com/tee': tee });
    const installer = ds.spec.template.spec.initContainers[0];
    expect(installer.image).toBe(assets.installerImage);
    expect(installer.command).toEqual(['/bin/node-installer', platformIdOf(tee)]);
    expect(installer.securityContext.privileged).toBe(true);
    expect(ds.spec.template.spec.volumes[0]).toEqual({
      name: 'host-mount',
      hostPath: { path: '/', type: 'Directory' },
    });
    const mirrored = rt
      .nodeInstallerObjects({ namespace: 'ops', image: 'mirror.example/ni@sha256:ab' })
      .find((o) => o.kind === 'DaemonSet') as any;
    expect(mirrored.spec.template.spec.initContainers[0].image).toBe('mirror.example/ni@sha256:ab');
    const cm = objects.find((o) => o.kind === 'ConfigMap') as any;
    expect(cm.data).toEqual(rt.configFiles());
    expect(JSON.parse(cm.data[INSTALLER_CONFIG_KEYS.installer])).toEqual(rt.installerConfig());
  });

  it('gives the platform one RuntimeClass, handler = name, with overhead and node selection', () => {
    const p = rt.platformRuntime();
    expect(p.runtimeClassNames).toEqual([rt.handler]);
    expect(p.runtimeClasses()).toEqual([
      {
        apiVersion: 'node.k8s.io/v1',
        kind: 'RuntimeClass',
        metadata: { name: rt.handler, labels: { 'addonmanager.kubernetes.io/mode': 'Reconcile' } },
        handler: rt.handler,
        overhead: { podFixed: { memory: '1Gi', cpu: '100m' } },
        scheduling: { nodeSelector: { 'example.com/tee': tee } },
      },
    ]);
    expect(p.nodeInstaller({ namespace: 'x' })).toEqual(rt.nodeInstallerObjects({ namespace: 'x' }));
  });
});

describe('runtime hash', () => {
  const assets = fixtureAssets('snp', null);
  const base = runtimeHash('Test-QEMU-SNP', assets);

  it('changes when a placed file, the kernel command line, the VM memory or the platform changes', () => {
    const files = assets.files.map((f, i) => (i === 2 ? { ...f, integrity: sri('other qemu') } : f));
    const variants = [
      runtimeHash('Test-QEMU-SNP', { ...assets, files }),
      runtimeHash('Test-QEMU-SNP', { ...assets, kernelParams: `${assets.kernelParams} debug` }),
      runtimeHash('Test-QEMU-SNP', { ...assets, vmMemoryMiB: 1024 }),
      runtimeHash('Test-QEMU-SNP', {
        ...assets,
        files: assets.files.map((f, i) => (i === 0 ? { ...f, executable: false } : f)),
      }),
      runtimeHash('Test-QEMU-TDX', assets),
    ];
    expect(new Set([...variants, base]).size).toBe(variants.length + 1);
    expect(runtimeOf('snp', { ...assets, files }).handler).not.toBe(runtimeOf('snp', assets).handler);
  });

  it('ignores image references (a mirror keeps the handler) and file order', () => {
    const mirrored = { ...assets, installerImage: 'mirror.example/ni@sha256:ab', snapshotterImage: 'm/s' };
    expect(runtimeHash('Test-QEMU-SNP', mirrored)).toBe(base);
    expect(runtimeHash('Test-QEMU-SNP', { ...assets, files: [...assets.files].reverse() })).toBe(base);
  });

  it('refuses fields that would break the canonical encoding', () => {
    expect(() => runtimeHash('Test-QEMU-SNP', { ...assets, kernelParams: 'a\tb' })).toThrow(/kernel params/);
    const files = [{ ...assets.files[0]!, path: '/opt/x\ny' }];
    expect(() => runtimeHash('Test-QEMU-SNP', { ...assets, files })).toThrow(/path/);
  });
});

describe('createQemuRuntime input checks', () => {
  it('refuses assets without a file the TEE profile needs, naming the field', () => {
    const assets = fixtureAssets('tdx', null);
    try {
      // TDX assets lack the SNP QEMU and firmware.
      createQemuRuntime({
        platformId: 'X',
        tee: 'snp',
        assets,
        podOverhead: { memory: '1', cpu: '1' },
        nodeSelector: {},
      });
      expect.unreachable();
    } catch (e) {
      expect(isContrastError(e) && e.code === 'invalid-argument' && e.field).toBe('assets.files');
      expect((e as Error).message).toContain('snp/bin/qemu-system-x86_64');
    }
  });
});
