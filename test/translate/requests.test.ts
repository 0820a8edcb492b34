// Checks the request expectations next to the golden files (fixtures/<case>.requests.yaml): their
// format, that every route and upstream they name exists in the translate output, and that they
// agree with a straightforward reading of the RouteConfig matching rules (reference-matcher.ts).
// test/compile/ runs the same expectations through the real compiled route table.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { translate } from '../../src/translate/translate.ts';
import { FIXTURES_DIR, listFixtureCases, listRequestCases, loadFixture, loadRequests } from './fixture.ts';
import { decide, normalizePath } from './reference-matcher.ts';

describe('request expectations', () => {
  test('every requests file belongs to a fixture', () => {
    const fixtures = new Set(listFixtureCases());
    for (const name of listRequestCases()) assert.ok(fixtures.has(name), `${name}.requests.yaml has no ${name}.in.yaml`);
    assert.ok(listRequestCases().length >= 5, 'expected request expectations for most fixtures');
  });

  for (const name of listRequestCases()) {
    test(name, () => {
      assert.ok(existsSync(join(FIXTURES_DIR, `${name}.out.yaml`)), `${name}.out.yaml missing (run with --test-update-snapshots)`);
      const { snapshot, options } = loadFixture(name);
      const { config } = translate(snapshot, options);
      const routes = new Set(config.virtualHosts.flatMap((v) => v.routes.map((r) => r.name)));
      const upstreams = new Set(config.upstreams.map((u) => u.key));
      const requests = loadRequests(name);
      assert.ok(requests.length > 0, 'no requests');
      for (const [i, r] of requests.entries()) {
        const where = `${name}.requests.yaml[${i}] ${r.host}${r.path}`;
        assert.deepEqual(Object.keys(r).sort(), ['host', 'path', 'route', 'upstream'], `${where}: keys`);
        assert.equal(typeof r.host, 'string', where);
        assert.equal(typeof r.path, 'string', where);
        assert.ok(r.path.startsWith('/'), `${where}: path must start with /`);
        assert.ok(r.route === null || routes.has(r.route), `${where}: no route ${r.route} in the output`);
        assert.ok(r.upstream === null || upstreams.has(r.upstream), `${where}: no upstream ${r.upstream} in the output`);
        assert.deepEqual(decide(config, r.host, r.path), { route: r.route, upstream: r.upstream }, where);
      }
    });
  }
});

describe('reference matcher path normalization', () => {
  const table: [string, string][] = [
    ['/', '/'],
    ['', '/'],
    ['/foo?x=1', '/foo'],
    ['/foo/?x=1', '/foo/'],
    ['//foo//bar', '/foo/bar'],
    ['/public/../admin', '/admin'],
    ['/a/./b', '/a/b'],
    ['/a/b/..', '/a/'],
    ['/..', '/'],
    ['/a/.', '/a/'],
  ];
  for (const [input, expected] of table) {
    test(`${JSON.stringify(input)} -> ${expected}`, () => assert.equal(normalizePath(input), expected));
  }
});
