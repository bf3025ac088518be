import { ContrastError, type Logger, noopLogger } from '@contrast-cc/core';
import { type CommandRunner, runCommand } from './command.js';
import type { InterceptionPlan } from './mesh-config.js';

// The one command runner of the package (also the secure PV's): the initializer runs the tools
// directly in its pod's network namespace; tests prefix `ip netns exec <ns>`.
export { type CommandRunner, runCommand } from './command.js';

/**
 * How the rules are installed: `nft` (one `inet` table, replaced atomically), or iptables with the
 * nf_tables or the legacy backend (own chains, replaced with `iptables-restore --noflush`, one jump
 * from the built-in chain). `auto` picks `nft` when it works, else the host's `iptables`.
 */
export type TrafficRulesBackend = 'nft' | 'iptables-nft' | 'iptables-legacy' | 'auto';

/** The nft table and the iptables chains this module owns (nothing else is touched). */
export const RULES_NAMES = Object.freeze({
  nftTable: 'contrast_mesh',
  natChain: 'CONTRAST_MESH_PREROUTING',
  filterChain: 'CONTRAST_MESH_INPUT',
});

/**
 * The nftables script that installs `plan` (or, for `null`, removes the table). It declares,
 * deletes and re-creates the table in one transaction, so applying it twice leaves the same rules
 * and no packet ever sees half of them.
 */
export function renderNftRules(plan: InterceptionPlan | null): string {
  const t = `inet ${RULES_NAMES.nftTable}`;
  const head = [`table ${t}`, `delete table ${t}`];
  if (!plan) return `${head.join('\n')}\n`;
  const lines = [
    ...head,
    `table ${t} {`,
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    '    iifname "lo" return',
    ...plan.redirects.map((r) => `    tcp dport ${r.port} redirect to :${r.proxyPort}`),
    '  }',
    '  chain input {',
    '    type filter hook input priority filter; policy accept;',
    '    iifname "lo" accept',
    '    ct state established,related accept',
    ...plan.redirects.map((r) => `    ct status dnat tcp dport ${r.proxyPort} accept`),
    ...plan.passthrough.map((p) => `    tcp dport ${p} accept`),
    '    meta l4proto { icmp, ipv6-icmp } accept',
    '    meta l4proto tcp reject with tcp reset',
    '    drop',
    '  }',
    '}',
  ];
  return `${lines.join('\n')}\n`;
}

