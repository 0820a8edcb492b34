import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, FLAGS, defaultConfig, envVarName, flagTableMarkdown, helpText, parseConfig, parseDuration, type Config } from '../../src/config.ts';

function run(argv: string[], env: Record<string, string> = {}): Config {
  const out = parseConfig(argv, env);
  assert.equal(out.kind, 'run');
  return (out as { config: Config }).config;
}

function rejects(argv: string[], pattern: RegExp, env: Record<string, string> = {}): void {
  assert.throws(() => parseConfig(argv, env), (err: unknown) => err instanceof ConfigError && pattern.test(err.message));
}

test('defaults match the brief', () => {
  const c = run([]);
  assert.deepEqual(
    { ...c },
    {
      source: 'file',
      manifests: 'examples',
      httpPort: 8080,
      httpsPort: 8443,
      adminPort: 10254,
      bindAddress: '0.0.0.0',
      adminBindAddress: '0.0.0.0',
      ingressClass: 'switchyard',
      controllerClass: 'switchyard.dev/ingress-controller',
      watchIngressWithoutClass: false,
      defaultBackendService: null,
      logLevel: 'info',
      syncHoldoffMs: 20,
      syncMaxHoldoffMs: 200,
      syncLeadingEdge: true,
      proxyConnectTimeoutMs: 5000,
      proxyReadTimeoutMs: 60000,
      proxySendTimeoutMs: 60000,
      proxyBodySizeBytes: 1048576,
      defaultSslCertificate: null,
      kubeconfig: null,
      watchNamespaces: [],
      kubeApiTimeoutMs: 10000,
      publishService: null,
      publishStatusAddress: [],
      updateStatus: true,
      electionId: 'switchyard-leader',
      podNamespace: 'default',
      enableMetrics: true,
      metricsCompat: 'none',
      metricsStatusClass: false,
      accessLog: true,
      accessLogPath: null,
      podName: '',
      shutdownGracePeriodMs: 5000,
      shutdownTimeoutMs: 20000,
      upstreamMaxFails: 3,
      upstreamFailTimeoutMs: 10000,
      proxyNextUpstreamTries: 3,
      upstreamMaxConnections: 0,
      upstreamMaxQueue: 100,
      maxConnections: 16384,
      clientHeaderTimeoutMs: 60000,
      workers: 0,
      kubeconfigEnv: null,
    },
  );
  assert.ok(Object.isFrozen(c));
  assert.deepEqual(defaultConfig(), c);
});

/** One non-default value per flag, and what it parses to. */
const SAMPLES: Record<string, [string, unknown]> = {
  source: ['kubernetes', 'kubernetes'],
  manifests: ['/tmp/m', '/tmp/m'],
  httpPort: ['81', 81],
  httpsPort: ['444', 444],
  adminPort: ['0', 0],
  bindAddress: ['127.0.0.1', '127.0.0.1'],
  adminBindAddress: ['::1', '::1'],
  ingressClass: ['internal', 'internal'],
  controllerClass: ['example.com/ingress', 'example.com/ingress'],
  watchIngressWithoutClass: ['true', true],
  defaultBackendService: ['ns1/fallback:http', { namespace: 'ns1', name: 'fallback', port: 'http' }],
  logLevel: ['debug', 'debug'],
  syncHoldoffMs: ['50ms', 50],
  syncMaxHoldoffMs: ['1s', 1000],
  syncLeadingEdge: ['false', false],
  proxyConnectTimeoutMs: ['2', 2000],
  proxyReadTimeoutMs: ['1m30s', 90000],
  proxySendTimeoutMs: ['1.5s', 1500],
  proxyBodySizeBytes: ['8m', 8388608],
  defaultSslCertificate: ['ingress/default-tls', { namespace: 'ingress', name: 'default-tls' }],
  kubeconfig: ['/root/.kube/config', '/root/.kube/config'],
  watchNamespaces: ['a, b,c', ['a', 'b', 'c']],
  publishService: ['ingress/switchyard', { namespace: 'ingress', name: 'switchyard' }],
  publishStatusAddress: ['10.0.0.1,lb.example.com', ['10.0.0.1', 'lb.example.com']],
  updateStatus: ['false', false],
  kubeApiTimeoutMs: ['2500ms', 2500],
  electionId: ['my-lease', 'my-lease'],
  podNamespace: ['kube-system', 'kube-system'],
  enableMetrics: ['false', false],
  metricsCompat: ['ingress-nginx', 'ingress-nginx'],
  metricsStatusClass: ['true', true],
  accessLog: ['false', false],
  accessLogPath: ['/var/log/access.json', '/var/log/access.json'],
  podName: ['switchyard-7d9f-abcde', 'switchyard-7d9f-abcde'],
  shutdownGracePeriodMs: ['10s', 10000],
  shutdownTimeoutMs: ['45s', 45000],
  upstreamMaxFails: ['0', 0],
  upstreamFailTimeoutMs: ['30s', 30000],
  proxyNextUpstreamTries: ['1', 1],
  upstreamMaxConnections: ['8', 8],
  upstreamMaxQueue: ['0', 0],
  maxConnections: ['1000', 1000],
  clientHeaderTimeoutMs: ['10s', 10000],
  workers: ['4', 4],
};

