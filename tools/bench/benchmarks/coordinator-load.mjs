// coordinator-load: N concurrent initializers against one Coordinator process (the built app,
// apps/coordinator/dist/main.js, its own process, loopback), on the Simulated-SNP platform: every
// request is a real SEV-SNP report (ECDSA P-384 over the report by a simulated VCEK) that the
// Coordinator checks with the real SNP verifier (chain cached by exact certificate bytes, so the
// per-request cost is the report signature, REPORT_DATA and reference values).
//
// Each initializer runs requestMeshCertificate as apps/initializer does: one TLS connection for the
// nonce challenge and the certificate request; evidence binding the nonce, its own certificate key
// and the Coordinator's TLS key, issued after the challenge (fresh per request, never reused); the
// Coordinator verifies it fully and signs a P-384 mesh certificate.
//
// Prints certificates/s (wall clock), p50/p99 latency per certificate (challenge + evidence +
// certificate), the Coordinator's CPU per certificate and the clients' CPU per certificate (both
// share this machine's cores), and the ratio of certificates per Coordinator CPU-second to the CPU
// floor measured with openssl in the same run: one P-384 verify (the SNP report) + one P-256 sign
// per request. Target (issue #7): at 200 concurrent, p99 < 250 ms and ratio >= 0.3.
// Also printed: where the Coordinator's CPU goes (report verification and certificate issuance
// measured alone in this process, and a bare node HTTPS server's CPU per connection), and, for
// context only, the ratio against a floor that counts the P-384 certificate signature the
// Coordinator really makes (the mesh CA is P-384) instead of the target's P-256 signature.
//
// BENCH_CONCURRENCY (200), BENCH_REQUESTS (2000), BENCH_SECONDS (openssl, 3),
// BENCH_CPU_PROF=<dir>: write a V8 CPU profile of the Coordinator process there.
import { spawn } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import {
  CoordinatorClient,
  meshCertReportData,
  requestMeshCertificate,
  verifiersForReferenceValues,
} from '@contrast-cc/api';
import { createTlsIdentity } from '@contrast-cc/authority/server';
import { createCaHierarchy, SeedEngine } from '@contrast-cc/certs';
import { createPlatformRegistry, noopLogger } from '@contrast-cc/core';
import {
  createSimulatedSnpPlatform,
  createSimulatorTrust,
  simulatedSnpReferenceValues,
} from '@contrast-cc/platform-simulator';
import { opensslSpeed, percentile, printRatio, repoRoot } from '../lib.mjs';

const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 200);
const total = Number(process.env.BENCH_REQUESTS ?? 2000);
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const profileDir = process.env.BENCH_CPU_PROF;
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

// A manifest with a coordinator policy and one workload policy, on Simulated-SNP.
const docs = ['coordinator', 'web'].map((n) => new TextEncoder().encode(`[data]\n"policy.rego" = "${n}"\n`));
const [coordHash, webHash] = docs.map(sha256);
const owner = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const manifestJson = {
  Policies: {
    [coordHash]: { SANs: ['coordinator'], Role: 'coordinator' },
    [webHash]: { SANs: ['web', 'web.default.svc.cluster.local', '10.0.0.7'], WorkloadSecretID: 'web' },
  },
  ReferenceValues: { snp: [simulatedSnpReferenceValues()] },
  WorkloadOwnerPubKeys: [owner.publicKey.export({ type: 'spki', format: 'der' }).toString('hex')],
  SeedshareOwnerPubKeys: [],
};

/** CPU seconds (user + system, all threads) a process has used, from /proc (ticks of 1/100 s). */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
const ownCpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** CPU seconds per call of `fn`, one call at a time, in this process (after a warm-up). */
async function cpuPerCall(fn, n = 200) {
  for (let i = 0; i < 20; i++) await fn(i);
  const before = ownCpuSeconds();
  for (let i = 0; i < n; i++) await fn(i);
  return (ownCpuSeconds() - before) / n;
}

/**
 * Server CPU seconds of a bare node HTTPS server (P-256 TLS key as the Coordinator's, keep-alive,
 * its own process) per connection carrying two JSON requests shaped like the mesh-certificate
 * exchange: the transport cost alone, with nothing verified or signed by the handler.
 */
