import { describe, expect, it } from 'vitest';
import { parseConfig } from './config.js';

describe('service-mesh environment', () => {
  it('turns the annotations and the mTLS port list into the proxy listeners of the traffic rules', () => {
    const c = parseConfig({
      CONTRAST_INGRESS_PROXY_CONFIG: 'web#8080#false',
      CONTRAST_INGRESS_MTLS_PORTS: '443',
      CONTRAST_EGRESS_PROXY_CONFIG: 'db#127.137.0.1:5432#db:5432',
      CONTRAST_ADMIN_PORT: '9901',
    });
    expect(c.mesh.ingress).toEqual([
      { name: 'mtls-443', port: 443, mode: 'mtls' },
      { name: 'web', port: 8080, mode: 'tls' },
      { name: 'mtls-9901', port: 9901, mode: 'mtls' },
    ]);
    expect(c.interception?.redirects.map((r) => [r.port, r.proxyPort])).toEqual([
      [443, 15100],
      [8080, 15101],
      [9901, 15102],
    ]);
    expect(c.mesh.egress).toHaveLength(1);
    expect(c.mesh.adminPort).toBe(9901);
    expect(c.CONTRAST_TLS_DIR).toBe('/contrast/tls-config');
    expect(parseConfig({ CONTRAST_INGRESS_PROXY_CONFIG: 'DISABLED' }).interception).toBeUndefined();
  });

  it('serves each port on CONTRAST_INGRESS_LISTEN_ADDRESS instead (direct mode, no rules)', () => {
    const c = parseConfig({
      CONTRAST_INGRESS_MTLS_PORTS: '443',
      CONTRAST_INGRESS_LISTEN_ADDRESS: '127.0.0.2',
    });
    expect(c.interception).toBeUndefined();
    expect(c.mesh.ingress).toEqual([{ name: 'mtls-443', port: 443, mode: 'mtls' }]);
  });

  it('names the bad variable', () => {
    expect(() => parseConfig({ CONTRAST_INGRESS_MTLS_PORTS: '443;80' })).toThrow(
      /CONTRAST_INGRESS_MTLS_PORTS/,
    );
    expect(() => parseConfig({ CONTRAST_EGRESS_PROXY_CONFIG: 'db#10.0.0.1:1#db:1' })).toThrow(
      expect.objectContaining({ field: 'CONTRAST_EGRESS_PROXY_CONFIG[0]' }),
    );
    expect(() => parseConfig({ CONTRAST_ADMIN_PORT: 'x' })).toThrow(
      expect.objectContaining({ field: 'CONTRAST_ADMIN_PORT' }),
    );
  });

  it('takes the injected sidecar args -l <level> (upstream form) over CONTRAST_LOG_LEVEL; refuses others', () => {
    expect(parseConfig({}, ['-l', 'debug']).CONTRAST_LOG_LEVEL).toBe('debug');
    expect(parseConfig({ CONTRAST_LOG_LEVEL: 'warn' }, ['--log-level=error']).CONTRAST_LOG_LEVEL).toBe(
      'error',
    );
    expect(parseConfig({ CONTRAST_LOG_LEVEL: 'warn' }).CONTRAST_LOG_LEVEL).toBe('warn');
    expect(() => parseConfig({}, ['-l'])).toThrow(/-l: needs a level/);
    expect(() => parseConfig({}, ['-l', 'verbose'])).toThrow(/"verbose" is not one of/);
    expect(() => parseConfig({}, ['--port', '1'])).toThrow(/--port: unknown argument/);
  });
});
