// Value parsers for annotations. Each reads ONE annotation value (a string, as Kubernetes stores
// it) and returns the parsed value or a reason it is invalid; callers turn the reason into a
// Diagnostic and fall back to the annotation's default. Pure: no I/O, no clock, no randomness.

export type ParseOutcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

export type AnnotationParser<T> = (value: string) => ParseOutcome<T>;

function ok<T>(value: T): ParseOutcome<T> {
  return { ok: true, value };
}

function fail<T>(error: string): ParseOutcome<T> {
  return { ok: false, error };
}

// Go's strconv.ParseBool, which ingress-nginx uses for boolean annotations: manifests that work
// there keep working here.
const TRUE_VALUES = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE_VALUES = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

/** "true"/"false" (also 1, t, T, TRUE, True and 0, f, F, FALSE, False, like Go's ParseBool). */
export function parseBool(value: string): ParseOutcome<boolean> {
  const v = value.trim();
  if (TRUE_VALUES.has(v)) return ok(true);
  if (FALSE_VALUES.has(v)) return ok(false);
  return fail(`"${value}" is not a boolean (use "true" or "false")`);
}

/** Largest integer any integer annotation accepts (fits a signed 32-bit int). */
export const MAX_ANNOTATION_INT = 2_147_483_647;

/** A decimal integer (optional sign, like Go's Atoi), within [min, max]. */
export function parseIntInRange(min: number, max: number): AnnotationParser<number> {
  return (value: string) => {
    const v = value.trim();
    if (!/^[+-]?\d+$/.test(v)) return fail(`"${value}" is not an integer`);
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min || n > max) return fail(`${v} is out of range (${min}..${max})`);
    return ok(n === 0 ? 0 : n); // no -0
  };
}

// RFC 9110 token characters: what a header field name may contain.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** An HTTP header field name; returned lower-case (header names are case-insensitive). */
export function parseHeaderName(value: string): ParseOutcome<string> {
  const v = value.trim();
  if (v === '') return fail('the header name is empty');
  if (!TOKEN.test(v)) return fail(`"${value}" is not a valid HTTP header name`);
  return ok(v.toLowerCase());
}

/** A cookie name (RFC 6265: a token); case-sensitive, returned as written. */
export function parseCookieName(value: string): ParseOutcome<string> {
  const v = value.trim();
  if (v === '') return fail('the cookie name is empty');
  if (!TOKEN.test(v)) return fail(`"${value}" is not a valid cookie name`);
  return ok(v);
}

/** Any string, kept exactly as written (an empty string counts as "not set"). */
export function parseString(value: string): ParseOutcome<string> {
  return ok(value);
}

/**
 * A regular expression, checked by compiling it as a JavaScript RegExp without flags (the pattern
 * string is kept; compile builds the RegExp once per table). PCRE-only syntax fails here.
 */
export function parseRegex(value: string): ParseOutcome<string> {
  try {
    new RegExp(value);
    return ok(value);
  } catch (err) {
    return fail(`"${value}" is not a valid regular expression: ${(err as Error).message}`);
  }
}
