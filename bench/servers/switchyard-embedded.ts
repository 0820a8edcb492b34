// Stand-in for the controller until src/main.ts exists: the real data plane (translate ->
// compile -> createProxyServer) serving a --manifests folder read ONCE at start (no watching, no
// metrics, no access log). Accepts the controller's flags that matter here and ignores the rest.
// Usage: node bench/servers/switchyard-embedded.ts --manifests DIR --http-port N [--bind-address A]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { Store } from '../../src/store/store.ts';
import { translate } from '../../src/translate/translate.ts';
import { compile } from '../../src/compile/compile.ts';
import { createProxyServer } from '../../src/proxy/server.ts';
import { RouteRef } from '../../src/runtime/route-ref.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { CONTROLLER_NAME } from '../../src/model/snapshot.ts';
import { KUBE_KINDS, type KubeKind, type KubeObject } from '../../src/model/kube.ts';

const { values } = parseArgs({ options: { manifests: { type: 'string' }, 'http-port': { type: 'string' }, 'bind-address': { type: 'string' } }, strict: false });

function files(d: string): string[] {
  return readdirSync(d).flatMap((f) => {
    const p = join(d, f);
    return statSync(p).isDirectory() ? files(p) : /\.ya?ml$/.test(f) ? [p] : [];
  });
}

const byKind = new Map<KubeKind, KubeObject[]>(KUBE_KINDS.map((k) => [k, []]));
for (const file of files(String(values.manifests))) {
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const o = doc.toJS() as KubeObject | null;
    if (o && byKind.has(o.kind)) byKind.get(o.kind)!.push(o);
  }
}
const store = new Store();
for (const [kind, list] of byKind) store.replace(kind, list);
const { config } = translate(store.snapshot(), { ingressClass: 'switchyard', controllerName: CONTROLLER_NAME, watchIngressWithoutClass: false, defaultBackendService: null });
const routeRef = new RouteRef(compile(config));
const proxy = createProxyServer({ routeRef, logger: silentLogger() });
const address = await proxy.listen(Number(values['http-port'] ?? 0), String(values['bind-address'] ?? '127.0.0.1'));
console.log(`listening ${address.port}`);
const stop = (): void => {
  void proxy.close(1000).then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
