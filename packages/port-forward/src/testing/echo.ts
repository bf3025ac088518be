import { randomBytes } from 'node:crypto';
import net from 'node:net';

/** A loopback TCP echo server (the forwarding target in tests). */
export async function startEcho(): Promise<{
  port: number;
  connections: () => number;
  close(): Promise<void>;
}> {
  let count = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A free loopback port nobody listens on (the "target refuses" case). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Sends `size` random bytes through host:port and reads until as many came back; resolves with
 * both (the caller compares). Writes in chunks, reads concurrently (no half-close: the
 * WebSocket port-forward protocol v4 cannot carry one).
 */
export function roundTrip(
  port: number,
  size: number,
  host = '127.0.0.1',
): Promise<{ sent: Buffer; received: Buffer }> {
  const sent = randomBytes(size);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const socket = net.connect({ host, port });
    socket.setTimeout(60_000, () => socket.destroy(new Error(`timeout after ${got} of ${size} bytes`)));
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= size) {
        socket.destroy();
        resolve({ sent, received: Buffer.concat(chunks) });
      }
    });
    socket.on('close', () => {
      if (got < size) reject(new Error(`connection closed after ${got} of ${size} bytes`));
    });
    socket.on('connect', () => {
      for (let off = 0; off < size; off += 64 * 1024) socket.write(sent.subarray(off, off + 64 * 1024));
    });
  });
}
