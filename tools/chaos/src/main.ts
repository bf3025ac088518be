// pnpm --silent chaos [--kills N] [--initializers N] [--store dir|configmap|both] [--overlap F] [--updates N] [--kube-faults] [--seed S] [--keep] [--json]
// The HA chaos campaign on demand (see ../README.md); exit 1 when a check failed, 2 for bad arguments.
import { parseArgs } from 'node:util';
import { type ChaosReport, formatReport, runChaos } from './campaign.js';
import { killAllReplicaProcesses } from './replicas.js';

// Interrupted: no Coordinator process outlives the campaign.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    killAllReplicaProcesses();
    process.exit(130);
  });
}
process.on('exit', () => killAllReplicaProcesses());

function usage(message: string): never {
  process.stderr.write(
    `chaos: ${message}\nusage: pnpm --silent chaos [--kills N] [--initializers N] [--store dir|configmap|both] [--overlap F] [--updates N] [--kube-faults] [--seed S] [--keep] [--json]\n`,
  );
  process.exit(2);
}

function positiveInt(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v) || Number(v) < 1)
    usage(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

async function main(): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        kills: { type: 'string' },
        initializers: { type: 'string' },
        store: { type: 'string' },
        seed: { type: 'string' },
        overlap: { type: 'string' },
        keep: { type: 'boolean' },
        'kube-faults': { type: 'boolean' },
        updates: { type: 'string' },
        json: { type: 'boolean' },
      },
    }));
  } catch (e) {
    usage((e as Error).message);
  }
  const kills = positiveInt('kills', values.kills as string | undefined, 20);
  const updatesText = values.updates as string | undefined;
  if (updatesText !== undefined && !/^\d+$/.test(updatesText))
    usage('--updates must be a non-negative integer');
  const initializers = positiveInt('initializers', values.initializers as string | undefined, 200);
  const store = (values.store as string | undefined) ?? 'both';
  if (!['dir', 'configmap', 'both'].includes(store))
    usage(`--store must be dir, configmap or both, got ${JSON.stringify(store)}`);
  const seedText = values.seed as string | undefined;
  if (seedText !== undefined && !/^\d+$/.test(seedText)) usage(`--seed must be a non-negative integer`);
  const overlapText = values.overlap as string | undefined;
  const overlap = overlapText === undefined ? undefined : Number(overlapText);
  if (overlap !== undefined && !(overlap >= 0 && overlap <= 1))
    usage('--overlap must be a number from 0 to 1');
  const reports: ChaosReport[] = [];
  for (const s of store === 'both' ? (['dir', 'configmap'] as const) : [store as 'dir' | 'configmap']) {
    const report = await runChaos({
      kills,
      initializers,
      store: s,
      ...(seedText !== undefined ? { seed: Number(seedText) } : {}),
      keep: values.keep === true,
      kubeFaults: values['kube-faults'] === true,
      ...(updatesText !== undefined ? { updates: Number(updatesText) } : {}),
      ...(overlap !== undefined ? { overlap } : {}),
      ...(values.json ? {} : { progress: (line: string) => process.stderr.write(`[${s}] ${line}\n`) }),
    });
    reports.push(report);
    if (!values.json) process.stdout.write(`${formatReport(report)}\n`);
  }
  if (values.json) process.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
  // Every process and server of the campaign is closed by now; a handle left behind by a library
  // (seen after a ConfigMap run) must not keep the CLI from ending.
  const code = reports.every((r) => r.passed) ? 0 : 1;
  process.stdout.write('', () => process.exit(code));
}

main().catch((e: unknown) => {
  process.stderr.write(`chaos: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(1);
});
