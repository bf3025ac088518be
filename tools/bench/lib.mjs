// Shared helpers for benchmarks. Every benchmark ends with exactly one line
//   <name>: ratio <x> (<what it is relative to>)
// comparing against a baseline measured in the same run, never a fixed number of seconds.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readDerTlv } from '@contrast-cc/core';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Runs `openssl speed` for an algorithm (e.g. `ecdsap384`, `ecdsap256`) and returns its sign/s
 * and verify/s, as the machine's native baseline.
 */
export function opensslSpeed(algorithm, seconds = 3) {
  const out = execFileSync('openssl', ['speed', '-seconds', String(seconds), algorithm], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const curve = algorithm.replace(/^ecdsa/, 'nist');
  const line = out.split('\n').find((l) => l.includes(`(${curve})`));
  if (!line) throw new Error(`cannot read openssl speed output for ${algorithm}`);
  const nums = line
    .trim()
    .split(/\s+/)
    .filter((t) => /^[\d.]+$/.test(t))
    .map(Number);
  // columns: bits, sign s, verify s, sign/s, verify/s
  const [signPerSec, verifyPerSec] = nums.slice(-2);
  return { signPerSec, verifyPerSec };
}

/** Runs fn repeatedly for at least `seconds` (after a warm-up) and returns operations per second. */
export async function opsPerSecond(fn, { seconds = 3, warmup = 20 } = {}) {
  for (let i = 0; i < warmup; i++) await fn();
  let n = 0;
  const start = process.hrtime.bigint();
  const limit = BigInt(Math.round(seconds * 1e9));
  let elapsed = 0n;
  while (elapsed < limit) {
    await fn();
    n++;
    elapsed = process.hrtime.bigint() - start;
  }
  return n / (Number(elapsed) / 1e9);
}

/** Wall time in ms of one run of a command (the median of `runs`). */
export function commandMillis(cmd, args, { runs = 15, env = process.env } = {}) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { stdio: 'ignore', env });
    if (r.status !== 0 && r.status !== null && !args.includes('--allow-fail')) {
      throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
    }
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return percentile(times, 50);
}

/** The p-th percentile (0-100) of a list of numbers. */
export function percentile(values, p) {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx];
}

/**
 * The size in bytes of a certificate's tbsCertificate (the whole DER element, header included):
 * what the CA signs, for a baseline that signs a body of the same size.
 */
export function tbsSizeOf(certDer) {
  const cert = readDerTlv(certDer, 0, 'certificate');
  const tbs = readDerTlv(certDer, cert.contentStart, 'tbsCertificate', cert.end);
  return tbs.end - tbs.start;
}

/** Prints the closing line every benchmark ends with. */
export function printRatio(name, ratio, relativeTo) {
  console.log(`${name}: ratio ${ratio.toFixed(3)} (${relativeTo})`);
}

/**
 * The manifest the Coordinator benchmarks set: a coordinator policy and one workload policy with
 * three SANs and a WorkloadSecretID, on the given reference values. The workload policy is a real
 * generated one (the policy package's golden Deployment policy, 48 KiB), so an attest answer (which
 * carries manifests and policies) has a realistic size.
 */
export function benchManifest(referenceValues) {
  const sha256 = (b) => createHash('sha256').update(b).digest('hex');
  const webPolicy = readFileSync(
    path.join(repoRoot, 'packages/policy/src/__golden__/web-deployment.policy.rego'),
  );
  const docs = [
    new TextEncoder().encode('[data]\n"policy.rego" = "coordinator"\n'),
    new Uint8Array(webPolicy),
  ];
  const [coordHash, webHash] = docs.map(sha256);
  const owner = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const manifestJson = {
    Policies: {
      [coordHash]: { SANs: ['coordinator'], Role: 'coordinator' },
      [webHash]: { SANs: ['web', 'web.default.svc.cluster.local', '10.0.0.7'], WorkloadSecretID: 'web' },
    },
    ReferenceValues: referenceValues,
    WorkloadOwnerPubKeys: [owner.publicKey.export({ type: 'spki', format: 'der' }).toString('hex')],
    SeedshareOwnerPubKeys: [],
  };
  return { docs, coordHash, webHash, manifestJson };
}
