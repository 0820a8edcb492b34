// Unknown or unsupported annotations under our prefixes are reported (UnsupportedAnnotation, one
// diagnostic per key; the controller logs each new diagnostic once) and counted in
// switchyard_ingress_unsupported_annotations{annotation}.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Ingress } from '../../src/model/kube.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { translate } from '../../src/translate/translate.ts';
import { DEFAULT_TEST_OPTIONS, snapshotOf } from '../translate/fixture.ts';

function ingress(name: string, annotations: Record<string, string>): Ingress {
  return {
    kind: 'Ingress',
    metadata: { name, namespace: 'default', annotations },
    spec: { ingressClassName: 'switchyard', rules: [{ host: `${name}.example.com`, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] },
  };
}

test('unsupported annotations: one warning per key, counted per annotation in a metric', async () => {
  const snapshot = snapshotOf([
    ingress('a', { 'nginx.ingress.kubernetes.io/custom-http-errors': '404', 'nginx.ingress.kubernetes.io/proxy-body-size': '2m', 'example.com/other': 'x' }),
    ingress('b', { 'nginx.ingress.kubernetes.io/custom-http-errors': '404', 'switchyard.dev/auth-url': 'http://auth' }),
  ]);
  const { diagnostics } = translate(snapshot, DEFAULT_TEST_OPTIONS);
  const unsupported = diagnostics.filter((d) => d.reason === 'UnsupportedAnnotation');
  assert.deepEqual(
    unsupported.map((d) => [d.object.name, d.severity, d.message]),
    [
      ['a', 'warning', 'annotation nginx.ingress.kubernetes.io/custom-http-errors is not supported by Switchyard; it has no effect'],
      ['b', 'warning', 'annotation nginx.ingress.kubernetes.io/custom-http-errors is not supported by Switchyard; it has no effect'],
      ['b', 'warning', 'annotation switchyard.dev/auth-url is not supported by Switchyard; it has no effect'],
    ],
  );
  const metrics = new Metrics({ enabled: true, statusClass: false, compat: 'none', controllerNamespace: 'default', controllerClass: 'x', controllerPod: 'p', processMetrics: false });
  metrics.observeDiagnostics(diagnostics);
  const text = await metrics.renderAs('prometheus');
  assert.match(text, /switchyard_ingress_unsupported_annotations\{annotation="nginx.ingress.kubernetes.io\/custom-http-errors"\} 2/);
  assert.match(text, /switchyard_ingress_unsupported_annotations\{annotation="switchyard.dev\/auth-url"\} 1/);
  // Gone from the next table: gone from the metric.
  metrics.observeDiagnostics([]);
  assert.doesNotMatch(await metrics.renderAs('prometheus'), /switchyard_ingress_unsupported_annotations\{/);
});
