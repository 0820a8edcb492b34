import type { CompiledRoute } from './compiled-route.ts';

/**
 * The routes of one virtual host, matched by Map lookups instead of a radix tree.
 *
 * Why not find-my-way: Ingress matching has only two kinds of path (Exact, and element-wise Prefix),
 * no parameters, and ignores the method. A request path's candidates are therefore the path itself
 * (Exact) and its "/"-boundary prefixes (Prefix), so at most depth+2 Map lookups decide the match,
 * with precedence taken straight from the IR order and no second implementation of precedence that
 * could disagree with translate (find-my-way orders static/parametric nodes its own way, and its
 * host constraints degrade past 31 handlers per node).
 *
 * Precedence: the IR lists routes longest matchPath first, Exact before Prefix at equal length, and
 * the first route that matches wins. Walking the candidates longest first and stopping at the first
 * hit gives the same answer as that linear scan. If a RouteConfig were ever ordered differently,
 * compile notices (`ordered` = false) and find() looks at every candidate and keeps the route that
 * comes first in the IR, so the result is always the IR's first match.
 *
 * A regex host (every route 'regex': ingress-nginx's use-regex rule, src/translate/regex-paths.ts)
 * is a list of case-insensitive patterns tried in IR order, first match wins, as nginx tries its
 * regular-expression locations.
 */
export class PathMatcher {
  /** Exact routes by matchPath (first in IR order wins a duplicate). */
  readonly #exact = new Map<string, CompiledRoute>();
  /** Prefix routes by matchPath (no trailing "/", except "/" itself). */
  readonly #prefix = new Map<string, CompiledRoute>();
  /** Prefix "/" (matches every path), kept out of the map to skip a lookup. */
  #root: CompiledRoute | undefined = undefined;
  /** Longest prefix matchPath: shorter request paths skip straight to their own length. */
  #maxPrefixLength = 0;
  #ordered = true;
  #lastOrderKey = Number.POSITIVE_INFINITY;
  /** Regex routes and their patterns, in IR order; null on hosts without them. */
  #regex: { readonly pattern: RegExp; readonly route: CompiledRoute }[] | null = null;

  /** Add routes in IR order. */
  add(route: CompiledRoute): void {
    if (route.match === 'regex') {
      let pattern: RegExp;
      try {
        pattern = new RegExp(route.matchPath, 'i');
      } catch {
        return; // translate only lets valid patterns through; a hand-built config's invalid one never matches
      }
      (this.#regex ??= []).push({ pattern, route });
      return;
    }
    // Order key: longer first, Exact (odd) before Prefix at equal length.
    const key = route.matchPath.length * 2 + (route.match === 'exact' ? 1 : 0);
    if (key > this.#lastOrderKey) this.#ordered = false;
    this.#lastOrderKey = key;
    if (route.match === 'exact') {
      if (!this.#exact.has(route.matchPath)) this.#exact.set(route.matchPath, route);
    } else if (route.matchPath === '/') {
      this.#root ??= route;
    } else {
      if (!this.#prefix.has(route.matchPath)) this.#prefix.set(route.matchPath, route);
      if (route.matchPath.length > this.#maxPrefixLength) this.#maxPrefixLength = route.matchPath.length;
    }
  }

  /** True when the routes came in precedence order, so find() stops at the first hit. */
  get ordered(): boolean {
    return this.#ordered;
  }

  get size(): number {
    return this.#exact.size + this.#prefix.size + (this.#root === undefined ? 0 : 1) + (this.#regex?.length ?? 0);
  }

  /**
   * First route (in IR order) matching a normalized path, or undefined.
   * hot path
   */
  find(path: string): CompiledRoute | undefined {
    const regex = this.#regex;
    if (regex !== null) {
      for (let i = 0; i < regex.length; i++) if (regex[i].pattern.test(path)) return regex[i].route;
      return undefined;
    }
    const exact = this.#exact.size > 0 ? this.#exact.get(path) : undefined;
    if (exact !== undefined && this.#ordered) return exact;
    let best = exact;
    if (this.#prefix.size > 0) {
      // 1. Candidates are the "/"-boundary prefixes of the path, longest first: the whole path
      //    (without a trailing "/"), then each cut at a "/". Paths longer than the longest prefix
      //    start at the first boundary that fits.
      let end = path.length;
      if (end > 1 && path.charCodeAt(end - 1) === 47) end--;
      if (end > this.#maxPrefixLength) {
        end = path.lastIndexOf('/', this.#maxPrefixLength);
        // The boundary must cut the path at a "/", so a candidate of exactly maxPrefixLength is
        // only valid when the path continues with "/" there (checked by lastIndexOf including it).
      }
      while (end > 0) {
        const hit = this.#prefix.get(end === path.length ? path : path.slice(0, end));
        if (hit !== undefined) {
          // 2. First hit is the longest; with an ordered IR it is the answer.
          if (this.#ordered) return hit;
          if (best === undefined || hit.order < best.order) best = hit;
        }
        end = path.lastIndexOf('/', end - 1);
      }
    }
    const root = this.#root;
    if (root !== undefined && (best === undefined || root.order < best.order)) return root;
    return best;
  }
}
