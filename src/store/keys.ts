// The only place object keys are built. "namespace/name"; cluster-scoped objects use namespace "".
// Joined, not concatenated: V8 keeps `${a}/${b}` as a tree (a 32-byte cons node pointing to a copy
// of "namespace/" and to the name), and these keys live as long as their objects, in several maps;
// join() writes one flat string (bench/PROFILE.md 6c).
import type { KubeObject } from '../model/kube.ts';

export function objectKey(namespace: string, name: string): string {
  return [namespace, name].join('/');
}

export function keyOf(object: KubeObject): string {
  return objectKey(object.metadata.namespace ?? '', object.metadata.name);
}

/** Kind-qualified key, for messages and duplicate detection across kinds. */
export function kindKey(kind: string, namespace: string, name: string): string {
  return [kind, namespace, name].join('/');
}
