// The Deployment's terminationGracePeriodSeconds must cover the whole drain (README "Resilience"):
// --shutdown-grace-period + --shutdown-timeout + a margin to stop sources and release the Lease.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config.ts';
import { loadManifests } from '../manifests/load-manifests.ts';

test('manifests: terminationGracePeriodSeconds covers grace period + shutdown timeout + 3s', () => {
  const deployment = loadManifests().objects.find((o) => o.kind === 'Deployment');
  assert.ok(deployment, 'a Deployment in manifests/');
  const pod = deployment.raw.spec.template.spec;
  const container = pod.containers.find((c: { name: string }) => c.name === 'controller');
  const outcome = parseConfig(container.args ?? [], {});
  assert.equal(outcome.kind, 'run');
  const { shutdownGracePeriodMs, shutdownTimeoutMs } = outcome.config;
  const terminationMs = (pod.terminationGracePeriodSeconds ?? 30) * 1000;
  assert.ok(
    shutdownGracePeriodMs + shutdownTimeoutMs + 3000 <= terminationMs,
    `grace ${shutdownGracePeriodMs}ms + timeout ${shutdownTimeoutMs}ms + 3s must fit in terminationGracePeriodSeconds (${terminationMs}ms)`,
  );
});
