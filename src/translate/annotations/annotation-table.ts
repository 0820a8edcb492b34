// THE annotation table: every annotation Switchyard reads, declared once with its key, parser,
// scope, default and doc line. Translate reads values through read-annotation.ts; the README's
// "Annotations" table is rendered from this list (annotation-doc.ts) and a test checks they match.
// Add new annotations HERE (and nowhere else), then regenerate the README table.

import {
  MAX_ANNOTATION_INT,
  parseBool,
  parseCookieName,
  parseHeaderName,
  parseIntInRange,
  parseRegex,
  parseString,
  type AnnotationParser,
} from './parsers.ts';

/**
 * Accepted prefixes, in precedence order: when the same key is set under both, the
 * `switchyard.dev/` value wins (and a differing value is reported as AnnotationPrefixConflict).
 */
export const ANNOTATION_PREFIXES = ['switchyard.dev/', 'nginx.ingress.kubernetes.io/'] as const;

/**
 * What an annotation applies to, as ingress-nginx's annotation metadata defines it:
 * 'ingress': every path of the Ingress it is set on; 'location': the paths it is set on;
 * 'server': the whole virtual host.
 */
export type AnnotationScope = 'ingress' | 'location' | 'server';

/**
 * How an annotation behaves when set on a canary Ingress:
 * 'canary': it configures the canary itself (canary-*);
 * 'kept': taken from the canary Ingress for the canary backend (load-balancing and affinity, as
 *         ingress-nginx does; see CANARY_KEPT_ANNOTATIONS);
 * 'ignored': the canary inherits the main route's behaviour; the value is ignored and reported.
 */
export type CanaryHandling = 'canary' | 'kept' | 'ignored';

export interface AnnotationSpec<T> {
  /** Key without prefix, e.g. "canary-weight". */
  readonly key: string;
  readonly parse: AnnotationParser<T>;
  readonly scope: AnnotationScope;
  readonly default: T;
  /** The accepted values, for the README ("integer 0..2147483647"). */
  readonly values: string;
  /** The default as the README shows it. */
  readonly defaultDoc: string;
  /** What happens when the value is invalid (after the InvalidAnnotation diagnostic). */
  readonly onInvalid: string;
  readonly onCanary: CanaryHandling;
  /** One line for the README. */
  readonly doc: string;
}

function spec<T>(s: AnnotationSpec<T>): AnnotationSpec<T> {
  return s;
}

// --- canary (issue 4) ------------------------------------------------------------------------

export const CANARY = spec<boolean>({
  key: 'canary',
  parse: parseBool,
  scope: 'ingress',
  default: false,
  values: '`"true"` / `"false"`',
  defaultDoc: '`false`',
  onInvalid: 'treated as `false`',
  onCanary: 'canary',
  doc: 'Marks the Ingress as a canary of the main Ingress route with the same host, path and pathType.',
});

export const CANARY_BY_HEADER = spec<string | null>({
  key: 'canary-by-header',
  parse: parseHeaderName,
  scope: 'ingress',
  default: null,
  values: 'header name (case-insensitive)',
  defaultDoc: 'none',
  onInvalid: 'no header rule (empty or invalid name)',
  onCanary: 'canary',
  doc: 'Header deciding per request: `always` -> canary, `never` -> not this canary, else fall through (unless -value or -pattern is set).',
});

export const CANARY_BY_HEADER_VALUE = spec<string>({
  key: 'canary-by-header-value',
  parse: parseString,
  scope: 'ingress',
  default: '',
  values: 'string (case-sensitive)',
  defaultDoc: 'none',
  onInvalid: '-',
  onCanary: 'canary',
  doc: 'With canary-by-header: the header equal to this value -> canary, anything else falls through. Wins over -pattern.',
});

