#!/usr/bin/env node
// The main job of the README (`bash tools/run demo`): the end-to-end demo on the simulator
// platform, then a real user's path. Everything runs on this machine, on loopback addresses:
//   - the user's steps are the real `contrast` CLI as a separate process (generate, set, verify,
//     recover, runtime, evidence verify);
//   - the Coordinator, the pods' initializers and their service-mesh proxies are the apps' own code
//     (apps/coordinator, apps/initializer, apps/service-mesh), started in this process, with
//     evidence from the Simulated-TDX platform: real TDX quote layout, signed by a local key chain.
// Usage: node tools/demo/index.mjs [--workspace DIR]   (DIR must be empty or absent)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { startCoordinator } from '@contrast-cc/authority/server';
import { createPlatformRegistry, fromHex, noopLogger } from '@contrast-cc/core';
import { readMeshCredentials, runInitializer, startMeshProxy } from '@contrast-cc/mesh';
import {
  createSimulatedSnpPlatform,
  createSimulatedTdxPlatform,
  createSimulatorTrust,
} from '@contrast-cc/platform-simulator';
import { DirectoryHistoryStore } from '@contrast-cc/store';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = path.join(root, 'apps/cli/dist/bin.js');
const STEPS = 10;
let step = 0;
const cleanup = [];

function title(text) {
  step++;
  console.log(`\n[${step}/${STEPS}] ${text}`);
}

function fail(message) {
  throw new Error(message);
}

function parseArgs() {
  const args = process.argv.slice(2);
  const i = args.indexOf('--workspace');
  const ws = i >= 0 ? args[i + 1] : path.join(tmpdir(), `contrast-demo-${process.pid}-${Date.now()}`);
  if (!ws) fail('--workspace needs a directory');
  const abs = path.resolve(ws);
  if (existsSync(abs) && readdirSync(abs).length > 0)
    fail(`--workspace ${ws}: not empty; give an empty or new directory`);
  mkdirSync(abs, { recursive: true });
  return abs;
}

/**
 * Runs the real CLI as its own process (asynchronously: the Coordinator in this process must keep
 * serving meanwhile); prints the command and its output; returns stdout.
 */
