import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCleanPath, normalizePath, parseRequestTarget, pathEnd } from '../../src/compile/path.ts';
import { normalizeHost } from '../../src/compile/host.ts';

const normalize: [string, string | null][] = [
  ['/', '/'],
  ['/a/b', '/a/b'],
  ['/a/b/', '/a/b/'],
  ['//a///b', '/a/b'],
  ['/a//', '/a/'],
  ['/a/./b', '/a/b'],
  ['/a/b/../c', '/a/c'],
  ['/a/b/..', '/a/'],
  ['/a/b/.', '/a/b/'],
  ['/a/..', '/'],
  ['/public/../admin', '/admin'],
  ['/public/%2e%2e/admin', '/admin'],
  ['/public/%2E%2e/admin', '/admin'],
  ['/public/.%2e/admin', '/admin'],
  ['/a/%2F/b', '/a/%2F/b'],
  ['/a%2fb', '/a%2Fb'],
  ['/%7Euser', '/~user'],
  ['/%41%42c', '/ABc'],
  ['/%20x', '/%20x'],
  ['/caf%c3%a9', '/caf%C3%A9'],
  ['/.well-known/x', '/.well-known/x'],
  ['/a/.b/..c', '/a/.b/..c'],
  ['/..', null],
  ['/../a', null],
  ['/a/../../b', null],
  ['/%2e%2e/a', null],
  ['/a%', null],
  ['/a%2', null],
  ['/a%zz', null],
  ['a/b', null],
  ['', null],
];

test('normalizePath', () => {
  for (const [input, expected] of normalize) assert.equal(normalizePath(input), expected, input);
});

test('isCleanPath accepts only paths normalization would not change', () => {
  for (const p of ['/', '/a', '/a/b/', '/a.b/c.d', '/a-b_c~d', '/x?y=/../']) {
    assert.equal(isCleanPath(p, pathEnd(p)), true, p);
  }
  for (const p of ['', 'a', '//a', '/a//b', '/./a', '/a/..', '/a%20b', '/.well-known']) {
    assert.equal(isCleanPath(p, pathEnd(p)), false, p);
  }
  // Whatever passes the fast check must be a fixed point of normalizePath.
  for (const [input] of normalize) {
    if (isCleanPath(input, input.length)) assert.equal(normalizePath(input), input);
  }
});

test('parseRequestTarget: query split off, absolute-form, rejected forms', () => {
  assert.deepEqual(parseRequestTarget('/a/../b?x=1/../2'), { path: '/b', query: '?x=1/../2', authority: null });
  assert.deepEqual(parseRequestTarget('/a?'), { path: '/a', query: '?', authority: null });
  assert.deepEqual(parseRequestTarget('/a#frag'), { path: '/a', query: '', authority: null });
  assert.deepEqual(parseRequestTarget('http://Shop.example.com:8080/x//y?q'), { path: '/x/y', query: '?q', authority: 'Shop.example.com:8080' });
  assert.deepEqual(parseRequestTarget('HTTPS://h'), { path: '/', query: '', authority: 'h' });
  assert.deepEqual(parseRequestTarget('http://h?q=1'), { path: '/', query: '?q=1', authority: 'h' });
  assert.equal(parseRequestTarget('*'), null);
  assert.equal(parseRequestTarget('example.com:443'), null);
  assert.equal(parseRequestTarget('ftp://h/x'), null);
  assert.equal(parseRequestTarget('http://user@h/x'), null);
  assert.equal(parseRequestTarget('http:///x'), null);
  assert.equal(parseRequestTarget('/../x?q'), null);
});

test('normalizeHost', () => {
  const cases: [string | undefined, string][] = [
    [undefined, ''],
    ['', ''],
    ['a.example.com', 'a.example.com'],
    ['A.Example.COM', 'a.example.com'],
    ['a.example.com:8080', 'a.example.com'],
    ['a.example.com.', 'a.example.com'],
    ['a.example.com.:80', 'a.example.com'],
    ['[::1]:8080', '[::1]'],
    ['[::1]', '[::1]'],
    ['[FD00::1]', '[fd00::1]'],
    ['127.0.0.1:80', '127.0.0.1'],
  ];
  for (const [input, expected] of cases) assert.equal(normalizeHost(input), expected, String(input));
});
