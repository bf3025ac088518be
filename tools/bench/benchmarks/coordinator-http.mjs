// coordinator-http: the server CPU the Coordinator's HTTP layer costs per request over a bare node
// HTTPS handler answering the same bodies. The Coordinator side is the real attested server
// (createAttestedServer) with the real API handler (createApiHandler: routing, body limits and
// budget, bounded JSON, zod, error mapping, metrics) in front of an Authority stand-in whose
// certificate issuance costs nothing (a fixed answer of the real size): what is left is the HTTP
// layer. The bare side: node:https, read the body, JSON.parse, answer the same JSON. Both run in
// their own process, driven by the same clients (requestMeshCertificate: one TLS connection per
// certificate and its requests as the client makes them: the evidence bound to the connection, or
// the nonce challenge first; a real Simulated-SNP evidence, 9 KiB of JSON), interleaved rounds
// (bare, api, api, bare, ...); server CPU from process.cpuUsage of each server, requests counted.
//
// BENCH_REQUESTS (certificates per round, 1000), BENCH_ROUNDS (6 of each), BENCH_CONCURRENCY (50).
// The figures are medians over the rounds (CPU time per request moves with the machine's load).
import { fork } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { requestMeshCertificate } from '@contrast-cc/api';
import { noopLogger } from '@contrast-cc/core';
import { createSimulatedSnpPlatform, createSimulatorTrust } from '@contrast-cc/platform-simulator';
import { printRatio, repoRoot } from '../lib.mjs';

const perRound = Number(process.env.BENCH_REQUESTS ?? 1000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 6);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 50);

