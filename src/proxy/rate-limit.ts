// limit-rps / limit-rpm / limit-connections: nginx's limit_req (with nodelay) and limit_conn, as
// ingress-nginx configures them, per client address, one zone per Ingress.
// - limit_req is a leaky bucket counted in thousandths of a request: each request adds 1000, the
//   bucket drains at the rate, and a request that would take it past burst x 1000 is refused (and
//   does not fill it). So a new client gets burst + 1 requests at once, then the rate.
// - limit_conn counts the client's requests in progress; one more than the limit is refused.
// The counters live in the zone, which compile binds to every route of the Ingress; a new route
// table with the same limits gets the same zone, so swaps never reset them. A zone nothing uses any
// more is collected with its last table (WeakRef). Idle clients are swept every few seconds.
import { SourceRanges } from '../compile/route-settings.ts';
import type { RateLimit } from '../model/route-config.ts';

/** At most this many client addresses per zone (nginx's 5 MB zone holds about 80,000). */
export const MAX_CLIENTS_PER_ZONE = 100_000;
const SWEEP_INTERVAL_MS = 5_000;

export const Admission = {
  OK: 0,
  /** Over limit-rps or limit-rpm. */
  RATE: 1,
  /** Over limit-connections. */
  CONNECTIONS: 2,
  /** The zone holds MAX_CLIENTS_PER_ZONE busy clients already. */
  ZONE_FULL: 3,
} as const;
export type Admission = (typeof Admission)[keyof typeof Admission];

class ClientState {
  /** Bucket levels (thousandths of a request) and when they were last updated (ms). */
  rpsExcess = 0;
  rpmExcess = 0;
  last = 0;
  /** Requests in progress (limit-connections). */
  inFlight = 0;
}

export class RateLimitZone {
  readonly limit: RateLimit;
  /** Thousandths of a request drained per ms. */
  readonly #rpsDrain: number;
  readonly #rpmDrain: number;
  readonly #allow: SourceRanges | null;
  readonly #clients = new Map<string, ClientState>();

  constructor(limit: RateLimit) {
    this.limit = limit;
    this.#rpsDrain = limit.rps; // rps x 1000 per 1000 ms
    this.#rpmDrain = limit.rpm / 60;
    this.#allow = limit.allowRanges.length > 0 ? new SourceRanges(limit.allowRanges) : null;
  }

  /** True when limit-connections is on: an admitted request must be release()d when it ends. */
  get countsInFlight(): boolean {
    return this.limit.connections > 0;
  }

  /** Clients with state (tests, debug). */
  get size(): number {
    return this.#clients.size;
  }

  /**
   * Decides one request of `address` (unmapped client address) at `now` (ms, monotonic). On OK with
   * countsInFlight the request is counted until release(). hot path for rate-limited routes
   */
  admit(address: string, now: number): Admission {
    if (this.#allow !== null && address !== '' && this.#allow.has(address)) return Admission.OK;
    let client = this.#clients.get(address);
    if (client === undefined) {
      if (this.#clients.size >= MAX_CLIENTS_PER_ZONE) {
        this.sweep(now);
        if (this.#clients.size >= MAX_CLIENTS_PER_ZONE) return Admission.ZONE_FULL;
      }
      client = new ClientState();
      client.last = now;
      client.rpsExcess = -1000; // the first request fills the bucket to 0, as nginx's new node
      client.rpmExcess = -1000;
      this.#clients.set(address, client);
    }
    const limit = this.limit;
    if (limit.connections > 0 && client.inFlight >= limit.connections) return Admission.CONNECTIONS;
    const elapsed = now > client.last ? now - client.last : 0;
    let rps = 0;
    let rpm = 0;
    if (limit.rps > 0) {
      rps = client.rpsExcess - this.#rpsDrain * elapsed + 1000;
      if (rps < 0) rps = 0;
      if (rps > limit.rpsBurst * 1000) return Admission.RATE;
    }
    if (limit.rpm > 0) {
      rpm = client.rpmExcess - this.#rpmDrain * elapsed + 1000;
      if (rpm < 0) rpm = 0;
      if (rpm > limit.rpmBurst * 1000) return Admission.RATE;
    }
    client.rpsExcess = rps;
    client.rpmExcess = rpm;
    client.last = now;
    if (limit.connections > 0) client.inFlight++;
    return Admission.OK;
  }

  /** The end of a request admitted with countsInFlight. */
  release(address: string): void {
    const client = this.#clients.get(address);
    if (client !== undefined && client.inFlight > 0) client.inFlight--;
  }

  /**
   * Forgets clients with nothing in progress whose next request would be treated like a new
   * client's: their buckets, plus that request, have drained by `now`.
   */
  sweep(now: number): void {
    const { rps, rpm } = this.limit;
    for (const [address, client] of this.#clients) {
      if (client.inFlight > 0) continue;
      const elapsed = now - client.last;
      if ((rps === 0 || client.rpsExcess + 1000 <= this.#rpsDrain * elapsed) && (rpm === 0 || client.rpmExcess + 1000 <= this.#rpmDrain * elapsed)) {
        this.#clients.delete(address);
      }
    }
  }
}

// Zones by their limits: what keeps counters across table swaps. Values are weak, so a zone lives
// exactly as long as some route table (or an in-flight request) holds it.
const zones = new Map<string, WeakRef<RateLimitZone>>();
const collected = new FinalizationRegistry<string>((key) => {
  if (zones.get(key)?.deref() === undefined) zones.delete(key);
});
let sweeper: NodeJS.Timeout | null = null;

function zoneKey(limit: RateLimit): string {
  return `${limit.zone} ${limit.rps}/${limit.rpsBurst} ${limit.rpm}/${limit.rpmBurst} ${limit.connections} ${limit.allowRanges.join(',')}`;
}

let firstZoneListener: (() => void) | null = null;

/** Calls `listener` once, when this process first compiles a rate-limited route (main.ts: a warning with --workers). */
export function onFirstRateLimitZone(listener: () => void): void {
  firstZoneListener = listener;
}

/** The zone for an Ingress's limits: the same object while the limits stay the same. */
export function rateLimitZone(limit: RateLimit): RateLimitZone {
  const key = zoneKey(limit);
  const existing = zones.get(key)?.deref();
  if (existing !== undefined) return existing;
  const zone = new RateLimitZone(limit);
  zones.set(key, new WeakRef(zone));
  const listener = firstZoneListener;
  if (listener !== null) {
    firstZoneListener = null;
    listener();
  }
  collected.register(zone, key);
  if (sweeper === null) {
    sweeper = setInterval(sweepAll, SWEEP_INTERVAL_MS);
    sweeper.unref();
  }
  return zone;
}

function sweepAll(): void {
  const now = performance.now();
  for (const ref of zones.values()) ref.deref()?.sweep(now);
}
