// The traffic rules for real: two network namespaces this test creates (a pod and a client,
// joined by a veth pair with 10.231.<n>.0/24 addresses that exist only inside them), the rules
// installed by runInitializer with the host's nft / iptables-nft / iptables-legacy, the mesh proxy
// (startMeshProxy) and stand-in workloads on 0.0.0.0 in the pod, clients in the other namespace.
// Needs root and iproute2; skips with a notice otherwise. Namespaces are removed after each
// backend's run, also when a step fails.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type CaHierarchy, createCaHierarchy, SeedEngine } from '@contrast-cc/certs';
import { FakeIssuer } from '@contrast-cc/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInitializer } from './initializer.js';
import { meshConfigFromEnv, planInterception } from './mesh-config.js';
import { fakeCoordinator, POLICY } from './test-support/fake-coordinator.js';
import { issueMeshCredentials } from './test-support/mesh-identity.js';
import {
  type CommandRunner,
  listTrafficRules,
  runCommand,
  type TrafficRulesBackend,
} from './traffic-rules.js';

const canRun =
  process.platform === 'linux' &&
  process.getuid?.() === 0 &&
  spawnSync('ip', ['netns', 'list'], { stdio: 'ignore' }).status === 0;
if (!canRun) {
  console.warn(
    'SKIPPED packages/mesh/src/netns.test.ts: the traffic-rule tests need root, Linux and iproute2 (ip netns)',
  );
}

const register = createRequire(import.meta.url).resolve('@contrast-cc/build-config/ts-register');
const agentScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'test-support', 'netns-agent.ts');

/** A netns-agent process inside a namespace: `call` sends one command and awaits its answer. */
interface Agent {
  child: ChildProcess;
  call<T = Record<string, unknown>>(command: Record<string, unknown>): Promise<T>;
}

function startAgent(ns: string): Promise<Agent> {
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns,
      process.execPath,
      '--conditions=@contrast-cc/source',
      '--import',
      register,
      agentScript,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      const e = new Error(`netns agent in ${ns} exited (${code}): ${stderr}`);
      reject(e);
      for (const p of pending.values()) p.reject(e);
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { ready?: boolean; id?: number; result?: unknown; error?: string };
      if (msg.ready) {
        resolve({
          child,
          call: (command) =>
            new Promise((res, rej) => {
              const id = nextId++;
              pending.set(id, { resolve: res as (v: unknown) => void, reject: rej });
              child.stdin!.write(`${JSON.stringify({ id, ...command })}\n`);
            }),
        });
        return;
      }
      const p = pending.get(msg.id!);
      pending.delete(msg.id!);
      if (msg.error !== undefined) p?.reject(new Error(msg.error));
      else p?.resolve(msg.result);
    });
  });
}

function sh(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
}

/** Mesh credentials in the PEM fields a TLS client or server takes. */
async function credentials(ca: CaHierarchy, name: string) {
  const c = await issueMeshCredentials(ca, name);
  return { key: c.keyPem, cert: c.certChainPem, ca: c.meshCaPem };
}

const BACKENDS = ['nft', 'iptables-nft', 'iptables-legacy'] as const satisfies readonly TrafficRulesBackend[];
/** The tool each backend needs (tools/run installs nftables and iptables). */
const TOOL: Record<(typeof BACKENDS)[number], string> = {
  nft: 'nft',
  'iptables-nft': 'iptables-nft',
  'iptables-legacy': 'iptables-legacy',
};
const hasTool = (b: (typeof BACKENDS)[number]) =>
  spawnSync(TOOL[b], ['--version'], { stdio: 'ignore' }).status === 0;
for (const b of BACKENDS) {
  if (canRun && !hasTool(b))
    console.warn(`SKIPPED netns traffic rules with ${b}: ${TOOL[b]} is not installed`);
}

