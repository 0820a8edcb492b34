// Shared builders for the canary tests (not a test file itself).
import type { Ingress } from '../../src/model/kube.ts';
import type { CanaryBackend, CanaryHeaderRule } from '../../src/model/route-config.ts';

/** mulberry32: a small seeded PRNG with uniform [0, 1) output, so weighted tests are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random source that returns the given values in turn (then repeats the last). */
export function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)];
}

export function canaryBackend(
  name: string,
  fields: { header?: CanaryHeaderRule | null; cookie?: string | null; weight?: number; weightTotal?: number; upstream?: string | null } = {},
): CanaryBackend {
  const upstream = fields.upstream === undefined ? `default/${name}:80` : fields.upstream;
  return {
    source: { kind: 'Ingress', namespace: 'default', name },
    name: `ingress/default/${name}/rule/0/path/0`,
    backend: { service: { namespace: 'default', name, port: 80 }, upstream },
    header: fields.header ?? null,
    cookie: fields.cookie ?? null,
    weight: fields.weight ?? 0,
    weightTotal: fields.weightTotal ?? 100,
  };
}

export function ingress(
  name: string,
  annotations: Record<string, string> = {},
  extra: { namespace?: string; creationTimestamp?: string; host?: string; path?: string; pathType?: string; service?: string } = {},
): Ingress {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name,
      namespace: extra.namespace ?? 'default',
      creationTimestamp: extra.creationTimestamp ?? '2026-01-01T00:00:00Z',
      annotations,
    },
    spec: {
      ingressClassName: 'switchyard',
      rules: [
        {
          host: extra.host ?? 'shop.example.com',
          http: {
            paths: [
              {
                path: extra.path ?? '/',
                pathType: extra.pathType ?? 'Prefix',
                backend: { service: { name: extra.service ?? name, port: { number: 80 } } },
              },
            ],
          },
        },
      ],
    },
  };
}

export const NGINX = 'nginx.ingress.kubernetes.io/';
export const OURS = 'switchyard.dev/';
