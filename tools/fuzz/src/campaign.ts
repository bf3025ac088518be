import fc from 'fast-check';
import type { FuzzTarget } from './targets.js';

/** What one target's run found. */
export interface TargetResult {
  name: string;
  inputs: number;
  seconds: number;
  inputsPerSecond: number;
  /** Inputs that crashed it (as found, not shrunk), with the seed to replay them. */
  crashes: { seed: number; counterexample: string; error: string }[];
  /** Inputs that took longer than `slowMs` (a hang in the making), with their time. */
  slow: { ms: number; input: string }[];
}

/** Options of {@link runTarget}. */
export interface CampaignOptions {
  /** Time budget of the target (wall clock). */
  seconds: number;
  /** First seed; each batch uses the next one (default: random). */
  seed?: number;
  /** Inputs per fast-check batch. */
  batch?: number;
  /** An input slower than this is reported. */
  slowMs?: number;
  /** Called after the set-up and after every batch (a watchdog's heartbeat). */
  onProgress?: (inputs: number) => void;
}

const show = (v: unknown) => {
  const text = fc.stringify(v);
  return text.length > 400 ? `${text.slice(0, 400)}... (${text.length} chars)` : text;
};

/**
 * Runs one target in batches of fast-check runs until its time budget is spent. A failing input
 * is recorded as found with its seed, and the run goes on with the next seed.
 */
export async function runTarget(target: FuzzTarget<never>, options: CampaignOptions): Promise<TargetResult> {
  const fixture = await target.setup();
  options.onProgress?.(0);
  const slowMs = options.slowMs ?? 1000;
  const result: TargetResult = {
    name: target.name,
    inputs: 0,
    seconds: 0,
    inputsPerSecond: 0,
    crashes: [],
    slow: [],
  };
  const started = performance.now();
  const until = started + options.seconds * 1000;
  let seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  try {
    while (performance.now() < until) {
      const property = fc.asyncProperty(fixture.arbitrary, async (input) => {
        const t = performance.now();
        result.inputs++;
        await fixture.run(input as never);
        const ms = performance.now() - t;
        if (ms > slowMs && result.slow.length < 10)
          result.slow.push({ ms: Math.round(ms), input: show(input) });
      });
      const out = await fc.check(property, {
        seed,
        numRuns: options.batch ?? 500,
        interruptAfterTimeLimit: Math.max(1, until - performance.now()),
        markInterruptAsFailure: false,
        // Report the failing input as found: shrinking a mutated 1-8 KiB document can take longer
        // than the whole budget (and looked like a hang).
        endOnFailure: true,
      });
      if (out.failed && out.counterexample) {
        result.crashes.push({
          seed,
          counterexample: show(out.counterexample[0]),
          error: String((out.errorInstance as Error | undefined)?.message ?? out.errorInstance),
        });
      }
      seed = (seed + 1) % 2 ** 31;
      options.onProgress?.(result.inputs);
    }
  } finally {
    await fixture.close?.();
  }
  result.seconds = (performance.now() - started) / 1000;
  result.inputsPerSecond = Math.round(result.inputs / result.seconds);
  return result;
}
