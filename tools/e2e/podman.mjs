// podman for the e2e: every call through the rlimits-dropping runc wrapper (tools/images), every
// object labelled with the run, and the teardown that removes exactly those objects and proves it.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The OCI runtime podman uses here (runc without process.rlimits; see tools/images/runc-no-rlimits). */
export const RUNTIME = path.resolve(here, '../images/runc-no-rlimits');

/**
 * Runs `podman <args>`; resolves { code, stdout, stderr }. `timeoutMs`: SIGKILL after that long
 * (the result then has code null and timedOut). Never throws for a non-zero exit: see {@link podmanOk}.
 */
export function podman(args, { timeoutMs = 300_000, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn('podman', ['--runtime', RUNTIME, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`podman: ${e.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
    child.stdin.end(input ?? '');
  });
}

/** `podman <args>` that must succeed; returns its trimmed stdout. */
export async function podmanOk(args, options) {
  const r = await podman(args, options);
  if (r.code !== 0) {
    const why = r.timedOut ? 'timed out' : `exited ${r.code}`;
    throw new Error(`podman ${args.join(' ')} ${why}: ${(r.stderr || r.stdout).trim().slice(-1500)}`);
  }
  return r.stdout.trim();
}

/** The objects of one kind carrying `label` (containers, pods, volumes, networks, images by reference). */
export async function labelled(label) {
  const list = async (args) =>
    (await podmanOk(args))
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean);
  return {
    containers: await list(['ps', '--all', '--filter', `label=${label}`, '--format', '{{.Names}}']),
    pods: await list(['pod', 'ps', '--filter', `label=${label}`, '--format', '{{.Name}}']),
    volumes: await list(['volume', 'ls', '--filter', `label=${label}`, '--format', '{{.Name}}']),
    networks: await list(['network', 'ls', '--filter', `label=${label}`, '--format', '{{.Name}}']),
  };
}

/**
 * Removes everything of the run (pods with their containers, stray containers, volumes, the
 * network, the images pulled from `registryHost`), then lists again: returns what is still there
 * (empty lists when the teardown is complete).
 */
export async function teardown(label, registryHost) {
  const errors = [];
  const tryRun = async (args) => {
    const r = await podman(args, { timeoutMs: 120_000 });
    if (r.code !== 0) errors.push(`podman ${args.join(' ')}: ${r.stderr.trim().slice(-300)}`);
  };
  const before = await labelled(label);
  for (const p of before.pods) await tryRun(['pod', 'rm', '--force', '--time', '5', p]);
  const stray = (await labelled(label)).containers;
  for (const c of stray) await tryRun(['rm', '--force', '--time', '5', c]);
  for (const v of before.volumes) await tryRun(['volume', 'rm', '--force', v]);
  for (const n of before.networks) await tryRun(['network', 'rm', '--force', n]);
  if (registryHost) {
    const images = (
      await podmanOk(['images', '--format', '{{.Repository}}@{{.Digest}} {{.ID}}', '--noheading'])
    )
      .split('\n')
      .filter((l) => l.startsWith(`${registryHost}/`))
      .map((l) => l.split(' ')[1]);
    for (const id of new Set(images)) await tryRun(['rmi', '--force', id]);
  }
  const left = await labelled(label);
  if (registryHost) {
    left.images = (await podmanOk(['images', '--format', '{{.Repository}}', '--noheading']))
      .split('\n')
      .filter((l) => l.startsWith(`${registryHost}/`));
  }
  return { left, errors };
}
