// Where the controller finds its cluster: --kubeconfig, then $KUBECONFIG, then the in-cluster
// service account (token + CA mounted by Kubernetes, KUBERNETES_SERVICE_HOST/PORT).
import { existsSync } from 'node:fs';
import { delimiter } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';

export class KubeConfigError extends Error {
  readonly code = 'SWY_ERR_KUBECONFIG';
}

export interface KubeConfigSource {
  /** --kubeconfig */
  readonly kubeconfig?: string | undefined;
  /** $KUBECONFIG (passed in: config.ts is the only reader of process.env). May list several files. */
  readonly kubeconfigEnv?: string | undefined;
  /** Prefix of /var/run/secrets/kubernetes.io/serviceaccount (tests point this elsewhere). */
  readonly inClusterRoot?: string;
}

export interface LoadedKubeConfig {
  readonly kubeConfig: KubeConfig;
  /** "flag", "env" or "in-cluster", for the startup log line. */
  readonly from: 'flag' | 'env' | 'in-cluster';
  readonly server: string;
}

export function loadKubeConfig(source: KubeConfigSource): LoadedKubeConfig {
  const kc = new KubeConfig();
  let from: LoadedKubeConfig['from'];
  if (source.kubeconfig !== undefined && source.kubeconfig !== '') {
    if (!existsSync(source.kubeconfig)) throw new KubeConfigError(`--kubeconfig ${source.kubeconfig}: no such file`);
    kc.loadFromFile(source.kubeconfig);
    from = 'flag';
  } else if (source.kubeconfigEnv !== undefined && source.kubeconfigEnv !== '') {
    // Like kubectl: several files separated by ':' are merged, the first file's context wins.
    const files = source.kubeconfigEnv.split(delimiter).filter((f) => f !== '' && existsSync(f));
    if (files.length === 0) throw new KubeConfigError(`KUBECONFIG=${source.kubeconfigEnv}: no such file`);
    kc.loadFromFile(files[0]);
    for (const file of files.slice(1)) {
      const more = new KubeConfig();
      more.loadFromFile(file);
      kc.mergeConfig(more, true);
    }
    from = 'env';
  } else {
    const root = source.inClusterRoot ?? '';
    if (!existsSync(`${root}/var/run/secrets/kubernetes.io/serviceaccount/token`)) {
      throw new KubeConfigError(
        'no --kubeconfig, no KUBECONFIG and no in-cluster service account token: cannot reach a Kubernetes API server');
    }
    // client-node reads KUBERNETES_SERVICE_HOST/PORT itself here.
    kc.loadFromCluster(root);
    if (kc.getCurrentCluster()?.server.includes('undefined') !== false) {
      throw new KubeConfigError('in-cluster config: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set');
    }
    from = 'in-cluster';
  }
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new KubeConfigError('kubeconfig has no current cluster');
  return { kubeConfig: kc, from, server: cluster.server };
}
