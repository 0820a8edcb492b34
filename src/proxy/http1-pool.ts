// Keep-alive HTTP/1.1 connections to one plain-http upstream origin, written for the proxy's hot
// path. It speaks the part of undici's Dispatcher API the Exchange uses (dispatch(options,
// handler) -> onRequestStart / onBodySent / onRequestSent / response callbacks / onResponseError),
// so an UpstreamPool holds either this or an undici Pool (https:// origins keep undici for TLS).
//
// Why not undici for plain http: per request undici builds a Request that re-validates every header
// node's parser has already validated, turns the response head into an object the proxy flattens
// back into an array, and crosses into llhttp-wasm for every header field. Here a request is one
// head string written in one call, the response head is parsed from the chunk it arrived in, and the
// handler gets the header list flat with hop-by-hop headers already removed (bench/PROFILE.md §8).
//
// Framing is strict where it matters for safety (Content-Length digits only and consistent,
// Content-Length together with Transfer-Encoding refused, no obsolete line folding, bounded head
// and chunk-size lines); anything else malformed fails that one request with a 502 and closes that
// one connection. Header values are validated by node when the handler writes them to the client.
import { connect, type LookupFunction, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { nameIs, parseContentLength, removeListed } from './headers.ts';

/** What one request sends (the Exchange is this object). */
export interface Http1RequestOptions {
  readonly method: string;
  readonly path: string;
  /** Flat [name, value, ...] list, hop-by-hop headers already removed (headers.ts). */
  readonly headers: readonly string[] | null;
  /** Streamed as it arrives: as is with a Content-Length, re-chunked without one. */
  readonly body: Readable | null;
  /** Wait for the response head, ms (0 = none). */
  readonly headersTimeout: number;
  /** Idle time between response body chunks, ms (0 = none). */
  readonly bodyTimeout: number;
}

/** Per-request control handed to the handler (undici's DispatchController subset). */
export interface Http1Controller {
  readonly aborted: boolean;
  abort(reason: Error): void;
  pause(): void;
  resume(): void;
}

export interface Http1Handler {
  onRequestStart(controller: Http1Controller, context: unknown): void;
  onBodySent?(chunk: Buffer): void;
  onRequestSent?(): void;
  /**
   * The final (>= 200) response head: headers flat and without hop-by-hop ones; contentLength -1 = none.
   * Header names are tokens and values have no control characters but HTAB (checked while parsing).
   */
  onResponseHead(controller: Http1Controller, statusCode: number, statusMessage: string, headers: string[], contentLength: number): void;
  /**
   * A piece of the response body. It is a view of the connection's read memory: returning true
   * says the handler no longer needs its bytes (they were copied or written out), so the memory
   * may be read into again; anything else keeps those bytes untouched for as long as the handler
   * holds the chunk.
   */
  onResponseData(controller: Http1Controller, chunk: Buffer): boolean | void;
  /**
   * Asked later about chunks onResponseData kept: true once the handler holds none of them any
   * more. Without it, kept chunks pin their read memory for good.
   */
  released?(): boolean;
  onResponseEnd(controller: Http1Controller, trailers: Record<string, string>): void;
  onResponseError(controller: Http1Controller, err: Error): void;
}

export interface Http1PoolOptions {
  /** Connect timeout, ms. */
  readonly connectTimeout: number;
  /** An idle connection is closed after this many ms (shortened by the upstream's Keep-Alive: timeout hint). */
  readonly keepAliveTimeout: number;
  /** Open connections at most (0 = no cap); requests beyond wait in a queue (the caller caps its length). */
  readonly connections: number;
  readonly lookup?: LookupFunction;
}

/** An upstream failure with a code errors.ts classifies (SWY_UPSTREAM_*). */
export class UpstreamProtocolError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

const MAX_HEAD_BYTES = 64 * 1024;
/**
 * Upstream reads go straight into a per-connection slab (net's `onread`), not through the socket's
 * Readable: no push/'data' emit/maybeReadMore per read and no allocation per read. Each read gets
 * the slab's unused tail, so bytes already handed on (a body chunk node has not written yet, a
 * partial head) are never overwritten; a new slab comes when the tail is shorter than READ_MIN.
 * A slab is read into from its start again once nothing of it is held: the handler said so when it
 * took each chunk (onResponseData returned true: the client socket took the bytes), or says so when
 * asked later (released(): node has written what it buffered, usually by the next read). Each
 * connection keeps a second slab to switch to while the other is still held, and allocates only when
 * both are; allocating 32 KiB every few responses made V8 run a full GC several times a second at
 * 16 KiB bodies, for the external memory alone (bench/PROFILE.md section 12).
 * Idle connections hold at most two slabs.
 */
const READ_SLAB = 32 * 1024;
const READ_MIN = 4 * 1024;

/** A read buffer, and who may still hold bytes of it. */
class ReadSlab {
  readonly buffer = Buffer.allocUnsafeSlow(READ_SLAB);
  /** Held by something that cannot be asked again (a partial head, a handler without released()). */
  pinned = false;
  /** Handlers that kept chunks of it; asked (released()) before the slab is reused. */
  readonly holders: Http1Handler[] = [];

  hold(handler: Http1Handler): void {
    if (handler.released === undefined) this.pinned = true;
    else if (!this.holders.includes(handler)) this.holders.push(handler);
  }

  /** Nothing holds bytes of it any more (holders that let go are forgotten). */
  free(): boolean {
    if (this.pinned) return false;
    const holders = this.holders;
    while (holders.length > 0) {
      if (!holders[holders.length - 1].released!()) return false;
      holders.pop();
    }
    return true;
  }
}
const MAX_CHUNK_LINE = 4096;
/** RFC 9110 tchar, by latin1 code: 1 for the characters a header name may have. */
const TOKEN_CHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN_CHAR[c.charCodeAt(0)] = 1;
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
// Where a lenient parser would see the end of a head whose lines end in a bare LF.
const LFLF = Buffer.from('\n\n', 'latin1');
const LFCRLF = Buffer.from('\n\r\n', 'latin1');
const CHUNK_END = Buffer.from('\r\n', 'latin1');
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');
/** Deadlines (head wait, body idle, keep-alive) are checked this often: timeouts fire up to this late. */
const TICK_MS = 50;
const NO_TRAILERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

// Parser states of a connection.
const IDLE = 0;
const HEAD = 1;
const BODY_LENGTH = 2;
const BODY_CHUNKED = 3;
const BODY_UNTIL_CLOSE = 4;
// Sub-states of a chunked body.
const CHUNK_SIZE = 0;
const CHUNK_EXT = 1;
const CHUNK_SIZE_LF = 2;
const CHUNK_DATA = 3;
const CHUNK_DATA_CR = 4;
const CHUNK_DATA_LF = 5;
const TRAILER_LINE_START = 6;
const TRAILER_LINE = 7;
const TRAILER_END_LF = 8;

/** One request on its way: the controller the handler gets. */
class Http1Call implements Http1Controller {
  readonly pool: Http1Pool;
  readonly options: Http1RequestOptions;
  readonly handler: Http1Handler;
  connection: Http1Connection | null = null;
  aborted = false;
  finished = false;
  paused = false;
  /** The request body is fully written (true at once without a body). */
  bodyDone: boolean;
  /** Some response byte arrived (a failure after that is never retried on a fresh connection). */
  responseStarted = false;
  /** A stale keep-alive connection failed this request before any byte: it may go again once. */
  replayed = false;
  bodyListeners: BodyListeners | null = null;

  constructor(pool: Http1Pool, options: Http1RequestOptions, handler: Http1Handler) {
    this.pool = pool;
    this.options = options;
    this.handler = handler;
    this.bodyDone = options.body === null;
  }

  abort(reason: Error): void {
    if (this.aborted || this.finished) return;
    this.aborted = true;
    const connection = this.connection;
    this.connection = null;
    if (connection !== null) connection.detach(this, reason);
    else this.pool.unqueue(this);
    this.detachBody();
    this.handler.onResponseError(this, reason);
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    const connection = this.connection;
    if (connection !== null) {
      connection.deadline = 0; // a slow client is not an idle upstream
      connection.socket.pause();
    }
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const connection = this.connection;
    if (connection !== null) {
      if (this.options.bodyTimeout > 0 && connection.state !== HEAD) connection.deadline = performance.now() + this.options.bodyTimeout;
      connection.socket.resume();
    }
  }

  /** The request failed on its connection (socket error, bad response, timeout). */
  fail(err: Error): void {
    if (this.aborted || this.finished) return;
    this.finished = true;
    this.connection = null;
    this.detachBody();
    this.handler.onResponseError(this, err);
  }

  detachBody(): void {
    const listeners = this.bodyListeners;
    if (listeners === null) return;
    this.bodyListeners = null;
    const body = this.options.body!;
    body.removeListener('data', listeners.data);
    body.removeListener('end', listeners.end);
    body.removeListener('error', listeners.error);
    body.removeListener('close', listeners.close);
  }
}

interface BodyListeners {
  data(chunk: Buffer): void;
  end(): void;
  error(err: Error): void;
  close(): void;
}

/** One TCP connection to the origin and its response parser. */
class Http1Connection {
  readonly pool: Http1Pool;
  readonly socket: Socket;
  call: Http1Call | null = null;
  connected = false;
  /** Counted in the pool's connecting total (until it connects or closes). */
  connecting = true;
  /** No further request may use this connection (closing, or the last response said so). */
  dead = false;
  /** Served at least one response (a failure before any byte may be the upstream closing it idle). */
  reused = false;
  idleSince = 0;
  /** Idle lifetime from the upstream's Keep-Alive hint (ms), or the pool's. */
  keepAliveTimeout: number;
  /** performance.now() after which the current wait is a timeout (0 = none). */
  deadline = 0;
  connectTimer: NodeJS.Timeout | null = null;
  /** The current request's head has been written (an abort before that leaves the connection clean). */
  headWritten = false;

  // -- reads (READ_SLAB) --
  slab: ReadSlab | null = null;
  /** The other slab: switched to when it is free and the current one is not. */
  spare: ReadSlab | null = null;
  /** Where the next read starts in the current slab (everything before it may still be held). */
  readOffset = 0;

  // -- response parser --
  state = IDLE;
  headBuffer: Buffer | null = null;
  remaining = 0;
  chunkState = CHUNK_SIZE;
  chunkLine = 0;
  /** The response allows another request on this connection. */
  keepAlive = true;
  isHead = false;

  constructor(pool: Http1Pool, options: { host: string; port: number; lookup?: LookupFunction }, connectTimeout: number) {
    this.pool = pool;
    this.keepAliveTimeout = pool.keepAliveTimeout;
    const socket = connect({
      host: options.host,
      port: options.port,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: 60_000,
      ...(options.lookup ? { lookup: options.lookup } : {}),
      onread: { buffer: () => this.nextReadBuffer(), callback: (nread: number, buffer: Uint8Array) => this.onRead(nread, buffer) },
    });
    this.socket = socket;
    if (connectTimeout > 0) this.connectTimer = setTimeout(onConnectTimeout, connectTimeout, this);
    socket.on('connect', () => this.onConnect());
    socket.on('end', () => this.onEnd());
    socket.on('error', (err: Error) => this.onSocketError(err));
    socket.on('close', () => this.onClose());
    socket.on('drain', () => this.onDrain());
  }

  onConnect(): void {
    this.connected = true;
    if (this.connectTimer !== null) {
      clearTimeout(this.connectTimer);
      this.connectTimer = null;
    }
    this.pool.release(this);
  }

  /** Put `call` on this (connected, idle) connection and write the request. */
  start(call: Http1Call): void {
    this.call = call;
    call.connection = this;
    this.headWritten = false;
    this.state = HEAD;
    this.keepAlive = true;
    this.headBuffer = null;
    const options = call.options;
    this.isHead = options.method === 'HEAD';
    this.deadline = options.headersTimeout > 0 ? performance.now() + options.headersTimeout : 0;
    call.handler.onRequestStart(call, null);
    if (call.connection !== this) return; // aborted in onRequestStart

    let head = options.method + ' ' + options.path + ' HTTP/1.1\r\n';
    const headers = options.headers;
    let hasHost = false;
    let hasLength = false;
    if (headers !== null) {
      for (let i = 0; i < headers.length; i += 2) {
        const name = headers[i];
        if (name.length === 4 && nameIs(name, 'host')) hasHost = true;
        else if (name.length === 14 && nameIs(name, 'content-length')) hasLength = true;
        head += name + ': ' + headers[i + 1] + '\r\n';
      }
    }
    if (!hasHost) head += 'host: ' + this.pool.hostHeader + '\r\n';
    this.headWritten = true;
    const body = options.body;
    if (body === null) {
      this.socket.write(head + '\r\n', 'latin1');
      return;
    }
    const chunked = !hasLength;
    if (chunked) head += 'transfer-encoding: chunked\r\n';
    this.socket.write(head + '\r\n', 'latin1');
    this.streamBody(call, body, chunked);
  }

  /** Request body: written as it arrives, the client paused while the upstream socket is full. */
  streamBody(call: Http1Call, body: Readable, chunked: boolean): void {
    const socket = this.socket;
    const connection = this;
    const listeners: BodyListeners = {
      data(chunk: Buffer): void {
        if (call.connection !== connection) return;
        call.handler.onBodySent?.(chunk);
        if (call.connection !== connection) return; // the handler aborted (body limit)
        let ok: boolean;
        if (chunked) {
          socket.cork();
          socket.write(chunk.length.toString(16) + '\r\n', 'latin1');
          socket.write(chunk);
          ok = socket.write(CHUNK_END);
          socket.uncork();
        } else {
          ok = socket.write(chunk);
        }
        if (!ok) body.pause();
      },
      end(): void {
        if (call.connection !== connection) return;
        if (chunked) socket.write(LAST_CHUNK);
        call.bodyDone = true;
        call.detachBody();
        call.handler.onRequestSent?.();
      },
      error(err: Error): void {
        if (call.connection === connection) connection.failCall(err, true);
      },
      close(): void {
        // The client went away mid-body (no 'error' in every node version).
        if (call.connection === connection && !call.bodyDone) connection.failCall(new UpstreamProtocolError('SWY_CLIENT_BODY', 'request body ended early'), true);
      },
    };
    call.bodyListeners = listeners;
    body.on('data', listeners.data);
    body.on('end', listeners.end);
    body.on('error', listeners.error);
    body.on('close', listeners.close);
  }

  onDrain(): void {
    const call = this.call;
    if (call !== null && !call.bodyDone) call.options.body!.resume();
  }

  /** The region the next read fills: the current slab's unused tail, or a fresh slab. */
  nextReadBuffer(): Buffer {
    let slab = this.slab;
    if (slab === null) {
      slab = this.slab = new ReadSlab();
      this.readOffset = 0;
    } else if (slab.buffer.length - this.readOffset < READ_MIN) {
      // Used up and still held: the spare if nothing holds it, else a new slab.
      const spare = this.spare;
      this.spare = slab;
      slab = this.slab = spare !== null && spare.free() ? spare : new ReadSlab();
      this.readOffset = 0;
    }
    return this.readOffset === 0 ? slab.buffer : slab.buffer.subarray(this.readOffset);
  }

  /** After a read: start the next one at the beginning of a slab nothing holds, if there is one. */
  reuseReadMemory(): void {
    const slab = this.slab;
    if (slab === null) return;
    if (slab.free()) {
      this.readOffset = 0;
      return;
    }
    const spare = this.spare;
    if (spare !== null && spare.free()) {
      this.spare = slab;
      this.slab = spare;
      this.readOffset = 0;
    }
  }

  /** net's onread callback; true: keep reading (pausing is the controller's, through socket.pause()). */
  onRead(nread: number, buffer: Uint8Array): boolean {
    this.readOffset += nread;
    this.onData((buffer as Buffer).subarray(0, nread));
    this.reuseReadMemory();
    return true;
  }

  onData(chunk: Buffer): void {
    try {
      this.receive(chunk);
    } catch (err) {
      if (this.slab !== null) this.slab.pinned = true; // the handler may have kept the chunk it threw on
      // A throwing handler costs its own request, never the process.
      if (this.call !== null) this.failCall(err as Error, false);
      else this.close();
    }
  }

  receive(chunk: Buffer): void {
    const call = this.call;
    if (call === null) {
      // Bytes nobody asked for: the connection is out of step.
      this.dead = true;
      this.socket.destroy();
      return;
    }
    call.responseStarted = true;
    let offset = 0;
    if (this.state === HEAD) {
      let buffer = chunk;
      if (this.headBuffer !== null) {
        buffer = Buffer.concat([this.headBuffer, chunk]);
        this.headBuffer = null;
      }
      offset = this.parseHeads(buffer);
      if (offset < 0) return; // waiting for more, or failed
      chunk = buffer;
      if (this.call !== call) return;
    }
    if (this.state !== HEAD && call.options.bodyTimeout > 0 && !call.paused) this.deadline = performance.now() + call.options.bodyTimeout;
    this.parseBody(call, chunk, offset);
  }

  /**
   * Response heads in `buffer` (1xx ones are skipped). Returns the offset of the body, or -1 when
   * the head is not complete yet (kept) or the response was bad (the call has failed).
   */
  parseHeads(buffer: Buffer): number {
    let start = 0;
    for (;;) {
      const end = buffer.indexOf(CRLFCRLF, start);
      if (end < 0) {
        if (buffer.length - start > MAX_HEAD_BYTES) return this.badResponse('response head larger than 64 KiB');
        // Bare LF line ends: the CRLFCRLF would never come, and the call would wait for its read timeout.
        if (buffer.indexOf(LFLF, start) >= 0 || buffer.indexOf(LFCRLF, start) >= 0) return this.badResponse('response head with bare LF line ends (CRLF required)');
        this.headBuffer = start === 0 ? buffer : buffer.subarray(start);
        if (this.slab !== null) this.slab.pinned = true; // a partial head (rare): not reused until replaced
        return -1;
      }
      if (end - start > MAX_HEAD_BYTES) return this.badResponse('response head larger than 64 KiB');
      const status = this.parseHead(buffer.toString('latin1', start, end));
      if (status < 0) return -1;
      start = end + 4;
      if (status >= 200) return start;
      // 1xx: informational, the final response follows
    }
  }

  /** Parses one head and hands it to the handler. Returns the status, or -1 (the call has failed or left). */
  parseHead(head: string): number {
    // Status line: HTTP/1.x SP 3DIGIT [SP reason]
    let lineEnd = head.indexOf('\r\n');
    if (lineEnd < 0) lineEnd = head.length;
    if (
      lineEnd < 12 ||
      !head.startsWith('HTTP/1.') ||
      (head.charCodeAt(7) !== 49 && head.charCodeAt(7) !== 48) ||
      head.charCodeAt(8) !== 32 ||
      (lineEnd > 12 && head.charCodeAt(12) !== 32)
    ) {
      return this.badResponse('invalid status line');
    }
    const d0 = head.charCodeAt(9) - 48;
    const d1 = head.charCodeAt(10) - 48;
    const d2 = head.charCodeAt(11) - 48;
    if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return this.badResponse('invalid status code');
    const status = d0 * 100 + d1 * 10 + d2;
    const http10 = head.charCodeAt(7) === 48;
    const statusMessage = lineEnd > 13 ? head.slice(13, lineEnd) : '';

    const out: string[] = [];
    let contentLength = -1;
    let chunked = false;
    let transferEncoding = false;
    let connection: string | null = null;
    let keepAliveHint: string | null = null;
    let pos = lineEnd + 2;
    const length = head.length;
    while (pos < length) {
      const first = head.charCodeAt(pos);
      if (first === 32 || first === 9) return this.badResponse('obsolete header line folding');
      // The colon, then the line end, found by one forward scan (cheaper than two indexOf calls
      // for lines this short); a CR must start a CRLF.
      // The same scans check what node's writeHead would (names are tokens, values have no control
      // characters but HTAB), so the response head is built without validating again (response-head.ts).
      let colon = pos;
      while (colon < length && TOKEN_CHAR[head.charCodeAt(colon)] === 1) colon++;
      if (colon === length || head.charCodeAt(colon) !== 58) {
        const c = head.charCodeAt(colon);
        if (c === 32 || c === 9) return this.badResponse('white space before a header colon');
        return this.badResponse(colon === length || c === 13 ? 'header line without a colon' : 'invalid character in a header name');
      }
      if (colon === pos) return this.badResponse('header line without a name');
      let next = colon + 1;
      while (next < length) {
        const c = head.charCodeAt(next);
        if (c < 32 || c === 127) {
          if (c === 13) break;
          if (c !== 9) return this.badResponse('control character in a header value');
        }
        next++;
      }
      if (next < length && head.charCodeAt(next + 1) !== 10) return this.badResponse('bare CR in a header line');
      const name = head.slice(pos, colon);
      let valueStart = colon + 1;
      let valueEnd = next;
      while (valueStart < valueEnd && (head.charCodeAt(valueStart) === 32 || head.charCodeAt(valueStart) === 9)) valueStart++;
      while (valueEnd > valueStart && (head.charCodeAt(valueEnd - 1) === 32 || head.charCodeAt(valueEnd - 1) === 9)) valueEnd--;
      const value = head.slice(valueStart, valueEnd);
      pos = next + 2;
      switch (name.length) {
        case 2:
          if (nameIs(name, 'te')) continue;
          break;
        case 4:
          if (nameIs(name, 'date')) continue; // replaced by our own, as nginx does (headers.ts)
          break;
        case 6:
          if (nameIs(name, 'server')) continue; // hidden, as nginx does (headers.ts)
          break;
        case 7:
          if (nameIs(name, 'upgrade') || nameIs(name, 'trailer')) continue;
          break;
        case 10:
          if (nameIs(name, 'connection')) {
            connection = connection === null ? value : connection + ',' + value;
            continue;
          }
          if (nameIs(name, 'keep-alive')) {
            keepAliveHint = value;
            continue;
          }
          break;
        case 14:
          if (nameIs(name, 'content-length')) {
            const length = parseContentLength(value);
            if (length < 0 || (contentLength >= 0 && length !== contentLength)) return this.badResponse('invalid Content-Length');
            if (contentLength >= 0) continue; // an equal repeat: send it once
            contentLength = length;
          }
          break;
        case 16:
          if (nameIs(name, 'proxy-connection')) continue;
          break;
        case 17:
          if (nameIs(name, 'transfer-encoding')) {
            transferEncoding = true;
            chunked = lastCodingIsChunked(value);
            continue;
          }
          break;
      }
      out.push(name, value);
    }
    if (transferEncoding && contentLength >= 0) return this.badResponse('both Content-Length and Transfer-Encoding');

    if (status < 200) {
      if (status === 101) return this.badResponse('101 Switching Protocols to a request that did not ask for it');
      return status;
    }
    let listed: string[] | null = null;
    let keepAlive = !http10;
    if (connection !== null && connection.length === 10 && nameIs(connection, 'keep-alive')) {
      keepAlive = true; // the common answer, without splitting and lower-casing (hot path)
    } else if (connection !== null) {
      const tokens = connection.split(',');
      for (let i = 0; i < tokens.length; i++) {
        const token = tokens[i].trim().toLowerCase();
        if (token === 'close') keepAlive = false;
        else if (token === 'keep-alive') keepAlive ||= http10;
        else if (token !== '' && token !== 'upgrade') (listed ??= []).push(token);
      }
    }
    if (keepAliveHint !== null) this.applyKeepAliveHint(keepAliveHint);
    this.keepAlive = keepAlive;

    if (this.isHead || status === 204 || status === 304) {
      this.state = BODY_LENGTH;
      this.remaining = 0;
    } else if (chunked) {
      this.state = BODY_CHUNKED;
      this.chunkState = CHUNK_SIZE;
      this.remaining = 0;
      this.chunkLine = 0;
    } else if (transferEncoding || contentLength < 0) {
      this.state = BODY_UNTIL_CLOSE;
      this.keepAlive = false;
    } else {
      this.state = BODY_LENGTH;
      this.remaining = contentLength;
    }
    this.deadline = 0;
    const call = this.call!;
    const headers = listed === null ? out : removeListed(out, listed);
    try {
      call.handler.onResponseHead(call, status, statusMessage, headers, contentLength);
    } catch (err) {
      // node refused a header name or value for the client: a bad upstream response.
      this.failCall(err as Error, false);
      return -1;
    }
    return this.call === call ? status : -1;
  }

  applyKeepAliveHint(value: string): void {
    const at = value.toLowerCase().indexOf('timeout=');
    if (at < 0) return;
    const seconds = parseInt(value.slice(at + 8), 10);
    // Leave a second of margin so we never reuse a connection the upstream is about to close.
    if (seconds > 0) this.keepAliveTimeout = Math.min(this.pool.keepAliveTimeout, seconds * 1000 - 1000);
    else if (seconds === 0) this.keepAlive = false;
  }

  parseBody(call: Http1Call, chunk: Buffer, offset: number): void {
    switch (this.state) {
      case BODY_LENGTH: {
        const available = chunk.length - offset;
        if (available > this.remaining) {
          // More than the response declared: the connection cannot be trusted for another request.
          this.keepAlive = false;
          this.dead = true;
        }
        const n = available < this.remaining ? available : this.remaining;
        if (n > 0) {
          this.remaining -= n;
          if (call.handler.onResponseData(call, offset === 0 && n === chunk.length ? chunk : chunk.subarray(offset, offset + n)) !== true) this.slab?.hold(call.handler);
          if (this.call !== call) return;
        }
        if (this.remaining === 0) this.finish(call);
        return;
      }
      case BODY_CHUNKED:
        this.parseChunked(call, chunk, offset);
        return;
      case BODY_UNTIL_CLOSE:
        if (offset < chunk.length && call.handler.onResponseData(call, offset === 0 ? chunk : chunk.subarray(offset)) !== true) this.slab?.hold(call.handler);
        return;
    }
  }

  parseChunked(call: Http1Call, chunk: Buffer, offset: number): void {
    let i = offset;
    const n = chunk.length;
    while (i < n) {
      const state = this.chunkState;
      if (state === CHUNK_DATA) {
        const take = Math.min(this.remaining, n - i);
        this.remaining -= take;
        if (call.handler.onResponseData(call, chunk.subarray(i, i + take)) !== true) this.slab?.hold(call.handler);
        if (this.call !== call) return;
        i += take;
        if (this.remaining === 0) this.chunkState = CHUNK_DATA_CR;
        continue;
      }
      const c = chunk[i++];
      if (++this.chunkLine > MAX_CHUNK_LINE) {
        this.badResponse('chunk size or trailer line too long');
        return;
      }
      switch (state) {
        case CHUNK_SIZE: {
          const digit = hexDigit(c);
          if (digit >= 0) {
            if (this.remaining > 0x7fffffffffff) {
              this.badResponse('chunk size too large');
              return;
            }
            this.remaining = this.remaining * 16 + digit;
            continue;
          }
          if (this.chunkLine === 1) {
            this.badResponse('invalid chunk size');
            return;
          }
          if (c === 13) this.chunkState = CHUNK_SIZE_LF;
          else if (c === 59 || c === 32 || c === 9) this.chunkState = CHUNK_EXT; // ;ext (and BWS before it)
          else {
            this.badResponse('invalid chunk size');
            return;
          }
          continue;
        }
        case CHUNK_EXT:
          if (c === 13) this.chunkState = CHUNK_SIZE_LF;
          else if (c === 10) {
            this.badResponse('bare LF in a chunk size line');
            return;
          }
          continue;
        case CHUNK_SIZE_LF:
          if (c !== 10) {
            this.badResponse('invalid chunk size line');
            return;
          }
          this.chunkLine = 0;
          this.chunkState = this.remaining === 0 ? TRAILER_LINE_START : CHUNK_DATA;
          continue;
        case CHUNK_DATA_CR:
          if (c !== 13) {
            this.badResponse('chunk data longer than its size');
            return;
          }
          this.chunkState = CHUNK_DATA_LF;
          continue;
        case CHUNK_DATA_LF:
          if (c !== 10) {
            this.badResponse('chunk data longer than its size');
            return;
          }
          this.chunkLine = 0;
          this.remaining = 0;
          this.chunkState = CHUNK_SIZE;
          continue;
        case TRAILER_LINE_START:
          // Trailers are not forwarded (the client response is already framed by node).
          if (c === 13) this.chunkState = TRAILER_END_LF;
          else this.chunkState = TRAILER_LINE;
          continue;
        case TRAILER_LINE:
          if (c === 10) {
            this.chunkLine = 0;
            this.chunkState = TRAILER_LINE_START;
          }
          continue;
        case TRAILER_END_LF:
          if (c !== 10) {
            this.badResponse('invalid end of a chunked body');
            return;
          }
          if (i < n) {
            this.keepAlive = false;
            this.dead = true;
          }
          this.finish(call);
          return;
      }
    }
  }

  /** The response is complete: the handler hears it, the connection goes back or closes. */
  finish(call: Http1Call): void {
    this.state = IDLE;
    this.call = null;
    this.deadline = 0;
    this.reused = true;
    call.connection = null;
    call.finished = true;
    const reusable = this.keepAlive && call.bodyDone && !this.dead;
    if (!call.bodyDone) call.detachBody(); // the upstream answered before reading the whole body
    // Paused by this call's slow client: the next call on this connection must read again.
    if (call.paused) this.socket.resume();
    call.handler.onResponseEnd(call, NO_TRAILERS);
    if (reusable) this.pool.release(this);
    else this.close();
  }

  onEnd(): void {
    const call = this.call;
    if (call !== null && this.state === BODY_UNTIL_CLOSE) {
      this.dead = true;
      this.finish(call);
      return;
    }
    this.dead = true;
    if (call !== null) this.failCall(new UpstreamProtocolError('SWY_UPSTREAM_CLOSED', 'upstream closed the connection before the response was complete'), true);
    this.socket.destroy();
  }

  onSocketError(err: Error): void {
    this.dead = true;
    if (this.call !== null) this.failCall(err, true);
  }

  onClose(): void {
    this.dead = true;
    if (this.connectTimer !== null) {
      clearTimeout(this.connectTimer);
      this.connectTimer = null;
    }
    const call = this.call;
    if (call !== null) this.failCall(new UpstreamProtocolError('SWY_UPSTREAM_CLOSED', 'upstream connection closed'), true);
    this.pool.forget(this);
  }

  /**
   * Fail the current request and close. `mayReplay`: a socket-level failure before any response
   * byte on a reused connection is the upstream having closed it while idle; an idempotent request
   * without a body then goes once more on a fresh connection (what nginx and Go's client do).
   */
  failCall(err: Error, mayReplay: boolean): void {
    const call = this.call;
    this.dead = true;
    this.call = null;
    this.state = IDLE;
    this.deadline = 0;
    if (call !== null) {
      call.connection = null;
      if (mayReplay && this.reused && !call.responseStarted && !call.replayed && call.options.body === null && REPLAYABLE.has(call.options.method)) {
        call.replayed = true;
        this.socket.destroy();
        this.pool.enqueueFirst(call);
        return;
      }
      call.fail(err);
    }
    this.socket.destroy();
  }

  badResponse(reason: string): number {
    this.failCall(new UpstreamProtocolError('SWY_UPSTREAM_BAD_RESPONSE', reason), false);
    return -1;
  }

  /**
   * The handler aborted `call`. Before its head was written (a request that waited for a connection
   * while its client left) the connection is still clean and goes back; mid-exchange it is closed.
   */
  detach(call: Http1Call, _reason: Error): void {
    if (this.call !== call) return;
    this.call = null;
    this.state = IDLE;
    this.deadline = 0;
    if (!this.headWritten && !this.dead) {
      this.pool.release(this);
      return;
    }
    this.dead = true;
    this.socket.destroy();
  }

  close(): void {
    this.dead = true;
    this.socket.destroy();
  }

  /** Ticker: fail a request whose wait ran out; close a connection idle for too long. */
  check(now: number): void {
    const call = this.call;
    if (call !== null) {
      if (this.deadline > 0 && now > this.deadline) {
        const inHead = this.state === HEAD;
        this.failCall(
          new UpstreamProtocolError(inHead ? 'SWY_UPSTREAM_HEADERS_TIMEOUT' : 'SWY_UPSTREAM_BODY_TIMEOUT', inHead ? 'no response head in time' : 'response body idle too long'),
          false,
        );
      }
    } else if (this.connected && !this.dead && now - this.idleSince > this.keepAliveTimeout) {
      this.close();
    }
  }
}

const REPLAYABLE: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

function onConnectTimeout(connection: Http1Connection): void {
  connection.connectTimer = null;
  if (connection.connected) return;
  connection.dead = true;
  const err = new UpstreamProtocolError('SWY_UPSTREAM_CONNECT_TIMEOUT', 'connect timeout');
  connection.pool.connectFailed(connection, err);
  connection.socket.destroy();
}

function lastCodingIsChunked(value: string): boolean {
  const comma = value.lastIndexOf(',');
  const last = (comma < 0 ? value : value.slice(comma + 1)).trim();
  return last.length === 7 && nameIs(last, 'chunked');
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const lower = c | 0x20;
  if (lower >= 97 && lower <= 102) return lower - 87;
  return -1;
}

/** Pools with open connections, for the deadline ticker (one interval for the process). */
const tickedPools = new Set<Http1Pool>();
let ticker: NodeJS.Timeout | null = null;

function tick(): void {
  const now = performance.now();
  for (const pool of tickedPools) pool.check(now);
}

/** Keep-alive connections to one origin ("http://host:port"). */
export class Http1Pool {
  readonly hostHeader: string;
  readonly keepAliveTimeout: number;
  readonly #target: { host: string; port: number; lookup?: LookupFunction };
  readonly #connectTimeout: number;
  readonly #maxConnections: number;
  /** Every open or opening connection. */
  readonly #connections: Http1Connection[] = [];
  /** Idle connections, most recently used last (reused first: warm sockets stay warm). */
  readonly #idle: Http1Connection[] = [];
  /** Requests waiting for a connection (FIFO). */
  #queue: Http1Call[] = [];
  #connecting = 0;
  #closed = false;
  #closeWaiters: (() => void)[] = [];

  constructor(origin: string, options: Http1PoolOptions) {
    const url = new URL(origin);
    if (url.protocol !== 'http:') throw new Error(`Http1Pool speaks plain http only, not ${origin}`);
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.hostHeader = url.host;
    this.#target = { host, port: Number(url.port || 80), ...(options.lookup ? { lookup: options.lookup } : {}) };
    this.#connectTimeout = options.connectTimeout;
    this.keepAliveTimeout = options.keepAliveTimeout;
    this.#maxConnections = options.connections;
  }

  /** Open connections (for tests and metrics). */
  get connections(): number {
    return this.#connections.length;
  }

  dispatch(options: Http1RequestOptions, handler: Http1Handler): boolean {
    const call = new Http1Call(this, options, handler);
    if (this.#closed) {
      call.fail(new UpstreamProtocolError('SWY_UPSTREAM_CLOSED', 'upstream pool is closed'));
      return false;
    }
    const idle = this.#idle;
    while (idle.length > 0) {
      const connection = idle.pop()!;
      if (!connection.dead) {
        connection.start(call);
        return true;
      }
    }
    this.#queue.push(call);
    this.#openIfNeeded();
    return true;
  }

  /** A replayed request goes first (it has already waited once). */
  enqueueFirst(call: Http1Call): void {
    if (this.#closed) {
      call.fail(new UpstreamProtocolError('SWY_UPSTREAM_CLOSED', 'upstream pool is closed'));
      return;
    }
    this.#queue.unshift(call);
    this.#openIfNeeded();
  }

  unqueue(call: Http1Call): void {
    const i = this.#queue.indexOf(call);
    if (i >= 0) this.#queue.splice(i, 1);
  }

  /** A connected connection is free: the next queued request takes it, or it waits idle. */
  release(connection: Http1Connection): void {
    if (connection.dead) return;
    const next = this.#queue.shift();
    if (next !== undefined) {
      connection.start(next);
      return;
    }
    if (this.#closed) {
      connection.close();
      return;
    }
    connection.idleSince = performance.now();
    this.#idle.push(connection);
  }

  /** A connection closed: drop it; queued requests may need a new one. */
  forget(connection: Http1Connection): void {
    const all = this.#connections;
    const i = all.indexOf(connection);
    if (i >= 0) all.splice(i, 1);
    const j = this.#idle.indexOf(connection);
    if (j >= 0) this.#idle.splice(j, 1);
    if (connection.connecting) {
      connection.connecting = false;
      this.#connecting--;
    }
    if (all.length === 0) tickedPools.delete(this);
    if (this.#queue.length > 0) this.#openIfNeeded();
    if (this.#closed && all.length === 0) this.#notifyClosed();
  }

  /** Connecting failed (refused, unreachable, timeout): the oldest waiting request gets the error. */
  connectFailed(connection: Http1Connection, err: Error): void {
    if (connection.connected) return;
    const call = this.#queue.shift();
    if (call !== undefined) call.fail(err);
  }

  check(now: number): void {
    const all = this.#connections;
    for (let i = all.length - 1; i >= 0; i--) all[i].check(now);
  }

  #openIfNeeded(): void {
    // One connection per waiting request beyond those already connecting, within the cap.
    while (this.#queue.length > this.#connecting && (this.#maxConnections === 0 || this.#connections.length < this.#maxConnections)) {
      const connection = new Http1Connection(this, this.#target, this.#connectTimeout);
      connection.socket.once('error', (err: Error) => this.connectFailed(connection, err));
      this.#connections.push(connection);
      this.#connecting++;
      connection.socket.once('connect', () => {
        connection.connecting = false;
        this.#connecting--;
      });
      if (!tickedPools.has(this)) {
        tickedPools.add(this);
        if (ticker === null) {
          ticker = setInterval(tick, TICK_MS);
          ticker.unref();
        }
      }
    }
  }

  #notifyClosed(): void {
    const waiters = this.#closeWaiters;
    this.#closeWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** No new requests; resolves when the in-flight ones are done and every connection is closed. */
  close(): Promise<void> {
    this.#closed = true;
    for (const connection of this.#idle.splice(0)) connection.close();
    if (this.#connections.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#closeWaiters.push(resolve));
  }

  /** Abort everything now. */
  destroy(): Promise<void> {
    this.#closed = true;
    const queued = this.#queue;
    this.#queue = [];
    const err = new UpstreamProtocolError('SWY_UPSTREAM_CLOSED', 'upstream pool destroyed');
    for (const call of queued) call.fail(err);
    for (const connection of [...this.#connections]) {
      if (connection.call !== null) connection.failCall(err, false);
      else connection.close();
    }
    return this.close();
  }
}
