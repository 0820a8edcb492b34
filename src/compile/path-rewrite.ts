// rewrite-target as ingress-nginx renders it: `rewrite "(?i)<path>" <target> break;`. nginx matches
// the regex (the Ingress path, unanchored, case-insensitive) against the normalized request path
// and, when it matches, replaces the WHOLE path by the target with $0-$9 filled in from the
// captures; the request's query is appended, after "&" when the target has a query of its own, and
// not at all when the target ends in "?". A path the regex does not match is forwarded unchanged.
// Built once per route when the table is compiled; apply() runs per request on rewrite routes.

export class PathRewrite {
  readonly #pattern: RegExp;
  /** The target split at its $N references: strings, and capture indexes in between. */
  readonly #parts: readonly (string | number)[];
  /** The target has a query of its own (the request's is appended after "&"). */
  readonly #hasQuery: boolean;
  /** The target ends in "?": the request's query is dropped (the "?" too). */
  readonly #dropsQuery: boolean;

  constructor(pattern: RegExp, target: string) {
    this.#pattern = pattern;
    this.#dropsQuery = target.endsWith('?');
    const text = this.#dropsQuery ? target.slice(0, -1) : target;
    this.#hasQuery = !this.#dropsQuery && text.includes('?');
    const parts: (string | number)[] = [];
    let literal = '';
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (c === 36 /* $ */ && next >= 48 && next <= 57) {
        if (literal !== '') parts.push(literal);
        literal = '';
        parts.push(next - 48);
        i++;
      } else {
        literal += text[i];
      }
    }
    if (literal !== '') parts.push(literal);
    this.#parts = parts;
  }

  /**
   * The rewrite of a route with Ingress path `path`, or null: no target, a target equal to the path
   * (ingress-nginx then rewrites nothing), or a path that is not a regular expression.
   */
  static of(path: string, target: string | undefined): PathRewrite | null {
    if (target === undefined || target === path) return null;
    try {
      return new PathRewrite(new RegExp(path, 'i'), target);
    } catch {
      return null; // translate lets only valid patterns through
    }
  }

  /**
   * The path + query to forward. `matchPath` is the normalized request path, `path` the forwarded
   * path + query (it starts with `matchPath`). hot path for rewrite routes
   */
  apply(matchPath: string, path: string): string {
    const m = this.#pattern.exec(matchPath);
    if (m === null) return path;
    let out = '';
    const parts = this.#parts;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      out += typeof part === 'string' ? part : (m[part] ?? '');
    }
    if (this.#dropsQuery) return out;
    const query = path.length > matchPath.length + 1 && path.startsWith(matchPath) ? path.slice(matchPath.length + 1) : '';
    if (query === '') return out;
    return out + (this.#hasQuery ? '&' : '?') + query;
  }
}
