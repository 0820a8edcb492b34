// Which Secrets and Services an Ingress refers to. The store uses this to decide whether a change to
// a Secret, Service or EndpointSlice can affect the route table at all: in a real cluster most of
// them belong to nothing we route to, and their churn must not cause rebuilds.
// If a feature makes translate read another Secret or Service (an annotation naming one, a new
// flag), add it HERE, or changes to that object will not trigger a rebuild.
import type { Ingress, IngressBackend } from '../model/kube.ts';
import { objectKey } from './keys.ts';

const ANNOTATION_PREFIXES = ['nginx.ingress.kubernetes.io/', 'switchyard.dev/'] as const;

/** Annotations whose value names a Secret, as "name" (Ingress namespace) or "namespace/name". */
const SECRET_ANNOTATIONS = ['auth-secret', 'auth-tls-secret', 'proxy-ssl-secret'] as const;

/** Annotations whose value names a Service in the Ingress namespace. */
const SERVICE_ANNOTATIONS = ['default-backend'] as const;

export interface IngressReferences {
  /** Secret keys "ns/name". */
  readonly secrets: readonly string[];
  /** Service keys "ns/name". */
  readonly services: readonly string[];
}

function addBackend(out: Set<string>, namespace: string, backend: IngressBackend | undefined): void {
  const name = backend?.service?.name;
  if (typeof name === 'string' && name !== '') out.add(objectKey(namespace, name));
}

function refFromValue(namespace: string, value: string | undefined): string | null {
  if (typeof value !== 'string') return null;
  const v = value.trim();
  if (v === '') return null;
  const slash = v.indexOf('/');
  return slash === -1 ? objectKey(namespace, v) : objectKey(v.slice(0, slash), v.slice(slash + 1));
}

/** Never throws, whatever the shape of the object (sources hand us user input). */
export function findIngressReferences(ingress: Ingress): IngressReferences {
  const namespace = ingress.metadata.namespace ?? '';
  const secrets = new Set<string>();
  const services = new Set<string>();
  const spec = ingress.spec;
  if (spec && typeof spec === 'object') {
    if (Array.isArray(spec.tls)) {
      for (const tls of spec.tls) {
        if (tls && typeof tls.secretName === 'string' && tls.secretName !== '') secrets.add(objectKey(namespace, tls.secretName));
      }
    }
    addBackend(services, namespace, spec.defaultBackend);
    if (Array.isArray(spec.rules)) {
      for (const rule of spec.rules) {
        const paths = rule?.http?.paths;
        if (!Array.isArray(paths)) continue;
        for (const path of paths) addBackend(services, namespace, path?.backend);
      }
    }
  }
  const annotations = ingress.metadata.annotations;
  if (annotations && typeof annotations === 'object') {
    for (const prefix of ANNOTATION_PREFIXES) {
      for (const a of SECRET_ANNOTATIONS) {
        const ref = refFromValue(namespace, annotations[prefix + a]);
        if (ref) secrets.add(ref);
      }
      for (const a of SERVICE_ANNOTATIONS) {
        const value = annotations[prefix + a];
        if (typeof value === 'string' && value.trim() !== '' && !value.includes('/')) services.add(objectKey(namespace, value.trim()));
      }
    }
  }
  return { secrets: [...secrets], services: [...services] };
}
