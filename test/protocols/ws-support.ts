// A minimal WebSocket echo upstream (RFC 6455 handshake and framing, enough for tests: text and
// binary frames of any size, ping, close) on a real socket, so the proxy is tested against a real
// peer without a library. On connect it sends "hello from <name> <path>"; every message comes back
// prefixed with "<name>:" (text) or as is (binary).
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export interface WsUpstream {
  readonly name: string;
  readonly port: number;
  readonly server: Server;
  /** Upgrade requests seen (their headers). */
  readonly upgrades: IncomingMessage['headers'][];
  /** Their request targets, in the same order. */
  readonly urls: string[];
  /** Connections closed so far (the peer's close frame or the socket's end). */
  closed: number;
  /** Open sockets. */
  readonly sockets: Set<Socket>;
  close(): Promise<void>;
}

export function frame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x80 | opcode, n]) : n < 65536 ? Buffer.from([0x80 | opcode, 126, n >> 8, n & 255]) : Buffer.alloc(10);
  if (n >= 65536) {
    head[0] = 0x80 | opcode;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([head, payload]);
}

/** Parses frames from a growing buffer; returns [frames, rest]. Handles masked (client) frames. */
export function parseFrames(buf: Buffer): [{ opcode: number; payload: Buffer }[], Buffer] {
  const out: { opcode: number; payload: Buffer }[] = [];
  let off = 0;
  for (;;) {
    if (buf.length - off < 2) break;
    const opcode = buf[off] & 0x0f;
    const masked = (buf[off + 1] & 0x80) !== 0;
    let len = buf[off + 1] & 0x7f;
    let p = off + 2;
    if (len === 126) {
      if (buf.length - p < 2) break;
      len = buf.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      if (buf.length - p < 8) break;
      len = Number(buf.readBigUInt64BE(p));
      p += 8;
    }
    const maskLen = masked ? 4 : 0;
    if (buf.length - p < maskLen + len) break;
    let payload = buf.subarray(p + maskLen, p + maskLen + len);
    if (masked) {
      const mask = buf.subarray(p, p + 4);
      payload = Buffer.from(payload);
      for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
    }
    out.push({ opcode, payload });
    off = p + maskLen + len;
  }
  return [out, buf.subarray(off)];
}

export async function startWsUpstream(name: string, options: { refuse?: number } = {}): Promise<WsUpstream> {
  const sockets = new Set<Socket>();
  const upgrades: IncomingMessage['headers'][] = [];
  const urls: string[] = [];
  const server = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end('upgrade required\n');
  });
  const up: WsUpstream = {
    name,
    server,
    port: 0,
    upgrades,
    urls,
    closed: 0,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    upgrades.push(req.headers);
    urls.push(req.url ?? '');
    if (options.refuse !== undefined) {
      socket.end(`HTTP/1.1 ${options.refuse} Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 7\r\n\r\nrefused`);
      return;
    }
    const key = req.headers['sec-websocket-key'] ?? '';
    const accept = createHash('sha1').update(key + GUID).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      up.closed++;
    });
    socket.write(frame(1, Buffer.from(`hello from ${name} ${req.url}`)));
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      const [frames, rest] = parseFrames(Buffer.concat([pending, chunk]));
      pending = rest;
      for (const f of frames) {
        if (f.opcode === 8) {
          socket.end(frame(8, f.payload));
          return;
        }
        if (f.opcode === 9) socket.write(frame(10, f.payload));
        else if (f.opcode === 1) socket.write(frame(1, Buffer.from(`${name}:${f.payload.toString()}`)));
        else if (f.opcode === 2) socket.write(frame(2, f.payload));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (up as { port: number }).port = (server.address() as AddressInfo).port;
  return up;
}

/** A WebSocket client (Node's global WebSocket) with a message queue to await on. */
export class WsClient {
  readonly ws: WebSocket;
  readonly #queue: (string | Buffer)[] = [];
  readonly #waiters: ((m: string | Buffer) => void)[] = [];
  readonly opened: Promise<void>;
  readonly closedEvent: Promise<CloseEvent>;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.binaryType = 'arraybuffer';
    this.opened = new Promise((resolve, reject) => {
      this.ws.addEventListener('open', () => resolve(), { once: true });
      this.ws.addEventListener('error', () => reject(new Error('websocket error')), { once: true });
    });
    this.closedEvent = new Promise((resolve) => this.ws.addEventListener('close', (e) => resolve(e), { once: true }));
    this.ws.addEventListener('message', (e: MessageEvent) => {
      const m = typeof e.data === 'string' ? e.data : Buffer.from(e.data as ArrayBuffer);
      const w = this.#waiters.shift();
      if (w !== undefined) w(m);
      else this.#queue.push(m);
    });
  }

  next(): Promise<string | Buffer> {
    const m = this.#queue.shift();
    if (m !== undefined) return Promise.resolve(m);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}