test('every flag has a sample in this test', () => {
  assert.deepEqual(FLAGS.map((f) => f.key).sort(), Object.keys(SAMPLES).sort());
});

for (const f of FLAGS) {
  const [raw, expected] = SAMPLES[f.key];
  test(`--${f.name}: argv (both forms) and ${envVarName(f.name)}`, () => {
    const key = f.key as keyof Config;
    assert.deepEqual(run([`--${f.name}=${raw}`])[key], expected);
    assert.deepEqual(run([`--${f.name}`, raw])[key], expected);
    assert.deepEqual(run([], { [envVarName(f.name)]: raw })[key], expected);
  });
}

test('the command line wins over the environment; the last occurrence wins', () => {
  assert.equal(run(['--http-port', '81'], { SWITCHYARD_HTTP_PORT: '82' }).httpPort, 81);
  assert.equal(run(['--http-port', '81', '--http-port=83']).httpPort, 83);
  assert.equal(run([], { SWITCHYARD_HTTP_PORT: '' }).httpPort, 8080, 'an empty env var counts as unset');
});

test('booleans: bare flag, =false, and a following true/false', () => {
  assert.equal(run(['--watch-ingress-without-class']).watchIngressWithoutClass, true);
  assert.equal(run(['--update-status=false']).updateStatus, false);
  assert.equal(run(['--update-status', 'false', '--http-port', '1']).updateStatus, false);
  const c = run(['--watch-ingress-without-class', '--http-port', '1']);
  assert.equal(c.watchIngressWithoutClass, true);
  assert.equal(c.httpPort, 1);
});

test('--pod-name defaults to $POD_NAME, else $HOSTNAME (controller_pod label of --metrics-compat)', () => {
  assert.equal(run([], { POD_NAME: 'sw-1', HOSTNAME: 'host' }).podName, 'sw-1');
  assert.equal(run([], { HOSTNAME: 'host' }).podName, 'host');
  assert.equal(run([], { POD_NAME: 'sw-1', SWITCHYARD_POD_NAME: 'sw-2' }).podName, 'sw-2');
});

test('$KUBECONFIG is passed on as kubeconfigEnv', () => {
  assert.equal(run([], { KUBECONFIG: '/a:/b' }).kubeconfigEnv, '/a:/b');
});

test('--pod-namespace defaults to $POD_NAMESPACE', () => {
  assert.equal(run([], { POD_NAMESPACE: 'ingress-system' }).podNamespace, 'ingress-system');
  assert.equal(run([], { POD_NAMESPACE: 'x', SWITCHYARD_POD_NAMESPACE: 'y' }).podNamespace, 'y');
});

