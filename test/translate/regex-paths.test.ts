// The checks a regular-expression path passes before it becomes a route (src/translate/regex-paths.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { regexPathProblem, regexPattern } from '../../src/translate/regex-paths.ts';

test('patterns are the path anchored at the start', () => {
  assert.equal(regexPattern('/api(/|$)(.*)'), '^/api(/|$)(.*)');
});

test('the paths ingress-nginx users write are accepted', () => {
  for (const path of [
    '/',
    '/api(/|$)(.*)',
    '/something(/|$)(.*)',
    '/(.*)',
    '/v[0-9]+/users/.*',
    '/files/.*\\.png$',
    '/opt/?(.*)',
    '/(api|v1)/(.+)',
    '/(?:static|assets)/(.*)',
    '/(?<rest>.*)',
    '/a{2,}',
    '/(ab){2,}',
    '/([a-z]+)/([0-9]+)',
    '/(x(/.*)?)',
    '/[(+*]+',
    '/\\(a+\\)+',
  ]) {
    assert.equal(regexPathProblem(regexPattern(path)), null, path);
  }
});

test('syntax errors are reported with the engine message', () => {
  assert.match(regexPathProblem(regexPattern('/bad(')) ?? '', /not a valid JavaScript regular expression.*Unterminated group/);
  assert.match(regexPathProblem(regexPattern('/c++')) ?? '', /Nothing to repeat/);
  assert.match(regexPathProblem(regexPattern('/(?P<name>x)')) ?? '', /not a valid/);
});

test('nested unbounded repetition is refused: it backtracks exponentially', () => {
  for (const path of ['/(a+)+$', '/(a*)*', '/(/.*)*x', '/((ab)+)+', '/(?:x+)+y', '/(a+){2,}', '/(([a-z])+.)+[A-Z]([a-z])+$', '/(?<n>a+)*']) {
    assert.match(regexPathProblem(regexPattern(path)) ?? '', /exponential time/, path);
  }
});
