#!/usr/bin/env node
// The port-forwarder image's program (tools/images builds it into `port-forwarder`, /app/port-forwarder):
// a TCP relay for `contrast port-forward`. Kata cannot serve `kubectl port-forward` into a
// confidential pod, so the CLI starts this program in a plain pod (default runtime) and forwards
// to it through the Kubernetes port-forward API; every connection it accepts is relayed to the
// target (a Service's DNS name or a pod IP) and back, byte for byte, half-closes included.
//
// Environment:
//   FORWARD_TARGET_HOST   the host to relay to (required)
//   FORWARD_TARGET_PORT   its port (required)
//   FORWARD_LISTEN_HOST   where the relay listens; default 127.0.0.1: the kubelet's port-forward
//                         dials localhost inside the pod's network namespace, so nothing else in
//                         the cluster can use the relay
//   FORWARD_LISTEN_PORT   default 8000 (0: any free port, for tests)
//   FORWARD_HEALTH_HOST   default :: (every address, IPv4 and IPv6; 0.0.0.0 where the pod has no
//                         IPv6): the kubelet's tcpSocket probe dials the pod IP
//   FORWARD_HEALTH_PORT   default 8001 (0: any). It listens only after the target accepted one
//                         connection, so the pod is Ready only when forwarding can work; until
//                         then the target is tried once a second and each new error is logged.
//
// Logs: one JSON object per line on stdout. No dependencies: Node's standard library only.
import net from 'node:net';
import process from 'node:process';

const log = (msg, fields = {}) =>
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...fields })}\n`);

function port(name, fallback) {
  const raw = process.env[name] ?? (fallback === undefined ? undefined : String(fallback));
  const n = Number(raw);
  if (raw === undefined || raw === '' || !Number.isInteger(n) || n < 0 || n > 65535) {
    log('bad configuration', { variable: name, value: raw ?? null });
    process.exit(2);
  }
  return n;
}

const targetHost = process.env.FORWARD_TARGET_HOST ?? '';
if (targetHost === '') {
  log('bad configuration', { variable: 'FORWARD_TARGET_HOST', value: null });
  process.exit(2);
}
const targetPort = port('FORWARD_TARGET_PORT');
const listenHost = process.env.FORWARD_LISTEN_HOST || '127.0.0.1';
const listenPort = port('FORWARD_LISTEN_PORT', 8000);
const healthHosts = process.env.FORWARD_HEALTH_HOST ? [process.env.FORWARD_HEALTH_HOST] : ['::', '0.0.0.0'];
const healthPort = port('FORWARD_HEALTH_PORT', 8001);
const target = `${targetHost.includes(':') ? `[${targetHost}]` : targetHost}:${targetPort}`;

let connections = 0;
const relay = net.createServer({ allowHalfOpen: true }, (client) => {
  const id = ++connections;
  const upstream = net.connect({ host: targetHost, port: targetPort, allowHalfOpen: true });
  let failed = false;
  upstream.on('error', (error) => {
    failed = true;
    log('target connection failed', { connection: id, target, error: error.code ?? error.message });
    client.destroy();
  });
  client.on('error', () => upstream.destroy());
  upstream.on('connect', () => log('relaying', { connection: id, target }));
  client.pipe(upstream);
  upstream.pipe(client);
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => {
    if (!failed) client.end();
  });
});

const health = net.createServer((socket) => socket.destroy());

function listen(server, host, p) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(p, host, () => resolve(server.address().port));
  });
}

/** Waits until the target accepts a connection: tries once a second, logs each new error once. */
async function reachTarget() {
  let last = '';
  for (;;) {
    const error = await new Promise((resolve) => {
      const s = net.connect({ host: targetHost, port: targetPort });
      s.setTimeout(5000, () => s.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      s.once('connect', () => {
        s.destroy();
        resolve(undefined);
      });
      s.once('error', (e) => resolve(e.code ?? e.message));
    });
    if (error === undefined) return;
    if (error !== last) log('target not reachable yet', { target, error });
    last = error;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function stop(signal) {
  log('stopping', { signal });
  relay.close();
  health.close();
  process.exit(0);
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

try {
  const relayPort = await listen(relay, listenHost, listenPort);
  log('listening', { address: listenHost, port: relayPort, target });
  await reachTarget();
  let ready;
  for (const host of healthHosts) {
    try {
      ready = { host, port: await listen(health, host, healthPort) };
      break;
    } catch (error) {
      // no IPv6 in this pod: the next (IPv4) address
      if (host === healthHosts.at(-1) || !['EAFNOSUPPORT', 'EADDRNOTAVAIL'].includes(error.code)) throw error;
    }
  }
  log('ready', { address: ready.host, healthPort: ready.port, target });
} catch (error) {
  log('cannot listen', { error: error.code ?? error.message });
  process.exit(1);
}
