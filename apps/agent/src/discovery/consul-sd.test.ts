import type { ConsulSdConfig } from '@fleet/pipeline';
import { afterEach, describe, expect, it } from 'vitest';
import { ConsulDiscoverer, aggregatedStatus } from './consul-sd.js';
import { FakeConsul, type FakeInstance } from './test-support/fake-consul.js';
import { Recorder, addresses } from './test-support/recorder.js';

const web: FakeInstance = {
  node: 'node-1',
  address: '10.0.0.1',
  nodeMeta: { rack: 'r-1', 'os.name': 'linux' },
  taggedAddresses: { lan: '10.0.0.1', wan: '198.51.100.1' },
  service: 'web',
  id: 'web-1',
  tags: ['prod', 'v1'],
  port: 8080,
  meta: { 'version.major': '2' },
  namespace: 'team-a',
  partition: 'part-1',
  checks: [
    { CheckID: 'serfHealth', Status: 'passing' },
    { CheckID: 'service:web-1', Status: 'warning' },
  ],
};
const db: FakeInstance = { node: 'node-2', address: '10.0.0.2', nodeMeta: { rack: 'r-1' }, service: 'db', serviceAddress: '10.9.0.5', port: 5432, tags: ['staging'] };

describe('ConsulDiscoverer (fake Consul over HTTP)', () => {
  let fake: FakeConsul;
  let discoverer: ConsulDiscoverer | null = null;
  let rec: Recorder;

  afterEach(async () => {
    discoverer?.stop();
    discoverer = null;
    await fake.stop();
  });

  const run = async (options: ConstructorParameters<typeof FakeConsul>[0], config: Partial<ConsulSdConfig>, instances: FakeInstance[] = [web, db]) => {
    fake = new FakeConsul(options);
    await fake.start();
    for (const i of instances) fake.register(i);
    rec = new Recorder();
    discoverer = new ConsulDiscoverer(
      { server: fake.address, scheme: 'http', services: [], tags: [], nodeMeta: {}, tagSeparator: ',', allowStale: true, refreshIntervalMs: 20, ...config },
      rec.deps(),
    );
    rec.start(discoverer);
  };

  it('initial list: Prometheus’s labels, the datacenter from /v1/agent/self, the token and query options on every request', async () => {
    await run({ token: 'tok-123', datacenter: 'dc7', prefix: '/consul' }, { token: 'tok-123', pathPrefix: '/consul', namespace: 'team-a', partition: 'part-1', nodeMeta: { rack: 'r-1' }, filter: 'Service.Port > 0' });
    await rec.until('the first update', () => rec.updates.length > 0);
    expect(rec.updates[0]!.map((g) => g.targets[0]).sort()).toEqual(['10.0.0.1:8080', '10.9.0.5:5432']);
    expect(rec.latest.find((g) => g.source === 'web')).toEqual({
      source: 'web',
      targets: ['10.0.0.1:8080'],
      labels: {
        __meta_consul_service: 'web',
        __meta_consul_dc: 'dc7',
        __meta_consul_address: '10.0.0.1',
        __meta_consul_node: 'node-1',
        __meta_consul_namespace: 'team-a',
        __meta_consul_partition: 'part-1',
        __meta_consul_tags: ',prod,v1,',
        __meta_consul_service_address: '',
        __meta_consul_service_port: '8080',
        __meta_consul_service_id: 'web-1',
        __meta_consul_health: 'warning',
        __meta_consul_metadata_rack: 'r-1',
        __meta_consul_metadata_os_name: 'linux',
        __meta_consul_service_metadata_version_major: '2',
        __meta_consul_tagged_address_lan: '10.0.0.1',
        __meta_consul_tagged_address_wan: '198.51.100.1',
      },
    });
    expect(rec.latest.find((g) => g.source === 'db')?.labels.__meta_consul_service_address).toBe('10.9.0.5');
    expect(rec.errors).toEqual([]);

    expect(fake.requests.every((r) => r.token === 'tok-123' && !r.path.startsWith('(outside prefix)'))).toBe(true);
    expect(fake.requests[0]!.path).toBe('/v1/agent/self');
    const catalog = fake.requestsTo('/v1/catalog/services')[0]!;
    expect(Object.fromEntries(catalog.query)).toEqual({ ns: 'team-a', partition: 'part-1', stale: '', wait: '120000ms', filter: 'Service.Port > 0', 'node-meta': 'rack:r-1' });
    const health = fake.requestsTo('/v1/health/service/web')[0]!;
    expect(health.query.get('index')).toBeNull();
    expect(health.query.get('filter')).toBe('Service.Port > 0');
    expect(health.query.has('dc')).toBe(false); // learnt from the agent, as the Consul client leaves it unset
  });

  it('blocking queries: a service added, changed and removed propagates, each re-query sending the last X-Consul-Index', async () => {
    await run({}, { datacenter: 'dc1' });
    await rec.until('web and db', () => addresses(rec.latest).length === 2);
    const before = fake.index;
    fake.register({ node: 'node-3', address: '10.0.0.3', service: 'api', port: 9000 });
    await rec.until('api added', () => addresses(rec.latest).includes('10.0.0.3:9000'));
    expect(fake.requestsTo('/v1/catalog/services').some((r) => r.query.get('index') === String(before) && r.query.get('wait') === '120000ms' && r.query.get('dc') === 'dc1')).toBe(true);

    fake.register({ ...web, port: 8081 });
    await rec.until('web moved to 8081', () => addresses(rec.latest).includes('10.0.0.1:8081') && !addresses(rec.latest).includes('10.0.0.1:8080'));
    // Each re-query blocks on the index an earlier answer returned: present, never going back, and
    // reaching at least the index of the catalog before the change (which answer delivered it races).
    const indexes = fake.requestsTo('/v1/health/service/web').slice(1).map((r) => Number(r.query.get('index')));
    expect(indexes.length).toBeGreaterThan(0);
    expect(indexes.every((i, k) => i > 0 && (k === 0 || i >= indexes[k - 1]!))).toBe(true);
    expect(Math.max(...indexes)).toBeGreaterThanOrEqual(before);
    expect(Math.max(...indexes)).toBeLessThanOrEqual(fake.index);

    fake.deregister('api');
    await rec.until('api removed', () => !rec.latest.some((g) => g.source === 'api'));
    expect(addresses(rec.latest)).toEqual(['10.0.0.1:8081', '10.9.0.5:5432']);
  });

  it('tags: only services carrying every tag are watched, and health queries ask for the tags', async () => {
    await run({}, { tags: ['prod'] }, [web, db, { ...web, id: 'web-2', node: 'node-9', address: '10.0.0.9', tags: ['v1'] }]);
    await rec.until('the first update', () => rec.updates.length > 0);
    expect(addresses(rec.latest)).toEqual(['10.0.0.1:8080']);
    expect(fake.requestsTo('/v1/health/service/db')).toEqual([]);
    expect(fake.requestsTo('/v1/health/service/web')[0]!.query.getAll('tag')).toEqual(['prod']);
  });

  it('services without tags: those services are watched directly (no catalog), a missing one has no targets', async () => {
    await run({}, { services: ['db', 'nope'] });
    await rec.until('the first update', () => rec.updates.length > 0);
    expect(addresses(rec.latest)).toEqual(['10.9.0.5:5432']);
    expect(fake.requestsTo('/v1/catalog/services')).toEqual([]);
    expect(fake.requestsTo('/v1/health/service/nope')).not.toEqual([]);
  });

  it('a wrong token is reported with Consul’s answer and never echoed', async () => {
    await run({ token: 'right', datacenter: 'dc1' }, { token: 'wrong-secret', datacenter: 'dc1' });
    await rec.error(/watching the catalog: \/v1\/catalog\/services: HTTP status 403 Forbidden \(ACL not found\)/);
    expect(rec.errors.join('\n')).not.toContain('wrong-secret');
    expect(fake.requests[0]!.token).toBe('wrong-secret');
  });

  it('a failure keeps the last targets and is retried; an index that goes backwards restarts from 0', async () => {
    await run({}, { datacenter: 'dc1' });
    await rec.until('web and db', () => addresses(rec.latest).length === 2);
    fake.failNext('/v1/health/service/web', 500, 1);
    fake.register({ ...web, port: 8082 });
    await rec.error(/watching service web: \/v1\/health\/service\/web: HTTP status 500 Internal Server Error \(injected failure\); keeping its last targets/);
    await rec.until('web at 8082 after the retry', () => addresses(rec.latest).includes('10.0.0.1:8082'));

    const high = fake.index;
    expect(high).toBeGreaterThan(1);
    const seen = fake.requests.length;
    fake.setIndex(1);
    await fake.untilRequest('a catalog query without index after the reset', (r) => fake.requests.indexOf(r) >= seen && r.path === '/v1/catalog/services' && !r.query.has('index'));
    await fake.untilRequest('then one blocking at index 1', (r) => fake.requests.indexOf(r) >= seen && r.path === '/v1/catalog/services' && r.query.get('index') === '1');
    fake.register({ node: 'node-4', address: '10.0.0.4', service: 'late', port: 1 });
    await rec.until('a service added after the reset', () => addresses(rec.latest).includes('10.0.0.4:1'));
  });
});

describe('aggregatedStatus (Consul API)', () => {
  it('maintenance > critical > warning > passing; unknown status is empty; no checks is passing', () => {
    expect(aggregatedStatus([])).toBe('passing');
    expect(aggregatedStatus([{ CheckID: 'a', Status: 'passing' }, { CheckID: 'b', Status: 'critical' }])).toBe('critical');
    expect(aggregatedStatus([{ CheckID: '_service_maintenance:web-1', Status: 'critical' }, { CheckID: 'b', Status: 'critical' }])).toBe('maintenance');
    expect(aggregatedStatus([{ CheckID: 'a', Status: 'bogus' }])).toBe('');
  });
});