if (process.argv[2] === 'server') {
  const { createTlsIdentity, createApiHandler, createMetrics } = await import(
    '@contrast-cc/authority/server'
  );
  const { createAttestedServer } = await import('@contrast-cc/atls');
  const { createLogger } = await import('@contrast-cc/core');
  const https = await import('node:https');
  const tls = await createTlsIdentity();
  const pem = tls.certPem;
  const answer = {
    certChainPem: pem + pem,
    meshCaPem: pem,
    rootCaPem: pem,
    workloadSecret: new Uint8Array(randomBytes(64)),
    policyHash: 'ab'.repeat(32),
    claims: { kind: 'snp' },
  };
  const wire = {
    version: 'v1',
    cert_chain: answer.certChainPem,
    mesh_ca: answer.meshCaPem,
    root_ca: answer.rootCaPem,
    workload_secret: Buffer.from(answer.workloadSecret).toString('hex'),
  };
  let server;
  if (process.argv[3] === 'api') {
    const authority = {
      status: 'active',
      generation: 1,
      createNonce: () => new Uint8Array(randomBytes(32)),
      issueMeshCertificate: async () => answer,
    };
    const metrics = createMetrics({ generation: () => 1, status: () => 'active' });
    // The Coordinator's logger at info, writing JSON lines (to /dev/null here).
    const logger = createLogger(() => {}, { level: 'info' });
    const api = createAttestedServer({
      issuer: { issue: async () => ({ kind: 'x', data: new Uint8Array(1) }) },
      key: tls.key,
      cert: tls.certPem,
      handler: createApiHandler(authority, metrics, logger),
      logger,
    });
    server = api.server;
  } else {
    server = https.createServer(
      { key: tls.key.export({ type: 'pkcs8', format: 'pem' }), cert: tls.certPem, minVersion: 'TLSv1.2' },
      (req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
          const body = JSON.parse(Buffer.concat(chunks).toString());
          let status = 200;
          let reply;
          const headers = { 'content-type': 'application/json' };
          // As the Coordinator: evidence without a nonce is bound to the connection (tls-exporter).
          if (body.nonce === undefined && body.evidence === undefined) {
            status = 401;
            const nonce = randomBytes(32).toString('base64');
            reply = JSON.stringify({ version: 'v1', code: 'challenge_required', error: 'x', nonce });
            headers['www-authenticate'] = `contrast-attestation-v1 nonce="${nonce}"`;
          } else reply = JSON.stringify(wire);
          headers['content-length'] = Buffer.byteLength(reply);
          res.writeHead(status, headers);
          res.end(reply);
        });
      },
    );
  }
  let requests = 0;
  server.on('request', () => requests++);
  process.on('SIGINT', () => process.exit(0));
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
  process.on('message', (m) => {
    if (m === 'cpu') {
      const u = process.cpuUsage();
      process.send({ cpu: (u.user + u.system) / 1e6, requests });
    }
  });
} else {
  const simulatorDir = mkdtempSync(path.join(tmpdir(), 'bench-http-'));
  const self = fileURLToPath(import.meta.url);
  const servers = {};
  // Both servers run with the Coordinator pod's V8 flags (its heap and semi-space sizes set how
  // often it collects garbage); BENCH_SERVER_FLAGS overrides them (e.g. add --trace-gc).
  const { COORDINATOR_NODE_OPTIONS } = await import(path.join(repoRoot, 'apps/coordinator/dist/index.js'));
  const flags = (process.env.BENCH_SERVER_FLAGS ?? COORDINATOR_NODE_OPTIONS).split(/\s+/).filter(Boolean);
  try {
    for (const kind of ['bare', 'api']) {
      const child = fork(self, ['server', kind], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        // BENCH_CPU_PROF=<dir>: a V8 CPU profile of each server.
        execArgv: [
          ...flags,
          ...(process.env.BENCH_CPU_PROF
            ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}/${kind}`]
            : []),
        ],
      });
      const port = await new Promise((resolve) => child.once('message', (m) => resolve(m.port)));
      const cpu = () =>
        new Promise((resolve) => {
          child.once('message', (m) => {
            servers[kind].requests = m.requests;
            resolve(m.cpu);
          });
          child.send('cpu');
        });
      servers[kind] = { child, port, cpu };
    }
    const snp = createSimulatedSnpPlatform({ trust: createSimulatorTrust({ dir: simulatorDir }) });
    const evidence = await snp.attestation.createIssuer({ logger: noopLogger }).issue(new Uint8Array(64));
    const issuer = { issue: async () => evidence };
    const publicKey = new Uint8Array(
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }),
    );
    const drive = async (port, total) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < total) {
            next++;
            const r = await requestMeshCertificate({ host: '127.0.0.1', port, issuer, publicKey });
            if (!r.cert_chain) throw new Error('no certificate');
          }
        }),
      );
    };
    // Warm-up: V8 keeps optimizing the request path for several hundred requests.
    for (const s of Object.values(servers)) await drive(s.port, 1000);
    const cpu = { bare: [], api: [] };
    for (const s of Object.values(servers)) await s.cpu();
    const requests0 = { bare: servers.bare.requests, api: servers.api.requests };
    for (let r = 0; r < rounds; r++) {
      for (const kind of r % 2 ? ['api', 'bare'] : ['bare', 'api']) {
        const s = servers[kind];
        const c0 = await s.cpu();
        await drive(s.port, perRound);
        cpu[kind].push(((await s.cpu()) - c0) / perRound);
      }
    }
    const ms = (x) => `${(x * 1000).toFixed(3)} ms`;
    const perCert = Object.fromEntries(
      ['bare', 'api'].map((k) => [k, (servers[k].requests - requests0[k]) / (rounds * perRound)]),
    );
    for (let r = 0; r < rounds; r++) {
      console.log(
        `  round ${r + 1}: bare ${ms(cpu.bare[r])} server CPU per certificate, api ${ms(cpu.api[r])}; overhead ${ms(cpu.api[r] - cpu.bare[r])} per certificate`,
      );
    }
    console.log(`server flags: ${flags.join(' ')}`);
    const median = (v) => {
      const x = [...v].sort((a, b) => a - b);
      return x.length % 2 ? x[(x.length - 1) / 2] : (x[x.length / 2 - 1] + x[x.length / 2]) / 2;
    };
    const overhead = median(cpu.api.map((a, r) => a - cpu.bare[r]));
    console.log(
      `median:    bare ${ms(median(cpu.bare))}, api ${ms(median(cpu.api))} per certificate; overhead ${ms(overhead)} per certificate, ${ms(overhead / perCert.api)} per request (requests per certificate: api ${perCert.api}, bare ${perCert.bare})`,
    );
    printRatio(
      'coordinator-http',
      median(cpu.bare.map((b, r) => b / cpu.api[r])),
      `median over ${rounds} interleaved rounds of ${perRound} certificates at ${concurrency} concurrent: bare node HTTPS handler CPU / Coordinator HTTP layer CPU per certificate (a TLS handshake and the requests of one certificate)`,
    );
  } finally {
    await Promise.all(
      Object.values(servers).map((s) => {
        const exited = new Promise((resolve) => s.child.once('exit', resolve));
        s.child.kill('SIGINT');
        return exited;
      }),
    );
    rmSync(simulatorDir, { recursive: true, force: true });
  }
}