test('durations', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('5s'), 5000);
  assert.equal(parseDuration('1m'), 60000);
  assert.equal(parseDuration('1h'), 3600000);
  assert.equal(parseDuration('3'), 3000);
  assert.equal(parseDuration('0'), 0);
  assert.equal(parseDuration('0.25'), 250);
  for (const bad of ['', '5x', '-1s', 's', '1 s', 'ms5']) assert.throws(() => parseDuration(bad), ConfigError, bad);
});

test('bad input: one clear message', () => {
  rejects(['--nope'], /unknown flag --nope/);
  rejects(['stray'], /unexpected argument "stray"/);
  rejects(['--http-port', '70000'], /--http-port: port out of range \(0-65535\): 70000/);
  rejects(['--http-port', 'eighty'], /--http-port: expected a port number/);
  rejects(['--admin-port=-1'], /--admin-port: expected a port number/);
  rejects([], /SWITCHYARD_HTTPS_PORT: port out of range/, { SWITCHYARD_HTTPS_PORT: '99999' });
  rejects(['--sync-holdoff', 'soon'], /--sync-holdoff: expected a duration/);
  rejects(['--proxy-read-timeout=10x'], /--proxy-read-timeout: expected a duration/);
  rejects(['--default-backend-service', 'fallback'], /expected NAMESPACE\/NAME:PORT/);
  rejects(['--default-backend-service', 'ns/fallback'], /expected NAMESPACE\/NAME:PORT/);
  rejects(['--default-backend-service', 'ns/fallback:0'], /port out of range/);
  rejects(['--default-backend-service', 'NS/fallback:80'], /invalid namespace "NS"/);
  rejects(['--publish-service', 'svc'], /expected NAMESPACE\/NAME/);
  rejects(['--log-level', 'loud'], /--log-level: expected one of trace, debug, info/);
  rejects(['--source', 'git'], /--source: expected one of file, kubernetes/);
  rejects(['--watch-ingress-without-class=maybe'], /expected true or false/);
  rejects(['--ingress-class', 'Bad_Name'], /--ingress-class: expected an IngressClass name/);
  rejects(['--kube-api-timeout', '0s'], /--kube-api-timeout: expected a duration of at least 1ms/);
  rejects(['--controller-class', 'nodomain'], /--controller-class: expected a domain-prefixed path/);
  rejects(['--watch-namespace', 'ok,NOT_OK'], /invalid namespace "NOT_OK"/);
  rejects(['--http-port'], /flag --http-port needs a value/);
  rejects(['--http-port', '--admin-port', '1'], /flag --http-port needs a value/);
  rejects(['--sync-holdoff=1s', '--sync-max-holdoff=500ms'], /--sync-max-holdoff \(500ms\) must not be shorter than --sync-holdoff \(1000ms\)/);
  rejects(['--http-port=9000', '--admin-port=9000'], /--http-port and --admin-port must differ/);
});

test('port 0 may be repeated (any free port)', () => {
  const c = run(['--http-port=0', '--https-port=0', '--admin-port=0']);
  assert.equal(c.httpPort + c.httpsPort + c.adminPort, 0);
});

test('--help lists every flag with its env var and default; --version', () => {
  const out = parseConfig(['--http-port', '1', '--help'], {});
  assert.equal(out.kind, 'help');
  const text = helpText();
  for (const f of FLAGS) {
    assert.match(text, new RegExp(`--${f.name} `));
    assert.ok(text.includes(envVarName(f.name)), envVarName(f.name));
  }
  assert.match(text, /env SWITCHYARD_SYNC_HOLDOFF, default 20ms/);
  assert.match(text, /env SWITCHYARD_HTTP_PORT, default 8080/);
  const version = parseConfig(['--version'], {});
  assert.equal(version.kind, 'version');
  assert.match((version as { text: string }).text, /^switchyard \d+\.\d+\.\d+/);
  assert.equal(flagTableMarkdown().split('\n').length, FLAGS.length + 2);
});
