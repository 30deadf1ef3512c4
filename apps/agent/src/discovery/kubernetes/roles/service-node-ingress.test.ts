import { describe, expect, it } from 'vitest';
import { buildGroups } from '../roles.js';
import { parseGoIp, sanitizeLabelName } from './common.js';
import { matchesHostnamePattern } from './ingress.js';
import { expectGroup, flatTargets, storeOf } from './testing.js';

const NONE = { node: false, namespace: false };

describe('label-name sanitising (strutil.SanitizeLabelName)', () => {
  it('replaces every character outside [a-zA-Z0-9_] by one underscore, keeping case and leading digits', () => {
    expect(sanitizeLabelName('app.kubernetes.io/name')).toBe('app_kubernetes_io_name');
    expect(sanitizeLabelName('Cost-Center')).toBe('Cost_Center');
    expect(sanitizeLabelName('9lives')).toBe('9lives');
    // One underscore per code point, as Go's regexp works on runes.
    expect(sanitizeLabelName('zoné🙂x')).toBe('zon__x');
  });

  it('reads IPs as Go does: IPv4-mapped IPv6 is IPv4, zones are not IPs', () => {
    expect(parseGoIp('10.0.0.1')).toEqual({ family: 'v4' });
    expect(parseGoIp('::ffff:10.0.0.1')).toEqual({ family: 'v4' });
    expect(parseGoIp('2001:0db8::0001')).toEqual({ family: 'v6', canonical: '2001:db8::1' });
    expect(parseGoIp('fe80::1%eth0')).toBeUndefined();
    expect(parseGoIp('node-a')).toBeUndefined();
  });
});

describe('role service', () => {
  const svc = (spec: object) => ({ metadata: { name: 'api', namespace: 'shop', labels: { app: 'api' }, annotations: { 'prometheus.io/probe': 'true' } }, spec });
  const group = {
    __meta_kubernetes_namespace: 'shop',
    __meta_kubernetes_service_name: 'api',
    __meta_kubernetes_service_label_app: 'api',
    __meta_kubernetes_service_labelpresent_app: 'true',
    __meta_kubernetes_service_annotation_prometheus_io_probe: 'true',
    __meta_kubernetes_service_annotationpresent_prometheus_io_probe: 'true',
  };

  it('makes one target per port at <name>.<namespace>.svc:<port> with the cluster IP', () => {
    const s = svc({ type: 'ClusterIP', clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }] });
    const port = (name: string, n: string, proto: string) => ({
      __address__: `api.shop.svc:${n}`,
      __meta_kubernetes_service_port_name: name,
      __meta_kubernetes_service_port_number: n,
      __meta_kubernetes_service_port_protocol: proto,
      __meta_kubernetes_service_type: 'ClusterIP',
      __meta_kubernetes_service_cluster_ip: '10.96.0.10',
    });
    expect(flatTargets(buildGroups('service', { services: storeOf([s]) }, NONE))).toEqual(expectGroup('svc/shop/api', group, [port('http', '80', 'TCP'), port('dns', '53', 'UDP')]));
  });

  it('ExternalName: the external name instead of the cluster IP; LoadBalancer: also the load balancer IP', () => {
    const [ext] = flatTargets(buildGroups('service', { services: storeOf([svc({ type: 'ExternalName', externalName: 'db.example.com', ports: [{ port: 5432 }] })]) }, NONE));
    expect(ext!.labels).toMatchObject({ __meta_kubernetes_service_external_name: 'db.example.com', __meta_kubernetes_service_type: 'ExternalName' });
    expect(ext!.labels).not.toHaveProperty('__meta_kubernetes_service_cluster_ip');
    const [lb] = flatTargets(buildGroups('service', { services: storeOf([svc({ type: 'LoadBalancer', clusterIP: '10.96.0.11', loadBalancerIP: '203.0.113.9', ports: [{ port: 443 }] })]) }, NONE));
    expect(lb!.labels).toMatchObject({ __meta_kubernetes_service_cluster_ip: '10.96.0.11', __meta_kubernetes_service_loadbalancer_ip: '203.0.113.9' });
  });

  it('attach_metadata.namespace adds namespace labels; a service without ports has no targets', () => {
    const namespaces = storeOf([{ metadata: { name: 'shop', annotations: { owner: 'web' } } }]);
    const [g] = buildGroups('service', { services: storeOf([svc({ ports: [{ port: 80 }] })]), namespaces }, { node: false, namespace: true });
    expect(g!.labels).toMatchObject({ __meta_kubernetes_namespace_annotation_owner: 'web', __meta_kubernetes_namespace_annotationpresent_owner: 'true' });
    expect(buildGroups('service', { services: storeOf([svc({})]) }, NONE)).toEqual([]);
  });
});

