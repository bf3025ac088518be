#!/usr/bin/env node
// The shop's API (image examples/shop-api): a REST service on :8081 (--listen) serving the product
// catalogue as JSON, behind the service mesh in a real deployment.
//   shop-api [--listen=[HOST]:PORT]        serve GET /products, GET /healthz
//   shop-api migrate --db=HOST:PORT         wait until the database accepts TCP connections, then exit 0
// SESSION_KEY_FILE (the Contrast workload secret) keys the HMAC of the catalogue's ETag, so the
// tag proves the API got its secret from the Coordinator. No dependencies: Node's standard library only.
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect } from 'node:net';

const PRODUCTS = [
  { id: 1, name: 'Enclave mug', price: 12.5 },
  { id: 2, name: 'Attestation sticker pack', price: 4 },
  { id: 3, name: 'Sealed hoodie', price: 49 },
];

function flag(args, name, fallback) {
  const hit = args.find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? fallback : hit.slice(name.length + 3);
}

function hostPort(value, what) {
  const m = /^(.*):(\d{1,5})$/.exec(value);
  if (!m || Number(m[2]) > 65535) {
    console.error(`shop-api: ${what} "${value}" is not [HOST]:PORT`);
    process.exit(2);
  }
  return { host: m[1] || '0.0.0.0', port: Number(m[2]) };
}

function log(level, msg) {
  if (level === 'debug' && process.env.LOG_LEVEL !== 'debug') return;
  console.log(JSON.stringify({ level, msg }));
}

async function migrate(args) {
  const db = hostPort(flag(args, 'db', ''), '--db');
  for (let attempt = 1; attempt <= 60; attempt++) {
    const ok = await new Promise((resolve) => {
      const s = connect(db.port, db.host === '0.0.0.0' ? '127.0.0.1' : db.host);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) {
      log('info', `database ${db.host}:${db.port} reachable; schema up to date`);
      return;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  console.error(`shop-api migrate: database ${db.host}:${db.port} not reachable`);
  process.exit(1);
}

function serve(args) {
  const { host, port } = hostPort(flag(args, 'listen', ':8081'), '--listen');
  let key;
  if (process.env.SESSION_KEY_FILE) {
    try {
      key = readFileSync(process.env.SESSION_KEY_FILE);
    } catch (e) {
      console.error(`shop-api: SESSION_KEY_FILE ${process.env.SESSION_KEY_FILE}: ${e.code ?? e.message}`);
      process.exit(1);
    }
  }
  const body = JSON.stringify(PRODUCTS);
  const etag = key ? createHmac('sha256', key).update(body).digest('hex').slice(0, 32) : undefined;
  const server = createServer((req, res) => {
    log('debug', `${req.method} ${req.url}`);
    if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (req.method === 'GET' && req.url === '/products') {
      res
        .writeHead(200, { 'content-type': 'application/json', ...(etag ? { etag: `"${etag}"` } : {}) })
        .end(body);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  server.listen(port, host, () => log('info', `shop-api listening on ${host}:${port}`));
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
}

const args = process.argv.slice(2);
if (args[0] === 'migrate') await migrate(args.slice(1));
else serve(args);
