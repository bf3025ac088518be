import { createServer } from 'node:net';

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (the system chose it for a listener that is
 * closed again), for tests whose servers must know each other's port before they start (e.g.
 * Coordinator replicas listing their peers). Another process may take it meanwhile; tests that can
 * listen on port 0 should.
 */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
