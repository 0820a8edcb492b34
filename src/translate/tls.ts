// spec.tls of the owned Ingresses -> the certificates the HTTPS listener serves (RouteConfig
// .certificates), and --default-ssl-certificate (RouteConfig.defaultCertificate). Pure: Secrets
// come from the snapshot; the deep check (parse, key match) is the injected
// TranslateOptions.checkCertificate, so no crypto here.
//   1. Ingresses oldest first; each spec.tls entry names hosts and a Secret in the Ingress's namespace.
//   2. The Secret must exist and carry PEM tls.crt and tls.key (data, base64; or stringData in a
//      file): else TlsSecretNotFound / InvalidTlsSecret (error) and its hosts get the default
//      certificate (they still count as TLS hosts for ssl-redirect, as in ingress-nginx).
//   3. A host listed by two Ingresses with different Secrets: the oldest wins (TlsHostConflict).
import type { Diagnostic } from '../model/diagnostic.ts';
import type { Ingress, ObjectRef, Secret } from '../model/kube.ts';
import type { TlsCertificate } from '../model/route-config.ts';
import type { CertificateChecker, TranslateOptions } from '../model/snapshot.ts';
import { namespaceOf } from './backends.ts';
import { parseRuleHost } from './hosts.ts';
import { compareIngressAge, compareStrings } from './order.ts';
import { ingressAge, ingressRef } from './rules.ts';

export interface TlsResult {
  readonly certificates: readonly TlsCertificate[];
  readonly defaultCertificate: TlsCertificate | null;
}

type Resolved =
  | { readonly ok: true; readonly certificate: string; readonly key: string; readonly notAfter: number | undefined }
  | { readonly ok: false; readonly reason: 'InvalidTlsSecret'; readonly error: string };

// The Secret object -> what it resolves to (Secrets are immutable snapshots of the store: a new
// version is a new object). Keeps the base64 decoding and the deep check out of every rebuild.
const resolvedSecrets = new WeakMap<Secret, { readonly checked: boolean; readonly value: Resolved }>();

const PEM_CERTIFICATE = '-----BEGIN CERTIFICATE-----';
const PEM_PRIVATE_KEY = /-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/;

/** `main`: the main (non-canary) owned Ingresses, in any order. */
export function translateTls(
  main: readonly Ingress[],
  secrets: readonly Secret[],
  options: TranslateOptions,
  diagnostics: Diagnostic[],
): TlsResult {
  const byKey = new Map<string, Secret>();
  for (const secret of secrets) byKey.set(`${namespaceOf(secret.metadata)}/${secret.metadata.name}`, secret);
  const check = options.checkCertificate;
  const ingresses = main.filter((ingress) => Array.isArray(ingress.spec?.tls) && ingress.spec!.tls!.length > 0);
  ingresses.sort((a, b) => compareIngressAge(ingressAge(a), ingressAge(b)));

  // host -> the Secret serving it (first Ingress wins); certificates by Secret key.
  const owner = new Map<string, { secret: string; from: ObjectRef }>();
  const bySecret = new Map<string, { resolved: Resolved & { ok: true }; hosts: string[] }>();
  for (const ingress of ingresses) {
    const tls = ingress.spec?.tls;
    if (!Array.isArray(tls)) continue;
    const source = ingressRef(ingress);
    for (let i = 0; i < tls.length; i++) {
      const entry = tls[i];
      if (entry === null || typeof entry !== 'object') continue;
      const hosts = validHosts(entry.hosts, source, i, diagnostics);
      const secretName = entry.secretName;
      if (typeof secretName !== 'string' || secretName === '' || hosts.length === 0) continue; // default certificate
      const key = `${source.namespace}/${secretName}`;
      const secret = byKey.get(key);
      const served = `host${hosts.length === 1 ? '' : 's'} ${hosts.join(', ')} ${hosts.length === 1 ? 'is' : 'are'} served with the default certificate`;
      if (secret === undefined) {
        diagnostics.push({ severity: 'error', object: source, reason: 'TlsSecretNotFound', message: `spec.tls[${i}]: Secret ${key} not found; ${served}` });
        continue;
      }
      const resolved = resolveSecret(secret, check);
      if (!resolved.ok) {
        diagnostics.push({ severity: 'error', object: source, reason: resolved.reason, message: `spec.tls[${i}]: Secret ${key} ${resolved.error}; ${served}` });
        continue;
      }
      for (const host of hosts) {
        const current = owner.get(host);
        if (current === undefined) {
          owner.set(host, { secret: key, from: source });
          let group = bySecret.get(key);
          if (group === undefined) bySecret.set(key, (group = { resolved, hosts: [] }));
          group.hosts.push(host);
        } else if (current.secret !== key) {
          diagnostics.push({
            severity: 'warning',
            object: source,
            reason: 'TlsHostConflict',
            message: `spec.tls[${i}]: host ${host} is served with Secret ${current.secret} of the older Ingress ${current.from.namespace}/${current.from.name}, not ${key}`,
          });
        }
      }
    }
  }

  const certificates: TlsCertificate[] = [];
  for (const [secret, { resolved, hosts }] of bySecret) certificates.push(certificateOf(secret, hosts.sort(compareStrings), resolved));
  certificates.sort((a, b) => compareStrings(a.secret, b.secret));

  let defaultCertificate: TlsCertificate | null = null;
  const wanted = options.defaultSslCertificate;
  if (wanted !== undefined && wanted !== null) {
    const key = `${wanted.namespace}/${wanted.name}`;
    const object: ObjectRef = { kind: 'Secret', namespace: wanted.namespace, name: wanted.name };
    const secret = byKey.get(key);
    const fallback = 'the generated self-signed certificate is served instead';
    if (secret === undefined) {
      diagnostics.push({ severity: 'error', object, reason: 'TlsSecretNotFound', message: `--default-ssl-certificate: Secret ${key} not found; ${fallback}` });
    } else {
      const resolved = resolveSecret(secret, check);
      if (resolved.ok) defaultCertificate = certificateOf(key, [], resolved);
      else diagnostics.push({ severity: 'error', object, reason: resolved.reason, message: `--default-ssl-certificate: Secret ${key} ${resolved.error}; ${fallback}` });
    }
  }
  return { certificates, defaultCertificate };
}

