// The flow of `contrast demo`: the whole life of a Contrast deployment on this machine, on the
// simulator platform, with the CLI's own commands (generate, set, verify, recover) run in-process,
// the Coordinator as a separate process (two replicas on one store for the HA step, which recover
// from each other by peer recovery), and the pods' initializers and mesh proxies
// (@contrast-cc/mesh) in this process. Every check uses node:crypto, never an external tool.
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, connect as netConnect, type Server } from 'node:net';
import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fromHex, noopLogger, type PlatformRegistry } from '@contrast-cc/core';
import {
  type MeshProxy,
  parseEgressConfig,
  parseIngressConfig,
  readMeshCredentials,
  runInitializer,
  startMeshProxy,
} from '@contrast-cc/mesh';
import type { Command } from '../command.js';
import { createGenerateCommand } from '../commands/generate.js';
import { createRecoverCommand } from '../commands/recover.js';
import { createSetCommand } from '../commands/set.js';
import { createVerifyCommand } from '../commands/verify.js';
import { takeGlobalFlags, withGlobals } from '../globals.js';
import { cliImageSource } from '../images.js';
import type { CliIo } from '../io.js';
import { cliPlatformRegistry } from '../platforms.js';
import { coordinatorProcessArgs } from './coordinator-process.js';
import { type Cleanup, closeServer, listen, podAddress, spawnServing, stopChild } from './processes.js';
import { SHOP_EXAMPLE } from './shop.js';

/** How long a replica may take to recover itself from its peer before the demo fails. */
const PEER_RECOVERY_TIMEOUT_MS = 30_000;

/** The pods of examples/shop that get a mesh certificate (the Coordinator is the fifth workload). */
export const DEMO_PODS = ['web', 'api', 'db', 'migrate'] as const;
export const DEMO_STEPS = 10;

/** What `contrast demo --json` prints. */
export interface DemoSummary {
  ok: boolean;
  workspace: string;
  platform: 'Simulated-TDX';
  insecure: true;
  transitionHash?: string;
  coordinator: { pids: number[]; ports: number[] };
  pods: { name: string; policyHash: string; chainVerified: boolean }[];
  mesh?: { request: string; answer: string; refusedWithoutCertificate: string };
  recovery?: { staleAfterRestart: boolean; recovered: boolean; sameRootCa: boolean };
  /** High availability: replicas on the same store that recovered themselves from a peer. */
  ha?: {
    /** Replica B (started next to A), then replica A restarted after its SIGKILL. */
    replicas: DemoReplica[];
    /** `contrast verify` against B: the same latest transition (manifest) and root CA as A's. */
    sameManifest: boolean;
    sameRootCa: boolean;
    /** An initializer's mesh certificate from the restarted A chains to the root CA. */
    meshCertificate: { pod: string; from: string; chainVerified: boolean; sameWorkloadSecret: boolean };
  };
  files: string[];
  cleanup: { stopped: number; errors: string[] };
  error?: string;
}

/** One Coordinator replica of the HA step. */
export interface DemoReplica {
  name: 'B' | 'A';
  pid: number;
  /** Its API address, 127.0.0.1:port. */
  address: string;
  /** The peers it was given (`host:port`). */
  peers: string[];
  /** Its status when it started listening. */
  startedAs: string;
  /** The peer it recovered from (the Coordinator's own report). */
  recoveredFrom: string;
  /** Milliseconds from listening to recovered. */
  recoveredAfterMs: number;
}

export interface DemoOptions {
  workspace: string;
  json: boolean;
  /** Show the Coordinator processes' log lines as they come (else only on failure). */
  verbose?: boolean;
  /** How long a replica may take to recover itself from its peer (default 30 s). */
  peerRecoveryTimeoutMs?: number;
  /** How to start this CLI again as a process: [node, ...execArgv, bin]. */
  self: readonly string[];
  io: CliIo;
  /** Replaced by the command to stop everything on SIGINT/SIGTERM. */
  cleanup: Cleanup;
}

class DemoFailure extends Error {}

const fail = (message: string): never => {
  throw new DemoFailure(message);
};

/** Splits a PEM bundle into certificates. */
function certificates(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
    (block) => new X509Certificate(block),
  );
}

