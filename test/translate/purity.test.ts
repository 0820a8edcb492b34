// Static guards for the translate contract (STYLE.md): src/translate/ imports only src/model/ and
// itself, and reads no clock, randomness, environment or logger. Plus: every diagnostic reason of
// the route model is exercised by a golden file and documented in the README.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { FIXTURES_DIR } from './fixture.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const TRANSLATE = join(ROOT, 'src/translate');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Code with comments and string contents blanked (good enough for these checks). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
}

test('src/translate imports only src/model and src/translate', () => {
  for (const file of sourceFiles(TRANSLATE)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\bfrom\s+'([^']+)'|\bimport\s*\(\s*'([^']+)'/g)) {
      const spec = m[1] ?? m[2];
      assert.ok(spec.startsWith('.'), `${relative(ROOT, file)} imports the package "${spec}"`);
      const target = relative(ROOT, resolve(join(file, '..'), spec));
      assert.ok(target.startsWith('src/model/') || target.startsWith('src/translate/'), `${relative(ROOT, file)} imports ${target}`);
    }
  }
});

test('src/translate reads no clock, randomness, environment, console or timers', () => {
  const forbidden = /\bDate\.now\b|\bnew Date\b|\bperformance\.|\bMath\.random\b|\bcrypto\b|\bprocess\.|\bconsole\.|\bsetTimeout\b|\bsetInterval\b|\bsetImmediate\b|\bqueueMicrotask\b/;
  for (const file of sourceFiles(TRANSLATE)) {
    const found = forbidden.exec(code(readFileSync(file, 'utf8')));
    assert.equal(found, null, `${relative(ROOT, file)} uses ${found?.[0]}`);
  }
});

// The route model's own reasons (canary reasons are covered by test/canary).
const ROUTING_REASONS = [
  'InvalidHost',
  'HostPortIgnored',
  'InvalidPath',
  'InvalidPathType',
  'MissingPathType',
  'RegexPathsEnforced',
  'InvalidBackend',
  'ServiceNotFound',
  'ServicePortNotFound',
  'ResourceBackendUnsupported',
  'NoReadyEndpoints',
  'RouteConflict',
  'DefaultBackendConflict',
  'EmptyIngress',
  'MalformedIngress',
];

test('every routing diagnostic reason appears in a golden file and in README "Routing rules"', () => {
  const outputs = readdirSync(FIXTURES_DIR)
    .filter((f) => f.endsWith('.out.yaml'))
    .map((f) => readFileSync(join(FIXTURES_DIR, f), 'utf8'))
    .join('\n');
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('## Routing rules');
  assert.ok(start !== -1, 'README has no "## Routing rules" section');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  for (const reason of ROUTING_REASONS) {
    assert.ok(outputs.includes(`reason: ${reason}\n`), `no golden file shows ${reason}`);
    assert.ok(section.includes(`\`${reason}\``), `README "Routing rules" does not document ${reason}`);
  }
  // ...and the sources emit no routing reason missing from that list.
  const emitted = new Set<string>();
  for (const file of ['translate.ts', 'rules.ts', 'paths.ts', 'regex-paths.ts', 'backends.ts', 'hosts.ts', 'endpoints.ts', 'ingress-class.ts']) {
    const text = readFileSync(join(TRANSLATE, file), 'utf8');
    for (const m of text.matchAll(/reason: '([A-Za-z]+)'/g)) emitted.add(m[1]);
  }
  for (const reason of emitted) assert.ok(ROUTING_REASONS.includes(reason), `${reason} is emitted but not listed here`);
});
