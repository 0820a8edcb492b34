// One main (non-canary) owned Ingress -> its candidate routes, the virtual hosts it contributes
// to and its default backend. Conflicts between candidates are decided later, in translate.ts,
// once every Ingress has been read.
import type { Diagnostic } from '../model/diagnostic.ts';
import type { Ingress, ObjectRef } from '../model/kube.ts';
import type { BackendRef, Route } from '../model/route-config.ts';
import { USE_REGEX } from './annotations/annotation-table.ts';
import { readAnnotation } from './annotations/read-annotation.ts';
import type { ServiceIndex, UpstreamTarget } from './backends.ts';
import { namespaceOf, resolveIngressBackend } from './backends.ts';
import type { HostKind } from './hosts.ts';
import { parseRuleHost } from './hosts.ts';
import type { IngressAge } from './order.ts';
import { parseCreationTimestamp } from './order.ts';
import type { PathProblem } from './paths.ts';
import { resolvePath } from './paths.ts';
import { readIngressSettings, type SslRedirectMode } from './route-settings.ts';
import { readBalanceSettings } from './balance-settings.ts';
import { isCanaryIngress } from './canary.ts';
import { isObject, listOf } from './shape.ts';

export interface ResolvedBackend {
  readonly ref: BackendRef;
  readonly target: UpstreamTarget | null;
}

export interface CandidateRoute {
  readonly route: Route;
  readonly age: IngressAge;
  readonly hostKind: HostKind;
  readonly target: UpstreamTarget | null;
  /** The Ingress's ssl-redirect choice; translate applies it once it knows the TLS hosts. */
  readonly sslRedirect: SslRedirectMode;
  /** The path is a regular expression of its own (use-regex or rewrite-target): its host is a regex host. */
  readonly regex: boolean;
}

export interface IngressRoutes {
  readonly source: ObjectRef;
  readonly age: IngressAge;
  /** Distinct virtual hosts this Ingress has rules for (valid hosts only), in rule order. */
  readonly hosts: readonly { readonly host: string; readonly kind: HostKind }[];
  /** Valid paths, in rule/path order. */
  readonly routes: readonly CandidateRoute[];
  /** spec.defaultBackend when set and valid. */
  readonly defaultBackend: ResolvedBackend | null;
}

export function ingressRef(ingress: Ingress): ObjectRef {
  return { kind: 'Ingress', namespace: namespaceOf(ingress.metadata), name: ingress.metadata.name };
}

export function ingressAge(ingress: Ingress): IngressAge {
  return {
    createdAt: parseCreationTimestamp(ingress.metadata.creationTimestamp),
    namespace: namespaceOf(ingress.metadata),
    name: ingress.metadata.name,
  };
}

export function routeName(source: ObjectRef, ruleIndex: number, pathIndex: number): string {
  // Joined: a flat string; route names live as long as their routes (PROFILE.md 6c).
  return ['ingress', source.namespace, source.name, 'rule', ruleIndex, 'path', pathIndex].join('/');
}

/**
 * Reads one Ingress. Each problem becomes a Diagnostic on the Ingress; an invalid host skips its
 * rule, an invalid path or backend skips that path; everything else is kept.
 */
