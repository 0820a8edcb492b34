// The source-range annotation values (allowlist/whitelist/denylist-source-range): which addresses
// and CIDRs parse, and what they become; the IPv4/IPv6 checks are translate's own (it imports no
// node modules), so they are compared with node:net's here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv4 as nodeIsIPv4, isIPv6 as nodeIsIPv6 } from 'node:net';
import { isIPv4, isIPv6, parseSourceRanges } from '../../src/translate/annotations/parsers.ts';

test('source ranges: addresses get a full prefix, CIDRs keep theirs, spaces and empty entries are ignored', () => {
  assert.deepEqual(parseSourceRanges(' 10.0.0.0/8,192.168.1.7 , ,2001:db8::/32, ::1'), { ok: true, value: ['10.0.0.0/8', '192.168.1.7/32', '2001:db8::/32', '::1/128'] });
  assert.deepEqual(parseSourceRanges('0.0.0.0/0'), { ok: true, value: ['0.0.0.0/0'] });
});

test('source ranges: one bad entry makes the value invalid', () => {
  for (const value of ['', ' , ', 'office', '10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/8/8', '10.0.0.0/-1', '10.0.0.256', '010.0.0.1', 'fe80::1%eth0', '10.0.0.0/8, x']) {
    assert.equal(parseSourceRanges(value).ok, false, JSON.stringify(value));
  }
});

test('isIPv4 / isIPv6 agree with node:net (zones aside, which a range cannot carry)', () => {
  const cases = ['1.2.3.4', '255.255.255.255', '256.1.1.1', '01.2.3.4', '1.2.3', '1.2.3.4.5', '::', '::1', '1::', '2001:db8::1',
    '2001:db8:0:0:0:0:0:1', '2001:db8:0:0:0:0:0:0:1', '::ffff:1.2.3.4', '64:ff9b::192.0.2.33', '1:2:3:4:5:6:1.2.3.4',
    '1:2:3:4:5:6:7:1.2.3.4', '1:2:3:4:5::1.2.3.4', ':::', '1:::2', '12345::', 'g::1', '::1.2.3.4', '1::2::3', ':1::',
    '1:2:3:4:5:6:7::', '::1:2:3:4:5:6:7', '1:2:3:4:5:6:7', '', 'a', '1.2.3.4:80', '[::1]', 'ABCD::EF01'];
  for (const c of cases) {
    assert.equal(isIPv4(c), nodeIsIPv4(c), `isIPv4(${JSON.stringify(c)})`);
    assert.equal(isIPv6(c), nodeIsIPv6(c), `isIPv6(${JSON.stringify(c)})`);
  }
  assert.equal(isIPv6('fe80::1%eth0'), false);
});
