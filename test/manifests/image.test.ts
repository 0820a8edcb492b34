// The container image, without a container engine: the Dockerfile and .dockerignore are parsed
// and checked, then the runtime stage's filesystem is laid out in a temp dir (emulateImage) and its
// ENTRYPOINT is run there with the Deployment's args, against the in-repo Kubernetes API server.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultConfig } from '../../src/config.ts';
import { KubeApiServer, kubeconfigFor } from '../support/kube-api-server.ts';
import { emulateImage, execForm, filesUnder, parseCopy, parseDockerfile, parseDockerignore, productionPackagePaths } from './dockerfile.ts';
import type { EmulatedImage } from './dockerfile.ts';
import { findOne, loadManifests, REPO_ROOT } from './load-manifests.ts';

const stages = parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
const final = stages[stages.length - 1];
const ignored = parseDockerignore(readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8'));
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

function lastArgs(keyword: string): string | undefined {
  return final.instructions.filter((i) => i.keyword === keyword).at(-1)?.args;
}

describe('Dockerfile', () => {
  it('builds in two stages on Node.js 24: production dependencies, then a distroless runtime', () => {
    assert.equal(stages.length, 2);
    const [deps, runtime] = stages;
    assert.match(deps.image, /^node:24[-.]/);
    assert.match(runtime.image, /^gcr\.io\/distroless\/nodejs24-/);
    const runs = deps.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    assert.ok(runs.some((r) => /\bnpm ci\b.*--omit=dev\b/.test(r)), `npm ci --omit=dev in ${runs.join(' / ')}`);
    assert.ok(!runs.some((r) => /\bnpm (install|i)\b/.test(r)), 'npm ci installs exactly the lockfile');
  });

  it('the runtime stage has no RUN or SHELL: nothing needs a shell, and the image has none', () => {
    assert.deepEqual(final.instructions.filter((i) => i.keyword === 'RUN' || i.keyword === 'SHELL'), []);
  });

  it('runs as the numeric non-root user 65532', () => {
    assert.match(lastArgs('USER') ?? '', /^65532(:65532)?$/);
  });

  it('ENTRYPOINT and CMD are exec form: node bin/switchyard.js --source=kubernetes', () => {
    const entrypoint = execForm(lastArgs('ENTRYPOINT') ?? '');
    assert.ok(entrypoint, 'ENTRYPOINT in exec form (signals reach node directly, no shell)');
    assert.equal(entrypoint.length, 2);
    assert.match(entrypoint[0], /^\/.*\/node$/, 'the image\'s own node binary, by absolute path');
    assert.doesNotMatch(entrypoint[0], /node_modules/, 'not the `node` devDependency');
    assert.equal(entrypoint[1], 'bin/switchyard.js', 'the same start as `npm run controller` and the bench (shipped V8 flags)');
    assert.deepEqual(execForm(lastArgs('CMD') ?? ''), ['--source=kubernetes']);
  });

  it('stops with SIGTERM and exposes the default http, https and admin ports', () => {
    assert.equal(lastArgs('STOPSIGNAL'), 'SIGTERM');
    const config = defaultConfig();
    const exposed = final.instructions.filter((i) => i.keyword === 'EXPOSE').flatMap((i) => i.args.split(/\s+/)).map(Number);
    assert.deepEqual(exposed.sort(), [config.httpPort, config.httpsPort, config.adminPort].sort());
  });

  it('HEALTHCHECK is exec form and asks /healthz on the default admin port', () => {
    const args = lastArgs('HEALTHCHECK') ?? '';
    const m = /^(?:--\S+\s+)*CMD\s+(\[.*\])$/.exec(args);
    assert.ok(m, args);
    const command = execForm(m[1])!;
    assert.equal(command[0], execForm(lastArgs('ENTRYPOINT')!)![0]);
    assert.ok(command.join(' ').includes(`127.0.0.1:${defaultConfig().adminPort}/healthz`));
  });

  it('every COPY source from the build context exists and survives .dockerignore; --from names an earlier stage', () => {
    const names = new Set<string>();
    for (const stage of stages) {
      for (const ins of stage.instructions.filter((i) => i.keyword === 'COPY')) {
        const copy = parseCopy(ins);
        if (copy.from !== undefined) {
          assert.ok(names.has(copy.from), `line ${ins.line}: no earlier stage ${copy.from}`);
          continue;
        }
        for (const source of copy.sources) {
          const files = filesUnder(posix.normalize(source));
          assert.ok(files.length > 0, `line ${ins.line}: ${source} is empty`);
          for (const file of files) assert.equal(ignored(file), false, `line ${ins.line}: ${file} is excluded by .dockerignore`);
        }
      }
      if (stage.name) names.add(stage.name);
    }
  });

  it('the production install leaves out the dev toolchain (the `node` package, typescript, kubernetes-models)', () => {
    const production = new Set(productionPackagePaths());
    for (const name of Object.keys(pkg.dependencies)) assert.ok(production.has(`node_modules/${name}`), name);
    // (@types/node is also a dependency of @kubernetes/client-node, so it is installed either way.)
    for (const name of ['node', 'typescript', 'kubernetes-models', 'autocannon', 'http-proxy']) {
      assert.ok(name in pkg.devDependencies, name);
      assert.ok(!production.has(`node_modules/${name}`), name);
    }
  });
  it('no production package needs an install script (the build runs npm ci --ignore-scripts)', () => {
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; hasInstallScript?: boolean }> };
    const needsScripts = Object.entries(lock.packages).filter(([path, meta]) => path !== '' && meta.dev !== true && meta.hasInstallScript === true).map(([path]) => path);
    assert.deepEqual(needsScripts, []);
    assert.ok(stages[0].instructions.some((i) => i.keyword === 'RUN' && /npm ci\b.*--ignore-scripts/.test(i.args)));
  });
});

