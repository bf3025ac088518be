// What both end-to-end runs share: output, times, a free loopback port, and the exit codes
// (0 passed or skipped, 1 a step failed — the message names it —, 2 bad usage).
import net from 'node:net';

/** Bad usage (exit 2). */
export class Usage extends Error {}

const t0 = performance.now();
export const secs = (ms) => (ms / 1000).toFixed(1);
/** Seconds since the run started, for step headers. */
export const elapsed = () => secs(performance.now() - t0);
export const say = (line) => process.stdout.write(`${line}\n`);

/** A free TCP port on 127.0.0.1. */
export const freePort = () =>
  new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** Runs `main` as the program `name`: exit 0, 2 for {@link Usage}, else 1 with the failure. */
export function runMain(name, main) {
  main().then(
    () => process.exit(0),
    (e) => {
      if (e instanceof Usage) {
        process.stderr.write(`${name}: ${e.message}\n`);
        process.exit(2);
      }
      say(`\n${name}: FAILED: ${e.message}`);
      process.exit(1);
    },
  );
}
