import { describe, expect, it } from 'vitest';
import { parseConfig, peerDiscovery } from './config.js';

describe('parseConfig', () => {
  it('has the upstream defaults', () => {
    const c = parseConfig({});
    expect(c.CONTRAST_API_PORT).toBe(1314);
    expect(c.CONTRAST_METRICS_PORT).toBe(9102);
    expect(c.CONTRAST_ISSUER).toBe('tsm');
  });

  it('refuses the fake issuer without insecure runtimes, naming the variable', () => {
    expect(() => parseConfig({ CONTRAST_ISSUER: 'fake' })).toThrow(/^CONTRAST_ISSUER:/);
    expect(() => parseConfig({ CONTRAST_API_PORT: '70000' })).toThrow(/^CONTRAST_API_PORT:/);
  });
});

describe('CONTRAST_PEERS (peer recovery)', () => {
  it('is on (kubernetes) with the ConfigMap store and off with a directory store by default', () => {
    expect(peerDiscovery(parseConfig({}))).toEqual({ mode: 'off' });
    expect(peerDiscovery(parseConfig({ KUBERNETES_SERVICE_HOST: '10.96.0.1' }))).toEqual({
      mode: 'kubernetes',
    });
    expect(peerDiscovery(parseConfig({ CONTRAST_STORE: 'configmap' }))).toEqual({ mode: 'kubernetes' });
    expect(
      peerDiscovery(parseConfig({ KUBERNETES_SERVICE_HOST: '10.96.0.1', CONTRAST_STORE: 'dir' })),
    ).toEqual({
      mode: 'off',
    });
  });

  it('takes off, kubernetes or a host:port list', () => {
    expect(peerDiscovery(parseConfig({ CONTRAST_STORE: 'configmap', CONTRAST_PEERS: 'off' }))).toEqual({
      mode: 'off',
    });
    expect(peerDiscovery(parseConfig({ CONTRAST_PEERS: 'kubernetes' }))).toEqual({ mode: 'kubernetes' });
    expect(peerDiscovery(parseConfig({ CONTRAST_PEERS: ' 127.0.0.1:1314,[::1]:1315 ' }))).toEqual({
      mode: 'static',
      peers: [
        { host: '127.0.0.1', port: 1314 },
        { host: '::1', port: 1315 },
      ],
    });
  });

  it('refuses a malformed list naming the variable and the entry', () => {
    expect(() => parseConfig({ CONTRAST_PEERS: '127.0.0.1:1314,nope' })).toThrow(
      /^CONTRAST_PEERS: peers\[1\]: /,
    );
    expect(() => parseConfig({ CONTRAST_PEERS: 'kubernets' })).toThrow(
      /^CONTRAST_PEERS: peers\[0\]: .*"kubernetes"/,
    );
  });
});
