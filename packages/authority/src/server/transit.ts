// The Coordinator's transit API (Vault/OpenBao transit, @contrast-cc/transit): keys from the
// current seed, TLS with a certificate from the current mesh CA, client certificates checked
// against that mesh CA. It is served once the Coordinator is active and follows the mesh CA: a
// manifest update or a recovery rotates it, and the listener gets new credentials.
import { generateKeyPairSync } from 'node:crypto';
import type { Logger } from '@contrast-cc/core';
import { type RunningTransitServer, startTransitServer, TransitEngine } from '@contrast-cc/transit';
import type { Authority } from '../authority.js';

/** Where and how the transit API listens. @public */
export interface CoordinatorTransitOptions {
  /** Listen address (default the API host). */
  host?: string;
  /** Port (upstream 8200; 0: any free port). */
  port: number;
  /** SANs of the listener's certificate (default `coordinator`, `localhost`, 127.0.0.1, ::1). */
  sans?: string[];
  /** How often the listener checks for a new mesh CA (ms, default 1000). */
  refreshMs?: number;
}

export interface CoordinatorTransit {
  /** The port, once listening (the Coordinator became active). */
  readonly port: number | undefined;
  close(): Promise<void>;
}

export function startCoordinatorTransit(
  auth: Authority,
  options: CoordinatorTransitOptions & { host: string },
  log: Logger,
): CoordinatorTransit {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyPem = key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const spki = new Uint8Array(key.publicKey.export({ type: 'spki', format: 'der' }));
  const sans = options.sans ?? ['coordinator', 'localhost', '127.0.0.1', '::1'];
  const engine = new TransitEngine({ workloadSecret: (id) => auth.workloadSecret(id) });
  let server: RunningTransitServer | undefined;
  let generation = -1;
  let busy = false;
  let failed = false;
  let closed = false;

  const refresh = async () => {
    if (busy || failed || closed || auth.status !== 'active' || auth.generation === generation) return;
    busy = true;
    try {
      const id = await auth.issueServiceCertificate(spki, sans);
      const credentials = { cert: id.certChainPem, key: keyPem, clientCa: id.meshCaPem };
      if (!server) {
        server = await startTransitServer({
          engine,
          credentials,
          logger: log.child({ component: 'transit' }),
          host: options.host,
          port: options.port,
        });
        if (closed) await server.close();
      } else {
        server.updateCredentials(credentials);
        log.info('transit API follows the new mesh CA', { generation: id.generation });
      }
      generation = id.generation;
    } catch (e) {
      // A port that cannot be bound stays unbound (logged once); a state that moved on while we
      // issued is simply tried again at the next tick.
      if (!server) {
        failed = true;
        log.error('transit API not started', { error: e instanceof Error ? e.message : String(e) });
      }
    } finally {
      busy = false;
    }
  };
  void refresh();
  const timer = setInterval(() => void refresh(), options.refreshMs ?? 1000);
  timer.unref();

  return {
    get port() {
      return server?.port;
    },
    async close() {
      closed = true;
      clearInterval(timer);
      await server?.close();
    },
  };
}
