// Floor A: a node:http server that forwards to the upstream over bench/servers/floor-pool.ts. No
// routing, metrics, logs, header rewriting or error handling: what node:http on the front costs
// when the rest of a pass-through costs next to nothing (bench/floor.ts, PROFILE.md section 14).
// Usage: node bench/servers/floor-node-http.ts <upstreamPort>   (prints "listening <port>")
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RawPool, upstreamRequest } from './floor-pool.ts';

const pool = new RawPool(Number(process.argv[2]));
const requests = new Map<string, Buffer>();

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const url = req.url ?? '/';
  let request = requests.get(url);
  if (request === undefined) requests.set(url, (request = upstreamRequest(url)));
  pool.request(request, (response, headLength) => {
    // Status and headers as node:http wants them: [name, value, ...], minus the hop-by-hop ones.
    const head = response.toString('latin1', 0, headLength - 4).split('\r\n');
    const status = Number(head[0].slice(9, 12));
    const headers: string[] = [];
    for (let i = 1; i < head.length; i++) {
      const colon = head[i].indexOf(':');
      const name = head[i].slice(0, colon);
      const lower = name.toLowerCase();
      if (lower === 'connection' || lower === 'keep-alive') continue;
      headers.push(name, head[i].slice(colon + 1).trim());
    }
    res.writeHead(status, headers);
    res.end(response.subarray(headLength));
  });
});
server.listen(0, '127.0.0.1', () => console.log(`listening ${(server.address() as AddressInfo).port}`));
const stop = (): void => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