export function translateIngressRules(ingress: Ingress, index: ServiceIndex, report: (diagnostic: Diagnostic) => void): IngressRoutes {
  const source = ingressRef(ingress);
  const namespace = source.namespace;
  const diagnose = (severity: 'error' | 'warning', reason: string, message: string): void => report({ severity, object: source, reason, message });
  const age = ingressAge(ingress);
  const annotationProblems: Diagnostic[] = [];
  // A canary's paths only name the main route they split (same path string): read them as
  // patterns, so a canary of a regex path ("/opt/?(.*)") attaches whatever its own annotations say.
  const useRegex = readAnnotation(USE_REGEX, ingress.metadata.annotations, source, annotationProblems) || isCanaryIngress(ingress);
  const { settings, sslRedirect } = readIngressSettings(ingress.metadata.annotations, source, annotationProblems);
  const balance = readBalanceSettings(ingress.metadata.annotations, source, annotationProblems);
  for (const problem of annotationProblems) report(problem);

  // 1. spec.defaultBackend: invalid -> reported and ignored; unresolved -> kept (503 where used).
  let defaultBackend: ResolvedBackend | null = null;
  const specDefault = ingress.spec?.defaultBackend;
  if (specDefault !== undefined && specDefault !== null) {
    const resolved = resolveIngressBackend(specDefault, namespace, index);
    if (!resolved.ok) {
      diagnose('error', 'InvalidBackend', `spec.defaultBackend: ${resolved.error}; it is ignored`);
    } else {
      if (resolved.problem !== null) diagnose(resolved.problem.severity, resolved.problem.reason, `spec.defaultBackend: ${resolved.problem.message}`);
      defaultBackend = { ref: resolved.ref, target: resolved.target };
    }
  }

  const specRules = ingress.spec?.rules;
  if (specRules !== undefined && specRules !== null && !Array.isArray(specRules)) {
    diagnose('error', 'MalformedIngress', 'spec.rules is not a list; it is ignored');
  }
  const rules = listOf(specRules);
  if (rules.length === 0 && defaultBackend === null && specDefault == null) {
    diagnose('warning', 'EmptyIngress', 'the Ingress has neither rules nor a defaultBackend; it routes nothing');
  }

  const hosts: { host: string; kind: HostKind }[] = [];
  const routes: CandidateRoute[] = [];
  for (let i = 0; i < rules.length; i++) {
    // 2. the host: invalid -> the whole rule is skipped.
    const rule = rules[i];
    if (!isObject(rule)) {
      diagnose('error', 'MalformedIngress', `spec.rules[${i}] is not an object; the rule is skipped`);
      continue;
    }
    const parsed = parseRuleHost(rule.host);
    if (!parsed.ok) {
      diagnose('error', 'InvalidHost', `spec.rules[${i}].host: ${parsed.error}; the rule is skipped`);
      continue;
    }
    if (parsed.strippedPort !== null) {
      diagnose('warning', 'HostPortIgnored', `spec.rules[${i}].host: "${rule.host}" has a port; hosts are matched without their port, so it is served as "${parsed.host}"`);
    }
    if (!hosts.some((h) => h.host === parsed.host)) hosts.push({ host: parsed.host, kind: parsed.kind });

    // 3. each path: invalid path or backend -> that path is skipped.
    const http = rule.http;
    if (http !== undefined && http !== null && (!isObject(http) || (http.paths != null && !Array.isArray(http.paths)))) {
      diagnose('error', 'MalformedIngress', `spec.rules[${i}].http${isObject(http) ? '.paths is not a list' : ' is not an object'}; the rule has no paths`);
    }
    const paths = listOf(isObject(http) ? http.paths : undefined);
    for (let j = 0; j < paths.length; j++) {
      const where = `spec.rules[${i}].http.paths[${j}]`;
      if (!isObject(paths[j])) {
        diagnose('error', 'MalformedIngress', `${where} is not an object; the path is skipped`);
        continue;
      }
      const problems: PathProblem[] = [];
      const resolvedPath = resolvePath(paths[j], useRegex, settings?.rewriteTarget, problems);
      for (const problem of problems) diagnose(problem.severity, problem.reason, `${where}: ${problem.message}`);
      if (resolvedPath === null) continue;
      const backend = resolveIngressBackend(paths[j].backend, namespace, index);
      if (!backend.ok) {
        diagnose('error', 'InvalidBackend', `${where}: ${backend.error}; the path is skipped`);
        continue;
      }
      if (backend.problem !== null) diagnose(backend.problem.severity, backend.problem.reason, `${where}: ${backend.problem.message}`);
      const route: Route = {
        name: routeName(source, i, j),
        source,
        host: parsed.host,
        path: resolvedPath.path,
        pathType: resolvedPath.pathType,
        match: resolvedPath.match,
        matchPath: resolvedPath.matchPath,
        backend: backend.ref,
        canaries: [],
        ...(settings !== undefined ? { settings } : {}),
        ...(balance !== undefined ? { balance } : {}),
      };
      routes.push({ route, age, hostKind: parsed.kind, target: backend.target, sslRedirect, regex: resolvedPath.match === 'regex' });
    }
  }
  return { source, age, hosts, routes, defaultBackend };
}
