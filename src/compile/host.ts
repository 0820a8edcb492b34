// Host header normalization: lower-case, port stripped (IPv6 literals keep their brackets), one
// trailing dot removed. Ingress hosts are DNS names, so the result is what the HostIndex keys on.

/**
 * True when `host` is already in normalized form: no upper-case letter, no ":" and no trailing ".".
 * hot path
 */
function isCleanHost(host: string): boolean {
  const n = host.length;
  for (let i = 0; i < n; i++) {
    const c = host.charCodeAt(i);
    if ((c >= 65 && c <= 90) || c === 58) return false;
  }
  return n === 0 || host.charCodeAt(n - 1) !== 46;
}

/**
 * Normalize a Host header value (or absolute-form authority). Returns "" for a missing host.
 * hot path: allocates only when the header is not already clean (has a port, upper case or a dot).
 */
export function normalizeHost(host: string | undefined): string {
  if (host === undefined) return '';
  if (isCleanHost(host)) return host;
  let h = host;
  if (h.charCodeAt(0) === 91) {
    // "[v6]" or "[v6]:port": keep the bracketed literal.
    const close = h.indexOf(']');
    h = close === -1 ? h : h.slice(0, close + 1);
  } else {
    const colon = h.indexOf(':');
    if (colon !== -1) h = h.slice(0, colon);
  }
  if (h.length > 0 && h.charCodeAt(h.length - 1) === 46) h = h.slice(0, -1);
  return h.toLowerCase();
}
