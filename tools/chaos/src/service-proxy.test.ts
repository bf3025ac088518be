import { connect, createServer, type Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { type Endpoint, startServiceProxy } from './service-proxy.js';

const servers: Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
});

/** A backend that answers every connection with its name and closes. */
async function backend(name: string): Promise<number> {
  const s = createServer((c) => c.end(name));
  servers.push(s);
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  return (s.address() as { port: number }).port;
}

/** What a client connecting to `port` reads, or `reset` when the connection is refused or reset. */
function dial(port: number): Promise<string> {
  return new Promise((resolve) => {
    const c = connect({ host: '127.0.0.1', port });
    let text = '';
    c.on('data', (b) => {
      text += b.toString();
    });
    c.on('error', () => resolve('reset'));
    c.on('close', () => resolve(text === '' ? 'reset' : text));
  });
}

describe('the Service proxy', () => {
  it('spreads connections round-robin over the ready endpoints, skips the others, refuses with none', async () => {
    const ports = { a: await backend('a'), b: await backend('b'), c: await backend('c') };
    let ready: Endpoint[] = [
      { name: 'a', port: ports.a },
      { name: 'b', port: ports.b },
      { name: 'c', port: ports.c },
    ];
    const proxy = await startServiceProxy(() => ready);
    try {
      const first = [];
      for (let i = 0; i < 6; i++) first.push(await dial(proxy.port));
      expect(first).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);

      ready = ready.filter((e) => e.name !== 'b');
      const second = new Set<string>();
      for (let i = 0; i < 4; i++) second.add(await dial(proxy.port));
      expect(second).toEqual(new Set(['a', 'c']));

      ready = [];
      expect(await dial(proxy.port)).toBe('reset');
      expect(proxy.stats.refused).toBe(1);
      expect(proxy.stats.routed).toEqual({ a: 4, b: 2, c: 4 });
    } finally {
      await proxy.close();
    }
  });

  it('resets the client when the endpoint it picked is gone (before the readiness probe noticed)', async () => {
    const gone = createServer();
    await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', () => resolve()));
    const port = (gone.address() as { port: number }).port;
    await new Promise<void>((resolve) => gone.close(() => resolve()));
    const proxy = await startServiceProxy(() => [{ name: 'dead', port }]);
    try {
      expect(await dial(proxy.port)).toBe('reset');
      expect(proxy.stats.upstreamErrors).toBe(1);
    } finally {
      await proxy.close();
    }
  });
});