async function contrast(ws, args, { expectExit = 0, quiet = false, env = {} } = {}) {
  console.log(`$ contrast ${args.join(' ')}`);
  const child = spawn(process.execPath, [cli, ...args], {
    cwd: ws,
    env: { ...process.env, CONTRAST_SIMULATOR_DIR: path.join(ws, 'simulator'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let all = '';
  child.stdout.on('data', (b) => {
    stdout += b;
    all += b;
  });
  child.stderr.on('data', (b) => {
    all += b;
  });
  const status = await new Promise((resolve) => child.on('close', resolve));
  const out = all.trimEnd();
  if ((!quiet || status !== expectExit) && out) console.log(out.replace(/^/gm, '  '));
  if (status !== expectExit) fail(`contrast ${args[0]} exited ${status}, expected ${expectExit}`);
  return stdout;
}

function listen(server, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve(server.address().port));
  });
}

function exchange(host, port, text, tlsOptions) {
  return new Promise((resolve, reject) => {
    const socket = tlsOptions ? tlsConnect({ host, port, ...tlsOptions }) : netConnect({ host, port });
    let answer = '';
    socket.setTimeout(10_000, () => socket.destroy(new Error('timeout')));
    socket.on('data', (b) => {
      answer += b.toString();
      socket.end();
    });
    socket.on('error', reject);
    socket.on('close', () => (answer ? resolve(answer) : reject(new Error('closed without an answer'))));
    socket.write(text);
  });
}

/** `openssl verify` of the leaf of a PEM chain against a CA file, the rest of the chain as intermediates. */
function opensslVerifyChain(caFile, chainFile) {
  return spawnSync('openssl', ['verify', '-CAfile', caFile, '-untrusted', chainFile, chainFile], {
    encoding: 'utf8',
  });
}

async function main() {
  const ws = parseArgs();
  const env = { CONTRAST_IMAGE_FACTS: path.join(ws, 'image-facts.json') };
  console.log(`Contrast demo in ${ws}`);
  console.log(
    'Platform: Simulated-TDX — INSECURE, for demonstration only: the evidence has the real TDX quote',
  );
  console.log(
    'layout and is checked by the real verifier, but it is signed by a local key chain, not by Intel.',
  );

  title('The user writes Kubernetes resources (examples/shop) and lets contrast generate patch them');
  cpSync(path.join(root, 'examples/shop'), path.join(ws, 'deployment'), { recursive: true });
  // The example images are not published yet: generate reads recorded image facts, never a registry.
  execFileSync('mv', [path.join(ws, 'deployment/image-facts.json'), env.CONTRAST_IMAGE_FACTS]);
  execFileSync('rm', ['-f', path.join(ws, 'deployment/README.md')]);
  await contrast(ws, ['generate', '--reference-values', 'Simulated-TDX', 'deployment/'], { env });
  const manifest = JSON.parse(readFileSync(path.join(ws, 'manifest.json'), 'utf8'));
  const policyOf = Object.fromEntries(
    Object.entries(manifest.Policies).map(([hash, p]) => [p.SANs[0], { hash, ...p }]),
  );
  const coordinatorPolicy =
    Object.values(policyOf).find((p) => p.Role === 'coordinator') ?? fail('no coordinator policy');

  title('The Coordinator starts in its confidential VM (simulated) with an empty history store');
  const trust = createSimulatorTrust({ dir: path.join(ws, 'simulator') });
  const simTdx = createSimulatedTdxPlatform({ trust });
  const platforms = createPlatformRegistry([createSimulatedSnpPlatform({ trust }), simTdx]);
  const issuerFor = (policyHash) =>
    simTdx.attestation.createIssuer({ logger: noopLogger, hostData: fromHex(policyHash) });
  const storeDir = path.join(ws, 'coordinator-state');
  // The Coordinator with its store directory; calling it again after closing both is a restart.
  const startOnStore = async () => {
    const opened = await DirectoryHistoryStore.open(storeDir);
    const running = await startCoordinator({
      store: opened,
      platforms,
      issuer: issuerFor(coordinatorPolicy.hash),
      allowInsecure: true,
      host: '127.0.0.1',
      port: 0,
      metricsPort: null,
    });
    return { store: opened, coordinator: running };
  };
  let { store, coordinator } = await startOnStore();
  cleanup.push(async () => {
    await coordinator.close();
    await store.close();
  });
  let address = `127.0.0.1:${coordinator.port}`;
  console.log(`  Coordinator API on ${address} (its evidence binds its TLS key and its state)`);

  title('contrast set: attest the Coordinator against the manifest, then set the manifest');
  await contrast(ws, ['set', '-c', address, '--insecure', 'deployment/'], { env });

  title('contrast verify: attest again, fetch the history, check the active manifest is ours');
  await contrast(ws, ['verify', '-c', address, '--insecure']);
  const rootCa = readFileSync(path.join(ws, 'verify/coordinator-root-ca.pem'), 'utf8');

  title("The pods start: each initializer attests with its policy's evidence and gets a mesh certificate");
  const pods = ['web', 'api', 'db', 'migrate'];
  for (const name of pods) {
    const p = policyOf[name] ?? fail(`no policy for ${name} in the manifest`);
    const outDir = path.join(ws, 'pods', name);
    const result = await runInitializer({
      host: '127.0.0.1',
      port: coordinator.port,
      issuer: issuerFor(p.hash),
      outDir,
      initialDelayMs: 200,
      deadlineMs: 60_000,
    });
    const check = opensslVerifyChain(
      path.join(ws, 'verify/coordinator-root-ca.pem'),
      path.join(outDir, 'tls-config/certChain.pem'),
    );
    const verdict = check.error
      ? 'openssl not installed'
      : check.status === 0
        ? 'openssl verify: OK against verify/coordinator-root-ca.pem'
        : fail(`openssl verify failed for ${name}: ${check.stdout}${check.stderr}`);
    console.log(
      `  ${name.padEnd(8)} policy ${p.hash.slice(0, 16)}…  wrote ${result.files.length} files to pods/${name}/  (${verdict})`,
    );
  }

  title('Service mesh: web calls api through the mesh proxies (mutual TLS with mesh certificates)');
  const apiApp = createServer((s) =>
    s.on('data', (b) => s.end(`api answered "${b.toString()}" over the mesh`)),
  );
  const apiPort = await listen(apiApp, '127.0.0.1');
  cleanup.push(() => new Promise((r) => apiApp.close(() => r())));
  const apiProxy = await startMeshProxy({
    credentials: await readMeshCredentials(path.join(ws, 'pods/api/tls-config')),
    ingress: [{ name: 'api', port: apiPort, mode: 'mtls' }],
    egress: [],
    ingressListenHost: '127.0.0.2',
  });
  cleanup.push(() => apiProxy.close());
  const egressPort = await (async () => {
    const s = createServer();
    const p = await listen(s, '127.0.0.3');
    await new Promise((r) => s.close(() => r()));
    return p;
  })();
  const webProxy = await startMeshProxy({
    credentials: await readMeshCredentials(path.join(ws, 'pods/web/tls-config')),
    ingress: [],
    egress: [
      {
        name: 'api',
        listenHost: '127.0.0.3',
        listenPort: egressPort,
        remoteHost: '127.0.0.2',
        remotePort: apiPort,
      },
    ],
    ingressListenHost: '127.0.0.2',
  });
  cleanup.push(() => webProxy.close());
  console.log(
    `  web -> 127.0.0.3:${egressPort} (web's egress) -> mTLS -> 127.0.0.2:${apiPort} (api's ingress) -> api`,
  );
  console.log(`  ${await exchange('127.0.0.3', egressPort, 'GET /orders')}`);
  const refused = await exchange('127.0.0.2', apiPort, 'GET /orders', { rejectUnauthorized: false }).then(
    () => fail('a client without a mesh certificate got through'),
    (e) => e.message,
  );
  console.log(`  a client without a mesh certificate is refused (${refused})`);

  title('The Coordinator restarts (state lost from memory): it comes up stale and must be recovered');
  await coordinator.close();
  await store.close();
  ({ store, coordinator } = await startOnStore());
  address = `127.0.0.1:${coordinator.port}`;
  await contrast(ws, ['verify', '-c', address, '--insecure'], { expectExit: 1 });
  await contrast(ws, ['recover', '-c', address, '--insecure']);
  await contrast(ws, ['verify', '-c', address, '--insecure']);
  // The root CA key comes from the seed: after recovery it is the same key and name, so every
  // client that trusts verify/coordinator-root-ca.pem keeps trusting the deployment.
  const rootKey = (pem) =>
    new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }).toString('hex');
  const rootAfter = readFileSync(path.join(ws, 'verify/coordinator-root-ca.pem'), 'utf8');
  if (
    rootKey(rootAfter) !== rootKey(rootCa) ||
    new X509Certificate(rootAfter).subject !== new X509Certificate(rootCa).subject
  ) {
    fail('the root CA changed across recovery');
  }
  const old = opensslVerifyChain(
    path.join(ws, 'verify/coordinator-root-ca.pem'),
    path.join(ws, 'pods/web/tls-config/certChain.pem'),
  );
  console.log(
    `  the root CA has the same key and name as before the restart${old.status === 0 ? "; web's certificate from before still verifies against it (openssl)" : ''}`,
  );

  title('A real user on a real cluster: the runtime for bare-metal SEV-SNP');
  const runtime = await contrast(ws, ['runtime', '--platform', 'Metal-QEMU-SNP', '--json'], { quiet: true });
  const rt = JSON.parse(runtime);
  writeFileSync(path.join(ws, 'metal-qemu-snp-runtime.json'), runtime);
  console.log(
    `  RuntimeClass ${rt.runtimeClassNames.join(', ')}; ${rt.objects.length} objects (RuntimeClass, node installer) in metal-qemu-snp-runtime.json`,
  );
  console.log(
    '  (contrast runtime --platform Metal-QEMU-SNP | kubectl apply -f -   installs it on a cluster)',
  );

  title('A real user checks real hardware evidence: an AMD SEV-SNP report from a Genoa machine');
  const shared = process.env.CONTRAST_SHARED_DIR ?? path.resolve(root, '../shared');
  const vector = path.join(shared, 'testvectors/snp/oak-genoa-v5-vcek');
  if (existsSync(vector)) {
    await contrast(ws, [
      'evidence',
      'verify',
      '--snp-report',
      path.join(vector, 'report.bin'),
      '--cert',
      path.join(vector, 'vcek.der'),
      '--at',
      '2025-10-01T08:00:00Z',
    ]);
  } else {
    console.log(`  skipped: no real evidence at ${vector} (set CONTRAST_SHARED_DIR)`);
  }

  title('What a real deployment runs, in order');
  console.log(`  contrast generate --reference-values Metal-QEMU-SNP deployment/   # then fill in MinimumTCB in manifest.json
  kubectl apply -f deployment/
  contrast set -c <coordinator-ip>:1313 deployment/
  contrast verify -c <coordinator-ip>:1313        # share verify/coordinator-root-ca.pem with your clients`);

  console.log(
    `\ndemo: done. The workspace ${ws} holds manifest.json, verify/ (coordinator-root-ca.pem, mesh-ca.pem,`,
  );
  console.log(
    "manifest history, policies), seed-shares.json, the owner keys, the pods' certificates and the patched YAML.",
  );
}

let code = 0;
try {
  await main();
} catch (e) {
  console.error(`\ndemo: FAILED: ${e instanceof Error ? e.message : String(e)}`);
  code = 1;
} finally {
  for (const c of cleanup.reverse()) await c().catch(() => {});
}
process.exit(code);