describe('.dockerignore', () => {
  it('keeps node_modules, .git, test/, bench/ and the rest out of the build context', () => {
    for (const path of ['node_modules/undici/package.json', '.git/HEAD', 'test/manifests/image.test.ts', 'bench/run.ts', 'manifests/deployment.yaml', 'examples/x.yaml', 'README.md', 'Dockerfile', '.env']) {
      assert.equal(ignored(path), true, path);
    }
  });

  it('sends package.json, package-lock.json and all of src/', () => {
    for (const path of ['package.json', 'package-lock.json', ...filesUnder('src')]) assert.equal(ignored(path), false, path);
  });

  it('matches like Docker: parent directories, `**`, `!` exceptions, last rule wins', () => {
    const match = parseDockerignore('# comment\n**/*.log\nbuild\n!build/keep\n/tmp/*\n');
    assert.equal(match('a/b/c.log'), true);
    assert.equal(match('c.log'), true);
    assert.equal(match('build/out/x.js'), true);
    assert.equal(match('build/keep'), false);
    assert.equal(match('tmp/a'), true);
    assert.equal(match('tmp'), false);
    assert.equal(match('src/build.ts'), false);
  });
});

describe('what src/ needs at run time is in the image', () => {
  const sources = filesUnder('src').filter((f) => f.endsWith('.ts'));
  // Value imports only: `import type` and `export type` are erased by type stripping (an
  // `import { type A } from 'x'` still loads x). The clause stops at `;` and quotes, so a match never
  // runs from one statement into the next.
  const IMPORT = /^\s*(?:import|export)\s+(?!type\b)(?:[^;'"]*?\sfrom\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

  function importsOf(file: string): string[] {
    const text = readFileSync(join(REPO_ROOT, file), 'utf8');
    return [...text.matchAll(IMPORT)].map((m) => m[1] ?? m[2]);
  }

  it('every package imported by src/ is a production dependency', () => {
    const seen = new Set<string>();
    for (const file of sources) {
      for (const specifier of importsOf(file)) {
        if (specifier.startsWith('.') || isBuiltin(specifier)) continue;
        const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0];
        seen.add(name);
        assert.ok(name in pkg.dependencies, `${file} imports ${specifier}: ${name} is not in "dependencies" (npm ci --omit=dev leaves it out of the image)`);
      }
    }
    // The scan finds what we know is used (it is not vacuously passing).
    for (const name of ['undici', '@kubernetes/client-node', 'yaml']) assert.ok(seen.has(name), name);
  });

  it('relative imports in src/ stay inside src/ (the image has no test/, bench/ or examples/)', () => {
    for (const file of sources) {
      for (const specifier of importsOf(file)) {
        if (!specifier.startsWith('.')) continue;
        const target = posix.join(posix.dirname(file), specifier);
        assert.ok(target.startsWith('src/'), `${file} imports ${specifier}`);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Running the image's entrypoint

interface Running {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The image's ENTRYPOINT with `args` in its WORKDIR, with only the env a container would have. */
function runEntrypoint(image: EmulatedImage, args: readonly string[], env: Record<string, string>): Running {
  // The ENTRYPOINT's node is the image's Node 24; here, the Node 24 running the tests.
  const [, ...script] = image.entrypoint;
  const child = spawn(process.execPath, [...script, ...args], {
    cwd: image.workdir,
    env: { PATH: '/usr/bin:/bin', HOME: '/home/nonroot', ...image.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  return { child, output: () => output, exited };
}

/** GET over node:http (fetch does not let a caller set Host). */
function get(port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject).end();
  });
}

/** `n` distinct free ports: all are held until the last is found (one at a time, the kernel can hand out one twice). */
async function freePorts(n: number): Promise<number[]> {
  const servers = [];
  for (let i = 0; i < n; i++) {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
  }
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  return ports;
}

/** Polls `check` (a request over a real socket) until it returns true; the child cannot send us events. */
async function until(what: string, running: Running, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (running.child.exitCode !== null) assert.fail(`controller exited (${running.child.exitCode}) before ${what}:\n${running.output()}`);
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`timed out waiting for ${what}:\n${running.output()}`);
}

/** Every file under `dir` with its size and mtime, to prove the controller wrote nothing there. */
function treeState(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .map((d) => join(d.parentPath, d.name))
    .map((p) => {
      const s = statSync(p);
      return `${p} ${s.size} ${s.mtimeMs}`;
    })
    .sort();
}

describe('the image\'s entrypoint', () => {
  let root: string;
  let image: EmulatedImage;

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'switchyard-image-'));
    image = emulateImage(root);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('lays out bin/, src/, package files and only production node_modules', () => {
    assert.deepEqual(readdirSync(image.workdir).sort(), ['bin', 'node_modules', 'package-lock.json', 'package.json', 'src']);
    const modules = readdirSync(join(image.workdir, 'node_modules'));
    for (const dev of ['node', 'typescript', 'kubernetes-models', 'autocannon']) assert.ok(!modules.includes(dev), dev);
  });

  it('--help lists the flags and exits 0; --version reads the image\'s package.json', async () => {
    const help = runEntrypoint(image, ['--help'], {});
    assert.deepEqual(await help.exited, { code: 0, signal: null }, help.output());
    for (const flag of ['--source', '--publish-service', '--election-id', '--admin-port']) assert.ok(help.output().includes(flag), flag);
    const version = runEntrypoint(image, ['--version'], {});
    assert.deepEqual(await version.exited, { code: 0, signal: null }, version.output());
    assert.ok(version.output().includes(pkg.version), version.output());
  });

  it('an unknown flag is a usage error, not a crash loop with a stack trace', async () => {
    const bad = runEntrypoint(image, ['--no-such-flag'], {});
    const { code } = await bad.exited;
    assert.equal(code, 2, bad.output());
    assert.match(bad.output(), /unknown flag --no-such-flag/);
  });

  it('with the Deployment\'s args and env: serves, reports ready, routes, writes status within RBAC, drains on SIGTERM', async (t) => {
    const manifests = loadManifests();
    const deployment = findOne(manifests, 'Deployment', 'switchyard');
    const container = deployment.raw.spec.template.spec.containers[0];
    const namespace: string = deployment.namespace!;

    // An upstream that answers with its own name.
    const upstream = createServer((req, res) => res.end('web'));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const upstreamPort = (upstream.address() as AddressInfo).port;
    t.after(() => new Promise<void>((resolve) => upstream.close(() => resolve())));

    // The cluster: what manifests/ installs (the IngressClass, the LoadBalancer Service with the
    // address the cloud gave it) and one application.
    const api = new KubeApiServer();
    await api.start();
    t.after(() => api.close());
    const lbService = structuredClone(findOne(manifests, 'Service', 'switchyard').raw);
    lbService.status = { loadBalancer: { ingress: [{ ip: '203.0.113.10' }] } };
    api.load([
      findOne(manifests, 'IngressClass').raw,
      lbService,
      {
        apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' },
        spec: { ports: [{ name: 'http', port: 80, targetPort: upstreamPort, protocol: 'TCP' }], selector: { app: 'web' } },
      },
      {
        apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
        metadata: { name: 'web-1', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: upstreamPort, protocol: 'TCP' }],
        endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
      },
      {
        apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'web', namespace: 'shop' },
        spec: {
          ingressClassName: 'switchyard',
          rules: [{ host: 'shop.example', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }],
        },
      },
    ]);

    const work = mkdtempSync(join(tmpdir(), 'switchyard-run-'));
    t.after(() => rmSync(work, { recursive: true, force: true }));
    const kubeconfig = join(work, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigFor(api));
    const [httpPort, httpsPort, adminPort] = await freePorts(3);
    const imageFiles = treeState(root);

    // Exactly the container's args; the env it gets from the downward API; what differs from a
    // pod (API server address, loopback ports) through env vars, so the args stay the manifest's.
    const running = runEntrypoint(image, container.args, {
      POD_NAMESPACE: namespace,
      POD_NAME: 'switchyard-7d4b9c-x1',
      KUBECONFIG: kubeconfig,
      TMPDIR: work,
      SWITCHYARD_HTTP_PORT: String(httpPort),
      SWITCHYARD_HTTPS_PORT: String(httpsPort),
      SWITCHYARD_ADMIN_PORT: String(adminPort),
      SWITCHYARD_BIND_ADDRESS: '127.0.0.1',
      SWITCHYARD_ADMIN_BIND_ADDRESS: '127.0.0.1',
    });
    t.after(() => {
      if (running.child.exitCode === null) running.child.kill('SIGKILL');
    });
    const admin = `http://127.0.0.1:${adminPort}`;

    // The probes of the Deployment, on the admin port.
    await until('/healthz', running, async () => (await fetch(`${admin}${container.livenessProbe.httpGet.path}`)).status === 200);
    await until('/readyz', running, async () => (await fetch(`${admin}${container.readinessProbe.httpGet.path}`)).status === 200);

    // The Dockerfile's HEALTHCHECK command works against it.
    const healthcheck = execForm(/CMD\s+(\[.*\])$/.exec(lastArgs('HEALTHCHECK')!)![1])!;
    const probe = spawn(process.execPath, healthcheck.slice(1).map((a) => a.replace('127.0.0.1:10254', `127.0.0.1:${adminPort}`)), { stdio: 'ignore' });
    assert.equal(await new Promise((resolve) => probe.on('exit', resolve)), 0);

    // Traffic is routed.
    await until('a routed request', running, async () => {
      const res = await get(httpPort, '/', 'shop.example');
      return res.status === 200 && res.body === 'web';
    });

    // Leader election takes the Lease in the pod's namespace, and the leader publishes the
    // LoadBalancer Service's address in the Ingress status.
    await until('the Lease', running, async () => api.get('Lease', namespace, 'switchyard-leader') !== undefined);
    await until('the Ingress status', running, async () => {
      const ingress = api.get('Ingress', 'shop', 'web');
      return ingress?.status?.loadBalancer?.ingress?.[0]?.ip === '203.0.113.10';
    });

    // Every API call it made is granted by manifests/ (ClusterRole anywhere, Role in its namespace).
    const granted = new Set<string>();
    for (const [kind, scope] of [['ClusterRole', '*'], ['Role', namespace]] as const) {
      for (const rule of findOne(manifests, kind).raw.rules) {
        for (const g of rule.apiGroups) for (const r of rule.resources) for (const v of rule.verbs) granted.add(`${scope}|${g}|${r}|${v}`);
      }
    }
    assert.ok(api.requestLog.length > 0);
    for (const e of api.requestLog) {
      const allowed = granted.has(`*|${e.apiGroup}|${e.resource}|${e.verb}`) || (e.namespace === namespace && granted.has(`${namespace}|${e.apiGroup}|${e.resource}|${e.verb}`));
      assert.ok(allowed, `${e.verb} ${e.apiGroup}/${e.resource} in "${e.namespace}" is not granted by manifests/`);
    }

    // SIGTERM (the STOPSIGNAL, what the kubelet sends) ends it cleanly within the grace period.
    const graceMs = deployment.raw.spec.template.spec.terminationGracePeriodSeconds * 1000;
    const started = Date.now();
    running.child.kill('SIGTERM');
    const { code, signal } = await running.exited;
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, running.output());
    assert.ok(Date.now() - started < graceMs, `took ${Date.now() - started}ms`);

    // Read-only root filesystem: nothing in the image was written.
    assert.deepEqual(treeState(root), imageFiles);
  });
});
