import type { EndpointSlice, Ingress, IngressClass, Secret, Service } from './kube.ts';

/**
 * A frozen, complete view of every object the store holds, each list sorted by namespace/name.
 * The only input of translate(). Cluster-scoped objects (IngressClass) have namespace "".
 */
export interface Snapshot {
  readonly ingresses: readonly Ingress[];
  readonly ingressClasses: readonly IngressClass[];
  readonly services: readonly Service[];
  readonly endpointSlices: readonly EndpointSlice[];
  readonly secrets: readonly Secret[];
}

/** Controller-wide settings translate needs; everything else about the run lives in Config. */
export interface TranslateOptions {
  /** The IngressClass name we serve (--ingress-class), default "switchyard". */
  readonly ingressClass: string;
  /** spec.controller value of IngressClasses we own, "switchyard.dev/ingress-controller". */
  readonly controllerName: string;
  /** Serve Ingresses with no class at all (--watch-ingress-without-class). */
  readonly watchIngressWithoutClass: boolean;
  /** --default-backend-service NS/NAME:PORT, used when nothing else matches. */
  readonly defaultBackendService: { readonly namespace: string; readonly name: string; readonly port: number | string } | null;
  /** --default-ssl-certificate NS/NAME: the certificate for hosts without one of their own. */
  readonly defaultSslCertificate?: { readonly namespace: string; readonly name: string } | null;
  /**
   * Deep check of a certificate and key (parse, key match), injected so translate stays free of
   * crypto: must be deterministic (a pure function of its arguments). Without it, only the
   * structure (PEM blocks present) is checked.
   */
  readonly checkCertificate?: CertificateChecker;
}

export type CertificateChecker = (certificate: string, key: string) =>
  | { readonly ok: true; readonly notAfter: number }
  | { readonly ok: false; readonly error: string };

export const CONTROLLER_NAME = 'switchyard.dev/ingress-controller';
