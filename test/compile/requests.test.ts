// Runs the request expectations written next to the translate golden files
// (test/translate/fixtures/<case>.requests.yaml) through translate + the real compiled RouteTable:
// route null + upstream set = default backend; both null = 404; route set + upstream null = 503.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import { parseRequestTarget } from '../../src/compile/path.ts';
import { translate } from '../../src/translate/translate.ts';
import { listRequestCases, loadFixture, loadRequests } from '../translate/fixture.ts';

describe('fixture request expectations through translate + compile', () => {
  const cases = listRequestCases();
  test('there are request expectation files', () => assert.ok(cases.length > 0));
  for (const name of cases) {
    test(name, () => {
      const { snapshot, options } = loadFixture(name);
      const table = compile(translate(snapshot, options).config, { random: () => 0 });
      for (const [i, r] of loadRequests(name).entries()) {
        const where = `${name}.requests.yaml[${i}] ${r.host}${r.path}`;
        const target = parseRequestTarget(r.path);
        assert.ok(target, `${where}: the proxy rejects this path (400)`);
        const route = table.find(r.host, target.path);
        const decision =
          route === undefined
            ? { route: null, upstream: null }
            : { route: route.kind === 'route' ? route.name : null, upstream: route.upstream?.key ?? null };
        assert.deepEqual(decision, { route: r.route, upstream: r.upstream }, where);
      }
      // translate emits routes in precedence order, so the matcher takes its first-hit fast path.
      for (const vhost of table.config.virtualHosts) {
        assert.equal(table.findVirtualHost(vhost.host)?.paths.ordered, true, `${name}: ${vhost.host} routes not in precedence order`);
      }
    });
  }
});
