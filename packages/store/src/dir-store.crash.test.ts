import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DirectoryHistoryStore } from './dir-store.js';
import { History } from './history.js';
import { ZERO_HASH } from './transition.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The shared TypeScript loader for child processes (tools/build-config/ts-register.mjs). */
const register = createRequire(import.meta.url).resolve('@contrast-cc/build-config/ts-register');
const writerScript = path.join(here, 'test-support', 'crash-writer.ts');
const KEY = randomBytes(32);
const hmac = (bytes: Uint8Array) => createHmac('sha256', KEY).update(bytes).digest();

interface Writer {
  child: ChildProcess;
  ready: Promise<void>;
  committed: number[];
  stderr: string[];
  exited: Promise<NodeJS.Signals | number | null>;
}

function startWriter(dir: string, id: string): Writer {
  const child = spawn(
    process.execPath,
    ['--conditions=@contrast-cc/source', '--import', register, writerScript, dir, id],
    { env: { ...process.env, CRASH_HMAC_KEY: KEY.toString('hex') }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const committed: number[] = [];
  const stderr: string[] = [];
  let buffered = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      if (line === 'ready') onReady();
      const m = line.match(/^committed (\d+)$/);
      if (m) committed.push(Number(m[1]));
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? code)),
  );
  return { child, ready, committed, stderr, exited };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Everything a restart must be able to rely on, checked directly on the files. */
async function checkConsistent(root: string): Promise<{ versions: number }> {
  // No torn blob is visible under its final name.
  for (const sub of ['manifests', 'policies', 'transitions']) {
    for (const name of await readdir(path.join(root, sub))) {
      if (name.startsWith('.tmp-')) continue;
      const bytes = await readFile(path.join(root, sub, name));
      expect(createHash('sha256').update(bytes).digest('hex'), `${sub}/${name}`).toBe(name);
    }
  }
  const store = await DirectoryHistoryStore.open(root);
  const history = new History({
    store,
    verify: (hash, sig) => Buffer.from(sig).equals(hmac(hash)),
  });
  const latest = await history.getLatest();
  if (latest === null) {
    await store.close();
    return { versions: 0 };
  }
  expect(latest.verified).toBe(true);
  // Pointer versions are contiguous and form one linear chain: no lost update between writers.
  const names = (await readdir(path.join(root, 'latest'))).filter((n) => /^\d{16}$/.test(n)).sort();
  const max = Number(latest.version);
  expect(names.map(Number)).toEqual(Array.from({ length: max }, (_, i) => i + 1));
  let previous = ZERO_HASH;
  for (const name of names) {
    const raw = await readFile(path.join(root, 'latest', name));
    const hash = raw.subarray(0, 32);
    expect(Buffer.from(raw.subarray(32)).equals(hmac(hash)), `latest/${name} signature`).toBe(true);
    const t = await history.getTransition(hash.toString('hex'));
    expect(t.previousTransitionHash, `latest/${name} follows the previous version`).toBe(previous);
    await history.getManifest(t.manifestHash);
    previous = hash.toString('hex');
  }
  // The chain from the pointer back to the first transition is complete.
  expect((await history.transitions()).length).toBe(max);
  await store.close();
  return { versions: max };
}

describe('DirectoryHistoryStore survives kill -9 at any point', () => {
  const roots: string[] = [];
  afterAll(async () => {
    for (const r of roots) await rm(r, { recursive: true, force: true });
  });

  it('stays consistent when two writer processes are SIGKILLed at random moments', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'contrast-store-crash-'));
    roots.push(root);
    const rounds = 5;
    let reported = 0;
    for (let round = 0; round < rounds; round++) {
      const writers = [startWriter(root, `${round}a`), startWriter(root, `${round}b`)];
      // Wait until both writers run (loading TypeScript takes long on a busy machine); the kills
      // below must land mid-flight, not before a writer has even opened the store.
      const started = await Promise.race([
        Promise.all(writers.map((w) => w.ready)).then(() => true),
        sleep(120_000).then(() => false),
      ]);
      expect(started, 'both writers reported ready').toBe(true);
      for (const w of writers) expect(w.stderr.join(''), 'writer failed').toBe('');
      // Kill each at its own random moment, mid-flight.
      await Promise.all(
        writers.map(async (w) => {
          await sleep(40 + Math.floor(Math.random() * 400));
          w.child.kill('SIGKILL');
          expect(await w.exited).toBe('SIGKILL');
        }),
      );
      for (const w of writers) expect(w.stderr.join(''), 'writer failed').toBe('');
      const { versions } = await checkConsistent(root);
      // Every commit a writer reported is durable.
      const committed = writers.flatMap((w) => w.committed);
      for (const v of committed) expect(v).toBeLessThanOrEqual(versions);
      expect(new Set(committed).size, 'two writers got the same version').toBe(committed.length);
      reported += committed.length;
    }
    expect(reported, 'the writers made progress').toBeGreaterThan(rounds);
    console.info(`crash test: ${rounds} rounds, ${reported} commits reported before SIGKILL`);

    // And the store is usable after the crashes: a new writer extends the chain.
    const store = await DirectoryHistoryStore.open(root);
    const history = new History({ store, sign: (h) => new Uint8Array(hmac(h)) });
    const before = await store.getLatest();
    await history.commitManifest(new TextEncoder().encode('after the crashes'), [], before);
    await store.close();
    const { versions } = await checkConsistent(root);
    expect(versions).toBe(Number(before?.version ?? 0) + 1);
  }, 600_000);
});
