// Per-request canary decision (src/compile/canary-rule.ts): request tables with an injected random
// source, the weighted split's accuracy, cookie lookup.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  COOKIE_ALWAYS,
  COOKIE_NEVER,
  COOKIE_NONE,
  compileCanaryRule,
  findCookieDecision,
  type CanaryRule,
} from '../../src/compile/canary-rule.ts';
import type { CanaryBackend } from '../../src/model/route-config.ts';
import { canaryBackend, seededRandom, sequence } from './helpers.ts';

function rule(canaries: CanaryBackend[], random: () => number = () => 0.999999): CanaryRule<string> {
  const compiled = compileCanaryRule(canaries, { random, resolveUpstream: (b) => b.upstream });
  assert.ok(compiled !== null);
  return compiled;
}

/** rawHeaders as node would present them for `headers` (names in mixed case, arrays expanded). */
function rawOf(headers: IncomingHttpHeaders): string[] {
  const raw: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const mixed = name.replace(/(^|-)[a-z]/g, (m) => m.toUpperCase());
    for (const v of Array.isArray(value) ? value : [value ?? '']) raw.push(mixed, v);
  }
  return raw;
}

/** "main" or the chosen canary's Ingress name, from decideRaw (the proxy's path, on rawHeaders). */
function decide(r: CanaryRule<string>, headers: IncomingHttpHeaders): string {
  const target = r.decideRaw(rawOf(headers));
  return target === null ? 'main' : target.source.name;
}

interface Row {
  readonly why: string;
  readonly headers: IncomingHttpHeaders;
  readonly expect: string;
}

/** Rules in tables use a constant random source, so decide (parsed headers) must agree with decideRaw. */
function table(r: CanaryRule<string>, rows: readonly Row[]): void {
  for (const row of rows) {
    assert.equal(decide(r, row.headers), row.expect, row.why);
    assert.equal(r.decide(row.headers)?.source.name ?? 'main', row.expect, `${row.why} (decide on the headers object)`);
  }
}

describe('canary decision: header rule', () => {
  it('always/never without value or pattern', () => {
    const r = rule([canaryBackend('c', { header: { name: 'x-canary', match: 'always-never' }, weight: 100 })]);
    table(r, [
      { why: 'always -> canary', headers: { 'x-canary': 'always' }, expect: 'c' },
      { why: 'never -> main even with weight 100', headers: { 'x-canary': 'never' }, expect: 'main' },
      { why: 'other value falls through to weight 100', headers: { 'x-canary': 'yes' }, expect: 'c' },
      { why: 'absent falls through to weight 100', headers: {}, expect: 'c' },
      { why: 'values are case-sensitive: Always falls through', headers: { 'x-canary': 'Always' }, expect: 'c' },
    ]);
    const r0 = rule([canaryBackend('c', { header: { name: 'x-canary', match: 'always-never' } })]);
    table(r0, [
      { why: 'always -> canary (weight 0)', headers: { 'x-canary': 'always' }, expect: 'c' },
      { why: 'NEVER is not never: falls through to weight 0 -> main', headers: { 'x-canary': 'NEVER' }, expect: 'main' },
      { why: 'absent -> weight 0 -> main', headers: {}, expect: 'main' },
    ]);
  });

  it('with a value: exact, case-sensitive match; always/never lose their meaning', () => {
    const r = rule([canaryBackend('c', { header: { name: 'x-version', match: 'value', value: 'V2' }, cookie: 'cn' })]);
    table(r, [
      { why: 'equal -> canary', headers: { 'x-version': 'V2' }, expect: 'c' },
      { why: 'case differs -> falls through', headers: { 'x-version': 'v2' }, expect: 'main' },
      { why: 'always is just another value', headers: { 'x-version': 'always' }, expect: 'main' },
      { why: 'never does not stop: the cookie still decides', headers: { 'x-version': 'never', cookie: 'cn=always' }, expect: 'c' },
      { why: 'different value falls through to the cookie', headers: { 'x-version': 'v3', cookie: 'cn=always' }, expect: 'c' },
    ]);
  });

  it('with a pattern: unanchored search; no match falls through', () => {
    const r = rule([canaryBackend('c', { header: { name: 'x-user', match: 'pattern', pattern: '^(alice|bob)$', valid: true }, cookie: 'cn' })]);
    table(r, [
      { why: 'match -> canary', headers: { 'x-user': 'alice' }, expect: 'c' },
      { why: 'no match -> falls through -> main', headers: { 'x-user': 'carol' }, expect: 'main' },
      { why: 'no match -> falls through -> cookie', headers: { 'x-user': 'carol', cookie: 'cn=always' }, expect: 'c' },
      { why: 'always has no meaning with a pattern', headers: { 'x-user': 'always' }, expect: 'main' },
    ]);
    const search = rule([canaryBackend('c', { header: { name: 'x-ua', match: 'pattern', pattern: 'Mobile', valid: true } })]);
    table(search, [
      { why: 'unanchored: matches inside the value', headers: { 'x-ua': 'Mozilla Mobile Safari' }, expect: 'c' },
      { why: 'regex is case-sensitive', headers: { 'x-ua': 'mobile' }, expect: 'main' },
    ]);
  });

  it('an invalid pattern sends requests carrying the header to main and stops (no cookie, no weight)', () => {
    const r = rule([canaryBackend('c', { header: { name: 'x-user', match: 'pattern', pattern: '([', valid: false }, cookie: 'cn', weight: 100 })]);
    table(r, [
      { why: 'header present -> main, cookie and weight not consulted', headers: { 'x-user': 'x', cookie: 'cn=always' }, expect: 'main' },
      { why: 'header absent -> cookie still decides', headers: { cookie: 'cn=always' }, expect: 'c' },
      { why: 'header absent -> weight still decides', headers: {}, expect: 'c' },
    ]);
  });

  it('a multi-valued header is compared as node joins it', () => {
    const r = rule([canaryBackend('c', { header: { name: 'x-canary', match: 'always-never' } })]);
    assert.equal(decide(r, { 'x-canary': ['always', 'always'] as unknown as string }), 'main');
  });
});

