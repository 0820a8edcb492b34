// A floor, not a proxy: the least an HTTP/1.1 keep-alive client to the bench upstream can do. Raw
// sockets, one request in flight per socket, responses framed by Content-Length only (the bench
// upstreams always send it). Used by the floor-*.ts servers to measure what the upstream side of a
// pass-through costs with no client library at all (bench/floor.ts, PROFILE.md section 14).
import { connect, type Socket } from 'node:net';

const CRLFCRLF = Buffer.from('\r\n\r\n');

/** Called with the whole response (head and body) and the head's length in bytes. */
export type OnResponse = (response: Buffer, headLength: number) => void;

interface Waiting {
  readonly request: Buffer;
  readonly onResponse: OnResponse;
}

class UpstreamSocket {
  private readonly socket: Socket;
  private pending: Buffer | null = null;
  private onResponse: OnResponse | null = null;
  private readonly pool: RawPool;

  constructor(pool: RawPool, port: number) {
    this.pool = pool;
    this.socket = connect({ port, host: '127.0.0.1', noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.read(chunk));
    this.socket.on('error', () => {});
    this.socket.on('close', () => pool.lost(this));
  }

  send(request: Buffer, onResponse: OnResponse): void {
    this.onResponse = onResponse;
    this.socket.write(request);
  }

  private read(chunk: Buffer): void {
    const data = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    const headEnd = data.indexOf(CRLFCRLF);
    if (headEnd < 0) {
      this.pending = data;
      return;
    }
    const headLength = headEnd + 4;
    const total = headLength + contentLength(data, headEnd);
    if (data.length < total) {
      this.pending = data;
      return;
    }
    this.pending = null;
    const done = this.onResponse!;
    this.onResponse = null;
    this.pool.release(this);
    done(data.length === total ? data : data.subarray(0, total), headLength);
  }
}

function contentLength(data: Buffer, headEnd: number): number {
  const at = data.indexOf('content-length:', 0, 'latin1');
  const lower = at < 0 || at > headEnd ? data.indexOf('Content-Length:', 0, 'latin1') : at;
  if (lower < 0 || lower > headEnd) return 0;
  let n = 0;
  for (let i = lower + 15; i < headEnd; i++) {
    const c = data[i];
    if (c === 32) continue;
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
  }
  return n;
}

export class RawPool {
  private readonly port: number;
  private readonly max: number;
  private readonly idle: UpstreamSocket[] = [];
  private readonly waiting: Waiting[] = [];
  private open = 0;

  constructor(port: number, max = 256) {
    this.port = port;
    this.max = max;
  }

  request(request: Buffer, onResponse: OnResponse): void {
    const socket = this.idle.pop();
    if (socket) return socket.send(request, onResponse);
    if (this.open < this.max) {
      this.open++;
      return new UpstreamSocket(this, this.port).send(request, onResponse);
    }
    this.waiting.push({ request, onResponse });
  }

  release(socket: UpstreamSocket): void {
    const next = this.waiting.shift();
    if (next) socket.send(next.request, next.onResponse);
    else this.idle.push(socket);
  }

  lost(socket: UpstreamSocket): void {
    this.open--;
    const i = this.idle.indexOf(socket);
    if (i >= 0) this.idle.splice(i, 1);
  }
}

/** The upstream request for a path: the same bytes every time for the same path. */
export function upstreamRequest(path: string): Buffer {
  return Buffer.from(`GET ${path} HTTP/1.1\r\nHost: upstream\r\n\r\n`, 'latin1');
}
