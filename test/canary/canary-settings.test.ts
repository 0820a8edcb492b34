// Canary annotations of one Ingress (src/translate/canary.ts: parseCanarySettings,
// reportCanaryAnnotationsWithoutCanary, isCanaryIngress): every rule and its fallback.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Diagnostic } from '../../src/model/diagnostic.ts';
import {
  isCanaryIngress,
  parseCanarySettings,
  reportCanaryAnnotationsWithoutCanary,
  type CanarySettings,
} from '../../src/translate/canary.ts';
import { ingress, NGINX, OURS } from './helpers.ts';

function settings(annotations: Record<string, string>): { settings: CanarySettings; reasons: string[] } {
  const diagnostics: Diagnostic[] = [];
  const result = parseCanarySettings(ingress('c', { [`${NGINX}canary`]: 'true', ...annotations }), diagnostics);
  return { settings: result, reasons: diagnostics.map((d) => `${d.severity}:${d.reason}`) };
}

const n = (key: string) => NGINX + key;

describe('isCanaryIngress', () => {
  const rows: [Record<string, string>, boolean][] = [
    [{}, false],
    [{ [n('canary')]: 'true' }, true],
    [{ [`${OURS}canary`]: 'true' }, true],
    [{ [n('canary')]: 'True' }, true],
    [{ [n('canary')]: 'false' }, false],
    [{ [n('canary')]: 'yes' }, false],
    [{ [n('canary')]: 'true', [`${OURS}canary`]: 'false' }, false], // switchyard.dev/ wins
    [{ [n('canary')]: 'false', [`${OURS}canary`]: 'true' }, true],
  ];
  for (const [annotations, expected] of rows) {
    it(`${JSON.stringify(annotations)} -> ${expected}`, () => assert.equal(isCanaryIngress(ingress('x', annotations)), expected));
  }
});

