// Upstream endpoints from EndpointSlices (or the external name of an ExternalName Service).
import type { EndpointConditions, EndpointSlice } from '../model/kube.ts';
import type { Endpoint, Upstream } from '../model/route-config.ts';
import type { ServiceIndex, UpstreamTarget } from './backends.ts';
import { isExternalName } from './backends.ts';
import { buildUpstreamMemoized } from './memo.ts';
import { compareNumbers, compareStrings } from './order.ts';
import { isObject, listOf } from './shape.ts';

/**
 * Builds the Upstream of a resolved Service port:
 * - ExternalName: one endpoint, the external name on the Service port number, always ready.
 * - otherwise every address of every endpoint of the Service's EndpointSlices (same namespace,
 *   label kubernetes.io/service-name) whose slice has a port with the Service port's name ("" and
 *   a missing name are the same). Slices without ports, or without that port, add nothing.
 *   An address+port in several slices appears once, with the best conditions (ready, then
 *   serving, then not terminating). Sorted by address, then port.
 */
export function buildUpstream(target: UpstreamTarget, index: ServiceIndex): Upstream {
  // Memoized per target while its Service's slices are the same objects (memo.ts).
  return buildUpstreamMemoized(target, index, upstreamSliceKey, (slices) => buildUpstreamFrom(target, slices));
}

/** Where the target's EndpointSlices are in ServiceIndex.slices; null: none are read (ExternalName). */
export function upstreamSliceKey(target: UpstreamTarget): string | null {
  return isExternalName(target.service) ? null : [target.namespace, target.service.metadata.name].join('/');
}

function buildUpstreamFrom(target: UpstreamTarget, slices: readonly EndpointSlice[]): Upstream {
  const { key, namespace, service, servicePort } = target;
  const base = { key, namespace, service: service.metadata.name, servicePort: servicePort.port };
  if (isExternalName(service)) {
    const externalName = service.spec?.externalName;
    const endpoints: Endpoint[] = typeof externalName === 'string' && externalName !== '' ? [{ address: externalName, port: servicePort.port, ready: true, serving: true, terminating: false }] : [];
    return { ...base, endpoints };
  }
  const portName = servicePort.name ?? '';
  const byAddress = new Map<string, Endpoint>();
  for (const slice of slices) {
    const slicePort = listOf(slice.ports).find((p) => isObject(p) && (p.name ?? '') === portName);
    if (slicePort === undefined || typeof slicePort.port !== 'number') continue;
    for (const endpoint of listOf(slice.endpoints)) {
      if (!isObject(endpoint)) continue;
      const conditions = readConditions(isObject(endpoint.conditions) ? endpoint.conditions : undefined);
      for (const address of listOf(endpoint.addresses)) {
        if (typeof address !== 'string' || address === '') continue;
        const candidate: Endpoint = { address, port: slicePort.port, ...conditions };
        const id = `${address} ${slicePort.port}`;
        const seen = byAddress.get(id);
        if (seen === undefined || rankConditions(candidate) > rankConditions(seen)) byAddress.set(id, candidate);
      }
    }
  }
  const endpoints = [...byAddress.values()].sort((a, b) => compareStrings(a.address, b.address) || compareNumbers(a.port, b.port));
  return { ...base, endpoints };
}

/** The spec's defaults: ready missing -> true, serving missing -> ready, terminating missing -> false. */
function readConditions(conditions: EndpointConditions | undefined): Pick<Endpoint, 'ready' | 'serving' | 'terminating'> {
  const ready = typeof conditions?.ready === 'boolean' ? conditions.ready : true;
  const serving = typeof conditions?.serving === 'boolean' ? conditions.serving : ready;
  const terminating = typeof conditions?.terminating === 'boolean' ? conditions.terminating : false;
  return { ready, serving, terminating };
}

function rankConditions(e: Endpoint): number {
  return (e.ready ? 4 : 0) + (e.serving ? 2 : 0) + (e.terminating ? 0 : 1);
}
