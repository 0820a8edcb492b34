// proxy-next-upstream-tries per Ingress: the route's value overrides --proxy-next-upstream-tries
// (1 = no retry; 0 = every endpoint). The first endpoint refuses connections, the second answers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RouteConfig, RouteSettings } from '../../src/model/route-config.ts';
import { routeConfig } from '../compile/config-builder.ts';
import { send, startUpstream } from '../proxy/support.ts';
import { refusedPort, startBalancedProxy } from '../resilience/support.ts';

function configWith(ports: readonly number[], settings: RouteSettings | undefined): RouteConfig {
  const base = routeConfig({
    hosts: [{ host: 'app.example.com', routes: [{ path: '/', upstream: 'default/web:80' }] }],
    upstreams: [{ key: 'default/web:80', endpoints: ports.map((port) => ({ address: '127.0.0.1', port })) }],
  });
  return { ...base, virtualHosts: base.virtualHosts.map((vh) => ({ ...vh, routes: vh.routes.map((r) => (settings ? { ...r, settings } : r)) })) };
}

test('proxy-next-upstream-tries: 1 turns retries off for the route, the default retries, 0 tries every endpoint', async () => {
  const live = await startUpstream('live');
  const dead = await refusedPort();
  const dead2 = await refusedPort();
  const cases: [RouteSettings | undefined, number[], number][] = [
    [{ nextUpstreamTries: 1 }, [dead, live.port], 502],
    [undefined, [dead, live.port], 200],
    [{ nextUpstreamTries: 2 }, [dead, dead2, live.port], 502],
    [{ nextUpstreamTries: 0 }, [dead, dead2, live.port], 200],
  ];
  try {
    for (const [settings, ports, status] of cases) {
      // Endpoints are sorted by address then port in the IR; the refused ones must come first.
      const sorted = [...ports].sort((a, b) => (a === live.port ? 1 : b === live.port ? -1 : a - b));
      const h = await startBalancedProxy(configWith(sorted, settings), { tries: 3, maxFails: 0 });
      try {
        const r = await send(h.port, { host: 'app.example.com', path: '/' });
        assert.equal(r.status, status, JSON.stringify(settings));
      } finally {
        await h.close();
      }
    }
  } finally {
    await live.close();
  }
});
