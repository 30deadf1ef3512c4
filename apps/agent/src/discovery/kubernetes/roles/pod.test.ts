import { describe, expect, it } from 'vitest';
import { buildGroups, resourcesFor } from '../roles.js';
import { expectGroup, flatTargets, storeOf } from './testing.js';

const NONE = { node: false, namespace: false };

function pod(overrides: { metadata?: object; spec?: object; status?: object } = {}) {
  return {
    metadata: { name: 'web-0', namespace: 'shop', uid: 'u-1', ...overrides.metadata },
    spec: {
      nodeName: 'node-a',
      containers: [{ name: 'app', image: 'app:1', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }],
      ...overrides.spec,
    },
    status: {
      podIP: '10.1.0.5',
      hostIP: '192.168.0.2',
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'True' }],
      containerStatuses: [{ name: 'app', containerID: 'containerd://aaa' }],
      ...overrides.status,
    },
  };
}

const baseLabels = {
  __meta_kubernetes_namespace: 'shop',
  __meta_kubernetes_pod_name: 'web-0',
  __meta_kubernetes_pod_ip: '10.1.0.5',
  __meta_kubernetes_pod_ready: 'true',
  __meta_kubernetes_pod_phase: 'Running',
  __meta_kubernetes_pod_node_name: 'node-a',
  __meta_kubernetes_pod_host_ip: '192.168.0.2',
  __meta_kubernetes_pod_uid: 'u-1',
};

const appTarget = {
  __address__: '10.1.0.5:8080',
  __meta_kubernetes_pod_container_name: 'app',
  __meta_kubernetes_pod_container_id: 'containerd://aaa',
  __meta_kubernetes_pod_container_image: 'app:1',
  __meta_kubernetes_pod_container_port_name: 'http',
  __meta_kubernetes_pod_container_port_number: '8080',
  __meta_kubernetes_pod_container_port_protocol: 'TCP',
  __meta_kubernetes_pod_container_init: 'false',
};

