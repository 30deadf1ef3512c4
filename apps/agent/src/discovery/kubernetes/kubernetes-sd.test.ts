import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { KubernetesSdConfig } from '@fleet/pipeline';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TargetGroup } from '../discovery.js';
import { KubernetesDiscoverer, type KubernetesDiscovererOptions } from './kubernetes-sd.js';
import { FakeKubeApiServer, selfSignedCertificate } from './test-support/fake-api-server.js';
import { pod, sdConfig, testDeps } from './test-support/harness.js';

const waitFor = (what: () => unknown) => vi.waitFor(() => expect(what()).toBeTruthy(), { timeout: 10_000, interval: 10 });
const fast: KubernetesDiscovererOptions = { backoff: { initialMs: 10, maxMs: 100 }, debounceMs: 50, connectRetryMs: 50 };

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function run(server: FakeKubeApiServer | undefined, overrides: Partial<KubernetesSdConfig>, env: NodeJS.ProcessEnv = {}, options: KubernetesDiscovererOptions = fast) {
  const config = sdConfig({ ...(server ? { apiServer: server.url, authorization: { type: 'Bearer', credentials: 'tok' } } : {}), ...overrides });
  const deps = testDeps(env);
  const d = new KubernetesDiscoverer(config, deps, options);
  const updates: TargetGroup[][] = [];
  const errors: string[] = [];
  d.start(
    (g) => updates.push(g),
    (e) => errors.push(e),
  );
  cleanups.push(() => d.stop());
  const addresses = () => (updates.at(-1) ?? []).flatMap((g) => g.targets).sort();
  return { d, updates, errors, deps, addresses };
}

async function fakeServer(options: Parameters<typeof FakeKubeApiServer.start>[0] = { token: 'tok' }) {
  const server = await FakeKubeApiServer.start(options);
  cleanups.push(() => server.close());
  return server;
}

