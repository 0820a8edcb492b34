import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { envVarName, FLAGS, parseConfig } from '../../src/config.ts';
import { CONTROLLER_NAME } from '../../src/model/snapshot.ts';
import { API_PERMISSIONS } from '../../src/sources/kube/permissions.ts';
import type { ApiPermission } from '../../src/sources/kube/permissions.ts';
import { findOne, loadManifests } from './load-manifests.ts';
import type { ManifestObject } from './load-manifests.ts';
import { validateObject } from './validate-object.ts';

const manifests = loadManifests();
const NAMESPACE = findOne(manifests, 'Namespace').name;
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'IngressClass']);

const deployment = findOne(manifests, 'Deployment', 'switchyard');
const podSpec = deployment.raw.spec.template.spec;
const podLabels: Record<string, string> = deployment.raw.spec.template.metadata.labels;
const container = podSpec.containers[0];

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** "group|resource|verb" for every verb an RBAC rule list grants. */
function grantsOfRules(object: ManifestObject): string[] {
  const grants: string[] = [];
  for (const rule of object.raw.rules) {
    for (const group of rule.apiGroups) for (const resource of rule.resources) for (const verb of rule.verbs) grants.push(`${group}|${resource}|${verb}`);
  }
  return grants.sort();
}

function grantsOfTable(scope: ApiPermission['scope']): string[] {
  return API_PERMISSIONS.filter((p) => p.scope === scope)
    .flatMap((p) => p.verbs.map((verb) => `${p.apiGroup}|${p.resource}|${verb}`))
    .sort();
}