/** The `iptables-restore --noflush` input for one address family. */
export function renderIptablesRules(plan: InterceptionPlan, family: 4 | 6): string {
  const { natChain, filterChain } = RULES_NAMES;
  const lines = [
    '*nat',
    `:${natChain} - [0:0]`,
    `-A ${natChain} -i lo -j RETURN`,
    ...plan.redirects.map(
      (r) => `-A ${natChain} -p tcp -m tcp --dport ${r.port} -j REDIRECT --to-ports ${r.proxyPort}`,
    ),
    'COMMIT',
    '*filter',
    `:${filterChain} - [0:0]`,
    `-A ${filterChain} -i lo -j ACCEPT`,
    `-A ${filterChain} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
    ...plan.redirects.map(
      (r) => `-A ${filterChain} -p tcp -m conntrack --ctstate DNAT -m tcp --dport ${r.proxyPort} -j ACCEPT`,
    ),
    ...plan.passthrough.map((p) => `-A ${filterChain} -p tcp -m tcp --dport ${p} -j ACCEPT`),
    `-A ${filterChain} -p ${family === 4 ? 'icmp' : 'ipv6-icmp'} -j ACCEPT`,
    `-A ${filterChain} -p tcp -j REJECT --reject-with tcp-reset`,
    `-A ${filterChain} -j DROP`,
    'COMMIT',
  ];
  return `${lines.join('\n')}\n`;
}

interface IptablesTools {
  restore: string;
  ctl: string;
}

function iptablesTools(variant: 'nft' | 'legacy' | 'default', family: 4 | 6): IptablesTools {
  const base = family === 4 ? 'iptables' : 'ip6tables';
  const suffix = variant === 'default' ? '' : `-${variant}`;
  return { restore: `${base}${suffix}-restore`, ctl: `${base}${suffix}` };
}

/** Options of {@link applyTrafficRules}. */
export interface TrafficRulesOptions {
  /** The plan; `null` removes the rules (ingress `DISABLED`). */
  plan: InterceptionPlan | null;
  backend?: TrafficRulesBackend;
  run?: CommandRunner;
  logger?: Logger;
}

/** What {@link applyTrafficRules} did. */
export interface TrafficRulesResult {
  /** The backend used (`auto` resolved). */
  backend: Exclude<TrafficRulesBackend, 'auto'> | 'iptables';
}

async function must(
  run: CommandRunner,
  command: string,
  args: readonly string[],
  input?: string,
): Promise<string> {
  let r: Awaited<ReturnType<CommandRunner>>;
  try {
    r = await run(command, args, input);
  } catch (cause) {
    throw new ContrastError('unavailable', `cannot run ${command}: ${(cause as Error).message}`, { cause });
  }
  if (r.code !== 0) {
    throw new ContrastError(
      'internal',
      `${command} ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`,
    );
  }
  return r.stdout;
}

async function works(run: CommandRunner, command: string, args: readonly string[]): Promise<boolean> {
  try {
    return (await run(command, args)).code === 0;
  } catch {
    return false;
  }
}

async function resolveBackend(
  backend: TrafficRulesBackend,
  run: CommandRunner,
): Promise<{ name: TrafficRulesResult['backend']; variant?: 'nft' | 'legacy' | 'default' }> {
  if (backend === 'nft') return { name: 'nft' };
  if (backend === 'iptables-nft') return { name: 'iptables-nft', variant: 'nft' };
  if (backend === 'iptables-legacy') return { name: 'iptables-legacy', variant: 'legacy' };
  if (await works(run, 'nft', ['list', 'tables'])) return { name: 'nft' };
  if (await works(run, 'iptables', ['--version'])) return { name: 'iptables', variant: 'default' };
  throw new ContrastError(
    'unavailable',
    'neither nft nor iptables works here: the traffic rules cannot be installed',
  );
}

async function applyIptables(
  run: CommandRunner,
  variant: 'nft' | 'legacy' | 'default',
  plan: InterceptionPlan | null,
): Promise<void> {
  const { natChain, filterChain } = RULES_NAMES;
  const jumps = [
    { table: 'nat', from: 'PREROUTING', chain: natChain },
    { table: 'filter', from: 'INPUT', chain: filterChain },
  ];
  for (const family of [4, 6] as const) {
    const tools = iptablesTools(variant, family);
    if (plan) {
      // Declaring a chain with --noflush empties it (or creates it); the rest of the tables stays.
      await must(run, tools.restore, ['-w', '--noflush'], renderIptablesRules(plan, family));
      for (const j of jumps) {
        if (!(await works(run, tools.ctl, ['-w', '-t', j.table, '-C', j.from, '-j', j.chain]))) {
          await must(run, tools.ctl, ['-w', '-t', j.table, '-I', j.from, '1', '-j', j.chain]);
        }
      }
    } else {
      for (const j of jumps) {
        while (await works(run, tools.ctl, ['-w', '-t', j.table, '-C', j.from, '-j', j.chain])) {
          await must(run, tools.ctl, ['-w', '-t', j.table, '-D', j.from, '-j', j.chain]);
        }
        if (await works(run, tools.ctl, ['-w', '-t', j.table, '-L', j.chain, '-n'])) {
          await must(run, tools.ctl, ['-w', '-t', j.table, '-F', j.chain]);
          await must(run, tools.ctl, ['-w', '-t', j.table, '-X', j.chain]);
        }
      }
    }
  }
}

/**
 * Installs the pod's inbound traffic rules (or removes them for `plan: null`): every redirected
 * port goes to its proxy listener, plain-text ports pass, loopback and established connections
 * pass, ICMP passes, every other new TCP connection gets a reset and everything else is dropped.
 * Idempotent: a second run leaves the same rules (nft: the table is replaced in one transaction;
 * iptables: our chains are emptied and refilled, the jump to them exists once).
 */
export async function applyTrafficRules(options: TrafficRulesOptions): Promise<TrafficRulesResult> {
  const run = options.run ?? runCommand;
  const log = (options.logger ?? noopLogger).child({ component: 'traffic-rules' });
  const { name, variant } = await resolveBackend(options.backend ?? 'auto', run);
  if (name === 'nft') {
    await must(run, 'nft', ['-f', '-'], renderNftRules(options.plan));
  } else {
    await applyIptables(run, variant!, options.plan);
  }
  log.info(options.plan ? 'traffic rules installed' : 'traffic rules removed', {
    backend: name,
    ...(options.plan
      ? {
          redirects: options.plan.redirects.map((r) => `${r.port}->${r.proxyPort}`),
          passthrough: options.plan.passthrough,
        }
      : {}),
  });
  return { backend: name };
}

/**
 * The rules currently installed by this module, as the tools print them (nft: the table;
 * iptables: our chains and the jumps to them, IPv4 then IPv6); empty when there are none.
 */
export async function listTrafficRules(
  backend: Exclude<TrafficRulesBackend, 'auto'> | 'iptables',
  run: CommandRunner = runCommand,
): Promise<string> {
  if (backend === 'nft') {
    const r = await run('nft', ['list', 'table', 'inet', RULES_NAMES.nftTable]);
    return r.code === 0 ? r.stdout : '';
  }
  const variant = backend === 'iptables-nft' ? 'nft' : backend === 'iptables-legacy' ? 'legacy' : 'default';
  const out: string[] = [];
  for (const family of [4, 6] as const) {
    const { ctl } = iptablesTools(variant, family);
    for (const table of ['nat', 'filter']) {
      const r = await run(ctl, ['-w', '-t', table, '-S']);
      if (r.code !== 0) continue;
      out.push(
        ...r.stdout
          .split('\n')
          .filter((l) => l.includes('CONTRAST_MESH'))
          .map((l) => `ipv${family} ${table}: ${l}`),
      );
    }
  }
  return out.join('\n');
}
