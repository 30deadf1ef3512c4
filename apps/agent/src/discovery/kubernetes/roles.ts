import type { TargetGroup } from '../discovery.js';
import type { BuildGroups, KubeObject, ObjectStore, ResourceKind, ResourcesFor } from './contract.js';
import type { BuildContext } from './roles/common.js';
import { buildEndpointsGroups, parseEndpoints } from './roles/endpoints.js';
import { buildEndpointSliceGroups, parseEndpointSlice } from './roles/endpointslice.js';
import { buildIngressGroups, parseIngress } from './roles/ingress.js';
import { buildNodeGroups, parseNode } from './roles/node.js';
import { buildPodGroups, parsePod } from './roles/pod.js';
import { buildServiceGroups, parseService } from './roles/service.js';

/**
 * The kinds a role watches, as Prometheus's informers: the role's own kind; pods and services for
 * the endpoints roles; nodes for `attach_metadata.node` (pod, endpoints, endpointslice only);
 * namespaces for `attach_metadata.namespace` (every namespaced role).
 */
export const resourcesFor: ResourcesFor = (role, attach) => {
  const kinds: ResourceKind[] = [];
  switch (role) {
    case 'pod':
      kinds.push('pods');
      break;
    case 'service':
      kinds.push('services');
      break;
    case 'endpoints':
      kinds.push('endpoints', 'services', 'pods');
      break;
    case 'endpointslice':
      kinds.push('endpointslices', 'services', 'pods');
      break;
    case 'node':
      return ['nodes'];
    case 'ingress':
      kinds.push('ingresses');
      break;
  }
  if (attach.node && (role === 'pod' || role === 'endpoints' || role === 'endpointslice')) kinds.push('nodes');
  if (attach.namespace) kinds.push('namespaces');
  return kinds;
};

function each<T>(store: ObjectStore | undefined, parse: (o: KubeObject) => T | undefined, build: (o: T) => TargetGroup[]): TargetGroup[] {
  if (!store) return [];
  const out: TargetGroup[] = [];
  for (const obj of store.values()) {
    const parsed = parse(obj);
    // Malformed objects (a field of the wrong type, no name) are skipped, one at a time.
    if (parsed !== undefined) out.push(...build(parsed));
  }
  return out;
}

/**
 * Every target group of the role from the current objects (see the contract). Each Prometheus
 * target is one group of one address carrying the group's and the target's labels, with the
 * object's source; a role whose own store is missing yields nothing, a missing helper store
 * (services, pods, nodes, namespaces) only leaves its labels out.
 */
export const buildGroups: BuildGroups = (role, sources, attachMetadata) => {
  const ctx: BuildContext = { sources, attach: attachMetadata };
  switch (role) {
    case 'pod':
      return each(sources.pods, parsePod, (p) => buildPodGroups(p, ctx));
    case 'service':
      return each(sources.services, parseService, (s) => buildServiceGroups(s, ctx));
    case 'endpoints':
      return each(sources.endpoints, parseEndpoints, (e) => buildEndpointsGroups(e, ctx));
    case 'endpointslice':
      return each(sources.endpointslices, parseEndpointSlice, (e) => buildEndpointSliceGroups(e, ctx));
    case 'node':
      return each(sources.nodes, parseNode, buildNodeGroups);
    case 'ingress':
      return each(sources.ingresses, parseIngress, (i) => buildIngressGroups(i, ctx));
    default:
      return [];
  }
};
