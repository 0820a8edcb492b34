// Ingress paths -> what compile matches on (Route.match / Route.matchPath). Request paths are
// normalized by the proxy before matching (dot segments resolved, duplicate slashes merged, query
// dropped), so a path that no normalized request path can equal is rejected here instead of
// becoming a route that silently never matches.
import type { HTTPIngressPath, PathType } from '../model/kube.ts';
import { regexPathProblem, regexPattern } from './regex-paths.ts';

export interface ResolvedPath {
  /** The path as written ("/" when omitted). */
  readonly path: string;
  readonly pathType: PathType;
  /** 'regex': the path is a regular expression of its own (regex-paths.ts). */
  readonly match: 'exact' | 'prefix' | 'regex';
  readonly matchPath: string;
}

export interface PathProblem {
  readonly severity: 'error' | 'warning';
  readonly reason: 'InvalidPath' | 'InvalidPathType' | 'MissingPathType';
  readonly message: string;
}

const PATH_TYPES: ReadonlySet<string> = new Set<PathType>(['Exact', 'Prefix', 'ImplementationSpecific']);

// Never in a normalized request path: whitespace and control characters (not valid in a request
// target), "?" (starts the query) and "#" (never sent).
const IMPOSSIBLE_CHAR = /[\s\x00-\x1f\x7f?#]/;
// Segments a normalized request path never has: empty ("//"), "." and "..".
const NON_NORMAL_SEGMENT = /\/\/|\/\.\.?(?:\/|$)/;

/**
 * Resolves one HTTPIngressPath. Returns null when the path must be skipped; `problems` collects
 * every diagnostic (warnings too, for paths that are kept).
 * The path is a regular expression (ingress-nginx's rule, regex-paths.ts) when the Ingress has
 * use-regex: "true" (`useRegex`) or a rewrite-target (`rewriteTarget`) that differs from the path.
 */
export function resolvePath(ingressPath: HTTPIngressPath, useRegex: boolean, rewriteTarget: string | undefined, problems: PathProblem[]): ResolvedPath | null {
  // 1. pathType: missing -> ImplementationSpecific (the file source allows omitting it), unknown -> skip.
  let pathType: PathType;
  const rawType = ingressPath.pathType;
  if (rawType === undefined || rawType === null || rawType === '') {
    pathType = 'ImplementationSpecific';
    problems.push({ severity: 'warning', reason: 'MissingPathType', message: 'pathType is not set; using ImplementationSpecific (matched as Prefix)' });
  } else if (typeof rawType === 'string' && PATH_TYPES.has(rawType)) {
    pathType = rawType as PathType;
  } else {
    problems.push({ severity: 'error', reason: 'InvalidPathType', message: `pathType ${JSON.stringify(rawType)} is not Exact, Prefix or ImplementationSpecific; the path is skipped` });
    return null;
  }

  // 2. the path itself: empty means "/" except for Exact, which must name a path.
  const raw = ingressPath.path ?? '';
  if (typeof raw !== 'string') {
    problems.push({ severity: 'error', reason: 'InvalidPath', message: `path ${JSON.stringify(raw)} is not a string; the path is skipped` });
    return null;
  }
  if (raw === '' && pathType === 'Exact') {
    problems.push({ severity: 'error', reason: 'InvalidPath', message: 'an Exact path must be set and start with "/"; the path is skipped' });
    return null;
  }
  const path = raw === '' ? '/' : raw;
  if (!path.startsWith('/')) {
    problems.push({ severity: 'error', reason: 'InvalidPath', message: `path "${path}" does not start with "/"; the path is skipped` });
    return null;
  }

  // 3. a regular expression: anchored at the start, case-insensitive; "?", "//" and the like are syntax.
  if (useRegex || (rewriteTarget !== undefined && rewriteTarget !== path)) {
    if (/[\s\x00-\x1f\x7f]/.test(path)) {
      problems.push({ severity: 'error', reason: 'InvalidPath', message: `regular-expression path "${path}" contains whitespace or a control character, which no request path has; the path is skipped` });
      return null;
    }
    const pattern = regexPattern(path);
    const problem = regexPathProblem(pattern);
    if (problem !== null) {
      problems.push({ severity: 'error', reason: 'InvalidPath', message: `regular-expression path "${path}" ${problem}; the path is skipped` });
      return null;
    }
    return { path, pathType, match: 'regex', matchPath: pattern };
  }

  // 4. paths no normalized request path can match.
  if (IMPOSSIBLE_CHAR.test(path)) {
    problems.push({ severity: 'error', reason: 'InvalidPath', message: `path "${path}" contains whitespace, a control character, "?" or "#", so no request path can match it; the path is skipped` });
    return null;
  }
  if (NON_NORMAL_SEGMENT.test(path)) {
    problems.push({ severity: 'error', reason: 'InvalidPath', message: `path "${path}" contains an empty, "." or ".." segment, which normalized request paths never have; the path is skipped` });
    return null;
  }

  // 5. ImplementationSpecific is Prefix. A prefix matches element-wise, so its trailing "/" does not matter.
  if (pathType === 'Exact') return { path, pathType, match: 'exact', matchPath: path };
  const matchPath = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  return { path, pathType, match: 'prefix', matchPath };
}