/**
 * Checks with node:crypto that the chain (leaf first) leads to `root`: each certificate is issued
 * and signed by the next, the last by the root, and all are valid now. Returns the problem, if any.
 */
export function chainProblem(chainPem: string, rootPem: string, now = new Date()): string | undefined {
  const chain = certificates(chainPem);
  const [root] = certificates(rootPem);
  if (chain.length === 0) return 'the chain has no certificate';
  if (!root) return 'the root CA file has no certificate';
  const path_ = [...chain, root];
  for (let i = 0; i < path_.length; i++) {
    const cert = path_[i]!;
    const issuer = path_[i + 1] ?? root;
    if (now < new Date(cert.validFrom) || now > new Date(cert.validTo)) {
      return `${cert.subject.replace(/\n/g, ', ')} is not valid now`;
    }
    if (!cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) {
      return `${cert.subject.replace(/\n/g, ', ')} is not signed by ${issuer.subject.replace(/\n/g, ', ')}`;
    }
  }
  return undefined;
}

/** Sends `text` and resolves the answer; rejects when the peer refuses or closes without one. */
function exchange(
  connect: () => import('node:net').Socket,
  text: string,
  timeoutMs = 10_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect();
    let answer = '';
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error('timeout')));
    socket.on('data', (b: Buffer) => {
      answer += b.toString();
      socket.end();
    });
    socket.on('error', (e) => reject(e));
    socket.on('close', () => (answer ? resolve(answer) : reject(new Error('closed without an answer'))));
    socket.write(text);
  });
}

function annotation(yaml: string, key: string): string {
  const m = new RegExp(`contrast\\.edgeless\\.systems/${key}:\\s*"([^"]*)"`).exec(yaml);
  return m?.[1] ?? '';
}

