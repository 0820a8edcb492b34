// Resilience test support: a proxy compiled WITH balancing (passive health, retries, policies), as
// main.ts wires it, over real sockets; a port that refuses connections.
import { createServer } from 'node:net';
import { compile } from '../../src/compile/compile.ts';
import type { RouteTable } from '../../src/compile/route-table.ts';
import type { RouteConfig } from '../../src/model/route-config.ts';
import { Balancing, type BalancingOptions } from '../../src/proxy/balancers/balancing.ts';
import { createProxyServer, type ProxyServer, type ProxyServerOptions } from '../../src/proxy/server.ts';
import { RouteRef } from '../../src/runtime/route-ref.ts';
import { silentLogger } from '../proxy/support.ts';

export interface BalancedHarness {
  readonly proxy: ProxyServer;
  readonly routeRef: RouteRef<RouteTable>;
  readonly balancing: Balancing;
  readonly port: number;
  swap(config: RouteConfig): RouteTable;
  close(): Promise<void>;
}

export async function startBalancedProxy(
  config: RouteConfig,
  balancingOptions: BalancingOptions = {},
  options: Partial<ProxyServerOptions> & { canaryRandom?: () => number } = {},
): Promise<BalancedHarness> {
  const balancing = new Balancing({ logger: silentLogger, ...balancingOptions });
  const canaryRandom = options.canaryRandom;
  const routeRef = new RouteRef<RouteTable>(compile(config, { random: () => 0, balancing, canaryRandom }));
  const proxy = createProxyServer({ routeRef, logger: silentLogger, ...options });
  const address = await proxy.listen(0, '127.0.0.1');
  return {
    proxy,
    routeRef,
    balancing,
    port: address.port,
    swap(next: RouteConfig): RouteTable {
      const table = compile(next, { previous: routeRef.current, balancing, canaryRandom });
      routeRef.swap(table);
      return table;
    },
    close: () => proxy.close(1000),
  };
}

/** A 127.0.0.1 port nothing listens on (connections are refused). */
export function refusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A manual clock for passive-health back-off. */
export class ManualClock {
  t = 1000;
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}
