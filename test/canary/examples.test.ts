// examples/canary/ (README "Canary routing") translates cleanly and attaches the canaries it
// documents; the demo's other examples are loaded alongside so host clashes would show.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../src/model/kube.ts';
import { translate } from '../../src/translate/translate.ts';
import { DEFAULT_TEST_OPTIONS, snapshotOf } from '../translate/fixture.ts';

const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(f) ? [p] : [];
  });
}

it('examples/canary attaches its canaries with no diagnostics', () => {
  const objects: KubeObject[] = [];
  for (const file of yamlFiles(EXAMPLES)) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      const value = doc.toJS() as KubeObject | null;
      if (value !== null) objects.push(value);
    }
  }
  const result = translate(snapshotOf(objects), DEFAULT_TEST_OPTIONS);
  const canaryNames = new Set(['canary-main', 'canary-preview', 'canary-header-main', 'canary-header-v2', 'canary-stable']);
  assert.deepEqual(result.diagnostics.filter((d) => canaryNames.has(d.object.name)), []);
  const routes = result.config.virtualHosts.filter((vh) => vh.host.startsWith('canary')).flatMap((vh) => vh.routes);
  assert.deepEqual(
    routes.map((r) => ({ host: r.host, backend: r.backend.upstream, canaries: r.canaries.map((c) => ({ from: c.source.name, to: c.backend.upstream, header: c.header, cookie: c.cookie, weight: c.weight })) })),
    [
      {
        host: 'canary-header.localhost',
        backend: 'default/canary-stable:80',
        canaries: [{ from: 'canary-header-v2', to: 'default/canary-preview:80', header: { name: 'x-version', match: 'value', value: 'v2' }, cookie: null, weight: 0 }],
      },
      {
        host: 'canary.localhost',
        backend: 'default/canary-stable:80',
        canaries: [{ from: 'canary-preview', to: 'default/canary-preview:80', header: { name: 'x-canary', match: 'always-never' }, cookie: 'canary', weight: 20 }],
      },
    ],
  );
});
