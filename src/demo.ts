// `npm start`: the controller on the bundled examples/ folder, with two tiny echo backends
// (127.0.0.1:9101 "web", 127.0.0.1:9102 "api") that the examples' EndpointSlices point at.
// Any flag works as with `switchyard` itself; --manifests defaults to this repository's examples/.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { cli } from './main.ts';

export const DEMO_BACKENDS = [
  { name: 'web', port: 9101 },
  { name: 'api', port: 9102 },
] as const;

export interface EchoServer {
  readonly name: string;
  readonly server: Server;
  readonly address: AddressInfo;
  close(): Promise<void>;
}

/**
 * An upstream that answers every request with its own name, the Host and the path (one line,
 * so `sort | uniq -c` counts who answered); with `?headers` in the URL it lists the request
 * headers it received too (X-Forwarded-*, X-Request-ID, ...).
 */
export function echoHandler(name: string, port: () => number): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    // Drain the body; report its size.
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      const url = req.url ?? '/';
      let body = `${name} (127.0.0.1:${port()}): ${req.method} ${req.headers.host ?? ''} ${url}${bytes > 0 ? ` [${bytes} bytes]` : ''}\n`;
      if (/[?&]headers(=|&|$)/.test(url)) {
        for (let i = 0; i < req.rawHeaders.length; i += 2) body += `  ${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\n`;
      }
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'x-echo-backend': name });
      res.end(body);
    });
  };
}

export function startEchoServer(name: string, port: number, host = '127.0.0.1'): Promise<EchoServer> {
  let bound = port;
  const server = createServer(echoHandler(name, () => bound));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      bound = address.port;
      resolve({
        name,
        server,
        address,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

async function demo(argv: readonly string[]): Promise<void> {
  const echoes: EchoServer[] = [];
  for (const b of DEMO_BACKENDS) {
    try {
      echoes.push(await startEchoServer(b.name, b.port));
    } catch (err) {
      process.stderr.write(`switchyard demo: cannot start the "${b.name}" echo backend on 127.0.0.1:${b.port}: ${(err as Error).message}\n`);
      process.exit(1);
    }
  }
  const hasManifests = argv.some((a) => a === '--manifests' || a.startsWith('--manifests='));
  const examples = fileURLToPath(new URL('../examples', import.meta.url));
  const args = hasManifests ? [...argv] : ['--manifests', examples, ...argv];
  const app = await cli(args);
  if (app === null) {
    // --help, --version, or a usage error: nothing to serve.
    await Promise.all(echoes.map((e) => e.close()));
    return;
  }
  await app.controller.whenReady();
  const port = app.httpAddress.port;
  process.stderr.write(
    [
      '',
      `Switchyard demo: proxy on http://localhost:${port}, admin on http://localhost:${app.adminAddress.port}/readyz,`,
      `echo backends ${echoes.map((e) => `${e.name}=127.0.0.1:${e.address.port}`).join(' ')}, manifests ${app.config.manifests}`,
      `  curl -H 'Host: shop.example.test' localhost:${port}/api/items`,
      `  curl -H 'Host: shop.example.test' localhost:${port}/cart`,
      `  curl -H 'Host: billing.apps.example.test' localhost:${port}/`,
      `Edit a file in ${app.config.manifests} and curl again: routing changes live. Ctrl-C stops.`,
      '',
    ].join('\n') + '\n',
  );
}

if (import.meta.main) await demo(process.argv.slice(2));
