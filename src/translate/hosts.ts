// Rule hosts -> virtual host names. Lower-cased (DNS is case-insensitive), a ":port" suffix is
// stripped (requests are matched without their port), and what remains must be a DNS-1123
// subdomain or "*." + one. IP addresses and any other use of "*" are rejected, as the Kubernetes
// API does.

export type HostKind = 'exact' | 'wildcard' | 'any';

export type ParsedHost =
  | {
      readonly ok: true;
      readonly host: string;
      readonly kind: HostKind;
      /** The port that was stripped from the host as written, or null. */
      readonly strippedPort: string | null;
    }
  | { readonly ok: false; readonly error: string };

export const ANY_HOST = '*';

const LABEL = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/;
const IPV4 = /^\d+\.\d+\.\d+\.\d+$/;
const HOST_WITH_PORT = /^(.*):(\d+)$/;
const MAX_SUBDOMAIN = 253;
const MAX_LABEL = 63;

/** True for a DNS-1123 subdomain: dot-separated labels of [a-z0-9-], not starting or ending with "-". */
export function isDnsSubdomain(name: string): boolean {
  if (name.length === 0 || name.length > MAX_SUBDOMAIN) return false;
  for (const label of name.split('.')) {
    if (label.length > MAX_LABEL || !LABEL.test(label)) return false;
  }
  return true;
}

/** Parses an IngressRule.host; undefined or "" is the any-host "*". */
export function parseRuleHost(raw: string | undefined): ParsedHost {
  if (raw === undefined || raw === null || raw === '') return { ok: true, host: ANY_HOST, kind: 'any', strippedPort: null };
  if (typeof raw !== 'string') return { ok: false, error: `${JSON.stringify(raw)} is not a valid host: it must be a string` };
  let host = raw.toLowerCase();
  let strippedPort: string | null = null;
  const withPort = HOST_WITH_PORT.exec(host);
  if (withPort !== null) {
    host = withPort[1];
    strippedPort = withPort[2];
  }
  if (host.startsWith('*.')) {
    if (!isDnsSubdomain(host.slice(2))) return { ok: false, error: `"${raw}" is not a valid wildcard host: "*." must be followed by a DNS name` };
    return { ok: true, host, kind: 'wildcard', strippedPort };
  }
  if (host.includes('*')) return { ok: false, error: `"${raw}" is not a valid host: a wildcard is only allowed as the whole first label ("*.example.com")` };
  if (IPV4.test(host) || host.startsWith('[')) {
    return { ok: false, error: `"${raw}" is not a valid host: it must be a DNS name, not an IP address` };
  }
  if (host.includes(':')) return { ok: false, error: `"${raw}" is not a valid host: a port must be a number` };
  if (!isDnsSubdomain(host)) return { ok: false, error: `"${raw}" is not a valid host: it must be a DNS-1123 subdomain (lower-case letters, digits, "-" and ".")` };
  return { ok: true, host, kind: 'exact', strippedPort };
}
