import { describe, expect, it } from 'vitest';
import { buildGroups } from '../roles.js';
import { expectGroup, flatTargets, storeOf } from './testing.js';

const NONE = { node: false, namespace: false };

// The shapes of Prometheus's own endpoints tests, restated: a named/hosted address on a node, a
// subset with the same address ready and not ready, and an address whose target is a Node.
const endpoints = {
  metadata: { name: 'api', namespace: 'shop', annotations: { 'team.io/owner': 'web' } },
  subsets: [
    { addresses: [{ ip: '10.1.0.4', hostname: 'api-0', nodeName: 'node-a' }], ports: [{ name: 'http', port: 9000, protocol: 'TCP' }] },
    { addresses: [{ ip: '10.1.0.5' }], notReadyAddresses: [{ ip: '10.1.0.5' }], ports: [{ name: 'http', port: 9001, protocol: 'TCP' }] },
    { addresses: [{ ip: '192.168.0.3', targetRef: { kind: 'Node', name: 'node-b' } }], ports: [{ name: 'http', port: 9002, protocol: 'TCP' }] },
  ],
};
const epLabels = {
  __meta_kubernetes_namespace: 'shop',
  __meta_kubernetes_endpoints_name: 'api',
  __meta_kubernetes_endpoints_annotation_team_io_owner: 'web',
  __meta_kubernetes_endpoints_annotationpresent_team_io_owner: 'true',
};
const port = (n: string) => ({ __meta_kubernetes_endpoint_port_name: 'http', __meta_kubernetes_endpoint_port_protocol: 'TCP', __address__: n });
const plainTargets = [
  { ...port('10.1.0.4:9000'), __meta_kubernetes_endpoint_ready: 'true', __meta_kubernetes_endpoint_hostname: 'api-0', __meta_kubernetes_endpoint_node_name: 'node-a' },
  { ...port('10.1.0.5:9001'), __meta_kubernetes_endpoint_ready: 'true' },
  { ...port('10.1.0.5:9001'), __meta_kubernetes_endpoint_ready: 'false' },
  { ...port('192.168.0.3:9002'), __meta_kubernetes_endpoint_ready: 'true', __meta_kubernetes_endpoint_address_target_kind: 'Node', __meta_kubernetes_endpoint_address_target_name: 'node-b' },
];

const pod = {
  metadata: { name: 'api-0', namespace: 'shop', uid: 'p-1' },
  spec: {
    nodeName: 'node-a',
    initContainers: [
      { name: 'init-a', image: 'ia:1', ports: [{ name: 'init', containerPort: 1111, protocol: 'TCP' }] },
      { name: 'init-b', image: 'ib:1', ports: [{ name: 'init', containerPort: 9111, protocol: 'TCP' }] },
    ],
    containers: [
      { name: 'main', image: 'main:1', ports: [{ name: 'mainport', containerPort: 9000, protocol: 'TCP' }] },
      { name: 'side', image: 'side:1', ports: [{ name: 'sideport', containerPort: 9001, protocol: 'TCP' }] },
    ],
  },
  status: { podIP: '10.1.0.4', hostIP: '192.168.0.2' },
};
const podLabels = {
  __meta_kubernetes_pod_name: 'api-0',
  __meta_kubernetes_pod_ip: '10.1.0.4',
  __meta_kubernetes_pod_ready: 'unknown',
  __meta_kubernetes_pod_phase: '',
  __meta_kubernetes_pod_node_name: 'node-a',
  __meta_kubernetes_pod_host_ip: '192.168.0.2',
  __meta_kubernetes_pod_uid: 'p-1',
};
const podRef = { kind: 'Pod', name: 'api-0', namespace: 'shop' };
const container = (name: string, image: string, portName: string, n: string, init: boolean) => ({
  __meta_kubernetes_pod_container_name: name,
  __meta_kubernetes_pod_container_image: image,
  __meta_kubernetes_pod_container_port_name: portName,
  __meta_kubernetes_pod_container_port_number: n,
  __meta_kubernetes_pod_container_port_protocol: 'TCP',
  __meta_kubernetes_pod_container_init: String(init),
});

