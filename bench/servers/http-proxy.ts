// Contender: node `http-proxy` in front of the upstream, with a keep-alive agent.
// Usage: node bench/servers/http-proxy.ts <upstreamPort>   (prints "listening <port>")
import { createServer, Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import httpProxy from 'http-proxy';

const upstreamPort = Number(process.argv[2]);
const agent = new Agent({ keepAlive: true, maxSockets: 512 });
const proxy = httpProxy.createProxyServer({ target: `http://127.0.0.1:${upstreamPort}`, agent });
proxy.on('error', (_err, _req, res) => {
  if ('writeHead' in res && !res.headersSent) {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end('bad gateway\n');
  } else {
    res.destroy();
  }
});
const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => proxy.web(req, res));
server.listen(0, '127.0.0.1', () => console.log(`listening ${(server.address() as AddressInfo).port}`));
const stop = (): void => {
  server.close();
  server.closeAllConnections();
  agent.destroy();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
