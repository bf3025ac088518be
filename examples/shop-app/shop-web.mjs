#!/usr/bin/env node
// The shop's front end (image examples/shop-web): serves an HTML page on :8080 (--listen) listing
// the products it fetches from the API (--api, the service mesh's egress address in a deployment).
//   shop-web [--listen=[HOST]:PORT] [--api=URL]     GET / (page), GET /api/products (proxied), GET /healthz
// No dependencies: Node's standard library only.
import { createServer } from 'node:http';

function flag(args, name, fallback) {
  const hit = args.find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? fallback : hit.slice(name.length + 3);
}

const args = process.argv.slice(2);
const listen = /^(.*):(\d{1,5})$/.exec(flag(args, 'listen', ':8080'));
if (!listen) {
  console.error('shop-web: --listen is not [HOST]:PORT');
  process.exit(2);
}
let api;
try {
  api = new URL(flag(args, 'api', 'http://127.137.0.1:8081'));
} catch {
  console.error('shop-web: --api is not a URL');
  process.exit(2);
}

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function products() {
  const res = await fetch(new URL('/products', api), { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`API answered ${res.status}`);
  return res.json();
}

const server = createServer(async (req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    return;
  }
  if (req.url !== '/' && req.url !== '/api/products') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  let list;
  try {
    list = await products();
  } catch (e) {
    res
      .writeHead(502, { 'content-type': 'text/plain' })
      .end(`shop-web: the API at ${api.origin} failed: ${e.message}\n`);
    return;
  }
  if (req.url === '/api/products') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(list));
    return;
  }
  const items = list.map((p) => `<li>${escapeHtml(p.name)}: ${escapeHtml(p.price)} EUR</li>`).join('');
  res
    .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    .end(`<!doctype html><title>Shop</title><h1>Shop</h1><ul>${items}</ul>\n`);
});
server.listen(Number(listen[2]), listen[1] || '0.0.0.0', () =>
  console.log(
    JSON.stringify({ level: 'info', msg: `shop-web listening on ${listen[1] || '0.0.0.0'}:${listen[2]}` }),
  ),
);
process.once('SIGTERM', () => server.close(() => process.exit(0)));
