import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { meshConfigFromEnv, PROXY_PORT_BASE, planInterception } from './mesh-config.js';
import {
  applyTrafficRules,
  type CommandRunner,
  renderIptablesRules,
  renderNftRules,
} from './traffic-rules.js';

const golden = (name: string) => path.join(path.dirname(fileURLToPath(import.meta.url)), '__golden__', name);

// The web pod of examples/shop-like configurations: 8080 declared (mTLS by default), 8443 TLS
// without client certificates, 9000 plain, admin on 9901, one egress listener on 15100 (so the
// proxy ports skip it).
const ENV = {
  CONTRAST_INGRESS_PROXY_CONFIG: 'web-tls#8443#false##metrics#9000#true',
  CONTRAST_INGRESS_MTLS_PORTS: '8080',
  CONTRAST_EGRESS_PROXY_CONFIG: 'db#127.0.0.1:15100#db:5432',
  CONTRAST_ADMIN_PORT: '9901',
};

describe('mesh configuration', () => {
  it('reads the variables generate writes and plans one proxy listener per redirected port', () => {
    const config = meshConfigFromEnv(ENV);
    expect(config.ingress).toEqual([
      { name: 'mtls-8080', port: 8080, mode: 'mtls' },
      { name: 'web-tls', port: 8443, mode: 'tls' },
      { name: 'metrics', port: 9000, mode: 'plain' },
      { name: 'mtls-9901', port: 9901, mode: 'mtls' },
    ]);
    expect(config.adminPort).toBe(9901);
    const plan = planInterception(config)!;
    expect(plan.redirects.map((r) => [r.port, r.proxyPort])).toEqual([
      [8080, PROXY_PORT_BASE + 1],
      [8443, PROXY_PORT_BASE + 2],
      [9901, PROXY_PORT_BASE + 3],
    ]);
    expect(plan.passthrough).toEqual([9000]);
    // The same variables give the same plan (initializer and sidecar compute it separately).
    expect(planInterception(meshConfigFromEnv({ ...ENV }))).toEqual(plan);
  });

  it('keeps an admin port the annotation names as the annotation says; DISABLED has no plan', () => {
    const config = meshConfigFromEnv({
      CONTRAST_INGRESS_PROXY_CONFIG: 'admin#9901#true',
      CONTRAST_ADMIN_PORT: '9901',
    });
    expect(planInterception(config)).toEqual({ redirects: [], passthrough: [9901] });
    expect(planInterception(meshConfigFromEnv({ CONTRAST_INGRESS_PROXY_CONFIG: 'DISABLED' }))).toBeNull();
    expect(planInterception(meshConfigFromEnv({}))).toEqual({ redirects: [], passthrough: [] });
  });

  it('names the bad variable and entry', () => {
    expect(() => meshConfigFromEnv({ CONTRAST_ADMIN_PORT: '99999' })).toThrow(
      expect.objectContaining({ field: 'CONTRAST_ADMIN_PORT' }),
    );
    expect(() => meshConfigFromEnv({ CONTRAST_INGRESS_MTLS_PORTS: '80,x' })).toThrow(
      expect.objectContaining({ field: 'CONTRAST_INGRESS_MTLS_PORTS[1]' }),
    );
    expect(() =>
      meshConfigFromEnv({ CONTRAST_INGRESS_MTLS_PORTS: '80', CONTRAST_INGRESS_PROXY_CONFIG: 'a#80#true' }),
    ).toThrow(/port 80 is configured twice/);
    expect(() => meshConfigFromEnv({ CONTRAST_INGRESS_PROXY_CONFIG: 'a#80#maybe' })).toThrow(
      expect.objectContaining({ field: 'CONTRAST_INGRESS_PROXY_CONFIG[0]' }),
    );
  });
});

describe('rendered rules (golden)', () => {
  const plan = planInterception(meshConfigFromEnv(ENV))!;

  it('nftables: one inet table replaced in one transaction', async () => {
    await expect(renderNftRules(plan)).toMatchFileSnapshot(golden('rules.nft'));
    expect(renderNftRules(null)).toBe('table inet contrast_mesh\ndelete table inet contrast_mesh\n');
  });

  it('iptables-restore input for IPv4 and IPv6', async () => {
    await expect(renderIptablesRules(plan, 4)).toMatchFileSnapshot(golden('rules.iptables-v4'));
    await expect(renderIptablesRules(plan, 6)).toMatchFileSnapshot(golden('rules.iptables-v6'));
  });
});

describe('applyTrafficRules (commands)', () => {
  /** Records the commands; `-C` (check a jump) fails the first time, as on a fresh host. */
  function recorder(existingJumps = false) {
    const calls: string[] = [];
    const run: CommandRunner = async (command, args, input) => {
      calls.push([command, ...args].join(' ') + (input ? ` <<${String(input).split('\n')[0]}` : ''));
      if (args.includes('-C')) return { code: existingJumps ? 0 : 1, stdout: '', stderr: '' };
      if (command === 'nft' && args[0] === 'list') return { code: 1, stdout: '', stderr: 'no nft' };
      return { code: 0, stdout: '', stderr: '' };
    };
    return { calls, run };
  }

  it('auto falls back to iptables when nft does not work, and adds each jump once', async () => {
    const plan = planInterception(meshConfigFromEnv(ENV))!;
    const fresh = recorder(false);
    expect((await applyTrafficRules({ plan, run: fresh.run })).backend).toBe('iptables');
    expect(fresh.calls.filter((c) => c.includes(' -I '))).toEqual([
      'iptables -w -t nat -I PREROUTING 1 -j CONTRAST_MESH_PREROUTING',
      'iptables -w -t filter -I INPUT 1 -j CONTRAST_MESH_INPUT',
      'ip6tables -w -t nat -I PREROUTING 1 -j CONTRAST_MESH_PREROUTING',
      'ip6tables -w -t filter -I INPUT 1 -j CONTRAST_MESH_INPUT',
    ]);
    const again = recorder(true);
    await applyTrafficRules({ plan, run: again.run, backend: 'iptables-legacy' });
    expect(again.calls.filter((c) => c.includes(' -I '))).toEqual([]);
    expect(again.calls[0]).toMatch(/^iptables-legacy-restore -w --noflush <<\*nat/);
  });

  it('fails with the tool output when a command fails', async () => {
    const run: CommandRunner = async () => ({ code: 1, stdout: '', stderr: 'Error: Could not process rule' });
    await expect(
      applyTrafficRules({ plan: { redirects: [], passthrough: [] }, backend: 'nft', run }),
    ).rejects.toThrow(/nft -f - failed \(exit 1\): Error: Could not process rule/);
    const none: CommandRunner = async () => {
      throw new Error('ENOENT');
    };
    await expect(applyTrafficRules({ plan: null, run: none })).rejects.toThrow(/neither nft nor iptables/);
  });
});
