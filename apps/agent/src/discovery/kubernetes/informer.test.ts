import { afterEach, describe, expect, it, vi } from 'vitest';
import type { KubeClient, ResourceQuery } from './client.js';
import { Informer } from './informer.js';
import { FakeKubeApiServer } from './test-support/fake-api-server.js';
import { clientFor, pod, testDeps } from './test-support/harness.js';

const fast = { initialMs: 10, maxMs: 100 };
const waitFor = (what: () => unknown) => vi.waitFor(() => expect(what()).toBeTruthy(), { timeout: 10_000, interval: 10 });

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function setup(options: { query?: Partial<ResourceQuery>; pageSize?: number; client?: (url: string) => KubeClient } = {}) {
  const server = await FakeKubeApiServer.start({ token: 'secret-token' });
  const client = options.client?.(server.url) ?? clientFor(server.url);
  const statuses: Array<string | undefined> = [];
  let changes = 0;
  const informer = new Informer({
    client,
    query: { kind: 'pods', ...options.query },
    onChange: () => changes++,
    onStatus: (s) => statuses.push(s),
    log: testDeps().log,
    pageSize: options.pageSize,
    backoff: fast,
  });
  cleanups.push(() => server.close(), () => client.close(), () => informer.stop());
  const names = () => [...informer.values()].map((o) => `${o.metadata.namespace}/${o.metadata.name}`).sort();
  const lists = () => server.requests.filter((r) => r.kind === 'pods' && !r.watch);
  const watches = () => server.requests.filter((r) => r.kind === 'pods' && r.watch);
  return { server, informer, statuses, changes: () => changes, names, lists, watches };
}