describe.skipIf(!canRun).each(BACKENDS.filter((b) => !canRun || hasTool(b)).map((b, i) => [b, i] as const))(
  'traffic rules in network namespaces (%s)',
  (backend, index) => {
    const tag = `cm${process.pid % 100000}${index}`;
    const podNs = `${tag}pod`;
    const clientNs = `${tag}cli`;
    const subnet = `10.231.${(process.pid % 200) + index}`;
    const podIp = `${subnet}.1`;
    const clientIp = `${subnet}.2`;
    // The workload's ports: 8080 declared (mTLS by default), 8443 TLS without client auth, 9000
    // plain, 7000 listening but never declared, the admin interface on 9901; egress to a mesh peer
    // in the client namespace and to a server of another CA.
    const env = {
      CONTRAST_INGRESS_PROXY_CONFIG: 'web-tls#8443#false##metrics#9000#true',
      CONTRAST_INGRESS_MTLS_PORTS: '8080',
      CONTRAST_EGRESS_PROXY_CONFIG: `peer#127.0.0.1:16000#${clientIp}:6000##stranger#127.0.0.1:16001#${clientIp}:6001`,
      CONTRAST_ADMIN_PORT: '9901',
    };
    const plan = planInterception(meshConfigFromEnv(env));
    const inPod: CommandRunner = (command, args, input) =>
      runCommand('ip', ['netns', 'exec', podNs, command, ...args], input);
    let ca: CaHierarchy;
    let foreignCa: CaHierarchy;
    let pod: Agent;
    let client: Agent;
    let tlsDir: string;
    const events: string[] = [];
    const fakes: { server: { close(): void } }[] = [];

    const dirs: string[] = [];
    const cleanup = () => {
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
      for (const a of [pod, client]) a?.child.kill('SIGKILL');
      for (const f of fakes) f.server.close();
      for (const ns of [podNs, clientNs]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    };

    async function initialize() {
      const fake = await fakeCoordinator({
        answer: async (publicKey) => {
          events.push('certificate');
          const key = createPublicKey({ key: Buffer.from(publicKey), format: 'der', type: 'spki' });
          const cert = await ca.issueMeshCertificate({ publicKey: key, sans: ['web'] });
          return { cert_chain: cert.chainPem, mesh_ca: ca.meshCa.pem, root_ca: ca.root.pem };
        },
      });
      fakes.push(fake);
      const outDir = await mkdtemp(path.join(tmpdir(), 'contrast-netns-'));
      dirs.push(outDir);
      const run: CommandRunner = (command, args, input) => {
        events.push('rules');
        return inPod(command, args, input);
      };
      const result = await runInitializer({
        host: '127.0.0.1',
        port: fake.port,
        issuer: new FakeIssuer({ policyDigest: POLICY }),
        outDir,
        trafficRules: { plan, backend, run },
      });
      return { result, tlsDir: path.join(outDir, 'tls-config') };
    }

    beforeAll(async () => {
      try {
        cleanup();
        sh(['netns', 'add', podNs]);
        sh(['netns', 'add', clientNs]);
        sh([
          'link',
          'add',
          `${tag}a`,
          'netns',
          podNs,
          'type',
          'veth',
          'peer',
          'name',
          `${tag}b`,
          'netns',
          clientNs,
        ]);
        for (const [ns, dev, ip] of [
          [podNs, `${tag}a`, podIp],
          [clientNs, `${tag}b`, clientIp],
        ] as const) {
          sh(['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', dev]);
          sh(['-n', ns, 'link', 'set', dev, 'up']);
          sh(['-n', ns, 'link', 'set', 'lo', 'up']);
        }
        [ca, foreignCa] = await Promise.all([
          createCaHierarchy(SeedEngine.generate()),
          createCaHierarchy(SeedEngine.generate()),
        ]);
        [pod, client] = await Promise.all([startAgent(podNs), startAgent(clientNs)]);
        for (const port of [8080, 8443, 9000, 7000]) {
          await pod.call({ op: 'serve', port, host: '0.0.0.0', prefix: `w${port}` });
        }
      } catch (e) {
        cleanup();
        throw e;
      }
    }, 60_000);

    afterAll(cleanup);

    it('the initializer installs the rules before it asks for its certificate; the proxy starts on them', async () => {
      const init = await initialize();
      tlsDir = init.tlsDir;
      expect(init.result.trafficRules?.backend).toBe(backend);
      expect(events.indexOf('rules')).toBe(0);
      expect(events.indexOf('certificate')).toBeGreaterThan(events.lastIndexOf('rules'));
      expect(await listTrafficRules(backend, inPod)).toContain('15100');
      const { ports } = await pod.call<{ ports: Record<string, number> }>({ op: 'proxy', env, tlsDir });
      expect(ports).toMatchObject({ 'mtls-8080': 15100, 'web-tls': 15101, 'mtls-9901': 15102, admin: 9901 });
    });

    const connect = (port: number, tls?: { key?: string; cert?: string; ca?: string }, send = 'hello mesh') =>
      client.call<{ data?: string; error?: string }>({
        op: 'connect',
        host: podIp,
        port,
        send,
        ...(tls ? { tls } : {}),
      });

    it('refuses a plain-text client on every listening port the annotation does not exempt', async () => {
      for (const port of [8080, 8443, 9901]) {
        // The proxy answers the TCP handshake (the rules sent the connection to it) and closes it.
        expect(await connect(port), `port ${port}`).toEqual({ error: 'closed' });
      }
      // Listening but not declared, and the proxy's own listeners addressed directly: reset.
      for (const port of [7000, 15100, 15101]) {
        expect(await connect(port), `port ${port}`).toEqual({ error: 'ECONNREFUSED' });
      }
      const received = await pod.call<Record<string, number>>({ op: 'received' });
      expect(received.w8080 ?? 0).toBe(0);
      expect(received.w8443 ?? 0).toBe(0);
      expect(received.w7000 ?? 0).toBe(0);
    });

    it('lets a mesh client through on the mTLS ports and refuses TLS without or with a foreign certificate', async () => {
      const mesh = await credentials(ca, 'client');
      const foreign = await credentials(foreignCa, 'client');
      expect(await connect(8080, { ...mesh })).toEqual({ data: 'w8080:hello mesh' });
      expect((await connect(8080, { ca: mesh.ca })).data).toBeUndefined();
      expect((await connect(8080, { ...foreign, ca: mesh.ca })).data).toBeUndefined();
      const admin = await connect(9901, { ...mesh }, 'GET /stats HTTP/1.0\r\n\r\n');
      expect(admin.data).toMatch(/^HTTP\/1.1 200 OK/);
      expect((await connect(9901, { ca: mesh.ca }, 'GET /stats HTTP/1.0\r\n\r\n')).data).toBeUndefined();
      const received = await pod.call<Record<string, number>>({ op: 'received' });
      expect(received.w8080).toBe('hello mesh'.length);
    });

    it('serves the exempted ports as the annotation says: #false TLS without client auth, #true plain', async () => {
      const mesh = await credentials(ca, 'client');
      expect(await connect(8443, { ca: mesh.ca })).toEqual({ data: 'w8443:hello mesh' });
      expect(await connect(9000)).toEqual({ data: 'w9000:hello mesh' });
    });

    it('carries egress to a mesh peer over mTLS and refuses a server outside the mesh', async () => {
      const peer = await credentials(ca, 'peer');
      const stranger = await credentials(foreignCa, 'stranger');
      await client.call({ op: 'meshServer', port: 6000, host: clientIp, prefix: 'peer', pems: peer });
      await client.call({ op: 'meshServer', port: 6001, host: clientIp, prefix: 'stranger', pems: stranger });
      const viaEgress = (port: number) =>
        pod.call<{ data?: string; error?: string }>({
          op: 'connect',
          host: '127.0.0.1',
          port,
          send: 'hello mesh',
        });
      // The peer requires a client certificate of the mesh CA: the proxy presented the pod's.
      expect(await viaEgress(16000)).toEqual({ data: 'peer:hello mesh' });
      expect((await viaEgress(16001)).data).toBeUndefined();
      // Plain text to the peer directly is what the app must not do; the peer refuses it too.
      const plain = await pod.call<{ data?: string }>({
        op: 'connect',
        host: clientIp,
        port: 6000,
        send: 'hello mesh',
      });
      expect(plain.data).toBeUndefined();
    });

    it('a second initializer run leaves the same rules, and the mesh still works', async () => {
      const listed = () => listTrafficRules(backend, inPod);
      const before = await listed();
      events.length = 0;
      await initialize();
      expect(await listed()).toBe(before);
      if (backend !== 'nft') {
        // One jump per built-in chain and family, not two.
        expect(before.match(/-A PREROUTING -j CONTRAST_MESH_PREROUTING/g)).toHaveLength(2);
        expect(before.match(/-A INPUT -j CONTRAST_MESH_INPUT/g)).toHaveLength(2);
      }
      expect(await connect(8080, await credentials(ca, 'client'))).toEqual({ data: 'w8080:hello mesh' });
      expect(await connect(8080)).toEqual({ error: 'closed' });
    });
  },
);