async function bareHttpsCpuPerConnection(n = 600) {
  const tls = await createTlsIdentity();
  const code = `
    const { createServer } = require('node:https');
    const reply = JSON.stringify({ version: 'v1', pad: 'x'.repeat(4000) });
    const s = createServer({ key: process.env.KEY, cert: process.env.CERT, minVersion: 'TLSv1.2' }, (req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        JSON.parse(Buffer.concat(chunks).toString());
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(reply) });
        res.end(reply);
      });
    });
    s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;
  const server = spawn(process.execPath, ['-e', code], {
    env: { ...process.env, KEY: tls.key.export({ type: 'pkcs8', format: 'pem' }), CERT: tls.certPem },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = await new Promise((resolve, reject) => {
      server.stdout.once('data', (c) => resolve(Number(c.toString().trim())));
      server.once('exit', (c) => reject(new Error(`bare https server exited ${c}`)));
    });
    const post = (agent, body) =>
      new Promise((resolve, reject) => {
        const req = request(
          {
            agent,
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: '/',
            headers: { 'content-type': 'application/json' },
          },
          (res) => {
            res.resume();
            res.on('end', resolve);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const big = JSON.stringify({ evidence: 'e'.repeat(7000) });
    const connection = async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
      await post(agent, '{}');
      await post(agent, big);
      agent.destroy();
    };
    for (let i = 0; i < 20; i++) await connection();
    // 20 clients at a time: one at a time, every TLS record would wake the server on its own.
    let left = n;
    const before = cpuSeconds(server.pid);
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (left-- > 0) await connection();
      }),
    );
    return (cpuSeconds(server.pid) - before) / n;
  } finally {
    server.kill();
  }
}

// The simulator's trust directory, shared by this process (the initializers' chain) and the
// Coordinator (its own chain): each registers its root there, every verifier trusts those roots.
const simulatorDir = mkdtempSync(path.join(tmpdir(), 'bench-simulator-'));
const storeDir = mkdtempSync(path.join(tmpdir(), 'bench-coordinator-'));
const child = spawn(
  process.execPath,
  [
    ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
    path.join(repoRoot, 'apps/coordinator/dist/main.js'),
  ],
  {
    env: {
      ...process.env,
      CONTRAST_ISSUER: 'simulated-snp',
      CONTRAST_SIMULATOR_DIR: simulatorDir,
      CONTRAST_ALLOW_INSECURE_RUNTIMES: '1',
      CONTRAST_FAKE_POLICY_HASH: coordHash,
      CONTRAST_STORE: 'dir',
      CONTRAST_STORE_DIR: storeDir,
      CONTRAST_LISTEN_ADDRESS: '127.0.0.1',
      CONTRAST_API_PORT: '0',
      CONTRAST_METRICS_PORT: 'off',
      CONTRAST_TRANSIT_PORT: 'off',
      CONTRAST_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
let logLines = 0;
const port = await new Promise((resolve, reject) => {
  let buf = '';
  const timer = setTimeout(() => reject(new Error('the coordinator did not start')), 60_000);
  child.on('exit', (code) => reject(new Error(`coordinator exited ${code}`)));
  child.stdout.on('data', (c) => {
    buf += c.toString();
    const lines = buf.split('\n');
    buf = lines.pop();
    for (const line of lines) {
      logLines++;
      if (!line.includes('"listening"')) continue;
      clearTimeout(timer);
      resolve(JSON.parse(line).port);
    }
  });
}).catch((e) => {
  child.kill('SIGKILL');
  throw e;
});

try {
  const trust = createSimulatorTrust({ dir: simulatorDir });
  const snp = createSimulatedSnpPlatform({ trust });
  const registry = createPlatformRegistry([snp]);
  // The user's side: attest the Coordinator (its Simulated-SNP evidence), set the manifest.
  const client = await CoordinatorClient.connect({
    host: '127.0.0.1',
    port,
    verifiers: verifiersForReferenceValues(registry, manifestJson.ReferenceValues),
    coordinatorPolicyHashes: [coordHash],
    allowInsecure: true,
  });
  await client.setManifest({
    manifest: new TextEncoder().encode(JSON.stringify(manifestJson)),
    policies: docs,
  });

  // The pods' side: one Simulated-SNP issuer (HOST_DATA = the web policy hash) for all of them, as
  // the hardware would be; each initializer has its own certificate key.
  const issuer = snp.attestation.createIssuer({ logger: noopLogger, hostData: Buffer.from(webHash, 'hex') });
  const keys = Array.from({ length: concurrency }, () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
  });
  const one = (publicKey) =>
    requestMeshCertificate({ host: '127.0.0.1', port, issuer, publicKey, timeoutMs: 60_000 });
  // Warm-up: JIT, the verifier's chain cache, TLS machinery.
  const warm = await Promise.all(keys.slice(0, 20).map(one));
  if (!warm.every((r) => r.cert_chain.includes('BEGIN CERTIFICATE') && r.workload_secret)) {
    throw new Error('warm-up: the Coordinator did not issue certificates');
  }

  const latencies = [];
  let next = 0;
  const logLinesBefore = logLines;
  const cpuBefore = cpuSeconds(child.pid);
  const ownBefore = ownCpuSeconds();
  const started = process.hrtime.bigint();
  await Promise.all(
    keys.map(async (publicKey) => {
      while (next < total) {
        next++;
        const t0 = process.hrtime.bigint();
        await one(publicKey);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = cpuSeconds(child.pid) - cpuBefore;
  const own = ownCpuSeconds() - ownBefore;
  const load = loadavg()[0];
  const n = latencies.length;
  const perSecond = n / elapsed;
  const perCpuSecond = n / cpu;
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);

  // Where the Coordinator's CPU goes: its per-certificate steps one at a time in this process
  // (the same code the Coordinator runs), and a bare node HTTPS server for the transport.
  const verifier = verifiersForReferenceValues(registry, manifestJson.ReferenceValues)[0];
  const sampleKey = keys[0];
  const sampleNonce = new Uint8Array(32).fill(9);
  const reportData = await meshCertReportData(sampleNonce, sampleKey, sampleKey);
  const samples = await Promise.all(Array.from({ length: 240 }, () => issuer.issue(reportData)));
  let claims;
  const verifyCpu = await cpuPerCall(async (i) => {
    const r = await verifier.verify(samples[i], { reportData });
    if (!r.ok) throw new Error(`sample evidence refused: ${r.reason.code}`);
    claims = r.claims;
  });
  const ca = await createCaHierarchy(SeedEngine.generate());
  const sans = manifestJson.Policies[webHash].SANs;
  const issueCpu = await cpuPerCall(() =>
    ca.issueMeshCertificate({
      publicKey: createPublicKey({ key: Buffer.from(sampleKey), format: 'der', type: 'spki' }),
      sans,
      workloadSecretId: 'web',
      claims,
    }),
  );
  const transportCpu = await bareHttpsCpuPerConnection();

  const p384 = opensslSpeed('ecdsap384', seconds);
  const p256 = opensslSpeed('ecdsap256', seconds);
  const floor = 1 / (1 / p384.verifyPerSec + 1 / p256.signPerSec);
  const ms = (x) => `${(x * 1000).toFixed(2)} ms`;
  console.log('platform:           Simulated-SNP (real SNP report format and verifier, local key chain)');
  console.log(`concurrency:        ${concurrency}`);
  console.log(`certificates:       ${n} in ${elapsed.toFixed(2)} s`);
  console.log(`certificates/s:     ${perSecond.toFixed(1)} (wall clock)`);
  console.log(`latency p50 / p99:  ${p50.toFixed(1)} ms / ${p99.toFixed(1)} ms (target p99 < 250 ms)`);
  console.log(
    `Coordinator CPU:    ${ms(cpu / n)} per certificate, ${perCpuSecond.toFixed(1)} certificates per CPU-second (${cpu.toFixed(2)} CPU-s)`,
  );
  console.log(
    `initializers' CPU:  ${ms(own / n)} per certificate (this process: TLS client, evidence = one P-384 report signature, JSON)`,
  );
  console.log(
    `machine:            ${ms((cpu + own) / n)} CPU per certificate on both sides; load average ${load.toFixed(1)} at the end`,
  );
  console.log(`Coordinator log lines during the run: ${logLines - logLinesBefore}`);
  console.log(`where the Coordinator's CPU goes (each step alone, after the run):`);
  console.log(`  SNP report verification (Simulated-SNP verifier, chain cached): ${ms(verifyCpu)}`);
  console.log(
    `  mesh certificate issuance (key import, X.509 with claims, P-384 signature): ${ms(issueCpu)}`,
  );
  console.log(
    `  bare node HTTPS server (20 clients at a time), one TLS connection + two JSON requests: ${ms(transportCpu)}`,
  );
  console.log(
    `  sum ${ms(verifyCpu + issueCpu + transportCpu)} of the ${ms(cpu / n)} measured under load (the rest: routing, zod, nonces, JSON, metrics, GC, contention)`,
  );
  console.log(
    `openssl P-384 verify/s: ${p384.verifyPerSec.toFixed(0)}, sign/s: ${p384.signPerSec.toFixed(0)}; P-256 sign/s: ${p256.signPerSec.toFixed(0)}`,
  );
  console.log(
    `CPU floor:          ${floor.toFixed(1)} requests per CPU-second (one P-384 verify + one P-256 sign), ${ms(1 / floor)} each`,
  );
  // The issue's floor counts a P-256 signature; the mesh CA is P-384 (upstream's format), so each
  // certificate really costs a P-384 signature. Printed for context; the ratio below keeps the
  // issue's definition.
  const p384Floor = 1 / (1 / p384.verifyPerSec + 1 / p384.signPerSec);
  console.log(
    `for context:        ${(perCpuSecond / p384Floor).toFixed(3)} of ${p384Floor.toFixed(1)}/CPU-s if the floor counted the P-384 certificate signature the Coordinator really makes (not the target's definition)`,
  );
  console.log(
    `known crypto:       Coordinator ${ms(1 / p384.verifyPerSec + 1 / p384.signPerSec + 1 / p256.signPerSec)} (report verify + P-384 certificate signature + TLS P-256 signature), initializer ${ms(1 / p384.signPerSec)} (report signature)`,
  );
  // openssl speed counts operations per CPU-second; so does this ratio (the Coordinator's own CPU
  // time), which keeps it meaningful on a machine shared with other work. Wall-clock figures above.
  printRatio(
    'coordinator-load',
    perCpuSecond / floor,
    `certificates per Coordinator CPU-second at ${concurrency} concurrent on Simulated-SNP / (1 P-384 verify + 1 P-256 sign) per CPU-second by openssl; target >= 0.3; wall-clock ${perSecond.toFixed(0)}/s, p99 ${p99.toFixed(0)} ms (target < 250)`,
  );
} finally {
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  rmSync(simulatorDir, { recursive: true, force: true });
  rmSync(storeDir, { recursive: true, force: true });
}
