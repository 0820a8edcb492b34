// The README's annotation table is generated from THE annotation table
// (src/translate/annotations/annotation-table.ts). This test fails when they differ; run
// `./node_modules/.bin/node --test --test-update-snapshots test/canary/annotations-readme.test.ts`
// to rewrite the generated block (only the text between the markers) and review the diff.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ANNOTATION_DOC_BEGIN, ANNOTATION_DOC_END, renderAnnotationDoc } from '../../src/translate/annotations/annotation-doc.ts';

const README = join(import.meta.dirname, '..', '..', 'README.md');

it('README "Annotations" table matches the annotation table', () => {
  const text = readFileSync(README, 'utf8');
  const begin = text.indexOf(ANNOTATION_DOC_BEGIN);
  const end = text.indexOf(ANNOTATION_DOC_END);
  assert.ok(begin !== -1 && end > begin, `README.md must contain the markers ${ANNOTATION_DOC_BEGIN} ... ${ANNOTATION_DOC_END}`);
  const current = text.slice(begin + ANNOTATION_DOC_BEGIN.length, end);
  const expected = `\n${renderAnnotationDoc()}\n`;
  if (current !== expected && process.execArgv.includes('--test-update-snapshots')) {
    writeFileSync(README, text.slice(0, begin + ANNOTATION_DOC_BEGIN.length) + expected + text.slice(end));
    return;
  }
  assert.equal(current, expected, 'README annotation table is stale: regenerate with --test-update-snapshots');
});
