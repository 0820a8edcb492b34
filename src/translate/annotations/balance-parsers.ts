// Value parsers of the load-balancing and session-affinity annotations (README "Resilience").
// Pure, like parsers.ts.
import type { AnnotationParser, ParseOutcome } from './parsers.ts';

function ok<T>(value: T): ParseOutcome<T> {
  return { ok: true, value };
}
function fail<T>(error: string): ParseOutcome<T> {
  return { ok: false, error };
}

/** One of fixed words (exactly as written, after trimming). */
export function parseOneOf<const T extends readonly string[]>(values: T): AnnotationParser<T[number]> {
  return (value) => {
    const v = value.trim();
    return (values as readonly string[]).includes(v) ? ok(v as T[number]) : fail(`"${value}" is not one of ${values.join(', ')}`);
  };
}

/** Variables upstream-hash-by understands (nginx names); `$http_*`, `$cookie_*`, `$arg_*` take a name. */
export const HASH_VARIABLES = ['request_uri', 'uri', 'host', 'remote_addr', 'binary_remote_addr', 'args', 'query_string', 'scheme', 'request_method'] as const;
const HASH_PREFIXES = ['http_', 'cookie_', 'arg_'] as const;

/**
 * upstream-hash-by: literal text and nginx variables ($request_uri, $remote_addr, $host, $uri,
 * $args, $http_<header>, $cookie_<name>, $arg_<name>, also as ${name}). At least one variable.
 */
export function parseHashBy(value: string): ParseOutcome<string> {
  const v = value.trim();
  if (v === '') return fail('the hash key is empty');
  let variables = 0;
  for (const m of v.matchAll(/\$\{?([A-Za-z0-9_]*)\}?/g)) {
    const name = m[1].toLowerCase();
    const known = (HASH_VARIABLES as readonly string[]).includes(name) || HASH_PREFIXES.some((p) => name.startsWith(p) && name.length > p.length);
    if (!known) return fail(`"$${m[1]}" is not a supported variable (${HASH_VARIABLES.map((n) => '$' + n).join(', ')}, $http_<header>, $cookie_<name>, $arg_<name>)`);
    variables++;
  }
  if (variables === 0) return fail(`"${value}" has no variable: every request would hash the same`);
  return ok(v);
}

/** session-cookie-max-age: whole seconds, 1..10 years. */
export function parseMaxAge(value: string): ParseOutcome<number | null> {
  const v = value.trim();
  if (!/^\d+$/.test(v)) return fail(`"${value}" is not a number of seconds`);
  const n = Number(v);
  if (n < 1 || n > 315_360_000) return fail(`${n} is out of range (1..315360000 seconds)`);
  return ok(n);
}

/** session-cookie-path: an absolute path without characters that would break the Set-Cookie line. */
export function parseCookiePath(value: string): ParseOutcome<string | null> {
  const v = value.trim();
  if (!v.startsWith('/')) return fail(`"${value}" must start with "/"`);
  if (/[\s\x00-\x1f\x7f;,]/.test(v)) return fail(`"${value}" contains whitespace, a control character, ";" or ","`);
  return ok(v);
}
