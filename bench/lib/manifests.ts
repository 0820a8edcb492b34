// Kubernetes YAML for the Switchyard contender's --manifests folder. Written atomically (temp file
// outside the watched folder, then rename) so the file source never reads half a file.
import { mkdirSync, renameSync, writeFileSync, rmSync } from 'node:fs';
import { join, dirname, basename } from 'node:path';

export const INGRESS_CLASS = 'switchyard';
export const BENCH_NAMESPACE = 'bench';

export function ingressClassYaml(): string {
  return `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: ${INGRESS_CLASS}
spec:
  controller: switchyard.dev/ingress-controller
`;
}

/** A Service (port 80 -> targetPort `port`) and its EndpointSlice with `addresses` on `port`. */
export function serviceYaml(name: string, port: number, addresses: readonly string[], namespace = BENCH_NAMESPACE): string {
  const endpoints = addresses.map((a) => `  - addresses: ["${a}"]\n    conditions: {ready: true}`).join('\n');
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  ports:
  - name: http
    port: 80
    targetPort: ${port}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}-1
  namespace: ${namespace}
  labels:
    kubernetes.io/service-name: ${name}
addressType: IPv4
ports:
- name: http
  port: ${port}
  protocol: TCP
endpoints:
${endpoints}
`;
}

/** An Ingress routing host + path prefix to service:80. */
export function ingressYaml(name: string, host: string, service: string, path = '/', namespace = BENCH_NAMESPACE): string {
  return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  ingressClassName: ${INGRESS_CLASS}
  rules:
  - host: ${host}
    http:
      paths:
      - path: ${path}
        pathType: Prefix
        backend:
          service:
            name: ${service}
            port:
              number: 80
`;
}

export function docs(...parts: string[]): string {
  return parts.join('---\n');
}

/** A folder watched by the controller plus a sibling staging folder for atomic writes. */
export class ManifestDir {
  readonly dir: string;
  readonly #staging: string;
  #seq = 0;

  constructor(root: string) {
    this.dir = join(root, 'manifests');
    this.#staging = join(root, 'staging');
    mkdirSync(this.dir, { recursive: true });
    mkdirSync(this.#staging, { recursive: true });
  }

  /** Writes `file` (relative to the folder) atomically. */
  write(file: string, content: string): void {
    const target = join(this.dir, file);
    mkdirSync(dirname(target), { recursive: true });
    const tmp = join(this.#staging, `${this.#seq++}-${basename(file)}`);
    writeFileSync(tmp, content);
    renameSync(tmp, target);
  }

  remove(file: string): void {
    rmSync(join(this.dir, file), { force: true });
  }
}

/**
 * `count` Ingresses (host h<i>.bench.local) each with its own Service and a 5-endpoint slice on
 * unreachable addresses (10.x.y.z): the bulk of the scale and propagation scenarios, written in
 * files of `perFile` Ingresses. Returns the number of endpoints written.
 */
export function writeBulk(dir: ManifestDir, count: number, endpointsPerService = 5, perFile = 250): number {
  let endpoints = 0;
  for (let start = 0; start < count; start += perFile) {
    const parts: string[] = [];
    for (let i = start; i < Math.min(count, start + perFile); i++) {
      const addresses: string[] = [];
      for (let e = 0; e < endpointsPerService; e++) {
        const n = i * endpointsPerService + e;
        addresses.push(`10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`);
      }
      endpoints += addresses.length;
      parts.push(serviceYaml(`svc-${i}`, 8080, addresses), ingressYaml(`ing-${i}`, `h${i}.bench.local`, `svc-${i}`));
    }
    dir.write(`bulk/bulk-${String(start / perFile).padStart(4, '0')}.yaml`, docs(...parts));
  }
  return endpoints;
}

export const PROBE_HOST = 'probe.bench.local';

/** The probe route (PROBE_HOST/ -> prop-a or prop-b) and its two Services on 127.0.0.1. */
export function writeProbe(dir: ManifestDir, aPort: number, bPort: number): void {
  dir.write('probe-services.yaml', docs(serviceYaml('prop-a', aPort, ['127.0.0.1']), serviceYaml('prop-b', bPort, ['127.0.0.1'])));
  dir.write('probe.yaml', ingressYaml('probe', PROBE_HOST, 'prop-a'));
}

/** Points the probe route at `service` (one manifest change). */
export function switchProbe(dir: ManifestDir, service: 'prop-a' | 'prop-b'): void {
  dir.write('probe.yaml', ingressYaml('probe', PROBE_HOST, service));
}
