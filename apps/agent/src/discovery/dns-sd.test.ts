import type { DnsSdConfig } from '@fleet/pipeline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DnsDiscoverer } from './dns-sd.js';
import { FakeDnsServer } from './test-support/dns-server.js';
import { Recorder, addresses } from './test-support/recorder.js';

const empty = { __meta_dns_srv_record_target: '', __meta_dns_srv_record_port: '', __meta_dns_mx_record_target: '', __meta_dns_ns_record_target: '' };

describe('DnsDiscoverer (loopback DNS server)', () => {
  let server: FakeDnsServer;
  let discoverer: DnsDiscoverer | null = null;
  let rec: Recorder;

  beforeEach(async () => {
    server = new FakeDnsServer();
    await server.start();
    rec = new Recorder();
  });
  afterEach(async () => {
    discoverer?.stop();
    discoverer = null;
    await server.stop();
  });

  const run = (config: Partial<DnsSdConfig> & Pick<DnsSdConfig, 'names' | 'type'>, env: NodeJS.ProcessEnv = { FLEET_DNS_SERVERS: server.address }) => {
    discoverer = new DnsDiscoverer({ port: 9100, refreshIntervalMs: 50, ...config }, rec.deps(env));
    rec.start(discoverer);
  };

  it('A: one group per name, ip:port targets, the Prometheus labels; a refresh picks up a change', async () => {
    server.set('web.example.test', [
      { type: 'A', data: '10.0.0.1' },
      { type: 'A', data: '10.0.0.2' },
    ]);
    run({ names: ['web.example.test'], type: 'A' });
    await rec.until('the first update', () => rec.updates.length > 0);
    expect(rec.latest).toEqual([
      { source: 'web.example.test', targets: ['10.0.0.1:9100', '10.0.0.2:9100'], labels: { __meta_dns_name: 'web.example.test', ...empty } },
    ]);

    server.set('web.example.test', [{ type: 'A', data: '10.0.0.3' }]);
    await rec.until('the changed address', () => addresses(rec.latest).join() === '10.0.0.3:9100');
    expect(rec.errors).toEqual([]);
    expect(server.queries.every((q) => q.type === 'A' && q.name === 'web.example.test')).toBe(true);
  });

  it('AAAA: IPv6 addresses are bracketed', async () => {
    server.set('v6.example.test', [{ type: 'AAAA', data: '2001:db8::7' }]);
    run({ names: ['v6.example.test'], type: 'AAAA', port: 8080 });
    await rec.until('the first update', () => rec.updates.length > 0);
    expect(rec.latest).toEqual([{ source: 'v6.example.test', targets: ['[2001:db8::7]:8080'], labels: { __meta_dns_name: 'v6.example.test', ...empty } }]);
  });

  it('SRV: target:port from each record (dot trimmed), record labels keep the root dot; a truncated UDP answer is re-asked over TCP', async () => {
    const records = Array.from({ length: 25 }, (_, i) => ({ type: 'SRV' as const, data: { port: 9000 + i, target: `node-${i}.example.test.` } }));
    server.set('_metrics._tcp.example.test', records);
    run({ names: ['_metrics._tcp.example.test'], type: 'SRV', port: 0 });
    await rec.until('the first update', () => rec.updates.length > 0);
    expect(addresses(rec.latest)).toEqual(records.map((r) => `${r.data.target.slice(0, -1)}:${r.data.port}`).sort());
    expect(rec.latest.find((g) => g.targets[0] === 'node-3.example.test:9003')).toEqual({
      source: '_metrics._tcp.example.test',
      targets: ['node-3.example.test:9003'],
      labels: { ...empty, __meta_dns_name: '_metrics._tcp.example.test', __meta_dns_srv_record_target: 'node-3.example.test.', __meta_dns_srv_record_port: '9003' },
    });
    expect(rec.latest.every((g) => g.source === '_metrics._tcp.example.test')).toBe(true);
    expect(server.queries.some((q) => q.transport === 'tcp' && q.type === 'SRV')).toBe(true);
  });

  it('MX and NS: host:port with the configured port and their record labels', async () => {
    server.set('example.test', [
      { type: 'MX', data: { exchange: 'mail.example.test' } },
      { type: 'NS', data: 'ns1.example.test' },
    ]);
    run({ names: ['example.test'], type: 'MX', port: 25 });
    await rec.until('the MX update', () => rec.updates.length > 0);
    expect(rec.latest).toEqual([
      { source: 'example.test', targets: ['mail.example.test:25'], labels: { ...empty, __meta_dns_name: 'example.test', __meta_dns_mx_record_target: 'mail.example.test.' } },
    ]);
    discoverer!.stop();

    const ns = new Recorder();
    discoverer = new DnsDiscoverer({ names: ['example.test'], type: 'NS', port: 53, refreshIntervalMs: 50 }, ns.deps({ FLEET_DNS_SERVERS: server.address }));
    ns.start(discoverer);
    await ns.until('the NS update', () => ns.updates.length > 0);
    expect(ns.latest).toEqual([
      { source: 'example.test', targets: ['ns1.example.test:53'], labels: { ...empty, __meta_dns_name: 'example.test', __meta_dns_ns_record_target: 'ns1.example.test.' } },
    ]);
  });

  it('NXDOMAIN is reported and removes the name’s targets (as Prometheus); SERVFAIL is reported and keeps the last good ones', async () => {
    server.set('a.example.test', [{ type: 'A', data: '10.1.0.1' }]);
    server.set('b.example.test', [{ type: 'A', data: '10.2.0.1' }]);
    run({ names: ['a.example.test', 'b.example.test'], type: 'A' });
    await rec.until('both names', () => addresses(rec.latest).length === 2);

    server.fail('b.example.test', 'SERVFAIL');
    await rec.error(/dns_sd A b\.example\.test: the server failed \(SERVFAIL\); keeping its last targets/);
    expect(addresses(rec.latest)).toEqual(['10.1.0.1:9100', '10.2.0.1:9100']);

    server.remove('a.example.test');
    await rec.error(/dns_sd A a\.example\.test: no such name \(NXDOMAIN\)/);
    await rec.until('a.example.test gone', () => addresses(rec.latest).join() === '10.2.0.1:9100');
    expect(rec.latest.map((g) => g.source)).toEqual(['b.example.test']);
  });

  it('a name that never resolved has no group, and the first update still comes', async () => {
    run({ names: ['missing.example.test'], type: 'A' });
    await rec.error(/missing\.example\.test: no such name \(NXDOMAIN\)/);
    await rec.until('the first update', () => rec.updates.length > 0);
    expect(rec.latest).toEqual([]);
  });

  it('a malformed FLEET_DNS_SERVERS is reported, naming the variable, and nothing is looked up elsewhere', async () => {
    run({ names: ['x.example.test'], type: 'A' }, { FLEET_DNS_SERVERS: 'not a server:xx' });
    await rec.error(/^dns_sd: FLEET_DNS_SERVERS "not a server:xx": .*no lookups until it is fixed$/);
    expect(rec.updates).toEqual([[]]);
  });
});
