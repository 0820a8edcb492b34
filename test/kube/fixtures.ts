// Builders for the Kubernetes objects the kube tests put into the test API server.
type Json = Record<string, any>;

export function ingressClass(name = 'switchyard', controller = 'switchyard.dev/ingress-controller'): Json {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name }, spec: { controller } };
}

export interface IngressOpts {
  readonly host?: string;
  readonly path?: string;
  readonly service: string;
  readonly port?: number | string;
  readonly className?: string | null;
  readonly tlsSecret?: string;
}

export function ingress(namespace: string, name: string, o: IngressOpts): Json {
  const port = typeof o.port === 'string' ? { name: o.port } : { number: o.port ?? 80 };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { namespace, name },
    spec: {
      ...(o.className === null ? {} : { ingressClassName: o.className ?? 'switchyard' }),
      ...(o.tlsSecret !== undefined ? { tls: [{ hosts: o.host ? [o.host] : [], secretName: o.tlsSecret }] } : {}),
      rules: [{
        ...(o.host !== undefined ? { host: o.host } : {}),
        http: { paths: [{ path: o.path ?? '/', pathType: 'Prefix', backend: { service: { name: o.service, port } } }] },
      }],
    },
  };
}

export function service(namespace: string, name: string, port = 80, targetPort: number = port): Json {
  return {
    apiVersion: 'v1', kind: 'Service', metadata: { namespace, name },
    spec: { type: 'ClusterIP', clusterIP: '10.96.0.10', ports: [{ name: 'http', port, targetPort, protocol: 'TCP' }], selector: { app: name } },
  };
}

export interface SliceEndpoint {
  readonly address: string;
  readonly ready?: boolean;
}

export function endpointSlice(namespace: string, serviceName: string, port: number, endpoints: readonly SliceEndpoint[], suffix = 'a'): Json {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { namespace, name: `${serviceName}-${suffix}`, labels: { 'kubernetes.io/service-name': serviceName } },
    addressType: 'IPv4',
    endpoints: endpoints.map((e) => ({ addresses: [e.address], conditions: { ready: e.ready ?? true, serving: e.ready ?? true, terminating: false } })),
    ports: [{ name: 'http', port, protocol: 'TCP' }],
  };
}

export function tlsSecret(namespace: string, name: string): Json {
  return {
    apiVersion: 'v1', kind: 'Secret', metadata: { namespace, name }, type: 'kubernetes.io/tls',
    data: { 'tls.crt': Buffer.from('cert').toString('base64'), 'tls.key': Buffer.from('key').toString('base64') },
  };
}

export function opaqueSecret(namespace: string, name: string): Json {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { namespace, name }, type: 'Opaque', data: { password: 'aHVudGVyMg==' } };
}
