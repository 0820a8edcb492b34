import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { IngressClass } from 'kubernetes-models/networking.k8s.io/v1/IngressClass';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';

interface ModelClass {
  new (data: never): { validate(): void };
  readonly prototype: { validate(): void };
}

/** The Kubernetes OpenAPI schema (kubernetes-models) of each kind manifests/ may contain. */
const MODELS: ReadonlyMap<string, ModelClass> = new Map<string, ModelClass>([
  ['v1/Namespace', Namespace],
  ['v1/ServiceAccount', ServiceAccount],
  ['v1/Service', Service],
  ['rbac.authorization.k8s.io/v1/ClusterRole', ClusterRole],
  ['rbac.authorization.k8s.io/v1/ClusterRoleBinding', ClusterRoleBinding],
  ['rbac.authorization.k8s.io/v1/Role', Role],
  ['rbac.authorization.k8s.io/v1/RoleBinding', RoleBinding],
  ['networking.k8s.io/v1/IngressClass', IngressClass],
  ['apps/v1/Deployment', Deployment],
  ['policy/v1/PodDisruptionBudget', PodDisruptionBudget],
]);

/**
 * Validates one object against its Kubernetes schema and returns the problems (empty = valid):
 * 1. schema errors from kubernetes-models (types, enums, required fields, formats);
 * 2. unknown fields. The generated validators ignore properties the schema does not name, so a
 *    typo such as `readOnlyRootFileSystem` would pass them while the API server drops the field
 *    (and the protection with it). We run the same validator over a Proxy of the object that
 *    records every property the validator reads; the validator reads every property the schema
 *    defines (and every key of free-form maps such as labels), so a property it never read is
 *    one the schema does not know.
 */
export function validateObject(raw: { apiVersion?: unknown; kind?: unknown }): string[] {
  const model = MODELS.get(`${String(raw.apiVersion)}/${String(raw.kind)}`);
  if (model === undefined) return [`no schema for ${String(raw.apiVersion)} ${String(raw.kind)}: add it to MODELS in ${import.meta.filename}`];
  try {
    new model(raw as never).validate();
  } catch (err) {
    return [(err as Error).message];
  }
  const read = new Set<string>();
  model.prototype.validate.call(recordReads(raw, '', read));
  const unknown: string[] = [];
  findUnread(raw, '', read, unknown);
  return unknown.map((path) => `unknown field ${path}`);
}

function recordReads(value: unknown, path: string, read: Set<string>): unknown {
  if (value === null || typeof value !== 'object') return value;
  return new Proxy(value, {
    get(target, key, receiver) {
      const child = Reflect.get(target, key, receiver);
      if (typeof key !== 'string' || !Object.hasOwn(target, key)) return child;
      const childPath = `${path}/${key}`;
      read.add(childPath);
      return recordReads(child, childPath, read);
    },
  });
}

function findUnread(value: unknown, path: string, read: Set<string>, out: string[]): void {
  if (value === null || typeof value !== 'object') return;
  for (const [key, child] of Object.entries(value)) {
    const childPath = `${path}/${key}`;
    if (!Array.isArray(value) && !read.has(childPath)) {
      out.push(childPath);
      continue;
    }
    findUnread(child, childPath, read, out);
  }
}