describe('canary decision: cookie rule and order', () => {
  it('cookie always/never; anything else falls through to the weight', () => {
    const r = rule([canaryBackend('c', { cookie: 'canary', weight: 100 })]);
    table(r, [
      { why: 'always -> canary', headers: { cookie: 'a=1; canary=always; b=2' }, expect: 'c' },
      { why: 'never -> main even at weight 100', headers: { cookie: 'canary=never' }, expect: 'main' },
      { why: 'other value -> weight', headers: { cookie: 'canary=maybe' }, expect: 'c' },
      { why: 'another cookie with a longer name does not count', headers: { cookie: 'canaryx=never' }, expect: 'c' },
    ]);
  });

  it('the header rule is checked before the cookie rule', () => {
    const r = rule([canaryBackend('c', { header: { name: 'x-canary', match: 'always-never' }, cookie: 'canary' })]);
    table(r, [
      { why: 'header never beats cookie always', headers: { 'x-canary': 'never', cookie: 'canary=always' }, expect: 'main' },
      { why: 'header always beats cookie never', headers: { 'x-canary': 'always', cookie: 'canary=never' }, expect: 'c' },
      { why: 'header other value -> cookie decides', headers: { 'x-canary': 'x', cookie: 'canary=always' }, expect: 'c' },
    ]);
  });

  it('header and cookie rules are checked canary by canary, oldest first', () => {
    const a = canaryBackend('a', { header: { name: 'x-a', match: 'always-never' }, cookie: 'ca', weight: 50 });
    const b = canaryBackend('b', { header: { name: 'x-b', match: 'always-never' }, cookie: 'cb', weight: 50 });
    // random 0.25 -> r = 25 -> a's slice [0,50); 0.75 -> r = 75 -> b's slice [50,100).
    const draw = (value: number) => rule([a, b], () => value);
    table(draw(0.99), [
      { why: 'a header always', headers: { 'x-a': 'always' }, expect: 'a' },
      { why: 'b header always', headers: { 'x-b': 'always' }, expect: 'b' },
      { why: 'both always: the older (a) wins', headers: { 'x-a': 'always', 'x-b': 'always' }, expect: 'a' },
      { why: "a's cookie is checked before b's header", headers: { cookie: 'ca=always', 'x-b': 'always' }, expect: 'a' },
      { why: 'a never: b still decides', headers: { 'x-a': 'never', 'x-b': 'always' }, expect: 'b' },
    ]);
    assert.equal(decide(draw(0.25), { 'x-a': 'never' }), 'main', 'the draw lands on excluded a -> main');
    assert.equal(decide(draw(0.75), { 'x-a': 'never' }), 'b', 'the draw lands on b');
    assert.equal(decide(draw(0.75), { cookie: 'cb=never' }), 'main', 'b excluded by its cookie');
    assert.equal(decide(draw(0.25), { cookie: 'cb=never' }), 'a');
  });
});