describe('role endpoints', () => {
  it('makes a target per subset port and address, ready and not ready', () => {
    expect(flatTargets(buildGroups('endpoints', { endpoints: storeOf([endpoints]) }, NONE))).toEqual(expectGroup('endpoints/shop/api', epLabels, plainTargets));
  });

  it('adds the same-named service’s labels to the group', () => {
    const svc = { metadata: { name: 'api', namespace: 'shop', labels: { 'app/name': 'api' } } };
    const groups = buildGroups('endpoints', { endpoints: storeOf([endpoints]), services: storeOf([svc]) }, NONE);
    expect(flatTargets(groups)).toEqual(
      expectGroup(
        'endpoints/shop/api',
        { ...epLabels, __meta_kubernetes_service_name: 'api', __meta_kubernetes_service_label_app_name: 'api', __meta_kubernetes_service_labelpresent_app_name: 'true' },
        plainTargets,
      ),
    );
  });

  it('adds pod and matching container labels, init containers included, and targets for the pod’s uncovered ports', () => {
    const eps = {
      metadata: { name: 'api', namespace: 'shop' },
      subsets: [{ addresses: [{ ip: '10.1.0.4', targetRef: podRef }], ports: [{ name: 'web', port: 9000, protocol: 'TCP' }, { name: 'initport', port: 9111, protocol: 'TCP' }] }],
    };
    const groups = buildGroups('endpoints', { endpoints: storeOf([eps]), pods: storeOf([pod]) }, NONE);
    const ref = { __meta_kubernetes_endpoint_address_target_kind: 'Pod', __meta_kubernetes_endpoint_address_target_name: 'api-0', __meta_kubernetes_endpoint_ready: 'true', __meta_kubernetes_endpoint_port_protocol: 'TCP' };
    expect(flatTargets(groups)).toEqual(
      expectGroup('endpoints/shop/api', { __meta_kubernetes_namespace: 'shop', __meta_kubernetes_endpoints_name: 'api' }, [
        { __address__: '10.1.0.4:9000', ...ref, __meta_kubernetes_endpoint_port_name: 'web', ...podLabels, ...container('main', 'main:1', 'mainport', '9000', false) },
        { __address__: '10.1.0.4:9111', ...ref, __meta_kubernetes_endpoint_port_name: 'initport', ...podLabels, ...container('init-b', 'ib:1', 'init', '9111', true) },
        // Not behind the endpoints: side's 9001 and init-a's 1111 (no endpoint labels).
        { __address__: '10.1.0.4:9001', ...podLabels, ...container('side', 'side:1', 'sideport', '9001', false) },
        { __address__: '10.1.0.4:1111', ...podLabels, ...container('init-a', 'ia:1', 'init', '1111', true) },
      ]),
    );
  });

  it('attach_metadata.node: the address’s nodeName, else a Node target ref', () => {
    const nodes = storeOf([
      { metadata: { name: 'node-a', labels: { az: 'east' } } },
      { metadata: { name: 'node-b', labels: { az: 'west' } } },
    ]);
    const t = flatTargets(buildGroups('endpoints', { endpoints: storeOf([endpoints]), nodes }, { node: true, namespace: false }));
    expect(t.map((x) => [x.address, x.labels.__meta_kubernetes_node_name, x.labels.__meta_kubernetes_node_label_az])).toEqual([
      ['10.1.0.4:9000', 'node-a', 'east'],
      ['10.1.0.5:9001', undefined, undefined],
      ['10.1.0.5:9001', undefined, undefined],
      ['192.168.0.3:9002', 'node-b', 'west'],
    ]);
  });

  it('attach_metadata.namespace adds the namespace’s labels to the group', () => {
    const namespaces = storeOf([{ metadata: { name: 'shop', labels: { env: 'prod' } } }]);
    const [g] = buildGroups('endpoints', { endpoints: storeOf([endpoints]), namespaces }, { node: false, namespace: true });
    expect(g!.labels).toMatchObject({ __meta_kubernetes_namespace_label_env: 'prod', __meta_kubernetes_namespace_labelpresent_env: 'true' });
  });

  it('skips uncovered ports of a pod without an IP; an unknown pod is a plain target', () => {
    const eps = { metadata: { name: 'api', namespace: 'shop' }, subsets: [{ addresses: [{ ip: '10.1.0.4', targetRef: podRef }], ports: [{ name: 'web', port: 9000, protocol: 'TCP' }] }] };
    const noIp = { ...pod, status: {} };
    expect(flatTargets(buildGroups('endpoints', { endpoints: storeOf([eps]), pods: storeOf([noIp]) }, NONE)).map((t) => t.address)).toEqual(['10.1.0.4:9000']);
    const [only] = flatTargets(buildGroups('endpoints', { endpoints: storeOf([eps]), pods: storeOf([]) }, NONE));
    expect(only!.labels).not.toHaveProperty('__meta_kubernetes_pod_name');
  });
});

const slice = {
  metadata: { name: 'api-x7k2p', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'api' }, annotations: { note: 'n' } },
  addressType: 'IPv4',
  endpoints: [
    {
      addresses: ['10.1.0.4'],
      conditions: { ready: true, serving: true, terminating: false },
      hostname: 'api-0',
      nodeName: 'node-a',
      zone: 'z1',
      deprecatedTopology: { 'topology.kubernetes.io/region': 'r1' },
      targetRef: podRef,
    },
    { addresses: ['192.168.0.3'], conditions: {}, targetRef: { kind: 'Node', name: 'node-b' } },
  ],
  ports: [{ name: 'web', port: 9000, protocol: 'TCP', appProtocol: 'http' }, { name: 'bare' }],
};

