// The load-balance / upstream-hash-by / affinity annotations through the real translate() and
// compile(): the main Ingress's choice lands on its route, the canary keeps its own, bad values are
// reported and fall back, and compile gives each upstream the matching balancer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from '../../src/compile/compile.ts';
import type { KubeObject } from '../../src/model/kube.ts';
import { Balancing } from '../../src/proxy/balancers/balancing.ts';
import { translate } from '../../src/translate/translate.ts';
import { DEFAULT_TEST_OPTIONS, snapshotOf } from '../translate/fixture.ts';
import { ingress, NGINX, OURS } from '../canary/helpers.ts';

function service(name: string): KubeObject[] {
  return [
    { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { ports: [{ name: 'http', port: 80 }] } } as KubeObject,
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-1`, namespace: 'default', labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.0.0.1'] }, { addresses: ['10.0.0.2'] }],
      ports: [{ name: 'http', port: 8080 }],
    } as KubeObject,
  ];
}

test('annotations -> Route.balance and CanaryBackend.balance -> one balancer per upstream', () => {
  const objects: KubeObject[] = [
    ingress('web', {
      [`${NGINX}affinity`]: 'cookie',
      [`${NGINX}session-cookie-name`]: 'route',
      [`${NGINX}session-cookie-max-age`]: '600',
      [`${OURS}load-balance`]: 'ewma',
    }),
    ingress('web-canary', {
      [`${NGINX}canary`]: 'true',
      [`${NGINX}canary-weight`]: '20',
      [`${NGINX}upstream-hash-by`]: '$http_x_user',
      [`${NGINX}affinity-canary-behavior`]: 'legacy',
    }, { creationTimestamp: '2026-01-02T00:00:00Z' }),
    ...service('web'),
    ...service('web-canary'),
  ];
  const { config, diagnostics } = translate(snapshotOf(objects), DEFAULT_TEST_OPTIONS);
  const route = config.virtualHosts[0].routes[0];
  assert.deepEqual(route.balance, {
    policy: 'ewma',
    affinity: { cookieName: 'route', maxAgeSeconds: 600, path: null, canaryBehavior: 'sticky' },
  });
  assert.deepEqual(route.canaries[0].balance, { policy: 'round_robin', hashBy: '$http_x_user' });
  assert.deepEqual(
    diagnostics.filter((d) => d.reason === 'AffinityNotEnabled').map((d) => d.object.name),
    ['web-canary'],
    'affinity-canary-behavior without affinity: cookie is reported',
  );

  const table = compile(config, { balancing: new Balancing() });
  assert.equal(table.upstreams.get('default/web:80')!.balancer!.policy, 'cookie');
  assert.equal(table.upstreams.get('default/web-canary:80')!.balancer!.policy, 'hash');
});

test('invalid values are reported and fall back', () => {
  const objects: KubeObject[] = [
    ingress('web', {
      [`${NGINX}load-balance`]: 'least_conn',
      [`${NGINX}upstream-hash-by`]: '$nonsense',
      [`${NGINX}affinity`]: 'cookie',
      [`${NGINX}session-cookie-path`]: 'no-slash',
    }),
    ...service('web'),
  ];
  const { config, diagnostics } = translate(snapshotOf(objects), DEFAULT_TEST_OPTIONS);
  assert.deepEqual(config.virtualHosts[0].routes[0].balance, {
    policy: 'round_robin',
    affinity: { cookieName: 'INGRESSCOOKIE', maxAgeSeconds: null, path: null, canaryBehavior: 'sticky' },
  });
  const invalid = diagnostics.filter((d) => d.reason === 'InvalidAnnotation').map((d) => d.message);
  assert.equal(invalid.length, 3);
  assert.ok(invalid.some((m) => m.includes('load-balance') && m.includes('least_conn')));
  assert.ok(invalid.some((m) => m.includes('upstream-hash-by') && m.includes('$nonsense')));
  assert.ok(invalid.some((m) => m.includes('session-cookie-path')));
});

test('an Ingress without these annotations has no balance field (golden files unchanged)', () => {
  const { config } = translate(snapshotOf([ingress('web'), ...service('web')]), DEFAULT_TEST_OPTIONS);
  assert.equal('balance' in config.virtualHosts[0].routes[0], false);
});