describe('canary decision: weight', () => {
  it('draws an integer in [0, total) against cumulative thresholds', () => {
    const c = canaryBackend('c', { weight: 10 });
    // r = floor(random * 100): canary when r < 10.
    assert.equal(decide(rule([c], () => 0), {}), 'c');
    assert.equal(decide(rule([c], () => 0.099999), {}), 'c');
    assert.equal(decide(rule([c], () => 0.1), {}), 'main');
    assert.equal(decide(rule([c], () => 0.999999), {}), 'main');
  });

  it('W=0 never, W=T always, a total below 100 is honoured', () => {
    assert.equal(decide(rule([canaryBackend('c', { weight: 0 })], () => 0), {}), 'main');
    assert.equal(decide(rule([canaryBackend('c', { weight: 100 })], () => 0.999999), {}), 'c');
    const small = canaryBackend('c', { weight: 1, weightTotal: 3 });
    assert.equal(decide(rule([small], () => 0.33), {}), 'c'); // r = 0
    assert.equal(decide(rule([small], () => 0.34), {}), 'main'); // r = 1
  });

  it('does not consume randomness when no canary has a weight', () => {
    let calls = 0;
    const r = rule([canaryBackend('c', { header: { name: 'x', match: 'always-never' } })], () => {
      calls++;
      return 0;
    });
    r.decide({});
    assert.equal(calls, 0);
  });

  it('several canaries: each gets its share of the total, main the rest (exact over one full cycle)', () => {
    const r = rule(
      [canaryBackend('a', { weight: 10 }), canaryBackend('b', { weight: 25 }), canaryBackend('c', { weight: 5, weightTotal: 50 })],
      (() => {
        let i = 0;
        return () => (i++ % 100) / 100 + 0.0001; // every r in [0,100) exactly once per 100 requests
      })(),
    );
    const counts = new Map<string, number>();
    for (let i = 0; i < 1000; i++) {
      const name = decide(r, {});
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(counts), { a: 100, b: 250, c: 100, main: 550 });
  });

  it('mixed totals use their least common multiple', () => {
    // 1/3 and 1/4 -> total 12: a gets [0,4), b gets [4,7).
    const r = (v: number) => rule([canaryBackend('a', { weight: 1, weightTotal: 3 }), canaryBackend('b', { weight: 1, weightTotal: 4 })], () => v);
    assert.equal(decide(r(3.99 / 12), {}), 'a');
    assert.equal(decide(r(4 / 12), {}), 'b');
    assert.equal(decide(r(6.99 / 12), {}), 'b');
    assert.equal(decide(r(7 / 12), {}), 'main');
  });

  for (const weight of [10, 50, 90]) {
    it(`over 1,000 requests a ${weight}% canary gets ${weight}% within 4 points (seeded random)`, () => {
      for (const seed of [1, 2, 3, 42, 2026]) {
        const r = rule([canaryBackend('c', { weight })], seededRandom(seed));
        let canary = 0;
        for (let i = 0; i < 1000; i++) if (r.decide({}) !== null) canary++;
        assert.ok(Math.abs(canary - weight * 10) <= 40, `seed ${seed}: ${canary} of 1000 for weight ${weight}`);
      }
    });
  }

  it('a canary that cannot serve is left out: its share stays on main, the others keep theirs', () => {
    const canaries = [canaryBackend('a', { weight: 50, upstream: null }), canaryBackend('b', { weight: 50 })];
    const r = (v: number) => {
      const compiled = compileCanaryRule(canaries, { random: () => v, resolveUpstream: (b) => b.upstream });
      assert.ok(compiled !== null);
      return compiled;
    };
    assert.equal(decide(r(0.25), {}), 'main');
    assert.equal(decide(r(0.75), {}), 'b');
    assert.equal(r(0).targets.length, 1);
    assert.equal(compileCanaryRule([canaries[0]], { resolveUpstream: (b) => b.upstream }), null);
    assert.equal(compileCanaryRule([], { resolveUpstream: (b) => b.upstream }), null);
  });

  it('the target carries the label metrics and access logs use', () => {
    const target = rule([canaryBackend('c', { weight: 100 })]).decide({});
    assert.ok(target !== null);
    assert.equal(target.label, 'default/c');
    assert.equal(target.upstream, 'default/c:80');
    assert.equal(target.name, 'ingress/default/c/rule/0/path/0');
  });

  it('injected random is consumed once per weighted decision', () => {
    const r = rule([canaryBackend('c', { weight: 50 })], sequence(0.1, 0.9, 0.2));
    assert.deepEqual([decide(r, {}), decide(r, {}), decide(r, {})], ['c', 'main', 'c']);
  });
});

