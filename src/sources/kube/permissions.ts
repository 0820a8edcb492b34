/**
 * Every Kubernetes API call the controller makes, as RBAC rules. The kube source, status writer
 * and leader election must stay within this table; manifests/ must grant exactly it (tests check).
 */
export interface ApiPermission {
  readonly apiGroup: string;
  readonly resource: string;
  readonly verbs: readonly string[];
  /** cluster: ClusterRole; namespace: Role in the controller's own namespace. */
  readonly scope: 'cluster' | 'namespace';
}

export const API_PERMISSIONS: readonly ApiPermission[] = [
  { apiGroup: 'networking.k8s.io', resource: 'ingresses', verbs: ['list', 'watch'], scope: 'cluster' },
  { apiGroup: 'networking.k8s.io', resource: 'ingresses/status', verbs: ['update'], scope: 'cluster' },
  { apiGroup: 'networking.k8s.io', resource: 'ingressclasses', verbs: ['list', 'watch'], scope: 'cluster' },
  { apiGroup: '', resource: 'services', verbs: ['get', 'list', 'watch'], scope: 'cluster' },
  { apiGroup: 'discovery.k8s.io', resource: 'endpointslices', verbs: ['list', 'watch'], scope: 'cluster' },
  { apiGroup: '', resource: 'secrets', verbs: ['list', 'watch'], scope: 'cluster' },
  { apiGroup: '', resource: 'events', verbs: ['create', 'patch'], scope: 'cluster' },
  { apiGroup: 'coordination.k8s.io', resource: 'leases', verbs: ['get', 'create', 'update'], scope: 'namespace' },
];
