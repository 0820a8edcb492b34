// Floor C: the "bare node:http + undici pass-through with no routing, metrics or logs",
// written the obvious way (undici Pool.request, body collected, one end()). The reference point the
// issue's orientation figures come from (bench/floor.ts, PROFILE.md section 14).
// Usage: node bench/servers/floor-undici.ts <upstreamPort>   (prints "listening <port>")
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';

const pool = new Pool(`http://127.0.0.1:${process.argv[2]}`, { connections: 256 });
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding']);

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  pool.request({ path: req.url ?? '/', method: 'GET' }).then(
    async ({ statusCode, headers, body }) => {
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk as Buffer);
      const out: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
      res.writeHead(statusCode, out);
      res.end(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    },
    () => {
      res.writeHead(502).end();
    },
  );
});
server.listen(0, '127.0.0.1', () => console.log(`listening ${(server.address() as AddressInfo).port}`));
const stop = (): void => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
