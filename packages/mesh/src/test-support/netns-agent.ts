// A helper process for the network-namespace tests: started with `ip netns exec <ns>`, it does
// what the test asks inside that namespace (one JSON command a line on stdin, one JSON answer a
// line on stdout): echo servers standing in for workloads, the mesh proxy (startMeshProxy from the
// sources), a mesh peer, and client connections.
import { createServer as createNetServer, connect as netConnect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { createServer as createTlsServer, connect as tlsConnect } from 'node:tls';
import { meshConfigFromEnv, planInterception } from '../mesh-config.js';
import { readMeshCredentials, startMeshProxy } from '../proxy.js';

interface Pems {
  key?: string;
  cert?: string;
  ca?: string;
}

type Command =
  | { op: 'serve'; port: number; host: string; prefix: string }
  | { op: 'received' }
  | { op: 'proxy'; env: Record<string, string>; tlsDir: string }
  | { op: 'meshServer'; port: number; host: string; prefix: string; pems: Pems }
  | { op: 'connect'; host: string; port: number; send: string; tls?: Pems };

const received: Record<string, number> = {};

function echo(prefix: string) {
  return (s: Socket) => {
    s.on('error', () => undefined);
    s.on('data', (d) => {
      received[prefix] = (received[prefix] ?? 0) + d.length;
      s.write(`${prefix}:${d.toString()}`);
    });
  };
}

function listen(server: ReturnType<typeof createNetServer>, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}

/** Connects, sends, and returns the first answer or how the connection failed. */
function exchange(c: Extract<Command, { op: 'connect' }>): Promise<{ data?: string; error?: string }> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: { data?: string; error?: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ error: 'timeout' }), 5000);
    const socket = c.tls
      ? tlsConnect({
          host: c.host,
          port: c.port,
          ...(c.tls.key ? { key: c.tls.key, cert: c.tls.cert } : {}),
          ...(c.tls.ca ? { ca: c.tls.ca } : { rejectUnauthorized: false }),
          checkServerIdentity: () => undefined,
        })
      : netConnect({ host: c.host, port: c.port });
    socket.once(c.tls ? 'secureConnect' : 'connect', () => socket.write(c.send));
    socket.once('data', (d) => done({ data: d.toString() }));
    socket.once('error', (e: NodeJS.ErrnoException) => done({ error: e.code ?? e.message }));
    socket.once('close', () => done({ error: 'closed' }));
  });
}

async function handle(c: Command): Promise<unknown> {
  switch (c.op) {
    case 'serve':
      await listen(createNetServer(echo(c.prefix)), c.port, c.host);
      return {};
    case 'received':
      return { ...received };
    case 'proxy': {
      const config = meshConfigFromEnv(c.env);
      const interception = planInterception(config) ?? undefined;
      const proxy = await startMeshProxy({
        credentials: await readMeshCredentials(c.tlsDir),
        ingress: config.ingress ?? [],
        egress: config.egress,
        ...(interception ? { interception } : {}),
        ...(config.adminPort !== undefined ? { adminPort: config.adminPort } : {}),
      });
      return { ports: proxy.ports };
    }
    case 'meshServer': {
      const server = createTlsServer(
        {
          key: c.pems.key,
          cert: c.pems.cert,
          ca: c.pems.ca,
          requestCert: true,
          rejectUnauthorized: true,
        },
        echo(c.prefix),
      );
      await listen(server, c.port, c.host);
      return {};
    }
    case 'connect':
      return exchange(c);
  }
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const { id, ...command } = JSON.parse(line) as Command & { id: number };
  handle(command as Command).then(
    (result) => process.stdout.write(`${JSON.stringify({ id, result })}\n`),
    (e: Error) => process.stdout.write(`${JSON.stringify({ id, error: e.message })}\n`),
  );
});
rl.on('close', () => process.exit(0));
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