describe('findCookieDecision', () => {
  const rows: [string, string, number][] = [
    ['canary=always', 'canary', COOKIE_ALWAYS],
    ['canary=never', 'canary', COOKIE_NEVER],
    ['a=b; canary=always', 'canary', COOKIE_ALWAYS],
    ['a=b;canary=never;c=d', 'canary', COOKIE_NEVER],
    ['  canary = always ', 'canary', COOKIE_NONE], // "canary " is not the name (no space before "=")
    ['canary= always ', 'canary', COOKIE_ALWAYS], // spaces around the value are trimmed
    ['canary=Always', 'canary', COOKIE_NONE],
    ['canary=alwaysx', 'canary', COOKIE_NONE],
    ['xcanary=always', 'canary', COOKIE_NONE],
    ['canaryx=always', 'canary', COOKIE_NONE],
    ['canary', 'canary', COOKIE_NONE],
    ['canary=', 'canary', COOKIE_NONE],
    ['canary=maybe; canary=always', 'canary', COOKIE_NONE], // the first one counts, like nginx
    ['', 'canary', COOKIE_NONE],
  ];
  for (const [header, name, expected] of rows) {
    it(`${JSON.stringify(header)} -> ${expected}`, () => assert.equal(findCookieDecision(header, name), expected));
  }
});

describe('decideRaw sees what node parses into req.headers', () => {
  it('repeated and mixed-case headers, over a real socket', async () => {
    const rules = {
      custom: rule([canaryBackend('c', { header: { name: 'x-canary', match: 'pattern', pattern: '^a, b$', valid: true } })]),
      firstWins: rule([canaryBackend('c', { header: { name: 'user-agent', match: 'value', value: 'first' } })]),
      cookieHeader: rule([canaryBackend('c', { header: { name: 'cookie', match: 'value', value: 'x=1; y=2' }, cookie: 'y' })]),
      cookie: rule([canaryBackend('c', { cookie: 'canary' })]),
    };
    const requests: [string, [string, string][]][] = [
      ['custom', [['X-Canary', 'a'], ['x-canary', 'b']]],
      ['custom', [['X-CANARY', 'a, b']]],
      ['firstWins', [['User-Agent', 'first'], ['user-agent', 'second']]],
      ['firstWins', [['User-Agent', 'second'], ['user-agent', 'first']]],
      ['cookieHeader', [['Cookie', 'x=1'], ['cookie', 'y=2']]],
      ['cookie', [['Cookie', 'a=1'], ['COOKIE', 'canary=always']]],
      ['cookie', [['Cookie', 'canary=never; canary=always']]],
    ];
    const seen: IncomingMessage[] = [];
    const server = createServer((req, res) => {
      seen.push(req);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      for (const [, headers] of requests) {
        await new Promise<void>((resolve, reject) => {
          const req = httpRequest({ host: '127.0.0.1', port, path: '/', method: 'GET', headers: ['Host', 'canary.test', ...headers.flat()] as unknown as Record<string, string> }, (res) => {
            res.resume();
            res.on('end', resolve);
          });
          req.on('error', reject);
          req.end();
        });
      }
    } finally {
      server.close();
    }
    assert.equal(seen.length, requests.length);
    const results = requests.map(([name], i) => {
      const r = rules[name as keyof typeof rules];
      const fromRaw = r.decideRaw(seen[i].rawHeaders)?.source.name ?? 'main';
      const fromObject = r.decide(seen[i].headers)?.source.name ?? 'main';
      assert.equal(fromRaw, fromObject, `${name} ${JSON.stringify(requests[i][1])}`);
      return fromRaw;
    });
    assert.deepEqual(results, ['c', 'c', 'c', 'main', 'c', 'c', 'main']);
  });
});
