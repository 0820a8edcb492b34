// ingress-nginx's regular-expression paths (use-regex, and rewrite-target, which implies it), as
// its controller renders them into nginx locations:
// - a path of an Ingress with use-regex: "true", or with a rewrite-target that differs from the
//   path, is a regular expression of its own (`regex: true` on its candidate);
// - one such path makes EVERY path of its host, from every Ingress, a case-insensitive regular
//   expression anchored at the start only (`location ~* "^<path>"`), Exact and Prefix alike;
// - nginx tries regular-expression locations in order, first match wins, and ingress-nginx orders a
//   host's locations by path length (longest first), then by path string (descending), keeping the
//   Ingress order (oldest first, then rule and path order) for equal paths;
// - a Prefix path that is not regex of its own becomes "path/" plus an Exact copy "path" next to
//   it, together the same as "^path"; when the host also has an Exact path with that string, no
//   copy is made, so it is "^path/".
// Patterns are JavaScript regular expressions with the `i` flag (nginx uses PCRE: the common
// syntax is the same). Pure: no I/O.
import type { Diagnostic } from '../model/diagnostic.ts';
import type { ObjectRef } from '../model/kube.ts';
import type { Route } from '../model/route-config.ts';
import { compareStrings } from './order.ts';

/** What a regex host needs from each of its candidate routes (translate.ts CandidateRoute). */
export interface RegexCandidate {
  readonly route: Route;
  /** The path is a regular expression of its own (use-regex, or a rewrite-target). */
  readonly regex: boolean;
}

/** The pattern a regex path matches with: the path anchored at the start (flags: "i"). */
export function regexPattern(path: string): string {
  return '^' + path;
}

/**
 * Why `pattern` cannot serve as a path, or null. Beyond syntax, patterns that nest unbounded
 * quantifiers ("(a+)+", "(/.*)*") are refused: V8's backtracking engine can take exponential time
 * on them for a crafted request path, and every request to the host runs them.
 */
export function regexPathProblem(pattern: string): string | null {
  try {
    new RegExp(pattern, 'i');
  } catch (err) {
    return `is not a valid JavaScript regular expression (${err instanceof Error ? err.message : String(err)})`;
  }
  if (hasNestedUnboundedQuantifier(pattern)) {
    return 'repeats a group that itself contains an unbounded repetition ("(a+)+"), which can take exponential time to match';
  }
  return null;
}

/**
 * True when a group followed by `*`, `+` or `{n,}` contains such a quantifier itself (star
 * height above one). A scan, not a parser: escapes and character classes are skipped.
 */
function hasNestedUnboundedQuantifier(pattern: string): boolean {
  const groups: boolean[] = [false]; // per open group: it contains an unbounded quantifier
  let closed = false; // the group that just closed contains one
  let afterGroup = false; // the previous token was ")"
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
      afterGroup = false;
      continue;
    }
    if (c === '[') {
      for (i++; i < pattern.length && pattern[i] !== ']'; i++) if (pattern[i] === '\\') i++;
      afterGroup = false;
      continue;
    }
    if (c === '(') {
      groups.push(false);
      if (pattern[i + 1] === '?') {
        // (?:  (?=  (?!  (?<=  (?<!  (?<name>
        i += 2;
        if (pattern[i] === '<' && pattern[i + 1] !== '=' && pattern[i + 1] !== '!') {
          while (i < pattern.length && pattern[i] !== '>') i++;
        } else if (pattern[i] === '<') {
          i++;
        }
      }
      afterGroup = false;
      continue;
    }
    if (c === ')') {
      closed = groups.length > 1 ? groups.pop()! : false;
      if (closed) groups[groups.length - 1] = true;
      afterGroup = true;
      continue;
    }
    let unbounded = c === '*' || c === '+';
    if (c === '{') {
      const m = /^\{\d+,\}/.exec(pattern.slice(i, i + 12));
      unbounded = m !== null;
    }
    if (unbounded) {
      if (afterGroup && closed) return true;
      groups[groups.length - 1] = true;
    }
    afterGroup = false;
  }
  return false;
}