describe('role node', () => {
  const node = (addresses: Array<{ type: string; address: string }>, port = 10250) => ({
    metadata: { name: 'node-a', labels: { 'kubernetes.io/arch': 'amd64' }, annotations: { 'node.alpha.kubernetes.io/ttl': '0' } },
    spec: { providerID: 'aws:///eu-west-1a/i-0abc' },
    status: { addresses, daemonEndpoints: { kubeletEndpoint: { Port: port } } },
  });

  it('one target at the InternalIP with the kubelet port, instance = node name, the first address of every type', () => {
    const n = node([
      { type: 'Hostname', address: 'ip-10-0-1-5' },
      { type: 'ExternalIP', address: '203.0.113.5' },
      { type: 'InternalIP', address: '10.0.1.5' },
      { type: 'InternalIP', address: '10.0.1.6' },
    ]);
    expect(flatTargets(buildGroups('node', { nodes: storeOf([n]) }, NONE))).toEqual(
      expectGroup(
        'node/node-a',
        {
          __meta_kubernetes_node_name: 'node-a',
          __meta_kubernetes_node_provider_id: 'aws:///eu-west-1a/i-0abc',
          __meta_kubernetes_node_label_kubernetes_io_arch: 'amd64',
          __meta_kubernetes_node_labelpresent_kubernetes_io_arch: 'true',
          __meta_kubernetes_node_annotation_node_alpha_kubernetes_io_ttl: '0',
          __meta_kubernetes_node_annotationpresent_node_alpha_kubernetes_io_ttl: 'true',
        },
        [
          {
            __address__: '10.0.1.5:10250',
            instance: 'node-a',
            __meta_kubernetes_node_address_Hostname: 'ip-10-0-1-5',
            __meta_kubernetes_node_address_ExternalIP: '203.0.113.5',
            __meta_kubernetes_node_address_InternalIP: '10.0.1.5',
          },
        ],
      ),
    );
  });

  it('picks addresses in Prometheus’s order; brackets IPv6; no address, no group', () => {
    const pick = (addresses: Array<{ type: string; address: string }>) => flatTargets(buildGroups('node', { nodes: storeOf([node(addresses)]) }, NONE))[0]?.address;
    expect(pick([{ type: 'Hostname', address: 'h' }, { type: 'LegacyHostIP', address: '10.9.9.9' }])).toBe('10.9.9.9:10250');
    expect(pick([{ type: 'ExternalDNS', address: 'n.example.com' }, { type: 'ExternalIP', address: '203.0.113.5' }])).toBe('203.0.113.5:10250');
    expect(pick([{ type: 'ExternalIP', address: '203.0.113.5' }, { type: 'InternalDNS', address: 'n.internal' }])).toBe('n.internal:10250');
    expect(pick([{ type: 'InternalIP', address: 'fd00::5' }])).toBe('[fd00::5]:10250');
    expect(pick([{ type: 'Weird', address: 'x' }])).toBeUndefined();
    expect(buildGroups('node', { nodes: storeOf([node([])]) }, NONE)).toEqual([]);
  });
});

describe('role ingress', () => {
  const ing = {
    metadata: { name: 'shop', namespace: 'web', labels: { app: 'shop' } },
    spec: {
      ingressClassName: 'nginx',
      tls: [{ hosts: ['*.example.com'] }],
      rules: [
        { host: 'shop.example.com', http: { paths: [{ path: '/' }, { path: '/api' }, { path: '' }] } },
        { host: 'admin.internal' },
        { host: 'a.b.example.com', http: { paths: [] } },
      ],
    },
  };

  it('one target per rule path at the host, https when a TLS host pattern matches, "/" for empty and missing paths', () => {
    const t = (host: string, path: string, scheme: string) => ({ __address__: host, __meta_kubernetes_ingress_host: host, __meta_kubernetes_ingress_path: path, __meta_kubernetes_ingress_scheme: scheme });
    expect(flatTargets(buildGroups('ingress', { ingresses: storeOf([ing]) }, NONE))).toEqual(
      expectGroup(
        'ingress/web/shop',
        {
          __meta_kubernetes_namespace: 'web',
          __meta_kubernetes_ingress_name: 'shop',
          __meta_kubernetes_ingress_class_name: 'nginx',
          __meta_kubernetes_ingress_label_app: 'shop',
          __meta_kubernetes_ingress_labelpresent_app: 'true',
        },
        // a.b.example.com has an http block without paths: no target.
        [t('shop.example.com', '/', 'https'), t('shop.example.com', '/api', 'https'), t('shop.example.com', '/', 'https'), t('admin.internal', '/', 'http')],
      ),
    );
  });

  it('wildcards match exactly one leading label', () => {
    expect(matchesHostnamePattern('*.example.com', 'shop.example.com')).toBe(true);
    expect(matchesHostnamePattern('*.example.com', 'a.b.example.com')).toBe(false);
    expect(matchesHostnamePattern('*.example.com', 'example.com')).toBe(false);
    expect(matchesHostnamePattern('shop.example.com', 'shop.example.com')).toBe(true);
  });
});
