import type { Endpoint, Upstream } from '../model/route-config.ts';
import type { Balancer } from '../proxy/balancers/balancer.ts';
import type { EndpointHealth } from '../proxy/passive-health.ts';

/**
 * One endpoint of an upstream, with its origin string built once. `dispatcher` is a slot the proxy
 * fills lazily with its long-lived connection pool for `origin` (pools live outside the table, so a
 * swap never drops connections; see src/proxy/upstreams.ts).
 */
export class CompiledEndpoint {
  readonly address: string;
  readonly port: number;
  /** "http://10.0.0.1:8080", "http://[fd00::1]:8080". */
  readonly origin: string;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  /** Owned by the proxy (a pool entry); null until first use. */
  dispatcher: unknown = null;
  /** Long-lived passive-health entry of `origin` (src/proxy/passive-health.ts), bound by compile when balancing is on. */
  health: EndpointHealth | null = null;

  constructor(endpoint: Endpoint) {
    this.address = endpoint.address;
    this.port = endpoint.port;
    const host = endpoint.address.includes(':') ? `[${endpoint.address}]` : endpoint.address;
    // Joined, not concatenated: a flat string, not a cons tree kept for the endpoint's life (PROFILE.md 6c).
    this.origin = ['http://', host, ':', endpoint.port].join('');
    this.ready = endpoint.ready;
    this.serving = endpoint.serving;
    this.terminating = endpoint.terminating;
  }
}

/**
 * An upstream (Service port) with its endpoints split once into the lists round robin uses:
 * ready endpoints; if none is ready, endpoints that are serving while terminating (they still
 * accept traffic, as kube-proxy does); else none (503).
 */
export class CompiledUpstream {
  readonly key: string;
  readonly namespace: string;
  readonly service: string;
  readonly servicePort: number;
  readonly endpoints: readonly CompiledEndpoint[];
  /** The list pick() rotates over (ready, else serving+terminating, else empty). */
  readonly candidates: readonly CompiledEndpoint[];
  /** Round-robin cursor (per table; compile carries it over from the previous table). */
  cursor: number;
  /**
   * The endpoint choice for requests (src/proxy/balancers/: load-balance policy, passive health,
   * retries), built by compile when CompileOptions.balancing is given; null: pick() round robin.
   */
  balancer: Balancer | null = null;
  /** The IR this was compiled from: compile reuses this object while the IR object is the same. */
  readonly source: Upstream;

  constructor(upstream: Upstream, cursor: number) {
    this.source = upstream;
    this.key = upstream.key;
    this.namespace = upstream.namespace;
    this.service = upstream.service;
    this.servicePort = upstream.servicePort;
    const endpoints = upstream.endpoints.map((e) => new CompiledEndpoint(e));
    this.endpoints = endpoints;
    const ready = endpoints.filter((e) => e.ready);
    this.candidates = ready.length > 0 ? ready : endpoints.filter((e) => e.serving && e.terminating);
    this.cursor = this.candidates.length > 0 ? cursor % this.candidates.length : 0;
  }

  /**
   * Next endpoint in round-robin order, or undefined when none can take traffic.
   * hot path
   */
  pick(): CompiledEndpoint | undefined {
    const list = this.candidates;
    const n = list.length;
    if (n === 0) return undefined;
    let i = this.cursor;
    if (i >= n) i = 0;
    this.cursor = i + 1;
    return list[i];
  }
}
