// Command line and environment -> one validated, frozen Config. This is the only module that reads
// process.env. Every flag is ONE row of FLAGS below: its name, env var, type, default, doc line and
// validator all live there, and --help, the env var names and the Config type are derived from it.
// To add a flag: add a row (the Config type grows by itself), then read `config.yourKey`.

import { readFileSync } from 'node:fs';
import { CONTROLLER_NAME } from './model/snapshot.ts';

// ---------------------------------------------------------------------------------------------
// Errors

/** A usage error: bad flag, bad value. The CLI prints `message` on stderr and exits 2. */
export class ConfigError extends Error {
  readonly code = 'SWY_ERR_CONFIG';
  override readonly name = 'ConfigError';
}

// ---------------------------------------------------------------------------------------------
// Value parsers. Each takes the raw string and returns the value or throws ConfigError with a
// message that names what was expected (the flag name is added by the caller).

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

function fail(message: string): never {
  throw new ConfigError(message);
}

export function parseString(raw: string): string {
  return raw;
}

/** Optional string: an empty value means "not set". */
export function parseOptionalString(raw: string): string | null {
  const value = raw.trim();
  return value === '' ? null : value;
}

export function parseBoolean(raw: string): boolean {
  switch (raw.trim().toLowerCase()) {
    case 'true':
    case '1':
    case 'yes':
      return true;
    case 'false':
    case '0':
    case 'no':
      return false;
    default:
      return fail(`expected true or false, got "${raw}"`);
  }
}

export function parseInteger(raw: string, min: number, max: number): number {
  const value = raw.trim();
  if (!/^-?\d+$/.test(value)) fail(`expected an integer, got "${raw}"`);
  const n = Number(value);
  if (n < min || n > max) fail(`expected an integer from ${min} to ${max}, got ${n}`);
  return n;
}

