import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { KdsClient } from '../snp/kds.js';
import { parseSnpReport, type SnpProductLine } from '../snp/report.js';
import type { TdxCollateral } from '../tdx/collateral.js';

/** A loopback HTTP stand-in that can be told to fail, hang, stop and come back. */
export interface FakeCollateralServer {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** Every request path (with query), in order. */
  readonly requests: string[];
  /**
   * What every request gets instead of its document: an HTTP status (with `Retry-After: 0` for
   * 429/503), `'hang'` (no answer), or undefined to serve normally.
   */
  failWith: number | 'hang' | undefined;
  /** Stops listening (connections are refused) until {@link start}. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

interface Route {
  body: Uint8Array | string;
  headers: Record<string, string>;
}

async function serve(routes: Map<string, Route>): Promise<FakeCollateralServer> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const hanging = new Set<ServerResponse>();
  let port = 0;
  let server: Server | undefined;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const p = req.url ?? '';
    requests.push(p);
    const failure = fake.failWith;
    if (failure === 'hang') {
      hanging.add(res);
      return;
    }
    if (failure !== undefined) {
      const headers: Record<string, string> =
        failure === 429 || failure === 503 ? { 'retry-after': '0' } : {};
      res.writeHead(failure, headers).end(`fake answers ${failure}`);
      return;
    }
    const route = req.method === 'GET' ? routes.get(p) : undefined;
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, route.headers).end(route.body);
  };
  const listen = async () => {
    const s = createServer(handler);
    s.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  };
  const stop = async () => {
    const s = server;
    server = undefined;
    if (!s) return;
    for (const res of hanging) res.destroy();
    hanging.clear();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();
  const fake: FakeCollateralServer = {
    url: `http://127.0.0.1:${port}`,
    requests,
    failWith: undefined,
    stop,
    start: listen,
    close: stop,
  };
  return fake;
}

/** What a fake KDS serves for one product line. */
export interface FakeKdsProduct {
  product: SnpProductLine;
  /** ASK + ARK (PEM) at /vcek/v1/{product}/cert_chain. */
  certChain?: string | Uint8Array;
  /** ASVK + ARK (PEM) at /vlek/v1/{product}/cert_chain. */
  vlekCertChain?: string | Uint8Array;
  /** The CRL (DER) at /vcek/v1/{product}/crl. */
  crl?: Uint8Array;
  /**
   * VCEKs (DER) with a report they sign: served at /vcek/v1/{product}/{hwid}?[fmcSPL&]blSPL&teeSPL&snpSPL&ucodeSPL
   * for the report's CHIP_ID and REPORTED_TCB, as KDS does.
   */
  vceks?: { report: Uint8Array; vcek: Uint8Array }[];
}

/**
 * A loopback fake of AMD KDS (https://kdsintf.amd.com): `GET /vcek/v1/{product}/{hwid}?...`
 * (`application/octet-stream`, DER), `GET /{vcek|vlek}/v1/{product}/cert_chain`
 * (`application/x-pem-file`), `GET /{vcek|vlek}/v1/{product}/crl` (`application/pkix-crl`, DER);
 * anything else 404.
 */
export async function startFakeKds(products: readonly FakeKdsProduct[]): Promise<FakeCollateralServer> {
  const routes = new Map<string, Route>();
  const paths = new KdsClient({ baseUrl: 'http://kds.invalid' });
  const strip = (url: string) => url.slice('http://kds.invalid'.length);
  for (const p of products) {
    if (p.certChain) {
      routes.set(`/vcek/v1/${p.product}/cert_chain`, {
        body: p.certChain,
        headers: { 'content-type': 'application/x-pem-file' },
      });
    }
    if (p.vlekCertChain) {
      routes.set(`/vlek/v1/${p.product}/cert_chain`, {
        body: p.vlekCertChain,
        headers: { 'content-type': 'application/x-pem-file' },
      });
    }
    if (p.crl) {
      routes.set(`/vcek/v1/${p.product}/crl`, {
        body: p.crl,
        headers: { 'content-type': 'application/pkix-crl' },
      });
    }
    for (const v of p.vceks ?? []) {
      const report = parseSnpReport(v.report, { product: p.product });
      routes.set(strip(paths.vcekUrl(p.product, report.chipId, report.reportedTcb)), {
        body: v.vcek,
        headers: { 'content-type': 'application/octet-stream' },
      });
    }
  }
  return serve(routes);
}

/** What a fake PCS serves for one platform (FMSPC). */
export interface FakePcsPlatform {
  fmspc: string;
  collateral: TdxCollateral;
  /** Which PCK CA's CRL `collateral.pckCrl` is (default platform). */
  ca?: 'platform' | 'processor';
}

/**
 * A loopback fake of the Intel PCS v4 API (or a PCCS, which serves the same paths):
 * `GET /tdx/certification/v4/tcb?fmspc=..` (header `TCB-Info-Issuer-Chain`),
 * `GET /tdx/certification/v4/qe/identity` (`SGX-Enclave-Identity-Issuer-Chain`),
 * `GET /sgx/certification/v4/pckcrl?ca=platform|processor&encoding=der` (`SGX-PCK-CRL-Issuer-Chain`),
 * `GET /sgx/certification/v4/rootcacrl`. Issuer chains are URL-encoded PEM, as PCS sends them.
 */
export async function startFakePcs(platforms: readonly FakePcsPlatform[]): Promise<FakeCollateralServer> {
  const routes = new Map<string, Route>();
  const chain = (pem: Uint8Array | undefined) =>
    pem ? encodeURIComponent(new TextDecoder().decode(pem)) : undefined;
  const add = (
    path: string,
    body: Uint8Array | undefined,
    type: string,
    header?: [string, Uint8Array | undefined],
  ) => {
    if (!body) return;
    const headers: Record<string, string> = { 'content-type': type };
    const value = header ? chain(header[1]) : undefined;
    if (header && value) headers[header[0]] = value;
    routes.set(path, { body, headers });
  };
  for (const p of platforms) {
    const c = p.collateral;
    add(`/tdx/certification/v4/tcb?fmspc=${p.fmspc.toUpperCase()}`, c.tcbInfo, 'application/json', [
      'TCB-Info-Issuer-Chain',
      c.tcbInfoIssuerChain,
    ]);
    add('/tdx/certification/v4/qe/identity', c.qeIdentity, 'application/json', [
      'SGX-Enclave-Identity-Issuer-Chain',
      c.qeIdentityIssuerChain,
    ]);
    add(
      `/sgx/certification/v4/pckcrl?ca=${p.ca ?? 'platform'}&encoding=der`,
      c.pckCrl,
      'application/pkix-crl',
      ['SGX-PCK-CRL-Issuer-Chain', c.pckCrlIssuerChain],
    );
    add('/sgx/certification/v4/rootcacrl', c.rootCaCrl, 'application/pkix-crl');
  }
  return serve(routes);
}