describe('role pod', () => {
  it('makes one target per container port and one per container without ports, with labels, annotations and controller', () => {
    const p = pod({
      metadata: {
        labels: { 'app.kubernetes.io/name': 'web' },
        annotations: { 'prometheus.io/scrape': 'true' },
        ownerReferences: [
          { kind: 'Node', name: 'not-a-controller' },
          { kind: 'ReplicaSet', name: 'web-7d9', controller: true },
        ],
      },
      spec: {
        containers: [
          { name: 'app', image: 'app:1', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }, { name: 'dns', containerPort: 53, protocol: 'UDP' }] },
          { name: 'sidecar', image: 'side:2' },
        ],
      },
      status: { containerStatuses: [{ name: 'app', containerID: 'containerd://aaa' }] },
    });
    const groups = buildGroups('pod', { pods: storeOf([p]) }, NONE);
    expect(flatTargets(groups)).toEqual(
      expectGroup(
        'pod/shop/web-0',
        {
          ...baseLabels,
          __meta_kubernetes_pod_label_app_kubernetes_io_name: 'web',
          __meta_kubernetes_pod_labelpresent_app_kubernetes_io_name: 'true',
          __meta_kubernetes_pod_annotation_prometheus_io_scrape: 'true',
          __meta_kubernetes_pod_annotationpresent_prometheus_io_scrape: 'true',
          __meta_kubernetes_pod_controller_kind: 'ReplicaSet',
          __meta_kubernetes_pod_controller_name: 'web-7d9',
        },
        [
          appTarget,
          { ...appTarget, __address__: '10.1.0.5:53', __meta_kubernetes_pod_container_port_name: 'dns', __meta_kubernetes_pod_container_port_number: '53', __meta_kubernetes_pod_container_port_protocol: 'UDP' },
          // No status for the sidecar: an empty container id, as Prometheus.
          { __address__: '10.1.0.5', __meta_kubernetes_pod_container_name: 'sidecar', __meta_kubernetes_pod_container_id: '', __meta_kubernetes_pod_container_image: 'side:2', __meta_kubernetes_pod_container_init: 'false' },
        ],
      ),
    );
    expect(new Set(groups.map((g) => g.source))).toEqual(new Set(['pod/shop/web-0']));
  });

  it('adds init containers (with their own statuses) after the containers; readiness false and phase Pending pass through', () => {
    const p = pod({
      spec: { initContainers: [{ name: 'migrate', image: 'migrate:1' }] },
      status: { phase: 'Pending', conditions: [{ type: 'Ready', status: 'False' }], initContainerStatuses: [{ name: 'migrate', containerID: 'containerd://bbb' }] },
    });
    expect(flatTargets(buildGroups('pod', { pods: storeOf([p]) }, NONE))).toEqual(
      expectGroup('pod/shop/web-0', { ...baseLabels, __meta_kubernetes_pod_ready: 'false', __meta_kubernetes_pod_phase: 'Pending' }, [
        appTarget,
        { __address__: '10.1.0.5', __meta_kubernetes_pod_container_name: 'migrate', __meta_kubernetes_pod_container_id: 'containerd://bbb', __meta_kubernetes_pod_container_image: 'migrate:1', __meta_kubernetes_pod_container_init: 'true' },
      ]),
    );
  });

  it('has no targets without a pod IP; readiness is "unknown" without a Ready condition', () => {
    expect(buildGroups('pod', { pods: storeOf([pod({ status: { podIP: '' } })]) }, NONE)).toEqual([]);
    const [g] = buildGroups('pod', { pods: storeOf([pod({ status: { conditions: [] } })]) }, NONE);
    expect(g!.labels.__meta_kubernetes_pod_ready).toBe('unknown');
  });

  it('brackets an IPv6 pod IP: canonical form without a port, as given with one; pod_ipv4/pod_ipv6 from podIPs', () => {
    const p = pod({
      spec: { containers: [{ name: 'app', image: 'app:1', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }, { name: 'bare', image: 'b:1' }] },
      status: { podIP: '2001:DB8:0:0:0:0:0:7', podIPs: [{ ip: '2001:DB8:0:0:0:0:0:7' }, { ip: '10.1.0.5' }, { ip: '10.1.0.6' }] },
    });
    const targets = flatTargets(buildGroups('pod', { pods: storeOf([p]) }, NONE));
    expect(targets.map((t) => t.address)).toEqual(['[2001:DB8:0:0:0:0:0:7]:8080', '[2001:db8::7]']);
    expect(targets[0]!.labels).toMatchObject({ __meta_kubernetes_pod_ipv6: '2001:DB8:0:0:0:0:0:7', __meta_kubernetes_pod_ipv4: '10.1.0.5' });
  });

  it('attach_metadata: node labels/annotations of the pod’s node and its namespace’s labels/annotations', () => {
    const nodes = storeOf([{ metadata: { name: 'node-a', labels: { 'topology.kubernetes.io/zone': 'z1' }, annotations: { owner: 'infra' } } }]);
    const namespaces = storeOf([{ metadata: { name: 'shop', labels: { team: 'web' }, annotations: { 'cost-center': 'cc-7' } } }]);
    const [g] = buildGroups('pod', { pods: storeOf([pod()]), nodes, namespaces }, { node: true, namespace: true });
    expect(g!.labels).toMatchObject({
      __meta_kubernetes_node_name: 'node-a',
      __meta_kubernetes_node_label_topology_kubernetes_io_zone: 'z1',
      __meta_kubernetes_node_labelpresent_topology_kubernetes_io_zone: 'true',
      __meta_kubernetes_node_annotation_owner: 'infra',
      __meta_kubernetes_node_annotationpresent_owner: 'true',
      __meta_kubernetes_namespace_label_team: 'web',
      __meta_kubernetes_namespace_labelpresent_team: 'true',
      __meta_kubernetes_namespace_annotation_cost_center: 'cc-7',
      __meta_kubernetes_namespace_annotationpresent_cost_center: 'true',
    });
    expect(g!.labels).not.toHaveProperty('__meta_kubernetes_namespace_name');
    // Off, or the node unknown: none of them.
    const [off] = buildGroups('pod', { pods: storeOf([pod()]), nodes, namespaces }, NONE);
    expect(Object.keys(off!.labels).filter((k) => k.startsWith('__meta_kubernetes_node_') || k.startsWith('__meta_kubernetes_namespace_'))).toEqual([]);
    const [unknown] = buildGroups('pod', { pods: storeOf([pod({ spec: { nodeName: 'node-z' } })]), nodes }, { node: true, namespace: false });
    expect(unknown!.labels).not.toHaveProperty('__meta_kubernetes_node_name');
  });

  it('skips a malformed pod and keeps the others; no store, no groups', () => {
    const bad = { metadata: { name: 'bad', namespace: 'shop' }, spec: { containers: 'not-a-list' } };
    const noName = { metadata: { namespace: 'shop' }, status: { podIP: '10.0.0.1' } };
    const groups = buildGroups('pod', { pods: storeOf([bad, noName, pod()]) }, NONE);
    expect(groups.map((g) => g.source)).toEqual(['pod/shop/web-0']);
    expect(buildGroups('pod', {}, NONE)).toEqual([]);
  });

  it('asks for pods, plus nodes and namespaces when metadata is attached', () => {
    expect(resourcesFor('pod', NONE)).toEqual(['pods']);
    expect(resourcesFor('pod', { node: true, namespace: true })).toEqual(['pods', 'nodes', 'namespaces']);
    expect(resourcesFor('endpoints', { node: true, namespace: false })).toEqual(['endpoints', 'services', 'pods', 'nodes']);
    expect(resourcesFor('endpointslice', NONE)).toEqual(['endpointslices', 'services', 'pods']);
    expect(resourcesFor('service', { node: true, namespace: true })).toEqual(['services', 'namespaces']);
    expect(resourcesFor('ingress', { node: true, namespace: false })).toEqual(['ingresses']);
    expect(resourcesFor('node', { node: true, namespace: true })).toEqual(['nodes']);
  });
});
