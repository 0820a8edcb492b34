// The node:http bench upstream: answers every request with a fixed body and its own name.
//   GET /b<size>  -> <size> bytes (e.g. /b100, /b16384); any other path -> 100 bytes
//   GET /__stats  -> {"name":..., "requests":N} (not counted)
// Usage: node bench/servers/upstream.ts <name> [port]   (prints "listening <port>")
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const name = process.argv[2] ?? 'upstream';
const port = Number(process.argv[3] ?? 0);
const bodies = new Map<string, Buffer>();
for (const size of [100, 1024, 16384]) bodies.set(`/b${size}`, Buffer.alloc(size, 'x'));
const fallback = bodies.get('/b100')!;
let requests = 0;

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  if (req.url === '/__stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ name, requests }));
    return;
  }
  requests++;
  const body = bodies.get(req.url ?? '') ?? fallback;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length, 'x-upstream': name });
  res.end(body);
});
server.listen(port, '127.0.0.1', () => {
  console.log(`listening ${(server.address() as AddressInfo).port}`);
});
const stop = (): void => {
  server.close();
  server.closeAllConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