describe('manifests/', () => {
  it('every object validates against its Kubernetes schema, with no unknown fields', () => {
    assert.ok(manifests.objects.length > 0);
    for (const object of manifests.objects) {
      assert.deepEqual(validateObject(object.raw), [], `${object.file}: ${object.kind} ${object.name}`);
    }
  });

  it('the schema check catches a wrong type and a misspelt field (so the test above can fail)', () => {
    const broken = structuredClone(deployment.raw);
    broken.spec.replicas = 'two';
    assert.match(validateObject(broken).join(), /replicas must be integer/);
    const typo = structuredClone(deployment.raw);
    typo.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true;
    assert.deepEqual(validateObject(typo), ['unknown field /spec/template/spec/containers/0/securityContext/readOnlyRootFileSystem']);
  });

  it('kustomization.yaml lists every manifest file exactly once, and only those', () => {
    const resources = manifests.kustomization.resources ?? [];
    assert.equal(new Set(resources).size, resources.length, 'duplicate entries in resources');
    assert.deepEqual([...resources].sort(), manifests.files.filter((f) => f !== 'kustomization.yaml'));
  });

  it('object names are unique per kind and namespace', () => {
    const keys = manifests.objects.map((o) => `${o.kind}/${o.namespace ?? ''}/${o.name}`);
    assert.equal(new Set(keys).size, keys.length);
  });

  it('namespaced objects live in the switchyard namespace, cluster-scoped ones have none', () => {
    assert.equal(NAMESPACE, 'switchyard');
    for (const object of manifests.objects) {
      assert.equal(object.namespace, CLUSTER_SCOPED.has(object.kind) ? undefined : NAMESPACE, `${object.kind} ${object.name}`);
    }
  });

  describe('RBAC', () => {
    const clusterRole = findOne(manifests, 'ClusterRole');
    const role = findOne(manifests, 'Role');

    it('the ClusterRole grants exactly the cluster-scope entries of permissions.ts', () => {
      assert.deepEqual(grantsOfRules(clusterRole), grantsOfTable('cluster'));
    });

    it('the Role grants exactly the namespace-scope entries of permissions.ts', () => {
      assert.deepEqual(grantsOfRules(role), grantsOfTable('namespace'));
    });

    it('no wildcards, resourceNames or non-resource URLs widen a rule', () => {
      for (const object of [clusterRole, role]) {
        for (const rule of object.raw.rules) {
          assert.deepEqual(Object.keys(rule).sort(), ['apiGroups', 'resources', 'verbs'], object.kind);
          for (const value of [...rule.apiGroups, ...rule.resources, ...rule.verbs]) assert.notEqual(value, '*', object.kind);
        }
      }
    });

    it('every permission in the table has a grant (each rule covers one table entry)', () => {
      for (const p of API_PERMISSIONS) {
        const object = p.scope === 'cluster' ? clusterRole : role;
        const rule = object.raw.rules.find((r: { apiGroups: string[]; resources: string[] }) => r.apiGroups.includes(p.apiGroup) && r.resources.includes(p.resource));
        assert.ok(rule, `${p.apiGroup}/${p.resource}`);
        assert.deepEqual([...rule.verbs].sort(), [...p.verbs].sort(), `${p.apiGroup}/${p.resource}`);
      }
    });

    it('the bindings give both roles to the ServiceAccount the Deployment runs as', () => {
      const serviceAccount = findOne(manifests, 'ServiceAccount');
      assert.equal(podSpec.serviceAccountName, serviceAccount.name);
      assert.notEqual(podSpec.automountServiceAccountToken, false, 'the controller needs its token');
      const subject = { kind: 'ServiceAccount', name: serviceAccount.name, namespace: serviceAccount.namespace };
      const clusterBinding = findOne(manifests, 'ClusterRoleBinding');
      assert.deepEqual(clusterBinding.raw.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRole.name });
      assert.deepEqual(clusterBinding.raw.subjects, [subject]);
      const binding = findOne(manifests, 'RoleBinding');
      assert.equal(binding.namespace, role.namespace);
      assert.deepEqual(binding.raw.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.name });
      assert.deepEqual(binding.raw.subjects, [subject]);
    });

    it('the Role is in the namespace the pod reports as POD_NAMESPACE (where the Lease lives)', () => {
      const env = container.env.find((e: { name: string }) => e.name === 'POD_NAMESPACE');
      assert.deepEqual(env.valueFrom, { fieldRef: { fieldPath: 'metadata.namespace' } });
      assert.equal(role.namespace, deployment.namespace);
    });
  });

  it('the IngressClass is owned by CONTROLLER_NAME and is not the default class unless asked', () => {
    const ingressClass = findOne(manifests, 'IngressClass');
    assert.equal(ingressClass.name, 'switchyard');
    assert.equal(ingressClass.raw.spec.controller, CONTROLLER_NAME);
    assert.equal(ingressClass.raw.metadata.annotations['ingressclass.kubernetes.io/is-default-class'], 'false');
  });

  describe('Deployment', () => {
    it('runs 2 replicas, spread over nodes, kept by a PodDisruptionBudget', () => {
      assert.equal(deployment.raw.spec.replicas, 2);
      assert.ok(selects(deployment.raw.spec.selector.matchLabels, podLabels), 'selector matches the pod template');
      assert.equal(deployment.raw.spec.strategy.rollingUpdate.maxUnavailable, 0);
      const [term] = podSpec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution;
      assert.equal(term.podAffinityTerm.topologyKey, 'kubernetes.io/hostname');
      assert.ok(selects(term.podAffinityTerm.labelSelector.matchLabels, podLabels), 'anti-affinity selects its own pods');
      const pdb = findOne(manifests, 'PodDisruptionBudget');
      assert.equal(pdb.raw.spec.minAvailable, 1);
      assert.ok(pdb.raw.spec.minAvailable < deployment.raw.spec.replicas, 'the PDB must allow one eviction');
      assert.ok(selects(pdb.raw.spec.selector.matchLabels, podLabels));
    });

    it('runs the image switchyard:0.1.0, which kustomization.yaml can re-point', () => {
      assert.equal(podSpec.containers.length, 1);
      assert.equal(container.image, 'switchyard:0.1.0');
      const [imageName] = container.image.split(':');
      assert.deepEqual(manifests.kustomization.images, [{ name: imageName, newName: 'switchyard', newTag: '0.1.0' }]);
    });

    it('meets the "restricted" Pod Security Standard its namespace enforces', () => {
      const labels = findOne(manifests, 'Namespace').raw.metadata.labels;
      assert.equal(labels['pod-security.kubernetes.io/enforce'], 'restricted');
      const pod = podSpec.securityContext;
      assert.equal(pod.runAsNonRoot, true);
      assert.equal(pod.runAsUser, 65532);
      assert.deepEqual(pod.seccompProfile, { type: 'RuntimeDefault' });
      for (const key of ['hostNetwork', 'hostPID', 'hostIPC']) assert.ok(!podSpec[key], key);
      for (const volume of podSpec.volumes) {
        assert.deepEqual(Object.keys(volume).sort(), ['emptyDir', 'name'], `volume ${volume.name}: only emptyDir is used`);
      }
      for (const c of podSpec.containers) {
        const sc = c.securityContext;
        assert.equal(sc.runAsNonRoot, true);
        assert.equal(sc.runAsUser, 65532);
        assert.equal(sc.allowPrivilegeEscalation, false);
        assert.equal(sc.readOnlyRootFilesystem, true);
        assert.equal(sc.privileged, undefined);
        assert.deepEqual(sc.capabilities, { drop: ['ALL'] });
        assert.deepEqual(sc.seccompProfile, { type: 'RuntimeDefault' });
        for (const port of c.ports) assert.equal(port.hostPort, undefined, port.name);
      }
    });

    it('mounts an emptyDir on /tmp, the only writable path', () => {
      const mount = container.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/tmp');
      assert.ok(mount);
      const volume = podSpec.volumes.find((v: { name: string }) => v.name === mount.name);
      assert.ok(volume?.emptyDir, 'the /tmp volume is an emptyDir');
      assert.deepEqual(container.volumeMounts.map((m: { mountPath: string }) => m.mountPath), ['/tmp']);
    });

    it('sets requests and limits, and a grace period for the drain', () => {
      for (const key of ['requests', 'limits']) {
        assert.ok(container.resources[key].cpu, `${key}.cpu`);
        assert.ok(container.resources[key].memory, `${key}.memory`);
      }
      assert.equal(podSpec.terminationGracePeriodSeconds, 30);
    });

    it('passes POD_NAMESPACE and POD_NAME from the downward API, and no service-link env vars', () => {
      const env = Object.fromEntries(container.env.map((e: { name: string; valueFrom: unknown }) => [e.name, e.valueFrom]));
      assert.deepEqual(env, {
        POD_NAMESPACE: { fieldRef: { fieldPath: 'metadata.namespace' } },
        POD_NAME: { fieldRef: { fieldPath: 'metadata.name' } },
      });
      // Service links would inject SWITCHYARD_PORT=tcp://... and friends into SWITCHYARD_* env.
      assert.equal(podSpec.enableServiceLinks, false);
    });
  });

  describe('Services', () => {
    const containerPort = (target: string | number): number =>
      typeof target === 'number' ? target : container.ports.find((p: { name: string }) => p.name === target)?.containerPort;

    it('the LoadBalancer Service maps 80 to the http port and 443 to the https port, keeping client IPs', () => {
      const service = findOne(manifests, 'Service', 'switchyard');
      assert.equal(service.raw.spec.type, 'LoadBalancer');
      assert.equal(service.raw.spec.externalTrafficPolicy, 'Local');
      assert.ok(selects(service.raw.spec.selector, podLabels));
      const ports = service.raw.spec.ports.map((p: { port: number; targetPort: string | number }) => [p.port, containerPort(p.targetPort)]);
      assert.deepEqual(ports, [[80, 8080], [443, 8443]]);
    });

    it('the metrics Service exposes the admin port 10254 inside the cluster only', () => {
      const service = findOne(manifests, 'Service', 'switchyard-metrics');
      assert.equal(service.raw.spec.type, 'ClusterIP');
      assert.ok(selects(service.raw.spec.selector, podLabels));
      const ports = service.raw.spec.ports.map((p: { port: number; targetPort: string | number }) => [p.port, containerPort(p.targetPort)]);
      assert.deepEqual(ports, [[10254, 10254]]);
    });
  });
});