describe('KubernetesDiscoverer', () => {
  it('sends the targets once after the initial lists, even when empty', async () => {
    const server = await fakeServer();
    const t = await run(server, { role: 'pod' });
    await waitFor(() => t.updates.length === 1);
    expect(t.updates[0]).toEqual([]);
    expect(t.errors).toEqual([]);
  });

  it('follows pods in the configured namespaces with the role builders’ groups and labels', async () => {
    const server = await fakeServer();
    server.add('pods', pod('a', 'web-0', { ip: '10.0.0.1', labels: { app: 'web' } }));
    server.add('pods', pod('b', 'web-1', { ip: '10.0.0.2', labels: { app: 'web' } }));
    server.add('pods', pod('c', 'web-2', { ip: '10.0.0.3', labels: { app: 'web' } }));
    const t = await run(server, { role: 'pod', namespaces: { ownNamespace: false, names: ['a', 'b'] } });
    await waitFor(() => t.updates.length === 1);
    expect(t.addresses()).toEqual(['10.0.0.1:9100', '10.0.0.2:9100']);
    const group = t.updates[0]!.find((g) => g.source === 'pod/a/web-0');
    expect(group?.labels).toMatchObject({ __meta_kubernetes_namespace: 'a', __meta_kubernetes_pod_name: 'web-0', __meta_kubernetes_pod_label_app: 'web' });
    expect(server.requests.filter((r) => !r.watch).map((r) => r.path).sort()).toEqual(['/api/v1/namespaces/a/pods', '/api/v1/namespaces/b/pods']);

    server.add('pods', pod('b', 'web-3', { ip: '10.0.0.4' }));
    await waitFor(() => t.addresses().includes('10.0.0.4:9100'));
    server.delete('pods', pod('a', 'web-0'));
    await waitFor(() => !t.addresses().includes('10.0.0.1:9100'));
    expect(t.addresses()).toEqual(['10.0.0.2:9100', '10.0.0.4:9100']);
  });

  it('coalesces a burst of changes into few updates carrying the full list', async () => {
    const server = await fakeServer();
    const t = await run(server, { role: 'pod' }, {}, { ...fast, debounceMs: 200 });
    await waitFor(() => t.updates.length === 1);
    for (let i = 0; i < 20; i++) server.add('pods', pod('default', `p${i}`, { ip: `10.1.0.${i}` }));
    await waitFor(() => t.addresses().length === 20);
    expect(t.updates.length - 1).toBeLessThan(20);
  });

  it('watches what the endpoints role needs, with each kind’s selector, per namespace; nodes cluster-wide', async () => {
    const server = await fakeServer();
    const t = await run(server, {
      role: 'endpoints',
      namespaces: { ownNamespace: false, names: ['prod'] },
      selectors: [
        { role: 'endpoints', label: 'tier=api' },
        { role: 'service', field: 'metadata.name=api' },
        { role: 'pod', label: 'app=api', field: 'status.phase=Running' },
      ],
      attachMetadata: { node: true, namespace: false },
    });
    await waitFor(() => t.updates.length === 1);
    const byPath = Object.fromEntries(server.requests.filter((r) => !r.watch).map((r) => [r.path, { label: r.query.labelSelector, field: r.query.fieldSelector }]));
    expect(byPath).toEqual({
      '/api/v1/namespaces/prod/endpoints': { label: 'tier=api', field: undefined },
      '/api/v1/namespaces/prod/services': { label: undefined, field: 'metadata.name=api' },
      '/api/v1/namespaces/prod/pods': { label: 'app=api', field: 'status.phase=Running' },
      '/api/v1/nodes': { label: undefined, field: undefined },
    });
  });

  it('reports a forbidden kind once with the RBAC remedy, sends nothing meanwhile, and logs the recovery', async () => {
    const server = await fakeServer();
    server.add('pods', pod('default', 'p', { ip: '10.2.0.1' }));
    server.forbid('pods');
    const t = await run(server, { role: 'pod' });
    await waitFor(() => t.errors.length === 1);
    expect(t.errors[0]).toMatch(/^kubernetes_sd: list pods in all namespaces: 403 Forbidden .*: the service account needs get\/list\/watch on pods \(a ClusterRole and ClusterRoleBinding\)$/);
    await waitFor(() => server.requests.filter((r) => r.kind === 'pods').length >= 3);
    expect(t.errors).toHaveLength(1);
    expect(t.updates).toEqual([]);
    server.allow('pods');
    await waitFor(() => t.updates.length === 1);
    expect(t.addresses()).toEqual(['10.2.0.1:9100']);
    expect(t.deps.logs.some((l) => l.level === 'info' && l.message === 'kubernetes_sd: recovered')).toBe(true);
  });

  it('says when it is neither in a cluster nor configured, without crashing', async () => {
    const t = await run(undefined, { role: 'node' });
    await waitFor(() => t.errors.length === 1);
    expect(t.errors).toEqual(['kubernetes_sd: not running in a cluster (KUBERNETES_SERVICE_HOST unset) and no api_server or kubeconfig_file given']);
    expect(t.updates).toEqual([]);
  });

  it('in a cluster, watches its own namespace with the service-account token over TLS', async () => {
    const cert = selfSignedCertificate();
    const server = await fakeServer({ token: 'sa-token', tls: cert });
    server.add('pods', pod('monitoring', 'self', { ip: '10.3.0.1' }));
    server.add('pods', pod('other', 'x', { ip: '10.3.0.2' }));
    const dir = await mkdtemp(path.join(tmpdir(), 'k8s-sa-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(path.join(dir, 'token'), 'sa-token');
    await writeFile(path.join(dir, 'ca.crt'), cert.cert);
    await writeFile(path.join(dir, 'namespace'), 'monitoring');
    const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: new URL(server.url).port, FLEET_K8S_SERVICEACCOUNT_DIR: dir };
    const t = await run(undefined, { role: 'pod', namespaces: { ownNamespace: true, names: [] } }, env);
    await waitFor(() => t.updates.length === 1);
    expect(t.addresses()).toEqual(['10.3.0.1:9100']);
    expect(server.requests[0]).toMatchObject({ path: '/api/v1/namespaces/monitoring/pods', authorization: 'Bearer sa-token' });
  });

  it('stop() ends every watch', async () => {
    const server = await fakeServer();
    const t = await run(server, { role: 'endpointslice' });
    await waitFor(() => server.openWatches() === 3);
    t.d.stop();
    await waitFor(() => server.openWatches() === 0);
  });
});
