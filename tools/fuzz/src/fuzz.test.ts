import { describe, expect, it } from 'vitest';
import { runTarget } from './campaign.js';
import { TARGETS } from './targets.js';

// The CI share of the campaign: each target for a fixed budget (FUZZ_SECONDS, default 1.5 s),
// a new random seed each run. Failures print the shrunk input and the seed that replays it:
// pnpm --silent fuzz --target <name> --seed <seed>.
const seconds = Number(process.env.FUZZ_SECONDS ?? 1.5);

describe('fuzzing (CI budget)', () => {
  for (const target of TARGETS) {
    it(`${target.name}: no crash`, async () => {
      const r = await runTarget(target, { seconds });
      console.log(`fuzz ${r.name}: ${r.inputs} inputs, ${r.inputsPerSecond}/s`);
      expect(r.crashes).toEqual([]);
      expect(r.inputs).toBeGreaterThan(0);
    });
  }
});
