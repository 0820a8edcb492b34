// Plain-JSON shapes of the Kubernetes objects Switchyard reads. Sources normalize API objects into
// these (no Dates, no managedFields); translate reads nothing else. Only the fields we use are typed.

export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly generation?: number;
  /** RFC 3339 string (normalized from Date by the sources). */
  readonly creationTimestamp?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface ServiceBackendPort {
  readonly name?: string;
  readonly number?: number;
}

export interface IngressServiceBackend {
  readonly name: string;
  readonly port?: ServiceBackendPort;
}

export interface TypedLocalObjectReference {
  readonly apiGroup?: string;
  readonly kind: string;
  readonly name: string;
}

export interface IngressBackend {
  readonly service?: IngressServiceBackend;
  readonly resource?: TypedLocalObjectReference;
}

export type PathType = 'Exact' | 'Prefix' | 'ImplementationSpecific';

export interface HTTPIngressPath {
  readonly path?: string;
  readonly pathType?: PathType | string;
  readonly backend: IngressBackend;
}

export interface IngressRule {
  readonly host?: string;
  readonly http?: { readonly paths: readonly HTTPIngressPath[] };
}

export interface IngressTLS {
  readonly hosts?: readonly string[];
  readonly secretName?: string;
}

export interface LoadBalancerIngress {
  readonly ip?: string;
  readonly hostname?: string;
  readonly ports?: readonly { readonly port: number; readonly protocol: string; readonly error?: string }[];
}

export interface Ingress {
  readonly apiVersion?: string;
  readonly kind: 'Ingress';
  readonly metadata: ObjectMeta;
  readonly spec?: {
    readonly ingressClassName?: string;
    readonly defaultBackend?: IngressBackend;
    readonly tls?: readonly IngressTLS[];
    readonly rules?: readonly IngressRule[];
  };
  readonly status?: { readonly loadBalancer?: { readonly ingress?: readonly LoadBalancerIngress[] } };
}

export interface IngressClass {
  readonly apiVersion?: string;
  readonly kind: 'IngressClass';
  readonly metadata: ObjectMeta;
  readonly spec?: { readonly controller?: string; readonly parameters?: unknown };
}

export interface ServicePort {
  readonly name?: string;
  readonly port: number;
  readonly targetPort?: number | string;
  readonly protocol?: string;
  readonly appProtocol?: string;
}

export interface Service {
  readonly apiVersion?: string;
  readonly kind: 'Service';
  readonly metadata: ObjectMeta;
  readonly spec?: {
    readonly type?: string;
    readonly externalName?: string;
    readonly clusterIP?: string;
    readonly ports?: readonly ServicePort[];
    readonly selector?: Readonly<Record<string, string>>;
  };
  readonly status?: { readonly loadBalancer?: { readonly ingress?: readonly LoadBalancerIngress[] } };
}

export interface EndpointConditions {
  readonly ready?: boolean;
  readonly serving?: boolean;
  readonly terminating?: boolean;
}

export interface EndpointSliceEndpoint {
  readonly addresses: readonly string[];
  readonly conditions?: EndpointConditions;
  readonly hostname?: string;
  readonly nodeName?: string;
  readonly zone?: string;
  readonly targetRef?: { readonly kind?: string; readonly namespace?: string; readonly name?: string };
}

export interface EndpointPort {
  readonly name?: string;
  readonly port?: number;
  readonly protocol?: string;
  readonly appProtocol?: string;
}

export interface EndpointSlice {
  readonly apiVersion?: string;
  readonly kind: 'EndpointSlice';
  readonly metadata: ObjectMeta;
  readonly addressType?: 'IPv4' | 'IPv6' | 'FQDN' | string;
  readonly endpoints?: readonly EndpointSliceEndpoint[] | null;
  readonly ports?: readonly EndpointPort[] | null;
}

export interface Secret {
  readonly apiVersion?: string;
  readonly kind: 'Secret';
  readonly metadata: ObjectMeta;
  readonly type?: string;
  /** base64-encoded values, as the API serves them. */
  readonly data?: Readonly<Record<string, string>>;
}

export type KubeObject = Ingress | IngressClass | Service | EndpointSlice | Secret;
export type KubeKind = KubeObject['kind'];

export const KUBE_KINDS = ['Ingress', 'IngressClass', 'Service', 'EndpointSlice', 'Secret'] as const satisfies readonly KubeKind[];

/** A reference to the object a route, upstream or diagnostic came from. */
export interface ObjectRef {
  readonly kind: KubeKind;
  readonly namespace: string;
  readonly name: string;
}
