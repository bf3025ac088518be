// The server side of RFC 6455 WebSocket, as much as the fake Kubernetes API's streaming
// endpoints need: the opening handshake with subprotocol selection, masked client frames
// (fragmented or not), binary/text messages, ping/pong and the closing handshake. Written for
// the fake so that it does not share code with the client it tests (client-node uses `ws`).
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Largest message the fake accepts from a client (bytes). */
const MAX_MESSAGE = 16 * 1024 * 1024;

/** One accepted WebSocket connection. */
export interface ServerWebSocket {
  /** The subprotocol the server chose ('' for none). */
  readonly protocol: string;
  /** Sends one binary (or, for a string, text) message. */
  send(data: Uint8Array | string): void;
  /** Starts the closing handshake (code 1000 unless given). */
  close(code?: number, reason?: string): void;
  /** Ends the TCP connection at once. */
  destroy(): void;
  onMessage(listener: (data: Buffer, binary: boolean) => void): void;
  /** Called once when the connection ended, either way. */
  onClose(listener: () => void): void;
}

/** Why an upgrade request is refused: status and message for the HTTP answer. */
export class UpgradeRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Whether a request asks for a WebSocket upgrade. */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return (
    (req.headers.upgrade ?? '').toLowerCase() === 'websocket' &&
    (req.headers.connection ?? '').toLowerCase().includes('upgrade')
  );
}

/** The subprotocols a client offered, in its order of preference. */
export function offeredProtocols(req: IncomingMessage): string[] {
  const raw = req.headers['sec-websocket-protocol'];
  const text = Array.isArray(raw) ? raw.join(',') : (raw ?? '');
  return text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

/** Answers an upgrade request on its raw socket with an HTTP error (no WebSocket). */
export function refuseUpgrade(socket: Duplex, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  const reason = status === 404 ? 'Not Found' : status === 403 ? 'Forbidden' : 'Bad Request';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
  );
}

/** Completes the opening handshake with `protocol` ('' for none) and returns the connection. */
export function acceptWebSocket(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  protocol: string,
): ServerWebSocket {
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || Buffer.from(key, 'base64').length !== 16) {
    throw new UpgradeRefusal(400, 'missing or bad Sec-WebSocket-Key');
  }
  if (req.headers['sec-websocket-version'] !== '13') {
    throw new UpgradeRefusal(400, 'unsupported Sec-WebSocket-Version');
  }
  const accept = createHash('sha1').update(`${key}${GUID}`).digest('base64');
  socket.write(
    [
      'HTTP/1.1 101 Switching Protocols',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${accept}`,
      ...(protocol !== '' ? [`Sec-WebSocket-Protocol: ${protocol}`] : []),
      '',
      '',
    ].join('\r\n'),
  );
  return new Connection(socket, protocol, head);
}

class Connection implements ServerWebSocket {
  readonly #socket: Duplex;
  #buffer: Buffer;
  #fragments: Buffer[] = [];
  #fragmentBinary = true;
  #closeSent = false;
  #closed = false;
  readonly #messageListeners: ((data: Buffer, binary: boolean) => void)[] = [];
  readonly #closeListeners: (() => void)[] = [];

  constructor(
    socket: Duplex,
    readonly protocol: string,
    head: Buffer,
  ) {
    this.#socket = socket;
    this.#buffer = Buffer.from(head);
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      this.#parse();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.#ended());
    if (this.#buffer.length > 0) queueMicrotask(() => this.#parse());
  }

  onMessage(listener: (data: Buffer, binary: boolean) => void): void {
    this.#messageListeners.push(listener);
  }

  onClose(listener: () => void): void {
    if (this.#closed) queueMicrotask(listener);
    else this.#closeListeners.push(listener);
  }

  send(data: Uint8Array | string): void {
    if (this.#closeSent || this.#closed) return;
    const binary = typeof data !== 'string';
    this.#frame(binary ? 0x2 : 0x1, binary ? Buffer.from(data) : Buffer.from(data, 'utf8'));
  }

  close(code = 1000, reason = ''): void {
    if (this.#closeSent || this.#closed) return;
    const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
    payload.writeUInt16BE(code, 0);
    payload.write(reason, 2, 'utf8');
    this.#frame(0x8, payload);
    this.#closeSent = true;
    // The client answers with its close frame; a client that does not is cut off.
    setTimeout(() => this.#socket.destroy(), 2000).unref();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #frame(opcode: number, payload: Buffer): void {
    const n = payload.length;
    const header = n < 126 ? Buffer.alloc(2) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    if (n < 126) header[1] = n;
    else if (n < 65536) {
      header[1] = 126;
      header.writeUInt16BE(n, 2);
    } else {
      header[1] = 127;
      header.writeBigUInt64BE(BigInt(n), 2);
    }
    this.#socket.write(Buffer.concat([header, payload]));
  }

  #parse(): void {
    for (;;) {
      const b = this.#buffer;
      if (b.length < 2) return;
      const fin = (b[0]! & 0x80) !== 0;
      const opcode = b[0]! & 0x0f;
      const masked = (b[1]! & 0x80) !== 0;
      let len = b[1]! & 0x7f;
      let offset = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        offset = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        const big = b.readBigUInt64BE(2);
        if (big > BigInt(MAX_MESSAGE)) {
          this.#fail(1009);
          return;
        }
        len = Number(big);
        offset = 10;
      }
      // RFC 6455 5.1: a server closes the connection on an unmasked client frame.
      if (!masked) {
        this.#fail(1002);
        return;
      }
      if (b.length < offset + 4 + len) return;
      const mask = b.subarray(offset, offset + 4);
      const payload = Buffer.from(b.subarray(offset + 4, offset + 4 + len));
      for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
      this.#buffer = b.subarray(offset + 4 + len);
      this.#onFrame(fin, opcode, payload);
      if (this.#closed) return;
    }
  }

  #onFrame(fin: boolean, opcode: number, payload: Buffer): void {
    switch (opcode) {
      case 0x0: // continuation
      case 0x1:
      case 0x2: {
        if (opcode !== 0x0) {
          this.#fragments = [];
          this.#fragmentBinary = opcode === 0x2;
        }
        this.#fragments.push(payload);
        const size = this.#fragments.reduce((s, f) => s + f.length, 0);
        if (size > MAX_MESSAGE) {
          this.#fail(1009);
          return;
        }
        if (!fin) return;
        const message = Buffer.concat(this.#fragments);
        this.#fragments = [];
        for (const l of this.#messageListeners) l(message, this.#fragmentBinary);
        return;
      }
      case 0x8: // close: answer with the same code, then end
        if (!this.#closeSent) {
          this.#frame(0x8, payload.subarray(0, 2));
          this.#closeSent = true;
        }
        this.#socket.end();
        return;
      case 0x9: // ping
        this.#frame(0xa, payload);
        return;
      case 0xa: // pong
        return;
      default:
        this.#fail(1002);
    }
  }

  #fail(code: number): void {
    this.close(code);
    this.#socket.end();
  }

  #ended(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const l of this.#closeListeners.splice(0)) l();
  }
}