/** TCP port. 0 means "any free port" (tests, side-by-side runs); the bound port is logged. */
export function parsePort(raw: string): number {
  const value = raw.trim();
  if (!/^\d+$/.test(value)) fail(`expected a port number (0-65535), got "${raw}"`);
  const n = Number(value);
  if (n > 65535) fail(`port out of range (0-65535): ${n}`);
  return n;
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Go-style duration -> milliseconds: "250ms", "5s", "1m", "1m30s", "1.5s"; a bare number is seconds.
 * Zero is allowed ("0s"); negative values are not.
 */
export function parseDuration(raw: string): number {
  const value = raw.trim();
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(value)) {
    fail(`expected a duration such as 250ms, 5s, 1m or a number of seconds, got "${raw}"`);
  }
  let total = 0;
  for (const m of value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(m[1]) * DURATION_UNITS_MS[m[2]];
  return Math.round(total);
}

/** nginx size -> bytes: "1m", "512k", "2g", a bare number of bytes; "0" = unlimited. */
export function parseSize(raw: string): number {
  const m = /^(\d+)([kKmMgG]?)$/.exec(raw.trim());
  if (!m) fail(`expected a size such as 1m, 512k or a number of bytes, got "${raw}"`);
  const bytes = Number(m[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[m[2].toLowerCase()];
  if (!Number.isSafeInteger(bytes)) fail(`size too large: "${raw}"`);
  return bytes;
}

export function parseLogLevel(raw: string): LogLevel {
  const value = raw.trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(value)) fail(`expected one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
  return value as LogLevel;
}

export function parseEnum<const T extends readonly string[]>(values: T): (raw: string) => T[number] {
  return (raw) => {
    const value = raw.trim();
    if (!values.includes(value)) fail(`expected one of ${values.join(', ')}, got "${raw}"`);
    return value as T[number];
  };
}

/** Comma-separated list; blanks dropped; empty -> []. */
export function parseList(raw: string): readonly string[] {
  return Object.freeze(raw.split(',').map((s) => s.trim()).filter((s) => s !== ''));
}

// RFC 1123 label / subdomain, as Kubernetes validates namespaces and object names.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const PORT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export interface NamespacedName {
  readonly namespace: string;
  readonly name: string;
}

export interface ServiceRef extends NamespacedName {
  /** Service port number, or port name. */
  readonly port: number | string;
}

function checkNamespacedName(namespace: string, name: string, raw: string, form: string): void {
  if (!DNS_LABEL.test(namespace) || namespace.length > 63) fail(`expected ${form}, invalid namespace "${namespace}" in "${raw}"`);
  if (!DNS_SUBDOMAIN.test(name) || name.length > 253) fail(`expected ${form}, invalid name "${name}" in "${raw}"`);
}

/** "NS/NAME" or empty (-> null). */
export function parseNamespacedName(raw: string): NamespacedName | null {
  const value = raw.trim();
  if (value === '') return null;
  const m = /^([^/]+)\/([^/]+)$/.exec(value);
  if (!m) return fail(`expected NAMESPACE/NAME, got "${raw}"`);
  checkNamespacedName(m[1], m[2], raw, 'NAMESPACE/NAME');
  return Object.freeze({ namespace: m[1], name: m[2] });
}

/** "NS/NAME:PORT" (PORT a number 1-65535 or a port name) or empty (-> null). */
export function parseServiceRef(raw: string): ServiceRef | null {
  const value = raw.trim();
  if (value === '') return null;
  const m = /^([^/:]+)\/([^/:]+):([^/:]+)$/.exec(value);
  if (!m) return fail(`expected NAMESPACE/NAME:PORT, got "${raw}"`);
  checkNamespacedName(m[1], m[2], raw, 'NAMESPACE/NAME:PORT');
  let port: number | string;
  if (/^\d+$/.test(m[3])) {
    port = Number(m[3]);
    if (port < 1 || port > 65535) fail(`expected NAMESPACE/NAME:PORT, port out of range (1-65535) in "${raw}"`);
  } else {
    if (!PORT_NAME.test(m[3]) || m[3].length > 15) fail(`expected NAMESPACE/NAME:PORT, invalid port name "${m[3]}" in "${raw}"`);
    port = m[3];
  }
  return Object.freeze({ namespace: m[1], name: m[2], port });
}

function parseNamespaceList(raw: string): readonly string[] {
  const list = parseList(raw);
  for (const ns of list) if (!DNS_LABEL.test(ns) || ns.length > 63) fail(`invalid namespace "${ns}"`);
  return list;
}

function parseIngressClassName(raw: string): string {
  const value = raw.trim();
  if (!DNS_SUBDOMAIN.test(value) || value.length > 253) fail(`expected an IngressClass name (lower-case DNS subdomain), got "${raw}"`);
  return value;
}

function parseControllerClass(raw: string): string {
  const value = raw.trim();
  // Kubernetes: a domain-prefixed path, e.g. "example.com/ingress-controller", at most 250 chars.
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?\/[A-Za-z0-9][-A-Za-z0-9_./]*$/.test(value) || value.length > 250) {
    fail(`expected a domain-prefixed path such as ${CONTROLLER_NAME}, got "${raw}"`);
  }
  return value;
}

function parseNonEmpty(raw: string): string {
  const value = raw.trim();
  if (value === '') fail('expected a non-empty value');
  return value;
}

function parseBindAddress(raw: string): string {
  const value = raw.trim();
  if (value === '') fail('expected an IP address or host name');
  return value;
}

// ---------------------------------------------------------------------------------------------
// The flag table

/** Where a default can depend on the environment (e.g. $POD_NAMESPACE); receives the raw env. */
type DefaultValue<T> = T | ((env: Readonly<Record<string, string | undefined>>) => T);

export interface FlagSpec<K extends string, T> {
  /** Config property. */
  readonly key: K;
  /** --flag-name (kebab-case, without dashes). Env var is SWITCHYARD_<FLAG_NAME>. */
  readonly name: string;
  /** Shown in --help: "duration", "port", "NS/NAME:PORT", ... */
  readonly type: string;
  /** `--flag` alone means true; `--flag=false` turns it off. */
  readonly boolean?: boolean;
  readonly default: DefaultValue<T>;
  /** How --help shows the default, when String(default) does not say it well. */
  readonly defaultLabel?: string;
  readonly doc: string;
  /** Parses and validates the raw string; throws ConfigError. */
  readonly parse: (raw: string) => T;
}

/** Identity with inference: keeps each row's key and value type for the Config type. */
function flag<const K extends string, T>(spec: Omit<FlagSpec<K, T>, 'default'> & { readonly default: DefaultValue<NoInfer<T>> }): FlagSpec<K, T> {
  return spec;
}

export const FLAGS = [
  flag({
    key: 'source', name: 'source', type: 'file|kubernetes', default: 'file',
    doc: 'Where objects come from: "file" watches --manifests, "kubernetes" runs informers against the API server.',
    parse: parseEnum(['file', 'kubernetes'] as const),
  }),
  flag({
    key: 'manifests', name: 'manifests', type: 'dir', default: 'examples',
    doc: 'Folder of Kubernetes YAML/JSON read by the file source, watched recursively; edits apply live.',
    parse: parseNonEmpty,
  }),
  flag({
    key: 'httpPort', name: 'http-port', type: 'port', default: 8080,
    doc: 'HTTP listener port (0 = any free port).',
    parse: parsePort,
  }),
  flag({
    key: 'httpsPort', name: 'https-port', type: 'port', default: 8443,
    doc: 'HTTPS listener port (0 = any free port).',
    parse: parsePort,
  }),
  flag({
    key: 'adminPort', name: 'admin-port', type: 'port', default: 10254,
    doc: 'Admin listener port: /healthz, /readyz, /metrics, /debug/* (0 = any free port).',
    parse: parsePort,
  }),
  flag({
    key: 'bindAddress', name: 'bind-address', type: 'address', default: '0.0.0.0',
    doc: 'Address the HTTP and HTTPS listeners bind.',
    parse: parseBindAddress,
  }),
  flag({
    key: 'adminBindAddress', name: 'admin-bind-address', type: 'address', default: '0.0.0.0',
    doc: 'Address the admin listener binds.',
    parse: parseBindAddress,
  }),
  flag({
    key: 'ingressClass', name: 'ingress-class', type: 'name', default: 'switchyard',
    doc: 'Name of the IngressClass this controller serves.',
    parse: parseIngressClassName,
  }),
  flag({
    key: 'controllerClass', name: 'controller-class', type: 'string', default: CONTROLLER_NAME,
    doc: 'IngressClass spec.controller value this controller owns.',
    parse: parseControllerClass,
  }),
  flag({
    key: 'watchIngressWithoutClass', name: 'watch-ingress-without-class', type: 'bool', boolean: true, default: false,
    doc: 'Also serve Ingresses that name no class at all (no ingressClassName, no annotation, no default class).',
    parse: parseBoolean,
  }),
  flag({
    key: 'defaultBackendService', name: 'default-backend-service', type: 'NS/NAME:PORT',
    default: null, defaultLabel: '(none)',
    doc: 'Service served when no rule and no Ingress default backend matches (else 404).',
    parse: parseServiceRef,
  }),
  flag({
    key: 'logLevel', name: 'log-level', type: LOG_LEVELS.join('|'), default: 'info',
    doc: 'Minimum level of the JSON log lines on stdout.',
    parse: parseLogLevel,
  }),
  flag({
    key: 'syncHoldoffMs', name: 'sync-holdoff', type: 'duration', default: 20, defaultLabel: '20ms',
    doc: 'Coalescing: rebuild the route table this long after the last relevant change.',
    parse: parseDuration,
  }),
  flag({
    key: 'syncMaxHoldoffMs', name: 'sync-max-holdoff', type: 'duration', default: 200, defaultLabel: '200ms',
    doc: 'Coalescing: never wait longer than this after the first pending change.',
    parse: parseDuration,
  }),
  flag({
    key: 'syncLeadingEdge', name: 'sync-leading-edge', type: 'bool', boolean: true, default: true,
    doc: 'Rebuild at once for a change after --sync-holdoff of quiet (the rest of a burst still waits the holdoff); false: every change waits the holdoff.',
    parse: parseBoolean,
  }),
  flag({
    key: 'proxyConnectTimeoutMs', name: 'proxy-connect-timeout', type: 'duration', default: 5000, defaultLabel: '5s',
    doc: 'Upstream connect timeout (504 when exceeded).',
    parse: parseDuration,
  }),
  flag({
    key: 'proxyReadTimeoutMs', name: 'proxy-read-timeout', type: 'duration', default: 60_000, defaultLabel: '60s',
    doc: 'Upstream response idle timeout: headers (504) and between body chunks.',
    parse: parseDuration,
  }),
  flag({
    key: 'proxySendTimeoutMs', name: 'proxy-send-timeout', type: 'duration', default: 60_000, defaultLabel: '60s',
    doc: 'Request body send idle timeout.',
    parse: parseDuration,
  }),
  flag({
    key: 'defaultSslCertificate', name: 'default-ssl-certificate', type: 'NS/NAME',
    default: null, defaultLabel: '(generated)',
    doc: 'kubernetes.io/tls Secret served for hosts without a certificate of their own and clients without SNI; else a generated self-signed one.',
    parse: parseNamespacedName,
  }),
  flag({
    key: 'proxyBodySizeBytes', name: 'proxy-body-size', type: 'size', default: 1024 * 1024, defaultLabel: '1m',
    doc: 'Largest request body (413 beyond); k/m/g suffixes, 0 = unlimited. Per Ingress: proxy-body-size annotation.',
    parse: parseSize,
  }),
  flag({
    key: 'kubeconfig', name: 'kubeconfig', type: 'path', default: null, defaultLabel: '(none)',
    doc: 'kubeconfig file (kubernetes source); else $KUBECONFIG, else in-cluster config.',
    parse: parseOptionalString,
  }),
  flag({
    key: 'watchNamespaces', name: 'watch-namespace', type: 'list', default: [], defaultLabel: '(all)',
    doc: 'Comma-separated namespaces to watch (kubernetes source); empty = all namespaces.',
    parse: parseNamespaceList,
  }),
  flag({
    key: 'kubeApiTimeoutMs', name: 'kube-api-timeout', type: 'duration', default: 10_000, defaultLabel: '10s',
    doc: 'Deadline of each API request for leader election, Ingress status and Events (kubernetes source); a request past it is abandoned and retried later. Lists and watches have their own timeouts.',
    parse: (raw) => {
      const ms = parseDuration(raw);
      if (ms < 1) fail(`expected a duration of at least 1ms, got "${raw}"`);
      return ms;
    },
  }),
  flag({
    key: 'publishService', name: 'publish-service', type: 'NS/NAME',
    default: null, defaultLabel: '(none)',
    doc: 'Service whose load-balancer addresses are written to Ingress status.',
    parse: parseNamespacedName,
  }),
  flag({
    key: 'publishStatusAddress', name: 'publish-status-address', type: 'list', default: [], defaultLabel: '(none)',
    doc: 'Comma-separated IPs/host names written to Ingress status (overrides --publish-service).',
    parse: parseList,
  }),
  flag({
    key: 'updateStatus', name: 'update-status', type: 'bool', boolean: true, default: true,
    doc: 'Write Ingress status (leader only, kubernetes source).',
    parse: parseBoolean,
  }),
  flag({
    key: 'electionId', name: 'election-id', type: 'name', default: 'switchyard-leader',
    doc: 'Name of the Lease used for leader election.',
    parse: parseIngressClassName,
  }),
  flag({
    key: 'podNamespace', name: 'pod-namespace', type: 'namespace',
    default: (env) => env.POD_NAMESPACE?.trim() || 'default', defaultLabel: '$POD_NAMESPACE or "default"',
    doc: 'Namespace of the controller pod, where the leader-election Lease lives.',
    parse: (raw) => {
      const value = raw.trim();
      if (!DNS_LABEL.test(value) || value.length > 63) fail(`expected a namespace name, got "${raw}"`);
      return value;
    },
  }),
  // Observability (README "Observability").
  flag({
    key: 'enableMetrics', name: 'enable-metrics', type: 'bool', boolean: true, default: true,
    doc: 'Record per-route request metrics (/metrics); false skips all per-request metric work (controller metrics stay).',
    parse: parseBoolean,
  }),
  flag({
    key: 'metricsCompat', name: 'metrics-compat', type: 'none|ingress-nginx', default: 'none',
    doc: 'Also expose the per-route data under ingress-nginx metric names, labels and buckets (dashboards keep working).',
    parse: parseEnum(['none', 'ingress-nginx'] as const),
  }),
  flag({
    key: 'metricsStatusClass', name: 'metrics-status-class', type: 'bool', boolean: true, default: false,
    doc: 'Label request metrics with the status class (2xx, 4xx, ...) instead of the status code.',
    parse: parseBoolean,
  }),
  flag({
    key: 'accessLog', name: 'access-log', type: 'bool', boolean: true, default: true,
    doc: 'Write one JSON access log line per request (asynchronous writes).',
    parse: parseBoolean,
  }),
  flag({
    key: 'accessLogPath', name: 'access-log-path', type: 'path', default: null, defaultLabel: '(stdout)',
    doc: 'File the access log is appended to; default stdout, interleaved with the controller log (lines carry "kind":"access").',
    parse: parseOptionalString,
  }),
  flag({
    key: 'podName', name: 'pod-name', type: 'name',
    default: (env) => env.POD_NAME?.trim() || env.HOSTNAME?.trim() || '', defaultLabel: '$POD_NAME, else $HOSTNAME',
    doc: 'Name of the controller pod: the controller_pod label of --metrics-compat ingress-nginx.',
    parse: parseString,
  }),
  // Graceful drain on SIGTERM (README "Resilience"; src/runtime/drain.ts).
  flag({
    key: 'shutdownGracePeriodMs', name: 'shutdown-grace-period', type: 'duration', default: 5000, defaultLabel: '5s',
    doc: 'On SIGTERM: /readyz turns 503 at once and the listeners keep accepting for this long (so load balancers notice), then stop accepting.',
    parse: parseDuration,
  }),
  flag({
    key: 'shutdownTimeoutMs', name: 'shutdown-timeout', type: 'duration', default: 20_000, defaultLabel: '20s',
    doc: 'After the grace period, in-flight requests and upgraded connections get this long to finish before they are cut; then exit 0.',
    parse: parseDuration,
  }),
  // Passive health and retries (README "Resilience"; src/proxy/passive-health.ts, src/proxy/retry.ts).
  flag({
    key: 'upstreamMaxFails', name: 'upstream-max-fails', type: 'integer', default: 3,
    doc: 'Consecutive failures (connection errors, timeouts, 5xx) that eject an endpoint for a while, like nginx max_fails; 0 turns passive health off. The last usable endpoint of an upstream is never ejected.',
    parse: (raw) => parseInteger(raw, 0, 1000),
  }),
  flag({
    key: 'upstreamFailTimeoutMs', name: 'upstream-fail-timeout', type: 'duration', default: 10_000, defaultLabel: '10s',
    doc: 'How long an ejected endpoint gets no traffic, like nginx fail_timeout; doubles with each consecutive ejection (at most 8x).',
    parse: parseDuration,
  }),
  flag({
    key: 'proxyNextUpstreamTries', name: 'proxy-next-upstream-tries', type: 'integer', default: 3,
    doc: 'Attempts per request, first included, when connecting to an endpoint fails (any method without a body) or the connection resets before the response (idempotent methods); each retry goes to a different endpoint. 1 = no retries.',
    parse: (raw) => parseInteger(raw, 1, 20),
  }),
  // Overload (README "Resilience").
  flag({
    key: 'upstreamMaxConnections', name: 'upstream-max-connections', type: 'integer', default: 0, defaultLabel: '0 (no cap)',
    doc: 'Concurrent connections per upstream endpoint; requests beyond wait in a queue of --upstream-max-queue, then get 503. 0 = no cap.',
    parse: (raw) => parseInteger(raw, 0, 100_000),
  }),
  flag({
    key: 'upstreamMaxQueue', name: 'upstream-max-queue', type: 'integer', default: 100,
    doc: 'With --upstream-max-connections: requests per endpoint that may wait for a free connection (up to the read timeout); more get 503 at once.',
    parse: (raw) => parseInteger(raw, 0, 1_000_000),
  }),
  flag({
    key: 'maxConnections', name: 'max-connections', type: 'integer', default: 16_384,
    doc: 'Client connections each data-plane listener holds at most (like nginx worker_connections); more are closed at accept. 0 = no limit.',
    parse: (raw) => parseInteger(raw, 0, 10_000_000),
  }),
  // All cores (README "Resilience"; src/runtime/workers.ts).
  flag({
    key: 'workers', name: 'workers', type: 'integer', default: 0, defaultLabel: '0 (available CPUs)',
    doc: 'Proxy worker processes sharing the ports (node:cluster); the primary watches the sources and sends each route table to every worker. 0 = the CPUs available to the process (cgroup v2 quota honoured); 1 = one process, no cluster.',
    parse: (raw) => parseInteger(raw, 0, 1024),
  }),
  flag({
    key: 'clientHeaderTimeoutMs', name: 'client-header-timeout', type: 'duration', default: 60_000, defaultLabel: '60s',
    doc: 'A client must send the whole request head within this time, else 408 and the connection is closed (slow-header floods). Request bodies are bounded by --proxy-send-timeout (idle).',
    parse: parseDuration,
  }),
] as const;

type AnyFlag = (typeof FLAGS)[number];
type FlagValue<F> = F extends FlagSpec<string, infer T> ? T : never;

/** One property per row of FLAGS. */
export type FlagConfig = { readonly [F in AnyFlag as F['key']]: FlagValue<F> };

/** Standard environment variables other tools define, passed on so nobody else reads process.env. */
export interface EnvironmentInputs {
  /** $KUBECONFIG (may list several files), used when --kubeconfig is not given. */
  readonly kubeconfigEnv: string | null;
}

/** The validated configuration. */
export type Config = FlagConfig & EnvironmentInputs;

/** Checks that involve more than one flag. */
function validateTogether(config: Config): void {
  if (config.syncMaxHoldoffMs < config.syncHoldoffMs) {
    fail(`--sync-max-holdoff (${config.syncMaxHoldoffMs}ms) must not be shorter than --sync-holdoff (${config.syncHoldoffMs}ms)`);
  }
  const ports = [
    ['--http-port', config.httpPort],
    ['--https-port', config.httpsPort],
    ['--admin-port', config.adminPort],
  ] as const;
  for (let i = 0; i < ports.length; i++) {
    for (let j = i + 1; j < ports.length; j++) {
      if (ports[i][1] !== 0 && ports[i][1] === ports[j][1]) fail(`${ports[i][0]} and ${ports[j][0]} must differ (both ${ports[i][1]})`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing

export function envVarName(flagName: string): string {
  return `SWITCHYARD_${flagName.replace(/-/g, '_').toUpperCase()}`;
}

export type ParseOutcome =
  | { readonly kind: 'run'; readonly config: Config }
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'version'; readonly text: string };

type Env = Readonly<Record<string, string | undefined>>;

const BY_NAME: ReadonlyMap<string, AnyFlag> = new Map(FLAGS.map((f) => [f.name, f]));

function parseWith(f: AnyFlag, raw: string, origin: string): unknown {
  try {
    return (f.parse as (raw: string) => unknown)(raw);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`invalid value for ${origin}: ${err.message}`);
    throw err;
  }
}

/**
 * Pure: argv (without node and script) and an env map -> outcome, or throws ConfigError.
 * Precedence: command line, then SWITCHYARD_* env var, then the default.
 */
export function parseConfig(argv: readonly string[], env: Env): ParseOutcome {
  const fromArgs = new Map<AnyFlag, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return { kind: 'help', text: helpText() };
    if (arg === '--version') return { kind: 'version', text: `switchyard ${packageVersion()}` };
    if (!arg.startsWith('--') || arg === '--') fail(`unexpected argument "${arg}" (flags look like --name value or --name=value; see --help)`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const f = BY_NAME.get(name);
    if (!f) fail(`unknown flag --${name} (see --help)`);
    let raw: string;
    if (eq !== -1) {
      raw = arg.slice(eq + 1);
    } else if ('boolean' in f && f.boolean) {
      // `--flag` alone is true; `--flag true|false` is also accepted.
      const next = argv[i + 1];
      if (next !== undefined && /^(true|false)$/i.test(next)) {
        raw = next;
        i++;
      } else {
        raw = 'true';
      }
    } else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) fail(`flag --${name} needs a value (${f.type})`);
      raw = next;
      i++;
    }
    fromArgs.set(f, raw); // the last occurrence wins
  }

  const config: Record<string, unknown> = {};
  for (const f of FLAGS) {
    const arg = fromArgs.get(f);
    const envName = envVarName(f.name);
    const envValue = env[envName];
    if (arg !== undefined) {
      config[f.key] = parseWith(f, arg, `--${f.name}`);
    } else if (envValue !== undefined && envValue !== '') {
      config[f.key] = parseWith(f, envValue, envName);
    } else {
      const d: unknown = f.default;
      config[f.key] = typeof d === 'function' ? (d as (env: Env) => unknown)(env) : d;
    }
  }
  config.kubeconfigEnv = env.KUBECONFIG?.trim() || null;
  const frozen = Object.freeze(config) as unknown as Config;
  validateTogether(frozen);
  return { kind: 'run', config: frozen };
}

/** The real process: argv and process.env (the only place process.env is read). */
export function loadConfig(argv: readonly string[] = process.argv.slice(2)): ParseOutcome {
  return parseConfig(argv, process.env);
}

/** Defaults only (tests, embedding); `overrides` are applied on top and validated the same way. */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  const outcome = parseConfig([], {});
  if (outcome.kind !== 'run') throw new Error('unreachable');
  const merged = Object.freeze({ ...outcome.config, ...overrides }) as Config;
  validateTogether(merged);
  return merged;
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function defaultLabel(f: AnyFlag): string {
  if ('defaultLabel' in f && f.defaultLabel !== undefined) return f.defaultLabel;
  const d: unknown = f.default;
  if (d === null) return '(none)';
  return String(d);
}

/** --help, generated from FLAGS. */
export function helpText(): string {
  const lines = [
    'Usage: switchyard [flags]',
    '',
    'Switchyard: a reload-free Kubernetes Ingress controller.',
    'Every flag can also be set by its environment variable; the command line wins.',
    'Durations: 250ms, 5s, 1m, 1m30s, or a number of seconds. Booleans: --flag, --flag=true|false.',
    '',
    'Flags:',
  ];
  for (const f of FLAGS) {
    lines.push(`  --${f.name} ${f.type}`);
    lines.push(`      ${f.doc}`);
    lines.push(`      env ${envVarName(f.name)}, default ${defaultLabel(f)}`);
  }
  lines.push('  --help', '      Print this help and exit.', '  --version', '      Print the version and exit.', '');
  return lines.join('\n');
}

/** Markdown table of every flag, for the README (`node src/config.ts --markdown`). */
export function flagTableMarkdown(): string {
  const rows = ['| flag | env var | default | meaning |', '|---|---|---|---|'];
  for (const f of FLAGS) {
    rows.push(`| \`--${f.name}\` | \`${envVarName(f.name)}\` | ${defaultLabel(f).replace(/\|/g, '\\|')} | ${f.doc.replace(/\|/g, '\\|')} |`);
  }
  return rows.join('\n');
}

export const README_FLAGS_START = '<!-- flags:start (generated by `node src/config.ts --update-readme`) -->';
export const README_FLAGS_END = '<!-- flags:end -->';

/** README.md text with the flag table between the markers replaced by the current FLAGS. */
export function withFlagTable(readme: string): string {
  const start = readme.indexOf(README_FLAGS_START);
  const end = readme.indexOf(README_FLAGS_END);
  if (start === -1 || end < start) throw new Error('README.md has no flag table markers');
  return `${readme.slice(0, start + README_FLAGS_START.length)}\n${flagTableMarkdown()}\n${readme.slice(end)}`;
}

// Dev tool: `node src/config.ts --markdown` prints the table, `--update-readme` rewrites README.md's.
if (import.meta.main) {
  if (process.argv[2] === '--markdown') process.stdout.write(flagTableMarkdown() + '\n');
  if (process.argv[2] === '--update-readme') {
    const { writeFileSync } = await import('node:fs');
    const readme = new URL('../README.md', import.meta.url);
    writeFileSync(readme, withFlagTable(readFileSync(readme, 'utf8')));
  }
}
