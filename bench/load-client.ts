// The load generator: one autocannon run, in its own process (pinned to core 0 by the parent),
// printing a one-line JSON summary on stdout. Usage: node bench/load-client.ts '<LoadSpec JSON>'
import autocannon from 'autocannon';
import type { LoadSpec, LoadSummary } from './lib/load.ts';

const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec;
const instance = autocannon(
  {
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationSec,
    headers: spec.host ? { host: spec.host } : {},
    timeout: spec.timeoutSec ?? 10,
    // HTTPS (the tls scenario): SNI from the Host header; the contenders' certificates are
    // self-signed, and only 127.0.0.1 is ever loaded.
    ...(spec.url.startsWith('https:') ? { servername: spec.host, tlsOptions: { rejectUnauthorized: false } } : {}),
  } as autocannon.Options,
  (err, result) => {
    if (err) {
      console.error(String(err));
      process.exit(1);
    }
    const summary: LoadSummary = {
      rps: result.duration > 0 ? result.requests.total / result.duration : 0,
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
      mean: result.latency.mean,
      requests: result.requests.total,
      errors: result.errors,
      timeouts: result.timeouts,
      non2xx: result.non2xx,
      mismatches: result.mismatches,
      durationSec: result.duration,
      statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, v]) => [code, v?.count ?? 0])),
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  },
);
process.once('SIGTERM', () => instance.stop());
process.once('SIGINT', () => instance.stop());