/**
 * The routes of a host where some path is a regex (`regex` on a candidate), as ingress-nginx
 * serves them: every route with `match: "regex"` and its pattern in `matchPath`, in the order nginx
 * tries them. `candidates` are the host's winning routes in Ingress order; a path that is not a
 * usable pattern is reported and left out (`kept`: the candidates kept, in their order;
 * `routes`: each kept one's regex route, in nginx's order). Ingresses whose own paths become regular expressions only because of another Ingress
 * get a RegexPathsEnforced warning.
 */
export function regexHostRoutes<C extends RegexCandidate>(
  host: string,
  candidates: readonly C[],
  report: (diagnostic: Diagnostic) => void,
): { readonly routes: { readonly route: Route; readonly candidate: C }[]; readonly kept: C[] } {
  const exactPaths = new Set<string>();
  for (const c of candidates) if (c.route.pathType === 'Exact') exactPaths.add(c.route.path);
  let enforcer: ObjectRef | null = null;
  for (const c of candidates) {
    if (c.regex) {
      enforcer = c.route.source;
      break;
    }
  }
  const kept: C[] = [];
  const routes: { route: Route; candidate: C }[] = [];
  const affected = new Map<string, { source: ObjectRef; count: number }>();
  for (const c of candidates) {
    const { route } = c;
    let pattern = route.matchPath;
    if (!c.regex) {
      const splitsWithExact = route.pathType === 'Prefix' && route.path !== '/' && !route.path.endsWith('/') && exactPaths.has(route.path);
      pattern = regexPattern(splitsWithExact ? route.path + '/' : route.path);
      const problem = regexPathProblem(pattern);
      if (problem !== null) {
        report({
          severity: 'error',
          object: route.source,
          reason: 'InvalidPath',
          message: `${pathField(route.name)}: every path of host "${host}" is a regular expression (${refName(enforcer!)} uses regular-expression paths), and "${route.path}" ${problem}; the path is skipped`,
        });
        continue;
      }
      const key = `${route.source.namespace}/${route.source.name}`;
      const seen = affected.get(key);
      if (seen === undefined) affected.set(key, { source: route.source, count: 1 });
      else seen.count++;
    }
    kept.push(c);
    routes.push({ route: asRegexRoute(route, pattern), candidate: c });
  }
  for (const { source, count } of affected.values()) {
    report({
      severity: 'warning',
      object: source,
      reason: 'RegexPathsEnforced',
      message:
        `host "${host}": ${count === 1 ? '1 path' : `${count} paths`} of this Ingress ${count === 1 ? 'is' : 'are'} matched as case-insensitive regular expressions ` +
        `anchored at the start (Exact paths too), because ${refName(enforcer!)} uses regular-expression paths (use-regex or rewrite-target) on that host, as in ingress-nginx`,
    });
  }
  // nginx tries regex locations in order: ingress-nginx sorts them by path length, then path string,
  // both descending; the sort is stable, so equal paths keep the Ingress order.
  routes.sort((a, b) => b.route.path.length - a.route.path.length || compareStrings(b.route.path, a.route.path));
  return { routes, kept };
}

// Regex routes are derived objects: the same Route and pattern give the same object back, so an
// unchanged host's routes stay the same objects from one translate to the next (compile reuses
// unchanged virtual hosts by identity).
const regexRoutes = new WeakMap<Route, Route>();

function asRegexRoute(route: Route, pattern: string): Route {
  if (route.match === 'regex' && route.matchPath === pattern) return route;
  const last = regexRoutes.get(route);
  if (last !== undefined && last.matchPath === pattern) return last;
  const regexRoute: Route = { ...route, match: 'regex', matchPath: pattern };
  regexRoutes.set(route, regexRoute);
  return regexRoute;
}

/** "spec.rules[i].http.paths[j]" from a route name "ingress/<ns>/<name>/rule/<i>/path/<j>". */
function pathField(routeName: string): string {
  const parts = routeName.split('/');
  return `spec.rules[${parts[parts.length - 3]}].http.paths[${parts[parts.length - 1]}]`;
}

function refName(ref: ObjectRef): string {
  return `${ref.namespace}/${ref.name}`;
}
