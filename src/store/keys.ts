// The only place object keys are built. "namespace/name"; cluster-scoped objects use namespace "".
import type { KubeObject } from '../model/kube.ts';

export function objectKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function keyOf(object: KubeObject): string {
  return objectKey(object.metadata.namespace ?? '', object.metadata.name);
}

/** Kind-qualified key, for messages and duplicate detection across kinds. */
export function kindKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}