function certificateOf(secret: string, hosts: readonly string[], resolved: Resolved & { ok: true }): TlsCertificate {
  return {
    secret,
    hosts,
    certificate: resolved.certificate,
    key: resolved.key,
    ...(resolved.notAfter !== undefined ? { notAfter: resolved.notAfter } : {}),
  };
}

/** spec.tls[i].hosts: lower-cased exact or wildcard names; others reported and dropped. */
function validHosts(raw: unknown, source: ObjectRef, i: number, diagnostics: Diagnostic[]): string[] {
  if (!Array.isArray(raw)) return [];
  const hosts: string[] = [];
  for (const h of raw) {
    const parsed = typeof h === 'string' && h !== '' ? parseRuleHost(h) : null;
    if (parsed === null || !parsed.ok || parsed.kind === 'any' || parsed.strippedPort !== null) {
      diagnostics.push({ severity: 'error', object: source, reason: 'InvalidTlsHost', message: `spec.tls[${i}].hosts: ${JSON.stringify(h)} is not a valid host name; it is ignored` });
      continue;
    }
    if (!hosts.includes(parsed.host)) hosts.push(parsed.host);
  }
  return hosts;
}

function resolveSecret(secret: Secret, check: CertificateChecker | undefined): Resolved {
  const cached = resolvedSecrets.get(secret);
  if (cached !== undefined && cached.checked === (check !== undefined)) return cached.value;
  const value = readSecret(secret, check);
  resolvedSecrets.set(secret, { checked: check !== undefined, value });
  return value;
}

function readSecret(secret: Secret, check: CertificateChecker | undefined): Resolved {
  const invalid = (error: string): Resolved => ({ ok: false, reason: 'InvalidTlsSecret', error });
  const certificate = secretValue(secret, 'tls.crt');
  const key = secretValue(secret, 'tls.key');
  if (certificate === null || key === null) return invalid(`has no ${certificate === null ? 'tls.crt' : 'tls.key'} (type ${secret.type ?? 'unset'})`);
  if (!certificate.includes(PEM_CERTIFICATE)) return invalid('tls.crt is not a PEM certificate');
  if (!PEM_PRIVATE_KEY.test(key)) return invalid('tls.key is not a PEM private key');
  if (check === undefined) return { ok: true, certificate, key, notAfter: undefined };
  const outcome = check(certificate, key);
  if (!outcome.ok) return invalid(outcome.error);
  return { ok: true, certificate, key, notAfter: outcome.notAfter };
}

/** A Secret value: data (base64, as the API serves it) or stringData (plain, in a manifest file). */
function secretValue(secret: Secret, name: string): string | null {
  const data = secret.data;
  if (data !== null && typeof data === 'object' && typeof data[name] === 'string') {
    const text = Buffer.from(data[name], 'base64').toString('utf8');
    return text === '' ? null : text;
  }
  const stringData = (secret as { stringData?: Record<string, unknown> }).stringData;
  if (stringData !== null && typeof stringData === 'object' && typeof stringData[name] === 'string' && stringData[name] !== '') return stringData[name];
  return null;
}
