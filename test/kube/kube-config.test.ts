// Where the controller finds its cluster: --kubeconfig, then $KUBECONFIG, then in-cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfigError, loadKubeConfig } from '../../src/sources/kube/kube-config.ts';

function kubeconfig(server: string, context = 'test'): string {
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: context, cluster: { server } }],
    users: [{ name: context, user: { token: 't' } }],
    contexts: [{ name: context, context: { cluster: context, user: context } }],
    'current-context': context,
  });
}

test('--kubeconfig wins over $KUBECONFIG; $KUBECONFIG merges several files, the first context wins', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swy-kc-'));
  try {
    writeFileSync(join(dir, 'a'), kubeconfig('https://a.example.com:6443', 'a'));
    writeFileSync(join(dir, 'b'), kubeconfig('https://b.example.com:6443', 'b'));
    const flag = loadKubeConfig({ kubeconfig: join(dir, 'b'), kubeconfigEnv: join(dir, 'a') });
    assert.equal(flag.from, 'flag');
    assert.equal(flag.server, 'https://b.example.com:6443');
    const env = loadKubeConfig({ kubeconfigEnv: `${join(dir, 'missing')}:${join(dir, 'a')}:${join(dir, 'b')}` });
    assert.equal(env.from, 'env');
    assert.equal(env.server, 'https://a.example.com:6443');
    assert.deepEqual(env.kubeConfig.getContexts().map((c) => c.name).sort(), ['a', 'b']);
    assert.throws(() => loadKubeConfig({ kubeconfig: join(dir, 'nope') }), KubeConfigError);
    assert.throws(() => loadKubeConfig({ kubeconfigEnv: join(dir, 'nope') }), /no such file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('in-cluster: the service account token and KUBERNETES_SERVICE_HOST/PORT; a clear error without them', () => {
  const root = mkdtempSync(join(tmpdir(), 'swy-sa-'));
  const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
  try {
    assert.throws(() => loadKubeConfig({ inClusterRoot: root }), /no --kubeconfig, no KUBECONFIG and no in-cluster service account/);
    const sa = join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
    mkdirSync(sa, { recursive: true });
    writeFileSync(join(sa, 'token'), 'token');
    writeFileSync(join(sa, 'ca.crt'), '');
    writeFileSync(join(sa, 'namespace'), 'ingress');
    delete process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBERNETES_SERVICE_PORT;
    assert.throws(() => loadKubeConfig({ inClusterRoot: root }), /KUBERNETES_SERVICE_HOST/);
    process.env.KUBERNETES_SERVICE_HOST = 'fd00::1';
    process.env.KUBERNETES_SERVICE_PORT = '443';
    const loaded = loadKubeConfig({ inClusterRoot: root });
    assert.equal(loaded.from, 'in-cluster');
    assert.equal(loaded.server, 'https://[fd00::1]:443');
  } finally {
    if (saved.host === undefined) delete process.env.KUBERNETES_SERVICE_HOST;
    else process.env.KUBERNETES_SERVICE_HOST = saved.host;
    if (saved.port === undefined) delete process.env.KUBERNETES_SERVICE_PORT;
    else process.env.KUBERNETES_SERVICE_PORT = saved.port;
    rmSync(root, { recursive: true, force: true });
  }
});
