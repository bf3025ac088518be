// What both end-to-end runs share: where the repository and the built CLI are, the run's
// workspace, the shop's files, output, times, a free loopback port, and the exit codes (0 passed
// or skipped, 1 a step failed — the message names it —, 2 bad usage).
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root directory. */
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The built CLI both runs drive (`turbo run build --filter=@contrast-cc/cli...`). */
export const cli = path.join(root, 'apps/cli/dist/bin.js');
const SHOP = path.join(root, 'examples/shop');

/** A new run: a short random id, its name `contrast-e2e-<id>` and a fresh workspace directory. */
export function newRun() {
  const id = randomBytes(3).toString('hex');
  const name = `contrast-e2e-${id}`;
  return { id, name, ws: mkdtempSync(path.join(os.tmpdir(), `${name}-`)) };
}

/**
 * Copies examples/shop's YAML files (`files`, default all of them) into `dir` (created if need be), each
 * through `edit(text, file)` when given.
 */
export function copyShop(dir, { files, edit } = {}) {
  mkdirSync(dir, { recursive: true });
  for (const f of files ?? readdirSync(SHOP).filter((f) => f.endsWith('.yml'))) {
    const text = readFileSync(path.join(SHOP, f), 'utf8');
    writeFileSync(path.join(dir, f), edit ? edit(text, f) : text);
  }
}

/** The YAML files of `ws`/`sub`, in name order, as `{ file: '<sub>/<name>', text }`. */
export function readYamlFiles(ws, sub) {
  return readdirSync(path.join(ws, sub))
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => ({ file: path.join(sub, f), text: readFileSync(path.join(ws, sub, f), 'utf8') }));
}

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

/** A failed step: its name and why. */
export class StepFailed extends Error {
  constructor(step, cause) {
    super(`step "${step}" failed: ${cause?.message ?? cause}`);
    this.step = step;
  }
}

/**
 * Runs one named step: prints its header (and the `commands` it stands for), then ✔ or ✖ with its
 * time; a failure is thrown as {@link StepFailed}. With `skip` (a reason) it prints the header and
 * the reason and runs nothing (resolves undefined).
 */
export async function step(name, fn, { commands = [], skip } = {}) {
  const start = performance.now();
  say(`\n▶ ${name}   [t+${elapsed()} s]`);
  for (const c of commands) say(`  $ ${c}`);
  if (skip) {
    say(`  (${skip})`);
    return undefined;
  }
  try {
    const result = await fn();
    say(`✔ ${name} (${secs(performance.now() - start)} s)`);
    return result;
  } catch (e) {
    say(`✖ ${name} (${secs(performance.now() - start)} s)`);
    throw new StepFailed(name, e);
  }
}

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
