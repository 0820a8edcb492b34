// Graceful drain on SIGTERM (README "Resilience"):
//   t=0       draining: /readyz answers 503 (readiness check "draining"), every new response carries
//             `Connection: close` (clients re-connect, the load balancer picks another pod), the
//             listeners keep accepting (the cloud load balancer needs a few probe periods to notice).
//   t=grace   stop accepting; idle keep-alive connections are closed; in-flight requests and
//             upgraded connections (WebSocket) may finish for up to `timeout`.
//   t=grace+timeout   whatever is left is cut; the caller then stops sources (lease released) and exits 0.
import type { Server as NetServer, Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';

/** A listener the drain controls: node:http / node:https servers (closeIdleConnections), or any net.Server. */
export type DrainableServer = NetServer & { closeIdleConnections?: () => void; closeAllConnections?: () => void };

export interface DrainOptions {
  readonly logger: Logger;
  /** How often idle keep-alive connections are closed while waiting for in-flight work (ms, default 100). */
  readonly idleSweepMs?: number;
}

export interface DrainTimings {
  /** Keep accepting for this long after the signal (ms). */
  readonly gracePeriodMs: number;
  /** Then give in-flight requests and upgraded connections this long to finish (ms). */
  readonly timeoutMs: number;
}

export interface DrainOutcome {
  /** Connections still open when the timeout ran out (cut). */
  readonly cut: number;
  /** Total drain duration, ms. */
  readonly durationMs: number;
}

/**
 * The drain state machine of one process. `track()` every data-plane listener at startup (HTTP,
 * HTTPS, ...): the drain counts their sockets itself, because node:http forgets upgraded ones
 * (closeAllConnections() does not reach a WebSocket), and `server.close()` waits for them.
 */
export class Drain {
  readonly #logger: Logger;
  readonly #servers: DrainableServer[] = [];
  readonly #sockets = new Set<Socket>();
  readonly #idleSweepMs: number;
  #draining = false;
  #running: Promise<DrainOutcome> | null = null;
  #onEmpty: (() => void) | null = null;

  constructor(options: DrainOptions) {
    this.#logger = options.logger;
    this.#idleSweepMs = options.idleSweepMs ?? 100;
  }

  /** True from the signal on: readiness fails, responses close their connection. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Open connections of the tracked listeners (including upgraded ones). */
  get connections(): number {
    return this.#sockets.size;
  }

  /** Put a listener under the drain's control (call before it accepts connections). */
  track(server: DrainableServer): this {
    this.#servers.push(server);
    server.on('connection', (socket: Socket) => this.#add(socket));
    // TLS servers emit 'secureConnection' with the TLSSocket; the raw socket was counted by 'connection'.
    return this;
  }

  #add(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => {
      this.#sockets.delete(socket);
      if (this.#sockets.size === 0 && this.#onEmpty !== null) this.#onEmpty();
    });
  }

  /** Resolves once every tracked socket has emitted 'close' (a server's 'close' can come first). */
  #allSocketsClosed(): Promise<void> {
    if (this.#sockets.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#onEmpty = () => {
        this.#onEmpty = null;
        resolve();
      };
    });
  }

  /**
   * Start draining now (idempotent): readiness fails and every response from now on says
   * `Connection: close`. The listeners keep accepting.
   */
  begin(): void {
    if (this.#draining) return;
    this.#draining = true;
    // Only from now on: a listener ahead of the proxy's own, so the normal hot path pays nothing.
    for (const server of this.#servers) server.prependListener('request', closeAfterResponse);
  }

  /**
   * The whole drain: begin(), keep accepting for `gracePeriodMs`, stop accepting, wait up to
   * `timeoutMs` for open connections to finish, cut the rest. Resolves (never rejects) when every
   * tracked listener is closed. Idempotent: a second call returns the first run.
   */
  run(timings: DrainTimings): Promise<DrainOutcome> {
    this.#running ??= this.#run(timings);
    return this.#running;
  }

  async #run(timings: DrainTimings): Promise<DrainOutcome> {
    const started = performance.now();
    const logger = this.#logger;
    this.begin();
    logger.info(
      { reason: 'Draining', gracePeriodMs: timings.gracePeriodMs, timeoutMs: timings.timeoutMs, connections: this.#sockets.size },
      'draining: /readyz is 503, still accepting for the grace period',
    );
    if (timings.gracePeriodMs > 0) await delay(timings.gracePeriodMs);

    // 1. Stop accepting; close idle keep-alive connections now and whenever one turns idle.
    const closed = Promise.all(this.#servers.map((s) => closeServer(s))).then(() => this.#allSocketsClosed());
    const sweep = setInterval(() => {
      for (const s of this.#servers) s.closeIdleConnections?.();
    }, this.#idleSweepMs);
    logger.info({ reason: 'Draining', connections: this.#sockets.size }, 'draining: stopped accepting, waiting for in-flight requests');

    // 2. Wait for in-flight requests and upgraded connections, up to the timeout.
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timings.timeoutMs);
    });
    const finished = await Promise.race([closed.then(() => false), timedOut]);
    clearTimeout(timer);
    clearInterval(sweep);

    // 3. Cut what is left.
    let cut = 0;
    if (finished) {
      cut = this.#sockets.size;
      logger.warn({ reason: 'DrainTimeout', connections: cut, timeoutMs: timings.timeoutMs }, 'drain timeout: closing the remaining connections');
      for (const s of this.#servers) s.closeAllConnections?.();
      for (const socket of this.#sockets) socket.destroy();
      await closed;
    }
    const durationMs = Math.round(performance.now() - started);
    logger.info({ reason: 'Drained', cut, durationMs }, 'drained');
    return { cut, durationMs };
  }
}

/** 'request' listener while draining: this response closes its connection (polite keep-alive end). */
function closeAfterResponse(_req: IncomingMessage, res: ServerResponse): void {
  res.shouldKeepAlive = false;
}

function closeServer(server: DrainableServer): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!server.listening) {
      // Already closed (or never listened): 'close' fires once its connections are gone, if not already.
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeIdleConnections?.();
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