describe('role endpointslice', () => {
  it('makes a target per endpoint × port × address with the slice labels, service and pod labels, and uncovered pod ports', () => {
    const svc = { metadata: { name: 'api', namespace: 'shop', labels: { app: 'api' } } };
    const groups = buildGroups('endpointslice', { endpointslices: storeOf([slice]), services: storeOf([svc]), pods: storeOf([pod]) }, NONE);
    const first = {
      __meta_kubernetes_endpointslice_endpoint_conditions_ready: 'true',
      __meta_kubernetes_endpointslice_endpoint_conditions_serving: 'true',
      __meta_kubernetes_endpointslice_endpoint_conditions_terminating: 'false',
      __meta_kubernetes_endpointslice_endpoint_hostname: 'api-0',
      __meta_kubernetes_endpointslice_endpoint_node_name: 'node-a',
      __meta_kubernetes_endpointslice_endpoint_zone: 'z1',
      __meta_kubernetes_endpointslice_endpoint_topology_topology_kubernetes_io_region: 'r1',
      __meta_kubernetes_endpointslice_endpoint_topology_present_topology_kubernetes_io_region: 'true',
      __meta_kubernetes_endpointslice_address_target_kind: 'Pod',
      __meta_kubernetes_endpointslice_address_target_name: 'api-0',
      ...podLabels,
    };
    const nodeRef = { __meta_kubernetes_endpointslice_address_target_kind: 'Node', __meta_kubernetes_endpointslice_address_target_name: 'node-b' };
    const webPort = { __meta_kubernetes_endpointslice_port_name: 'web', __meta_kubernetes_endpointslice_port_protocol: 'TCP', __meta_kubernetes_endpointslice_port: '9000', __meta_kubernetes_endpointslice_port_app_protocol: 'http' };
    expect(flatTargets(groups).sort(byAddress)).toEqual(
      expectGroup(
        'endpointslice/shop/api-x7k2p',
        {
          __meta_kubernetes_namespace: 'shop',
          __meta_kubernetes_endpointslice_address_type: 'IPv4',
          __meta_kubernetes_endpointslice_name: 'api-x7k2p',
          __meta_kubernetes_endpointslice_label_kubernetes_io_service_name: 'api',
          __meta_kubernetes_endpointslice_labelpresent_kubernetes_io_service_name: 'true',
          __meta_kubernetes_endpointslice_annotation_note: 'n',
          __meta_kubernetes_endpointslice_annotationpresent_note: 'true',
          __meta_kubernetes_service_name: 'api',
          __meta_kubernetes_service_label_app: 'api',
          __meta_kubernetes_service_labelpresent_app: 'true',
        },
        [
          { __address__: '10.1.0.4:9000', ...first, ...webPort, ...container('main', 'main:1', 'mainport', '9000', false) },
          // A port without a number: the bare address, no container match.
          { __address__: '10.1.0.4', ...first, __meta_kubernetes_endpointslice_port_name: 'bare' },
          { __address__: '192.168.0.3:9000', ...nodeRef, ...webPort },
          { __address__: '192.168.0.3', ...nodeRef, __meta_kubernetes_endpointslice_port_name: 'bare' },
          { __address__: '10.1.0.4:1111', ...podLabels, ...container('init-a', 'ia:1', 'init', '1111', true) },
          { __address__: '10.1.0.4:9111', ...podLabels, ...container('init-b', 'ib:1', 'init', '9111', true) },
          { __address__: '10.1.0.4:9001', ...podLabels, ...container('side', 'side:1', 'sideport', '9001', false) },
        ],
      ).sort(byAddress),
    );
  });

  it('attach_metadata.node: a Node target ref, else the endpoint’s nodeName', () => {
    const nodes = storeOf([{ metadata: { name: 'node-a' } }, { metadata: { name: 'node-b' } }]);
    const t = flatTargets(buildGroups('endpointslice', { endpointslices: storeOf([slice]), nodes }, { node: true, namespace: false }));
    expect(t.map((x) => x.labels.__meta_kubernetes_node_name)).toEqual(['node-a', 'node-a', 'node-b', 'node-b']);
  });

  it('no service label or no service: no service labels', () => {
    const lone = { ...slice, metadata: { name: 'lone', namespace: 'shop' } };
    const [g] = buildGroups('endpointslice', { endpointslices: storeOf([lone]), services: storeOf([{ metadata: { name: 'lone', namespace: 'shop' } }]) }, NONE);
    expect(g!.labels).not.toHaveProperty('__meta_kubernetes_service_name');
  });
});

/** Uncovered pod ports come out in map order in Go; compare without depending on it. */
function byAddress(a: { address: string }, b: { address: string }): number {
  return a.address < b.address ? -1 : a.address > b.address ? 1 : 0;
}
