// rewrite-target as nginx applies ingress-nginx's `rewrite "(?i)<path>" <target> break;`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PathRewrite } from '../../src/compile/path-rewrite.ts';

function rewrite(path: string, target: string, requestPath: string, query = ''): string {
  const r = PathRewrite.of(path, target);
  assert.ok(r !== null);
  return r.apply(requestPath, requestPath + query);
}

test('captures fill $1-$9; the whole path is replaced', () => {
  assert.equal(rewrite('/something(/|$)(.*)', '/$2', '/something/new'), '/new');
  assert.equal(rewrite('/something(/|$)(.*)', '/$2', '/something'), '/');
  assert.equal(rewrite('/something(/|$)(.*)', '/$2', '/something/a/b'), '/a/b');
  assert.equal(rewrite('/api/(v[0-9]+)/(.*)', '/$2/$1', '/api/v2/users'), '/users/v2');
  assert.equal(rewrite('/(x)', '/$1$1-$0', '/x'), '/xx-/x');
});

test('the path regex is case-insensitive and unanchored, like nginx (?i)', () => {
  assert.equal(rewrite('/api(/|$)(.*)', '/$2', '/API/Items'), '/Items');
  assert.equal(rewrite('/b/(.*)', '/$1', '/a/b/c'), '/c');
});

test('a target without captures replaces every matching path (ingress-nginx >= 0.22)', () => {
  assert.equal(rewrite('/api', '/', '/api/v1/items'), '/');
  assert.equal(rewrite('/api', '/base', '/api'), '/base');
});

test('a capture that did not take part, or does not exist, is empty', () => {
  assert.equal(rewrite('/a(/b)?', '/x$1', '/a'), '/x');
  assert.equal(rewrite('/a', '/x$7', '/a'), '/x');
});

test('the query is appended: after "?", after "&" when the target has one, dropped by a final "?"', () => {
  assert.equal(rewrite('/a(.*)', '/b$1', '/a/c', '?q=1'), '/b/c?q=1');
  assert.equal(rewrite('/a(.*)', '/b?x=2', '/a/c', '?q=1'), '/b?x=2&q=1');
  assert.equal(rewrite('/a(.*)', '/b?x=2', '/a/c'), '/b?x=2');
  assert.equal(rewrite('/a(.*)', '/b?', '/a/c', '?q=1'), '/b');
  assert.equal(rewrite('/a(.*)', '/b', '/a/c', '?'), '/b');
});

test('a path the regex does not match is forwarded unchanged', () => {
  const r = PathRewrite.of('/api/(.+)', '/$1')!;
  assert.equal(r.apply('/api/', '/api/?q'), '/api/?q');
});

test('no rewrite without a target, or with the path itself as target', () => {
  assert.equal(PathRewrite.of('/a', undefined), null);
  assert.equal(PathRewrite.of('/same', '/same'), null);
});
