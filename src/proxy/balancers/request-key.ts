// upstream-hash-by: an nginx-style template ("$request_uri", "$http_x_user", "$cookie_id",
// "$remote_addr", "$arg_id", text) compiled ONCE into parts; per request the key is read from the
// exchange (rawHeaders scanned, nothing else built).
import type { Exchange } from '../exchange.ts';

type Part = (exchange: Exchange) => string;

/** Compile time: the template's parts (literal text and variable readers). */
export function compileRequestKey(template: string): (exchange: Exchange) => string {
  const parts: Part[] = [];
  let last = 0;
  for (const m of template.matchAll(/\$\{?([A-Za-z0-9_]+)\}?/g)) {
    if (m.index > last) parts.push(literal(template.slice(last, m.index)));
    parts.push(variable(m[1].toLowerCase()));
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push(literal(template.slice(last)));
  if (parts.length === 1) return parts[0];
  return (exchange) => {
    let key = '';
    for (let i = 0; i < parts.length; i++) key += parts[i](exchange);
    return key;
  };
}

function literal(text: string): Part {
  return () => text;
}

function variable(name: string): Part {
  switch (name) {
    case 'request_uri':
      return (x) => x.req.url ?? '';
    case 'uri':
      return (x) => x.matchPath;
    case 'host':
      return (x) => (x.host ?? '').toLowerCase();
    case 'remote_addr':
    case 'binary_remote_addr':
      return (x) => x.req.socket.remoteAddress ?? '';
    case 'args':
    case 'query_string':
      return (x) => queryOf(x.req.url ?? '');
    case 'request_method':
      return (x) => x.method;
    case 'scheme':
      return (x) => ((x.req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http');
  }
  if (name.startsWith('http_')) {
    const header = name.slice(5).replace(/_/g, '-');
    return (x) => headerValue(x.req.rawHeaders, header);
  }
  if (name.startsWith('cookie_')) {
    const cookie = name.slice(7);
    return (x) => findCookie(x.req.rawHeaders, cookie) ?? '';
  }
  if (name.startsWith('arg_')) {
    const arg = name.slice(4);
    return (x) => queryArg(queryOf(x.req.url ?? ''), arg);
  }
  return () => ''; // translate rejects unknown variables; kept total for safety
}

function queryOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? '' : url.slice(q + 1);
}

function queryArg(query: string, name: string): string {
  if (query === '') return '';
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    if ((eq === -1 ? pair : pair.slice(0, eq)) === name) return eq === -1 ? '' : pair.slice(eq + 1);
  }
  return '';
}

/** First value of a header (lower-case name), case-insensitively, from rawHeaders. hot path */
export function headerValue(raw: readonly string[], lowerName: string): string {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return raw[i + 1];
  }
  return '';
}

/**
 * The value of cookie `name` in the request's Cookie header(s), or undefined (first occurrence,
 * as ingress-nginx's cookie lookup). hot path for affinity routes: no allocation but the result.
 */
export function findCookie(raw: readonly string[], name: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const header = raw[i];
    if (header.length !== 6 || header.toLowerCase() !== 'cookie') continue;
    const value = raw[i + 1];
    let at = 0;
    while (at < value.length) {
      while (at < value.length && (value.charCodeAt(at) === 32 || value.charCodeAt(at) === 59)) at++; // spaces and ';'
      const end = value.indexOf(';', at);
      const stop = end === -1 ? value.length : end;
      const eq = value.indexOf('=', at);
      if (eq !== -1 && eq < stop && eq - at === name.length && value.startsWith(name, at)) return value.slice(eq + 1, stop).trim();
      at = stop + 1;
    }
  }
  return undefined;
}
