// cli-start: cold start of `contrast --help` against a bare `node -e 0`, same machine, same run.
// Target (issue #8): at most 3x.
import path from 'node:path';
import { commandMillis, printRatio, repoRoot } from '../lib.mjs';

const bin = path.join(repoRoot, 'apps/cli/dist/bin.js');
const runs = Number(process.env.BENCH_RUNS ?? 21);
const baseline = commandMillis(process.execPath, ['-e', '0'], { runs });
const cli = commandMillis(process.execPath, [bin, '--help'], { runs });
console.log(`node -e 0:       ${baseline.toFixed(1)} ms (median of ${runs})`);
console.log(`contrast --help: ${cli.toFixed(1)} ms (median of ${runs})`);
printRatio('cli-start', cli / baseline, 'contrast --help wall time / node -e 0 wall time; target <= 3');
