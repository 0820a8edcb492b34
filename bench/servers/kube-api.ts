// The in-repo test API server (test/support/kube-api-server.ts) as a bench process: loads every
// object of a manifests folder, serves list/watch on 127.0.0.1, and applies commands from stdin:
//   "switch <service>"  -> the Ingress "probe" (namespace bench) now points at <service>; prints "ok"
// Usage: node bench/servers/kube-api.ts <manifestsDir> <kubeconfigOut>   (prints "listening <port>")
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseAllDocuments } from 'yaml';
import { KubeApiServer, kubeconfigFor } from '../../test/support/kube-api-server.ts';

type Json = Parameters<KubeApiServer['put']>[0];
const [dir, kubeconfigOut] = process.argv.slice(2);

function files(d: string): string[] {
  return readdirSync(d).flatMap((f) => {
    const p = join(d, f);
    return statSync(p).isDirectory() ? files(p) : /\.ya?ml$/.test(f) ? [p] : [];
  });
}

const objects: Json[] = [];
for (const file of files(dir)) {
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const o = doc.toJS() as Json | null;
    if (o) objects.push(o);
  }
}
const server = new KubeApiServer();
server.load(objects);
await server.start();
writeFileSync(kubeconfigOut, kubeconfigFor(server));
console.log(`listening ${server.port}`);

const probe = objects.find((o) => o.kind === 'Ingress' && o.metadata?.name === 'probe');
createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, service] = line.trim().split(/\s+/);
  if (cmd === 'switch' && probe) {
    const next = JSON.parse(JSON.stringify(probe).replaceAll('"prop-a"', `"${service}"`)) as Json;
    server.put(next);
    console.log('ok');
  }
});
const stop = (): void => {
  void server.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