describe('parseCanarySettings', () => {
  it('defaults: no header, no cookie, weight 0 of 100', () => {
    assert.deepEqual(settings({}), { settings: { header: null, cookie: null, weight: 0, weightTotal: 100 }, reasons: [] });
  });

  it('header only -> always/never rule, lower-cased name', () => {
    assert.deepEqual(settings({ [n('canary-by-header')]: 'X-Canary' }).settings.header, { name: 'x-canary', match: 'always-never' });
  });

  it('header + value -> value rule', () => {
    assert.deepEqual(settings({ [n('canary-by-header')]: 'X-Version', [n('canary-by-header-value')]: 'v2' }), {
      settings: { header: { name: 'x-version', match: 'value', value: 'v2' }, cookie: null, weight: 0, weightTotal: 100 },
      reasons: [],
    });
  });

  it('header + pattern -> pattern rule', () => {
    assert.deepEqual(settings({ [n('canary-by-header')]: 'X-User', [n('canary-by-header-pattern')]: '^a' }).settings.header, {
      name: 'x-user',
      match: 'pattern',
      pattern: '^a',
      valid: true,
    });
  });

  it('value wins over pattern (reported)', () => {
    const result = settings({ [n('canary-by-header')]: 'X', [n('canary-by-header-value')]: 'v', [n('canary-by-header-pattern')]: '.*' });
    assert.deepEqual(result.settings.header, { name: 'x', match: 'value', value: 'v' });
    assert.deepEqual(result.reasons, ['warning:CanaryHeaderPatternIgnored']);
  });

  it('an empty value counts as unset: pattern or always/never apply', () => {
    assert.deepEqual(settings({ [n('canary-by-header')]: 'X', [n('canary-by-header-value')]: '' }).settings.header, { name: 'x', match: 'always-never' });
  });

  it('invalid pattern: reported, kept as invalid (requests with the header go to main)', () => {
    const result = settings({ [n('canary-by-header')]: 'X', [n('canary-by-header-pattern')]: '([' });
    assert.deepEqual(result.settings.header, { name: 'x', match: 'pattern', pattern: '([', valid: false });
    assert.deepEqual(result.reasons, ['error:InvalidAnnotation']);
  });

  it('empty or invalid header name: reported, no header rule (cookie and weight still apply)', () => {
    for (const name of ['', 'X Canary']) {
      const result = settings({ [n('canary-by-header')]: name, [n('canary-by-header-value')]: 'v', [n('canary-by-cookie')]: 'c', [n('canary-weight')]: '5' });
      assert.deepEqual(result, { settings: { header: null, cookie: 'c', weight: 5, weightTotal: 100 }, reasons: ['error:InvalidAnnotation'] });
    }
  });

  it('value or pattern without by-header: reported, no effect', () => {
    assert.deepEqual(settings({ [n('canary-by-header-value')]: 'v' }), {
      settings: { header: null, cookie: null, weight: 0, weightTotal: 100 },
      reasons: ['warning:CanaryHeaderRuleIncomplete'],
    });
    assert.deepEqual(settings({ [n('canary-by-header-pattern')]: 'v' }).reasons, ['warning:CanaryHeaderRuleIncomplete']);
  });

  it('cookie', () => {
    assert.equal(settings({ [n('canary-by-cookie')]: 'canary' }).settings.cookie, 'canary');
    assert.deepEqual(settings({ [n('canary-by-cookie')]: '' }), {
      settings: { header: null, cookie: null, weight: 0, weightTotal: 100 },
      reasons: ['error:InvalidAnnotation'],
    });
  });

  const weightRows: [Record<string, string>, number, number, string[]][] = [
    [{ 'canary-weight': '10' }, 10, 100, []],
    [{ 'canary-weight': '0' }, 0, 100, []],
    [{ 'canary-weight': '100' }, 100, 100, []],
    [{ 'canary-weight': '150' }, 100, 100, ['warning:CanaryWeightAboveTotal']],
    [{ 'canary-weight': '-1' }, 0, 100, ['error:InvalidAnnotation']],
    [{ 'canary-weight': 'abc' }, 0, 100, ['error:InvalidAnnotation']],
    [{ 'canary-weight': '12.5' }, 0, 100, ['error:InvalidAnnotation']],
    [{ 'canary-weight': '5', 'canary-weight-total': '10' }, 5, 10, []], // below 100: honoured
    [{ 'canary-weight': '15', 'canary-weight-total': '10' }, 10, 10, ['warning:CanaryWeightAboveTotal']],
    [{ 'canary-weight': '500', 'canary-weight-total': '1000' }, 500, 1000, []],
    [{ 'canary-weight': '50', 'canary-weight-total': '0' }, 50, 100, ['error:InvalidAnnotation']],
    [{ 'canary-weight': '50', 'canary-weight-total': 'x' }, 50, 100, ['error:InvalidAnnotation']],
  ];
  for (const [raw, weight, weightTotal, reasons] of weightRows) {
    it(`weight ${JSON.stringify(raw)} -> ${weight}/${weightTotal}`, () => {
      const annotations = Object.fromEntries(Object.entries(raw).map(([k, v]) => [n(k), v]));
      const result = settings(annotations);
      assert.deepEqual([result.settings.weight, result.settings.weightTotal, result.reasons], [weight, weightTotal, reasons]);
    });
  }

  it('reads switchyard.dev/ keys the same way, and prefers them', () => {
    assert.deepEqual(
      settings({ [`${OURS}canary-by-header`]: 'X-A', [n('canary-by-header')]: 'X-B', [`${OURS}canary-weight`]: '30' }),
      {
        settings: { header: { name: 'x-a', match: 'always-never' }, cookie: null, weight: 30, weightTotal: 100 },
        reasons: ['warning:AnnotationPrefixConflict'],
      },
    );
  });
});

describe('reportCanaryAnnotationsWithoutCanary', () => {
  function report(annotations: Record<string, string>): string[] {
    const diagnostics: Diagnostic[] = [];
    reportCanaryAnnotationsWithoutCanary(ingress('web', annotations), diagnostics);
    return diagnostics.map((d) => `${d.severity}:${d.reason}`);
  }

  it('no canary annotations -> nothing', () => {
    assert.deepEqual(report({}), []);
    assert.deepEqual(report({ [n('canary')]: 'false' }), []);
  });

  it('canary rules without canary: "true" -> CanaryAnnotationWithoutCanary (error)', () => {
    assert.deepEqual(report({ [n('canary-weight')]: '10' }), ['error:CanaryAnnotationWithoutCanary']);
    assert.deepEqual(report({ [n('canary')]: 'false', [`${OURS}canary-by-header`]: 'X' }), ['error:CanaryAnnotationWithoutCanary']);
    assert.deepEqual(report({ [n('canary')]: 'yes', [n('canary-by-cookie')]: 'c' }), ['error:InvalidAnnotation', 'error:CanaryAnnotationWithoutCanary']);
  });

  it('the message names the annotations and says the Ingress is served normally', () => {
    const diagnostics: Diagnostic[] = [];
    reportCanaryAnnotationsWithoutCanary(ingress('web', { [n('canary')]: 'false', [n('canary-weight')]: '10' }), diagnostics);
    assert.match(diagnostics[0].message, /canary-weight .*canary is "false".*served as a normal Ingress/);
  });
});
