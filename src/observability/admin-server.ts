// The admin listener (--admin-port, like ingress-nginx's 10254): /healthz, /readyz, and whatever
// other components register (/metrics, /debug/*). Routes are a plain Map of exact path -> handler.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';

export type AdminHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** A named readiness condition; /readyz is 200 only while every check passes. */
export interface ReadinessCheck {
  readonly name: string;
  readonly check: () => boolean;
}

export interface AdminServerOptions {
  readonly logger: Logger;
}

export class AdminServer {
  readonly server: Server;
  readonly #routes = new Map<string, AdminHandler>();
  readonly #readiness: ReadinessCheck[] = [];
  readonly #log: Logger;

  constructor(options: AdminServerOptions) {
    this.#log = options.logger;
    this.#routes.set('/healthz', (_req, res) => sendText(res, 200, 'ok'));
    this.#routes.set('/readyz', (_req, res) => {
      const failing = this.#readiness.filter((r) => !safeCheck(r)).map((r) => r.name);
      if (failing.length === 0) sendText(res, 200, 'ok');
      else sendText(res, 503, `not ready: ${failing.join(', ')}`);
    });
    this.server = createServer((req, res) => this.#handle(req, res));
    this.server.keepAliveTimeout = 5_000;
  }

  /** Registers (or replaces) the handler of an exact path, e.g. "/metrics", "/debug/routes". */
  route(path: string, handler: AdminHandler): this {
    this.#routes.set(path, handler);
    return this;
  }

  /** Adds a readiness condition: "routes" (first table published), later "draining", ... */
  addReadinessCheck(name: string, check: () => boolean): this {
    this.#readiness.push({ name, check });
    return this;
  }

  get paths(): readonly string[] {
    return [...this.#routes.keys()].sort();
  }

  listen(port: number, host?: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const handler = this.#routes.get(path);
    if (handler === undefined) {
      sendText(res, 404, 'not found');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      sendText(res, 405, 'method not allowed');
      return;
    }
    try {
      const result = handler(req, res);
      if (result && typeof result.then === 'function') result.catch((err: unknown) => this.#fail(res, path, err));
    } catch (err) {
      this.#fail(res, path, err);
    }
  }

  #fail(res: ServerResponse, path: string, err: unknown): void {
    this.#log.error({ err, path }, 'admin handler failed');
    if (!res.headersSent) sendText(res, 500, 'internal error');
    else res.destroy();
  }
}

function safeCheck(r: ReadinessCheck): boolean {
  try {
    return r.check();
  } catch {
    return false;
  }
}

function sendText(res: ServerResponse, status: number, text: string): void {
  const body = `${text}\n`;
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
