// Shared by the tests that spawn the real CLI (workers, worker metrics, drain): one app behind one
// Ingress, a plain GET without keep-alive, and a polling wait.
import { request } from 'node:http';

/** IngressClass + Service + EndpointSlice (127.0.0.1:upstreamPort) + Ingress `host` -> app:80, in `namespace`. */
export function oneAppManifest(upstreamPort: number, namespace: string, host: string): string {
  return `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: switchyard}
spec: {controller: switchyard.dev/ingress-controller}
---
apiVersion: v1
kind: Service
metadata: {name: app, namespace: ${namespace}}
spec: {ports: [{name: http, port: 80, targetPort: ${upstreamPort}}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: app-1, namespace: ${namespace}, labels: {kubernetes.io/service-name: app}}
addressType: IPv4
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
ports: [{name: http, port: ${upstreamPort}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: app, namespace: ${namespace}}
spec:
  ingressClassName: switchyard
  rules:
  - host: ${host}
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}
`;
}

/** GET on a new connection (so the kernel spreads requests over workers); 5 s timeout. */
export function getText(port: number, host: string, path = '/', accept?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host };
    if (accept !== undefined) headers.accept = accept;
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error(`no answer in 5 s: ${host}${path}`)));
    req.on('error', reject);
    req.end();
  });
}

/** Polls `check` every 10 ms until it is true (a throw counts as false), for at most `ms`. */
export async function until(check: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await Promise.resolve().then(check).catch(() => false)) return;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The JSON log lines a child writes to `stream`, parsed as they arrive (other lines ignored). */
export function jsonLines(stream: NodeJS.ReadableStream): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  let buffer = '';
  stream.on('data', (c: Buffer) => {
    buffer += c.toString('utf8');
    let nl: number;
    while ((nl = buffer.indexOf('\n')) !== -1) {
      const text = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        lines.push(JSON.parse(text) as Record<string, unknown>);
      } catch {
        // not JSON
      }
    }
  });
  return lines;
}