describe('the Deployment and the controller\'s flags (src/config.ts)', () => {
  // What the kubelet gives the container: its args, and env with the downward API resolved.
  const env: Record<string, string> = { POD_NAMESPACE: deployment.namespace!, POD_NAME: 'switchyard-7d4b9c-x1' };
  const outcome = parseConfig(container.args, env);
  assert.equal(outcome.kind, 'run');
  const config = outcome.config;

  const portOf = (name: string): number => container.ports.find((p: { name: string }) => p.name === name)?.containerPort;

  it('every arg is a valid flag, written --name=value', () => {
    for (const arg of container.args) assert.match(arg, /^--[a-z-]+=\S+$/);
    assert.equal(config.source, 'kubernetes');
  });

  it('the container ports are the listeners the controller opens', () => {
    assert.deepEqual(container.ports.map((p: { name: string }) => p.name), ['http', 'https', 'admin']);
    assert.equal(portOf('http'), config.httpPort);
    assert.equal(portOf('https'), config.httpsPort);
    assert.equal(portOf('admin'), config.adminPort);
    // Probes and Services reach the pod IP, not loopback.
    assert.equal(config.bindAddress, '0.0.0.0');
    assert.equal(config.adminBindAddress, '0.0.0.0');
  });

  it('readiness asks /readyz and liveness /healthz on the admin port', () => {
    assert.deepEqual(container.readinessProbe.httpGet, { path: '/readyz', port: 'admin' });
    assert.deepEqual(container.livenessProbe.httpGet, { path: '/healthz', port: 'admin' });
    assert.equal(portOf(container.readinessProbe.httpGet.port), config.adminPort);
  });

  it('--publish-service names the LoadBalancer Service; the Lease lives where the Role allows it', () => {
    const service = findOne(manifests, 'Service', 'switchyard');
    assert.deepEqual(config.publishService, { namespace: service.namespace, name: service.name });
    assert.equal(config.updateStatus, true);
    assert.equal(config.podNamespace, findOne(manifests, 'Role').namespace);
    assert.equal(config.electionId, 'switchyard-leader');
  });

  it('the controller serves the IngressClass that manifests/ installs', () => {
    const ingressClass = findOne(manifests, 'IngressClass');
    assert.equal(config.ingressClass, ingressClass.name);
    assert.equal(config.controllerClass, ingressClass.raw.spec.controller);
    // Watching every namespace needs the ClusterRole (not per-namespace Roles).
    assert.deepEqual(config.watchNamespaces, []);
  });

  it('no env var Kubernetes could inject for these Services collides with a SWITCHYARD_* flag variable', () => {
    // Docker-link variables (enableServiceLinks) for every Service in the namespace.
    const injected = new Set<string>();
    for (const service of manifests.objects.filter((o) => o.kind === 'Service')) {
      const prefix = service.name.toUpperCase().replace(/-/g, '_');
      injected.add(`${prefix}_SERVICE_HOST`).add(`${prefix}_SERVICE_PORT`).add(`${prefix}_PORT`);
      for (const p of service.raw.spec.ports) {
        const base = `${prefix}_PORT_${p.port}_${p.protocol ?? 'TCP'}`;
        injected.add(`${prefix}_SERVICE_PORT_${p.name.toUpperCase().replace(/-/g, '_')}`).add(base).add(`${base}_PROTO`).add(`${base}_PORT`).add(`${base}_ADDR`);
      }
    }
    for (const f of FLAGS) assert.ok(!injected.has(envVarName(f.name)), envVarName(f.name));
  });
});
