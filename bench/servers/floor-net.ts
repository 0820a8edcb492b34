// Floor B: a net.Server that finds each request's path by hand and writes the upstream's response
// bytes back unchanged, over bench/servers/floor-pool.ts. No HTTP parsing beyond the request line
// and the blank line, no validation, no timeouts: an unsafe toy that only bounds what a front of
// our own on raw sockets could reach (bench/floor.ts, PROFILE.md section 14).
// Usage: node bench/servers/floor-net.ts <upstreamPort>   (prints "listening <port>")
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { RawPool, upstreamRequest } from './floor-pool.ts';

const pool = new RawPool(Number(process.argv[2]));
const requests = new Map<string, Buffer>();
const CRLFCRLF = Buffer.from('\r\n\r\n');

function serve(client: Socket): void {
  client.setNoDelay(true);
  let pending: Buffer | null = null;
  // One request at a time per connection (autocannon does not pipeline unless told to).
  let busy = false;
  const next = (): void => {
    if (busy || pending === null) return;
    const end = pending.indexOf(CRLFCRLF);
    if (end < 0) return;
    const space = pending.indexOf(32);
    const path = pending.toString('latin1', space + 1, pending.indexOf(32, space + 1));
    pending = end + 4 === pending.length ? null : pending.subarray(end + 4);
    let request = requests.get(path);
    if (request === undefined) requests.set(path, (request = upstreamRequest(path)));
    busy = true;
    pool.request(request, (response) => {
      client.write(response);
      busy = false;
      next();
    });
  };
  client.on('data', (chunk: Buffer) => {
    pending = pending === null ? chunk : Buffer.concat([pending, chunk]);
    next();
  });
  client.on('error', () => client.destroy());
}

const server = createServer(serve);
server.listen(0, '127.0.0.1', () => console.log(`listening ${(server.address() as AddressInfo).port}`));
const stop = (): void => {
  server.close();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
