import { describe, expect, it } from 'vitest';
import { parseConfig } from './config.js';

describe('initializer environment', () => {
  it('has the upstream defaults and splits the Coordinator address', () => {
    const c = parseConfig({});
    expect([c.host, c.port, c.CONTRAST_OUT_DIR, c.CONTRAST_ISSUER]).toEqual([
      'coordinator-ready',
      1314,
      '/contrast',
      'tsm',
    ]);
    expect(parseConfig({ CONTRAST_COORDINATOR: '[::1]:7777' })).toMatchObject({ host: '::1', port: 7777 });
  });

  it("understands what contrast generate injects (COORDINATOR_HOST, upstream's variable) on the API port; CONTRAST_COORDINATOR wins", () => {
    expect(parseConfig({ COORDINATOR_HOST: 'coordinator-ready.contrast-system' })).toMatchObject({
      host: 'coordinator-ready.contrast-system',
      port: 1314,
    });
    expect(
      parseConfig({ COORDINATOR_HOST: 'coordinator-ready.shop', CONTRAST_COORDINATOR: '10.0.0.5:9999' }),
    ).toMatchObject({ host: '10.0.0.5', port: 9999 });
    expect(() => parseConfig({ COORDINATOR_HOST: 'coordinator-ready.shop:1314' })).toThrow(
      /COORDINATOR_HOST/,
    );
  });

  it('names the bad variable and refuses the fake issuer without the insecure opt-in', () => {
    expect(() => parseConfig({ CONTRAST_COORDINATOR: 'coordinator' })).toThrow(/CONTRAST_COORDINATOR/);
    expect(() => parseConfig({ CONTRAST_COORDINATOR: 'c:70000' })).toThrow(
      expect.objectContaining({ field: 'CONTRAST_COORDINATOR' }),
    );
    expect(() => parseConfig({ CONTRAST_ISSUER: 'fake' })).toThrow(/CONTRAST_ALLOW_INSECURE_RUNTIMES/);
    expect(
      parseConfig({ CONTRAST_ISSUER: 'fake', CONTRAST_ALLOW_INSECURE_RUNTIMES: '1' }).CONTRAST_ISSUER,
    ).toBe('fake');
    for (const issuer of ['simulated-snp', 'simulated-tdx']) {
      expect(() => parseConfig({ CONTRAST_ISSUER: issuer })).toThrow(
        new RegExp(`"${issuer}" needs CONTRAST_ALLOW_INSECURE_RUNTIMES`),
      );
      expect(
        parseConfig({ CONTRAST_ISSUER: issuer, CONTRAST_ALLOW_INSECURE_RUNTIMES: 'true' }).CONTRAST_ISSUER,
      ).toBe(issuer);
    }
    expect(() =>
      parseConfig({ CONTRAST_ISSUER: 'simulated', CONTRAST_ALLOW_INSECURE_RUNTIMES: '1' }),
    ).toThrow(/CONTRAST_ISSUER/);
  });

  it('plans the traffic rules from the mesh variables only when CONTRAST_TRAFFIC_RULES asks', () => {
    const mesh = { CONTRAST_INGRESS_MTLS_PORTS: '8080', CONTRAST_INGRESS_PROXY_CONFIG: 'm#9000#true' };
    expect(parseConfig(mesh).interception).toBeUndefined();
    expect(parseConfig({ ...mesh, CONTRAST_TRAFFIC_RULES: 'auto' }).interception).toEqual({
      redirects: [{ name: 'mtls-8080', port: 8080, mode: 'mtls', proxyPort: 15100 }],
      passthrough: [9000],
    });
    expect(
      parseConfig({ ...mesh, CONTRAST_TRAFFIC_RULES: 'nft', CONTRAST_SERVICE_MESH_DISABLED: 'true' })
        .interception,
    ).toBeNull();
    expect(() => parseConfig({ CONTRAST_TRAFFIC_RULES: 'ipfw' })).toThrow(/CONTRAST_TRAFFIC_RULES/);
    expect(() => parseConfig({ CONTRAST_TRAFFIC_RULES: 'auto', CONTRAST_ADMIN_PORT: '0' })).toThrow(
      expect.objectContaining({ field: 'CONTRAST_ADMIN_PORT' }),
    );
  });

  it('reads the secure PV and volume integrity settings, naming a bad variable', () => {
    const c = parseConfig({ CRYPTSETUP_DEVICE: '/dev/csi0' });
    expect([
      c.CRYPTSETUP_DEVICE,
      c.CONTRAST_SECURE_PV_MOUNT,
      c.CONTRAST_SECURE_PV_INTEGRITY,
      c.CONTRAST_DONE_FILE,
    ]).toEqual(['/dev/csi0', '/state', 'none', '/done']);
    expect(c.volumeIntegrity).toBeUndefined();
    expect(() => parseConfig({ CRYPTSETUP_DEVICE: 'csi0' })).toThrow(/CRYPTSETUP_DEVICE/);
    expect(() => parseConfig({ CONTRAST_SECURE_PV_INTEGRITY: 'aead' })).toThrow(
      /CONTRAST_SECURE_PV_INTEGRITY/,
    );
    const spec = {
      volumes: [
        {
          name: 'config',
          source: { kind: 'ConfigMap', name: 'app' },
          from: '/contrast-volumes/config',
          files: [{ path: 'a', sha256: 'a'.repeat(64), mode: 420 }],
        },
      ],
    };
    expect(parseConfig({ CONTRAST_VOLUME_INTEGRITY: JSON.stringify(spec) }).volumeIntegrity).toEqual({
      ...spec,
      intervalSeconds: 10,
    });
    expect(() => parseConfig({ CONTRAST_VOLUME_INTEGRITY: '{"volumes":[{}]}' })).toThrow(
      /CONTRAST_VOLUME_INTEGRITY\.volumes\[0\]/,
    );
  });
});
