// Renders THE annotation table as the README's "Annotations" markdown table. Pure; the README test
// (test/canary/annotations-readme.test.ts) compares it with README.md and rewrites it when run with
// --test-update-snapshots.

import { ANNOTATIONS, ANNOTATION_PREFIXES, CANARY_KEPT_ANNOTATIONS, type AnnotationSpec } from './annotation-table.ts';

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function row(spec: AnnotationSpec<unknown>): string {
  return `| \`${spec.key}\` | ${cell(spec.values)} | ${cell(spec.defaultDoc)} | ${spec.scope} | ${spec.onCanary} | ${cell(spec.doc)} | ${cell(spec.onInvalid)} |`;
}

/** The generated part of the README's "## Annotations" section (between the markers). */
export function renderAnnotationDoc(): string {
  const [ours, nginx] = ANNOTATION_PREFIXES;
  return [
    `Every key is accepted under both \`${nginx}\` and \`${ours}\`. When both are set, the`,
    `\`${ours}\` value wins (a differing value is reported as \`AnnotationPrefixConflict\`).`,
    'An invalid value is reported as `InvalidAnnotation` and the "If invalid" column applies; the rest',
    'of the Ingress is served. Scope: `ingress` = every path of the Ingress. "On a canary": `canary` =',
    'configures the canary, `kept` = read from the canary Ingress, `ignored` = inherited from the main route.',
    '',
    '| Annotation | Values | Default | Scope | On a canary | Meaning | If invalid |',
    '|---|---|---|---|---|---|---|',
    ...ANNOTATIONS.map(row),
    '',
    `A canary Ingress keeps only these annotations of its own, for its own backend (as in ingress-nginx):`,
    `${CANARY_KEPT_ANNOTATIONS.map((k) => `\`${k}\``).join(', ')} (\`upstream-hash-by-subset*\`, \`affinity-mode\` and`,
    `\`session-cookie-*\` keys missing from the table above are not implemented).`,
    'Every other annotation of this table set on a canary Ingress is ignored and reported as `CanaryAnnotationIgnored`.',
  ].join('\n');
}

export const ANNOTATION_DOC_BEGIN = '<!-- BEGIN GENERATED: annotation table (src/translate/annotations) -->';
export const ANNOTATION_DOC_END = '<!-- END GENERATED: annotation table -->';
