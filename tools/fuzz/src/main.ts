// pnpm --silent fuzz [--seconds N] [--target NAME] [--seed S]: the on-demand campaign. Each target
// runs in its own process for N seconds (default 60) under a watchdog: the process reports after
// its set-up and after every batch of inputs; 120 s without a report is a hang (killed). A busy
// machine slows a run down but does not make it a hang. Prints inputs, inputs/s, crashes and slow
// inputs per target, then the totals; exits 1 on any crash or hang.
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { runTarget, type TargetResult } from './campaign.js';
import { TARGETS } from './targets.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    target: { type: 'string' },
    seed: { type: 'string' },
    child: { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const seed = values.seed === undefined ? undefined : Number(values.seed);
if (!Number.isFinite(seconds) || seconds <= 0 || (seed !== undefined && !Number.isInteger(seed))) {
  process.stderr.write('usage: pnpm --silent fuzz [--seconds N] [--target NAME] [--seed S]\n');
  process.exit(2);
}

if (values.child) {
  // One target in this process; the result as one JSON line for the parent.
  const target = TARGETS.find((t) => t.name === values.child)!;
  const result = await runTarget(target, {
    seconds,
    ...(seed !== undefined ? { seed } : {}),
    onProgress: (n) => process.stdout.write(`progress ${n}\n`),
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

const chosen = values.target ? TARGETS.filter((t) => t.name === values.target) : TARGETS;
if (chosen.length === 0) {
  process.stderr.write(
    `fuzz: no target ${values.target}; targets: ${TARGETS.map((t) => t.name).join(', ')}\n`,
  );
  process.exit(2);
}

/** No report from a target process for this long: a hang. */
const STALL_MS = 120_000;

function runChild(name: string): Promise<TargetResult | { name: string; hang: true }> {
  return new Promise((resolve) => {
    const args = [...process.execArgv, process.argv[1]!, '--child', name, '--seconds', String(seconds)];
    if (seed !== undefined) args.push('--seed', String(seed));
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let watchdog: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => child.kill('SIGKILL'), STALL_MS);
    };
    arm();
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      arm();
    });
    child.on('exit', (code, signal) => {
      clearTimeout(watchdog);
      const line = out.trim().split('\n').at(-1);
      if (code === 0 && line) resolve(JSON.parse(line) as TargetResult);
      else {
        process.stderr.write(`fuzz ${name}: the process ended with ${signal ?? code}\n`);
        resolve({ name, hang: true });
      }
    });
  });
}

let inputs = 0;
let crashes = 0;
let hangs = 0;
let slow = 0;
const started = performance.now();
for (const t of chosen) {
  const r = await runChild(t.name);
  if ('hang' in r) {
    hangs++;
    console.log(`${t.name}: HANG (no progress for ${STALL_MS / 1000} s) or crash of the process`);
    continue;
  }
  inputs += r.inputs;
  crashes += r.crashes.length;
  slow += r.slow.length;
  console.log(
    `${r.name}: ${r.inputs} inputs in ${r.seconds.toFixed(1)} s, ${r.inputsPerSecond} inputs/s, ` +
      `${r.crashes.length} crashes, ${r.slow.length} slow (> 1 s)`,
  );
  for (const c of r.crashes)
    console.log(`  crash (seed ${c.seed}): ${c.error}\n    input: ${c.counterexample}`);
  for (const s of r.slow) console.log(`  slow (${s.ms} ms): ${s.input}`);
}
const total = (performance.now() - started) / 1000;
console.log(
  `fuzz: ${inputs} inputs over ${chosen.length} targets in ${total.toFixed(0)} s ` +
    `(${Math.round(inputs / total)} inputs/s), ${crashes} crashes, ${hangs} hangs, ${slow} slow`,
);
process.exit(crashes > 0 || hangs > 0 ? 1 : 0);