export const CANARY_BY_HEADER_PATTERN = spec<string>({
  key: 'canary-by-header-pattern',
  parse: parseRegex,
  scope: 'ingress',
  default: '',
  values: 'JavaScript regular expression, unanchored',
  defaultDoc: 'none',
  onInvalid: 'requests carrying the header go to the main backend',
  onCanary: 'canary',
  doc: 'With canary-by-header and no -value: the header matching this pattern -> canary, no match falls through.',
});

export const CANARY_BY_COOKIE = spec<string | null>({
  key: 'canary-by-cookie',
  parse: parseCookieName,
  scope: 'ingress',
  default: null,
  values: 'cookie name',
  defaultDoc: 'none',
  onInvalid: 'no cookie rule',
  onCanary: 'canary',
  doc: 'Cookie deciding per request: `always` -> canary, `never` -> not this canary, else fall through.',
});

export const CANARY_WEIGHT = spec<number>({
  key: 'canary-weight',
  parse: parseIntInRange(0, MAX_ANNOTATION_INT),
  scope: 'ingress',
  default: 0,
  values: 'integer 0..canary-weight-total',
  defaultDoc: '`0`',
  onInvalid: 'weight 0 (no weighted traffic)',
  onCanary: 'canary',
  doc: 'Sends weight/total of the remaining requests to the canary; 0 never, >= total always.',
});

export const CANARY_WEIGHT_TOTAL = spec<number>({
  key: 'canary-weight-total',
  parse: parseIntInRange(1, MAX_ANNOTATION_INT),
  scope: 'ingress',
  default: 100,
  values: 'integer 1..2147483647',
  defaultDoc: '`100`',
  onInvalid: 'total 100',
  onCanary: 'canary',
  doc: 'The total canary-weight is a share of. Totals below 100 are honoured (ingress-nginx ignores them).',
});

/** Every canary annotation except `canary` itself: setting one on a non-canary Ingress is reported. */
export const CANARY_RULE_ANNOTATIONS = [
  CANARY_BY_HEADER,
  CANARY_BY_HEADER_VALUE,
  CANARY_BY_HEADER_PATTERN,
  CANARY_BY_COOKIE,
  CANARY_WEIGHT,
  CANARY_WEIGHT_TOTAL,
] as const;

// --- routing (read by translate/rules.ts) --------------------------------------------------------

export const USE_REGEX = spec<boolean>({
  key: 'use-regex',
  parse: parseBool,
  scope: 'ingress',
  default: false,
  values: '`"true"` / `"false"`',
  defaultDoc: '`false`',
  onInvalid: 'treated as `false`',
  onCanary: 'ignored',
  doc: 'Regular-expression paths are not supported: with `"true"`, paths that look like one are reported (RegexPathUnsupported) and matched literally.',
});

/** THE table. README order. */
export const ANNOTATIONS: readonly AnnotationSpec<unknown>[] = [CANARY, ...CANARY_RULE_ANNOTATIONS, USE_REGEX];

/**
 * Annotations a canary Ingress keeps for its own backend (all others are inherited from the main
 * route), as ingress-nginx documents: load balancing and session affinity. Switchyard does not
 * implement these yet; when it does, their table entries use onCanary: 'kept' (a test checks).
 * A trailing "*" matches any key with that prefix.
 */
export const CANARY_KEPT_ANNOTATIONS: readonly string[] = [
  'load-balance',
  'upstream-hash-by',
  'upstream-hash-by-subset',
  'upstream-hash-by-subset-size',
  'affinity',
  'affinity-mode',
  'affinity-canary-behavior',
  'session-cookie-*',
];

/** True for a key (without prefix) a canary Ingress keeps, see CANARY_KEPT_ANNOTATIONS. */
export function isCanaryKeptAnnotation(key: string): boolean {
  for (const kept of CANARY_KEPT_ANNOTATIONS) {
    if (kept.endsWith('*') ? key.startsWith(kept.slice(0, -1)) : key === kept) return true;
  }
  return false;
}