describe('Informer', () => {
  it('lists in pages, then watches from the list resourceVersion and follows pods appearing, changing and disappearing', async () => {
    const t = await setup({ pageSize: 2 });
    for (let i = 1; i <= 5; i++) t.server.add('pods', pod('default', `p${i}`));
    t.informer.start();
    await waitFor(() => t.server.openWatches('pods') === 1);
    expect(t.informer.hasSynced).toBe(true);
    expect(t.changes()).toBe(1); // one change for the complete list, not one per page
    expect(t.names()).toEqual(['default/p1', 'default/p2', 'default/p3', 'default/p4', 'default/p5']);
    expect(t.lists().map((r) => [r.query.limit, r.query.continue !== undefined])).toEqual([
      ['2', false],
      ['2', true],
      ['2', true],
    ]);
    const [watch] = t.watches();
    expect(watch!.path).toBe('/api/v1/pods');
    expect(watch!.authorization).toBe('Bearer secret-token');
    expect(watch!.query).toMatchObject({ watch: '1', allowWatchBookmarks: 'true', resourceVersion: t.server.resourceVersion });
    expect(Number(watch!.query.timeoutSeconds)).toBeGreaterThanOrEqual(300);
    expect(Number(watch!.query.timeoutSeconds)).toBeLessThan(600);

    t.server.add('pods', pod('default', 'p6'));
    await waitFor(() => t.informer.get('default/p6'));
    t.server.update('pods', pod('default', 'p1', { ip: '10.9.9.9' }));
    await waitFor(() => (t.informer.get('default/p1')?.status as { podIP?: string }).podIP === '10.9.9.9');
    t.server.delete('pods', pod('default', 'p2'));
    await waitFor(() => !t.informer.get('default/p2'));
    expect(t.names()).toEqual(['default/p1', 'default/p3', 'default/p4', 'default/p5', 'default/p6']);
    expect(t.informer.resourceVersion).toBe(t.server.resourceVersion);
    expect(t.statuses).toEqual([]);
  });

  it('resumes a closed watch from the last resourceVersion without listing again', async () => {
    const t = await setup();
    t.server.add('pods', pod('default', 'a'));
    t.informer.start();
    await waitFor(() => t.server.openWatches('pods') === 1);
    t.server.add('pods', pod('default', 'b'));
    await waitFor(() => t.informer.get('default/b'));
    const lastSeen = t.informer.resourceVersion;

    t.server.closeWatches();
    await waitFor(() => t.watches().length === 2 && t.server.openWatches('pods') === 1);
    t.server.closeWatches({ abrupt: true });
    t.server.add('pods', pod('default', 'c'));
    await waitFor(() => t.informer.get('default/c'));

    expect(t.lists()).toHaveLength(1);
    const resumed = t.watches().slice(1);
    expect(resumed[0]!.query.resourceVersion).toBe(lastSeen);
    expect(resumed.at(-1)!.query.resourceVersion).toBe(lastSeen);
    expect(t.names()).toEqual(['default/a', 'default/b', 'default/c']);
  });

  it('advances its resourceVersion on bookmarks and resumes from the bookmark', async () => {
    const t = await setup();
    t.server.add('pods', pod('default', 'a'));
    t.informer.start();
    await waitFor(() => t.server.openWatches('pods') === 1);
    t.server.add('services', { metadata: { namespace: 'default', name: 'other-kind' } }); // moves the global resourceVersion only
    expect(t.informer.resourceVersion).not.toBe(t.server.resourceVersion);
    t.server.bookmark();
    await waitFor(() => t.informer.resourceVersion === t.server.resourceVersion);
    const bookmarked = t.server.resourceVersion;
    t.server.closeWatches();
    await waitFor(() => t.watches().length === 2);
    expect(t.watches()[1]!.query.resourceVersion).toBe(bookmarked);
    expect(t.lists()).toHaveLength(1);
  });

  it('lists again on 410 Gone, whether an ERROR event or an HTTP status', async () => {
    const t = await setup();
    t.server.add('pods', pod('default', 'a'));
    t.informer.start();
    await waitFor(() => t.server.openWatches('pods') === 1);

    t.server.expireResourceVersions('event');
    await waitFor(() => t.lists().length === 2 && t.server.openWatches('pods') === 1);
    expect(t.lists()[1]!.query.continue).toBeUndefined();

    t.server.closeWatches({ abrupt: true });
    t.server.add('pods', pod('default', 'b'));
    t.server.expireResourceVersions('http');
    await waitFor(() => t.lists().length === 3 && t.informer.get('default/b'));
    expect(t.server.requests.some((r) => r.watch && r.status === 410)).toBe(true);
    expect(t.names()).toEqual(['default/a', 'default/b']);
    expect(t.statuses).toEqual([]);
  });

  it('reports 403 naming the kind, the namespace and the RBAC remedy, and recovers once allowed', async () => {
    const t = await setup({ query: { namespace: 'prod' } });
    t.server.forbid('pods');
    t.informer.start();
    await waitFor(() => t.statuses.length === 1);
    expect(t.statuses[0]).toMatch(
      /^kubernetes_sd: list pods in namespace prod: 403 Forbidden \(pods is forbidden: User "system:serviceaccount:monitoring:fleet-agent" cannot list resource "pods" .*\): the service account needs get\/list\/watch on pods \(a Role and RoleBinding in namespace prod, or a ClusterRole\)$/,
    );
    expect(t.informer.hasSynced).toBe(false);
    await waitFor(() => t.lists().length >= 2); // keeps retrying, without repeating the report
    expect(t.statuses).toHaveLength(1);
    t.server.allow('pods');
    await waitFor(() => t.informer.hasSynced && t.statuses.length === 2);
    expect(t.statuses).toEqual([t.statuses[0], undefined]);
  });

  it('names the API group of a forbidden cluster-wide kind', async () => {
    const t = await setup({ query: { kind: 'endpointslices' } });
    t.server.forbid('endpointslices');
    t.informer.start();
    await waitFor(() => t.statuses.length === 1);
    expect(t.statuses[0]).toMatch(/^kubernetes_sd: list endpointslices in all namespaces: 403 Forbidden .*: the service account needs get\/list\/watch on endpointslices\.discovery\.k8s\.io \(a ClusterRole and ClusterRoleBinding\)$/);
    expect(t.server.requests[0]!.path).toBe('/apis/discovery.k8s.io/v1/endpointslices');
  });

  it('keeps the last objects through server errors and resumes where it was', async () => {
    const t = await setup();
    t.server.add('pods', pod('default', 'a'));
    t.informer.start();
    await waitFor(() => t.server.openWatches('pods') === 1);
    const rv = t.informer.resourceVersion;
    t.server.failKind('pods', 500);
    t.server.closeWatches();
    await waitFor(() => t.statuses.length === 1);
    expect(t.statuses[0]).toBe('kubernetes_sd: watch pods in all namespaces: 500 InternalError: injected failure 500');
    expect(t.names()).toEqual(['default/a']);
    t.server.allow('pods');
    await waitFor(() => t.statuses.length === 2);
    expect(t.statuses).toEqual([t.statuses[0], undefined]);
    expect(t.watches().at(-1)!.query.resourceVersion).toBe(rv);
    expect(t.lists()).toHaveLength(1);
  });

  it('reports 401 when the token is refused', async () => {
    const t = await setup({ client: (url) => clientFor(url, 'wrong-token') });
    t.informer.start();
    await waitFor(() => t.statuses.length === 1);
    expect(t.statuses[0]).toBe(
      'kubernetes_sd: list pods in all namespaces: 401 Unauthorized (Unauthorized): the API server refused the credentials (check the service-account token, bearer token or kubeconfig user)',
    );
    expect(t.statuses[0]).not.toContain('wrong-token');
  });

  it('refuses a watch event larger than its limit', async () => {
    const t = await setup({ client: (url) => clientFor(url, 'secret-token', { maxEventBytes: 2000 }) });
    t.informer.start();
    await waitFor(() => t.server.openWatches('pods') === 1);
    t.server.add('pods', pod('default', 'huge', { annotations: { blob: 'x'.repeat(5000) } }));
    await waitFor(() => t.statuses.length === 1);
    expect(t.statuses[0]).toBe(`kubernetes_sd: watch pods in all namespaces at ${t.server.url}: watch of pods: an event is larger than 2000 bytes`);
    expect(t.informer.get('default/huge')).toBeUndefined();
  });

  it('sends the namespace and selectors with list and watch, and keeps only what they select', async () => {
    const t = await setup({ query: { namespace: 'prod', labelSelector: 'app=web', fieldSelector: 'spec.nodeName=node-2' } });
    t.server.add('pods', pod('prod', 'match', { labels: { app: 'web' }, nodeName: 'node-2' }));
    t.server.add('pods', pod('prod', 'other-node', { labels: { app: 'web' }, nodeName: 'node-1' }));
    t.server.add('pods', pod('prod', 'other-app', { labels: { app: 'db' }, nodeName: 'node-2' }));
    t.server.add('pods', pod('dev', 'other-ns', { labels: { app: 'web' }, nodeName: 'node-2' }));
    t.informer.start();
    await waitFor(() => t.server.openWatches('pods') === 1);
    for (const r of [t.lists()[0]!, t.watches()[0]!]) {
      expect(r.path).toBe('/api/v1/namespaces/prod/pods');
      expect(r.query).toMatchObject({ labelSelector: 'app=web', fieldSelector: 'spec.nodeName=node-2' });
    }
    expect(t.names()).toEqual(['prod/match']);
    t.server.update('pods', pod('prod', 'match', { labels: { app: 'db' }, nodeName: 'node-2' })); // no longer selected: DELETED
    await waitFor(() => t.names().length === 0);
  });

  it('stop() aborts the open watch', async () => {
    const t = await setup();
    t.informer.start();
    await waitFor(() => t.server.openWatches('pods') === 1);
    t.informer.stop();
    await waitFor(() => t.server.openWatches('pods') === 0);
  });
});
