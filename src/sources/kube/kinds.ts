// The kinds Switchyard watches: where each lives in the API, how it is listed, which selectors apply.
// Every call here must be in permissions.ts (list + watch on each resource).
import { CoreV1Api, DiscoveryV1Api, NetworkingV1Api } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeKind } from '../../model/kube.ts';

/** What a list call returns, as far as the informer needs it. */
export interface ApiList {
  readonly metadata?: { readonly resourceVersion?: string };
  readonly items: readonly unknown[];
}

export interface ListArgs {
  readonly namespace: string | undefined;
  readonly fieldSelector: string | undefined;
  readonly labelSelector: string | undefined;
}

export interface KindSpec {
  readonly kind: KubeKind;
  readonly apiVersion: string;
  readonly apiGroup: string;
  readonly resource: string;
  readonly namespaced: boolean;
  /**
   * Secrets: only `kubernetes.io/tls` Secrets are watched (fieldSelector `type=kubernetes.io/tls`),
   * cluster-wide or per watched namespace. The store keeps whatever an Ingress references; this
   * keeps Opaque Secrets (tokens, passwords, Helm releases) out of the controller's memory.
   */
  readonly fieldSelector?: string;
  /** Path of the collection (list and watch use the same path; the watch adds ?watch=true). */
  path(namespace: string | undefined): string;
  list(apis: KubeApis, args: ListArgs): Promise<ApiList>;
}

export interface KubeApis {
  readonly core: CoreV1Api;
  readonly networking: NetworkingV1Api;
  readonly discovery: DiscoveryV1Api;
}

export function makeKubeApis(kc: KubeConfig): KubeApis {
  return {
    core: kc.makeApiClient(CoreV1Api),
    networking: kc.makeApiClient(NetworkingV1Api),
    discovery: kc.makeApiClient(DiscoveryV1Api),
  };
}

function collectionPath(apiGroup: string, version: string, resource: string, namespace: string | undefined): string {
  const base = apiGroup === '' ? `/api/${version}` : `/apis/${apiGroup}/${version}`;
  return namespace === undefined ? `${base}/${resource}` : `${base}/namespaces/${encodeURIComponent(namespace)}/${resource}`;
}

export const KIND_SPECS: readonly KindSpec[] = [
  {
    kind: 'Ingress', apiVersion: 'networking.k8s.io/v1', apiGroup: 'networking.k8s.io', resource: 'ingresses', namespaced: true,
    path: (ns) => collectionPath('networking.k8s.io', 'v1', 'ingresses', ns),
    list: ({ networking }, { namespace, fieldSelector, labelSelector }) =>
      namespace === undefined
        ? networking.listIngressForAllNamespaces({ fieldSelector, labelSelector })
        : networking.listNamespacedIngress({ namespace, fieldSelector, labelSelector }),
  },
  {
    kind: 'IngressClass', apiVersion: 'networking.k8s.io/v1', apiGroup: 'networking.k8s.io', resource: 'ingressclasses', namespaced: false,
    path: () => collectionPath('networking.k8s.io', 'v1', 'ingressclasses', undefined),
    list: ({ networking }, { fieldSelector, labelSelector }) => networking.listIngressClass({ fieldSelector, labelSelector }),
  },
  {
    kind: 'Service', apiVersion: 'v1', apiGroup: '', resource: 'services', namespaced: true,
    path: (ns) => collectionPath('', 'v1', 'services', ns),
    list: ({ core }, { namespace, fieldSelector, labelSelector }) =>
      namespace === undefined
        ? core.listServiceForAllNamespaces({ fieldSelector, labelSelector })
        : core.listNamespacedService({ namespace, fieldSelector, labelSelector }),
  },
  {
    kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', apiGroup: 'discovery.k8s.io', resource: 'endpointslices', namespaced: true,
    path: (ns) => collectionPath('discovery.k8s.io', 'v1', 'endpointslices', ns),
    list: ({ discovery }, { namespace, fieldSelector, labelSelector }) =>
      namespace === undefined
        ? discovery.listEndpointSliceForAllNamespaces({ fieldSelector, labelSelector })
        : discovery.listNamespacedEndpointSlice({ namespace, fieldSelector, labelSelector }),
  },
  {
    kind: 'Secret', apiVersion: 'v1', apiGroup: '', resource: 'secrets', namespaced: true,
    fieldSelector: 'type=kubernetes.io/tls',
    path: (ns) => collectionPath('', 'v1', 'secrets', ns),
    list: ({ core }, { namespace, fieldSelector, labelSelector }) =>
      namespace === undefined
        ? core.listSecretForAllNamespaces({ fieldSelector, labelSelector })
        : core.listNamespacedSecret({ namespace, fieldSelector, labelSelector }),
  },
];