/** Runs the demo; never throws: failures end up in the summary (`ok: false`, `error`). */
export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const { io, workspace: ws, json, cleanup } = options;
  const say = (text: string) => {
    if (!json) io.stdout(`${text}\n`);
  };
  let step = 0;
  const title = (text: string) => say(`\n[${++step}/${DEMO_STEPS}] ${text}`);
  const simulatorDir = path.join(ws, 'simulator');
  const registry: PlatformRegistry = cliPlatformRegistry({ simulatorDir });
  const summary: DemoSummary = {
    ok: false,
    workspace: ws,
    platform: 'Simulated-TDX',
    insecure: true,
    coordinator: { pids: cleanup.pids, ports: [] },
    pods: [],
    files: [],
    cleanup: { stopped: 0, errors: [] },
  };
  const env = { ...io.env, CONTRAST_IMAGE_FACTS: path.join(ws, 'image-facts.json') };

  /** Runs one of the CLI's commands in-process in the workspace, its output indented. */
  const contrast = async (command: Command, args: string[], expectExit = 0): Promise<string> => {
    say(`$ contrast ${command.name} ${args.join(' ')}`);
    let out = '';
    let all = '';
    // As the binary would: the global flags (--workspace-dir, --log-level) apply to every command.
    const globals = takeGlobalFlags(args);
    if ('error' in globals) return fail(globals.error);
    const { argv, ...flags } = globals;
    const code = await command.run(
      argv,
      withGlobals(
        {
          cwd: ws,
          env,
          stdout: (t) => {
            out += t;
            all += t;
          },
          stderr: (t) => {
            all += t;
          },
        },
        flags,
      ),
    );
    const text = all.trimEnd();
    if (text && (!json || code !== expectExit)) {
      const indented = text.replace(/^/gm, '  ');
      if (json) io.stderr(`${indented}\n`);
      else say(indented);
    }
    if (code !== expectExit) fail(`contrast ${command.name} exited ${code}, expected ${expectExit}`);
    return out;
  };

  // The log lines of every Coordinator process: shown as they come with --verbose, else only
  // after a failure (the last lines of each, on stderr).
  const logs = new Map<string, string[]>();
  const startCoordinator = async (policyHash: string, peers?: string[]) => {
    const [command, ...prefix] = options.self;
    const name = `coordinator-${logs.size + 1}`;
    const lines: string[] = [];
    logs.set(name, lines);
    const onLog = (line: string) => {
      lines.push(line);
      if (lines.length > 200) lines.shift();
      if (!options.verbose) return;
      if (json) io.stderr(`    ${name}| ${line}\n`);
      else say(`    ${name}| ${line}`);
    };
    const running = await spawnServing(
      command!,
      [
        ...prefix,
        'demo',
        ...coordinatorProcessArgs({
          storeDir: path.join(ws, 'coordinator-state'),
          simulatorDir,
          policyHash,
          ...(peers ? { peers } : {}),
        }),
      ],
      { timeoutMs: 60_000, cleanup, name, onLog },
    );
    summary.coordinator.ports.push(running.port);
    return { ...running, name };
  };

  say(`Contrast demo in ${ws}`);
  say('Platform: Simulated-TDX. INSECURE, for demonstration only: the evidence has the real TDX quote');
  say(
    'layout and is checked by the real verifier, but it is signed by a key made on this machine, not by Intel.',
  );

  try {
    title('An app to protect: examples/shop (web, api, db, migrate, and the Coordinator); contrast generate');
    const deployment = path.join(ws, 'deployment');
    await mkdir(deployment, { recursive: true });
    for (const [name, text] of Object.entries(SHOP_EXAMPLE)) {
      // The example images are not published: generate reads their recorded facts, never a registry.
      await writeFile(
        name === 'image-facts.json' ? env.CONTRAST_IMAGE_FACTS : path.join(deployment, name),
        text,
      );
    }
    const generate = createGenerateCommand({ registry, images: cliImageSource });
    await contrast(generate, ['--reference-values', 'Simulated-TDX', 'deployment/']);
    const manifest = JSON.parse(await readFile(path.join(ws, 'manifest.json'), 'utf8')) as {
      Policies: Record<string, { SANs: string[]; Role?: string }>;
    };
    const policyOf = new Map(Object.entries(manifest.Policies).map(([hash, p]) => [p.SANs[0] ?? hash, hash]));
    const coordinatorPolicy =
      Object.entries(manifest.Policies).find(([, p]) => p.Role === 'coordinator')?.[0] ??
      fail('the manifest has no coordinator policy');
    say(`  manifest.json: ${Object.keys(manifest.Policies).length} workload policies (one per pod, by hash)`);

    title(
      'The Coordinator starts in its own (simulated) confidential VM: a separate process, history on disk',
    );
    let coordinator = await startCoordinator(coordinatorPolicy);
    let address = `127.0.0.1:${coordinator.port}`;
    say(
      `  Coordinator pid ${coordinator.pid}, API on ${address}, store ${path.join('coordinator-state', '')}`,
    );

    title(
      'contrast set: attest the Coordinator (its evidence must match the manifest), then give it the manifest',
    );
    const set = createSetCommand({ registry });
    // The Coordinator is already up (the demo waited for it): nothing to wait for.
    await contrast(set, ['-c', address, '--insecure', '--wait', '0', 'deployment/']);

    title('contrast verify: attest again, fetch the manifest history, check the active manifest is ours');
    const verify = createVerifyCommand({ registry });
    await contrast(verify, ['-c', address, '--insecure']);
    summary.transitionHash = (await readFile(path.join(ws, 'verify', 'latest-transition'), 'utf8')).trim();
    const rootCaFile = path.join(ws, 'verify', 'coordinator-root-ca.pem');
    const rootCa = await readFile(rootCaFile, 'utf8');

    title('The pods start: each initializer proves its policy with evidence and gets a mesh certificate');
    const tdx = registry.get('Simulated-TDX');
    const createIssuer = tdx.attestation.createIssuer ?? fail('Simulated-TDX has no issuer');
    for (const name of DEMO_PODS) {
      const policyHash = policyOf.get(name) ?? fail(`the manifest has no policy for ${name}`);
      const outDir = path.join(ws, 'pods', name);
      const result = await runInitializer({
        host: '127.0.0.1',
        port: coordinator.port,
        issuer: createIssuer({ logger: noopLogger, hostData: fromHex(policyHash) }),
        outDir,
        initialDelayMs: 200,
        deadlineMs: 60_000,
      });
      const chain = await readFile(path.join(outDir, 'tls-config', 'certChain.pem'), 'utf8');
      const problem = chainProblem(chain, rootCa);
      if (problem)
        fail(`the certificate of ${name} does not chain to verify/coordinator-root-ca.pem: ${problem}`);
      summary.pods.push({ name, policyHash, chainVerified: true });
      say(
        `  ${name.padEnd(8)} policy ${policyHash.slice(0, 16)}…  ${result.files.length} files in pods/${name}/, certificate chains to verify/coordinator-root-ca.pem`,
      );
    }

    title('Service mesh: a proxy per pod; web calls api through them (mutual TLS with mesh certificates)');
    const pod = await podAddress();
    const apps: Record<string, { server: Server; port: number }> = {};
    for (const name of DEMO_PODS) {
      const server = createServer((s) =>
        s.on('data', (b: Buffer) => s.end(`${name} answered "${b.toString()}" over the mesh`)),
      );
      const port = await listen(server, '127.0.0.1');
      cleanup.add(`app-${name}`, () => closeServer(server));
      apps[name] = { server, port };
    }
    // web's egress annotation says where its app reaches api; the ports are free ones of this machine.
    const webYaml = SHOP_EXAMPLE['web.yml'] ?? '';
    const [apiRule] = parseEgressConfig(annotation(webYaml, 'servicemesh-egress'));
    if (!apiRule) fail('web.yml has no egress annotation for api');
    const egressPort = await (async () => {
      const probe = createServer();
      const p = await listen(probe, '127.0.0.1');
      await closeServer(probe);
      return p;
    })();
    const proxies: Record<string, MeshProxy> = {};
    for (const name of DEMO_PODS) {
      const port = apps[name]!.port;
      proxies[name] = await startMeshProxy({
        credentials: await readMeshCredentials(path.join(ws, 'pods', name, 'tls-config')),
        // Upstream requires a mesh client certificate on every port not in the ingress annotation.
        ingress: parseIngressConfig('', [port]) ?? [],
        egress:
          name === 'web'
            ? [
                {
                  name: apiRule!.name,
                  listenHost: '127.0.0.1',
                  listenPort: egressPort,
                  remoteHost: pod,
                  remotePort: apps.api!.port,
                },
              ]
            : [],
        ingressListenHost: pod,
      });
      const proxy = proxies[name]!;
      cleanup.add(`proxy-${name}`, () => proxy.close());
    }
    const podHost = pod.includes(':') ? `[${pod}]` : pod;
    say(
      `  web.yml egress "${annotation(webYaml, 'servicemesh-egress')}" -> here 127.0.0.1:${egressPort} -> mTLS -> ${podHost}:${apps.api!.port} (api's proxy) -> api`,
    );
    const request = 'GET /orders';
    const answer = await exchange(() => netConnect({ host: '127.0.0.1', port: egressPort }), request);
    if (!answer.startsWith('api answered')) fail(`unexpected answer through the mesh: ${answer}`);
    say(`  web sent "${request}": ${answer}`);

    title('Without a mesh certificate there is no way in');
    const refused = await exchange(
      () => tlsConnect({ host: pod, port: apps.api!.port, rejectUnauthorized: false }),
      request,
    ).then(
      (a) => fail(`a client without a mesh certificate got through: ${a}`),
      (e: NodeJS.ErrnoException) => e.code ?? e.message.split('\n')[0] ?? 'refused',
    );
    say(`  a TLS client without a mesh certificate to api's proxy: refused (${refused})`);
    summary.mesh = { request, answer, refusedWithoutCertificate: refused };

    title(
      'The Coordinator crashes (SIGKILL) and restarts on its store: stale until a seed-share owner recovers it',
    );
    await stopChild(coordinator.child, 'SIGKILL');
    await cleanup.run(coordinator.name);
    coordinator = await startCoordinator(coordinatorPolicy);
    address = `127.0.0.1:${coordinator.port}`;
    say(`  Coordinator pid ${coordinator.pid}, API on ${address}`);
    await contrast(verify, ['-c', address, '--insecure'], 1);
    await contrast(createRecoverCommand({ registry }), ['-c', address, '--insecure']);
    await contrast(verify, ['-c', address, '--insecure']);
    // The root CA key comes from the seed: after recovery it is the same key and name, so every
    // client that trusts verify/coordinator-root-ca.pem keeps trusting the deployment.
    const rootAfter = await readFile(rootCaFile, 'utf8');
    const spki = (pem: string) =>
      new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }).toString('hex');
    const sameRootCa =
      spki(rootAfter) === spki(rootCa) &&
      new X509Certificate(rootAfter).subject === new X509Certificate(rootCa).subject;
    if (!sameRootCa) fail('the root CA changed across recovery');
    const oldChain = await readFile(path.join(ws, 'pods', 'web', 'tls-config', 'certChain.pem'), 'utf8');
    const oldStillValid = chainProblem(oldChain, rootAfter) === undefined;
    say(
      `  same root CA key and name as before the crash${oldStillValid ? "; web's certificate from before still chains to it" : ''}`,
    );
    summary.recovery = { staleAfterRestart: true, recovered: true, sameRootCa };

    title(
      'High availability: a second Coordinator replica on the same store recovers by itself from its peer',
    );
    const replicas: DemoReplica[] = [];
    /** Starts a replica with one peer; it must start stale and recover from that peer alone. */
    const startReplica = async (name: 'A' | 'B', peer: string) => {
      const replica = await startCoordinator(coordinatorPolicy, [peer]);
      const at = `127.0.0.1:${replica.port}`;
      const startedAs = String(replica.ready.status);
      say(
        `  replica ${name}: pid ${replica.pid}, API on ${at}, same store, peer ${peer}: it starts ${startedAs}`,
      );
      if (startedAs !== 'stale')
        fail(`replica ${name} started ${startedAs}, expected stale (the store has a history)`);
      const t0 = Date.now();
      const recovered = await replica
        .waitForEvent(
          (e) => e.event === 'recovered',
          `recovery from peer ${peer}`,
          options.peerRecoveryTimeoutMs ?? PEER_RECOVERY_TIMEOUT_MS,
        )
        .catch((e: Error) => fail(`replica ${name} did not recover by itself: ${e.message}`));
      const from = String(recovered.from);
      if (from !== peer) fail(`replica ${name} recovered from ${from}, not from its peer ${peer}`);
      const entry: DemoReplica = {
        name,
        pid: replica.pid,
        address: at,
        peers: [peer],
        startedAs,
        recoveredFrom: from,
        recoveredAfterMs: Date.now() - t0,
      };
      replicas.push(entry);
      say(
        `  replica ${name} recovered by itself from ${from} in ${entry.recoveredAfterMs} ms (attested it, proved its own coordinator policy, got the secrets sealed to its key): no seed share, no human`,
      );
      return { ...replica, address: at };
    };
    const replicaA = { ...coordinator, address };
    say(`  replica A: the Coordinator of step 8, pid ${replicaA.pid}, API on ${replicaA.address}, active`);
    const replicaB = await startReplica('B', replicaA.address);
    const haVerify = path.join('ha', 'replica-b');
    // The expected manifest is the workspace's; verify/ goes to ha/ (the global --workspace-dir).
    await contrast(verify, [
      '-c',
      replicaB.address,
      '--insecure',
      '-m',
      'manifest.json',
      '--workspace-dir',
      haVerify,
    ]);
    const transitionA = (await readFile(path.join(ws, 'verify', 'latest-transition'), 'utf8')).trim();
    const transitionB = (
      await readFile(path.join(ws, haVerify, 'verify', 'latest-transition'), 'utf8')
    ).trim();
    const rootB = await readFile(path.join(ws, haVerify, 'verify', 'coordinator-root-ca.pem'), 'utf8');
    const sameManifest = transitionB === transitionA;
    const sameRootCaB = new X509Certificate(rootB).raw.equals(new X509Certificate(rootAfter).raw);
    if (!sameManifest) fail(`replica B is at transition ${transitionB}, replica A at ${transitionA}`);
    if (!sameRootCaB) fail("replica B's root CA is not replica A's");
    say(
      `  replica B: the same manifest (transition ${transitionB.slice(0, 16)}…) and the same root CA, byte for byte (${path.join(haVerify, 'verify', '')})`,
    );
    await stopChild(replicaA.child, 'SIGKILL');
    await cleanup.run(replicaA.name);
    say(`  replica A (pid ${replicaA.pid}) crashes (SIGKILL); replica B keeps serving`);
    const restartedA = await startReplica('A', replicaB.address);
    const haPod = 'web';
    const haOut = path.join(ws, 'ha', haPod);
    await runInitializer({
      host: '127.0.0.1',
      port: restartedA.port,
      issuer: createIssuer({
        logger: noopLogger,
        hostData: fromHex(policyOf.get(haPod) ?? fail(`the manifest has no policy for ${haPod}`)),
      }),
      outDir: haOut,
      initialDelayMs: 200,
      deadlineMs: 30_000,
    });
    const haChain = await readFile(path.join(haOut, 'tls-config', 'certChain.pem'), 'utf8');
    const haProblem = chainProblem(haChain, rootCa);
    if (haProblem) {
      fail(`the mesh certificate from the restarted replica A does not chain to the root CA: ${haProblem}`);
    }
    // The workload secret derives from the seed: the same one as step 5's proves the same seed
    // (compared here, never printed).
    const secretFile = path.join('secrets', 'workload-secret-seed');
    const sameWorkloadSecret = (await readFile(path.join(haOut, secretFile))).equals(
      await readFile(path.join(ws, 'pods', haPod, secretFile)),
    );
    if (!sameWorkloadSecret)
      fail(`the restarted replica A gave ${haPod} another workload secret than before`);
    say(
      `  a new ${haPod} initializer got a mesh certificate from replica A (ha/${haPod}/): it chains to verify/coordinator-root-ca.pem, and the same workload secret as in step 5 (same seed)`,
    );
    summary.ha = {
      replicas,
      sameManifest,
      sameRootCa: sameRootCaB,
      meshCertificate: { pod: haPod, from: restartedA.address, chainVerified: true, sameWorkloadSecret },
    };

    title('Stop everything the demo started');
    summary.ok = true;
  } catch (e) {
    summary.error = e instanceof Error ? e.message : String(e);
    if (!options.verbose) {
      for (const [name, lines] of logs) {
        if (lines.length === 0) continue;
        io.stderr(`${name} log (last ${Math.min(lines.length, 40)} lines):\n`);
        io.stderr(
          `${lines
            .slice(-40)
            .map((l) => `    ${name}| ${l}`)
            .join('\n')}\n`,
        );
      }
    }
  } finally {
    summary.cleanup = await cleanup.stopAll();
  }
  // What the workspace holds now (after a failure: as far as the demo got).
  for (const f of [
    'manifest.json',
    'verify/coordinator-root-ca.pem',
    'verify/mesh-ca.pem',
    'seed-shares.json',
    'workload-owner.pem',
    'seedshare-owner.pem',
    'deployment',
    'pods',
    'ha',
  ]) {
    if (
      await stat(path.join(ws, f)).then(
        () => true,
        () => false,
      )
    )
      summary.files.push(f);
  }
  if (summary.ok) {
    say(
      `  stopped ${summary.cleanup.stopped} processes and servers (Coordinator pids ${cleanup.pids.join(', ')})`,
    );
    say(`
What you saw
  - contrast generate gave every pod a policy and wrote them into manifest.json.
  - The Coordinator proved (with simulated TDX evidence) that it runs the expected code before
    contrast set gave it the manifest; contrast verify checked it again and saved its CAs in verify/.
  - Each pod proved its policy the same way and got a mesh certificate; all of them chain to
    verify/coordinator-root-ca.pem, the one certificate your clients need to trust.
  - web reached api only through the mesh (mutual TLS); a client without a mesh certificate was refused.
  - After a crash the Coordinator waited for recovery; contrast recover restored it with the same root CA.
  - With a second replica on the same store, no human is needed: each restarted replica attested an
    active peer and recovered from it (same manifest, same root CA), and went on issuing certificates.
Workspace ${ws}: manifest.json, verify/ (coordinator-root-ca.pem, mesh-ca.pem, history), seed-shares.json
(keep it safe: it recovers the Coordinator), the owner keys, the patched YAML in deployment/, the pods' files,
ha/ (replica B's verify/, the mesh certificate from the restarted replica A).
On a real cluster: contrast generate --reference-values Metal-QEMU-SNP --assets runtime-assets.json deployment/; kubectl apply -f deployment/;
contrast set -c <coordinator>:1314 deployment/; contrast verify -c <coordinator>:1314.`);
  }
  if (summary.cleanup.errors.length > 0) summary.ok = false;
  return summary;
}
