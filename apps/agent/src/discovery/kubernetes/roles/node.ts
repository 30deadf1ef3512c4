import { z } from 'zod';
import type { TargetGroup } from '../../discovery.js';
import {
  META,
  addObjectMetaLabels,
  cachedParser,
  flatten,
  joinHostPort,
  list,
  metadataSchema,
  num,
  sanitizeLabelName,
  str,
  struct,
  type LabelSet,
} from './common.js';

/** `corev1.Node`, the fields discovery reads (the kubelet port's JSON name is `Port`). */
export const nodeSchema = z.object({
  metadata: metadataSchema,
  spec: struct({ providerID: str }),
  status: struct({
    addresses: list(z.object({ type: str, address: str })),
    daemonEndpoints: struct({ kubeletEndpoint: struct({ Port: num }) }),
  }),
});
/** A parsed node. */
export type Node = z.output<typeof nodeSchema>;

/** Parses (once per object) a node from its store; `undefined` = malformed. */
export const parseNode = cachedParser(nodeSchema);

/** The address types in the order Prometheus picks a node's address (`nodeAddress`). */
export const NODE_ADDRESS_PRIORITY = ['InternalIP', 'InternalDNS', 'ExternalIP', 'ExternalDNS', 'LegacyHostIP', 'Hostname'] as const;

/**
 * Role `node` (Prometheus's `buildNode`): one target at the first address by
 * {@link NODE_ADDRESS_PRIORITY} with the kubelet port, `instance` set to the node name, and
 * `__meta_kubernetes_node_address_<type>` (first address of each type); a node without a known
 * address has no group at all.
 */
export function buildNodeGroups(node: Node): TargetGroup[] {
  const byType = new Map<string, string[]>();
  for (const a of node.status.addresses) {
    const list = byType.get(a.type) ?? [];
    list.push(a.address);
    byType.set(a.type, list);
  }
  const type = NODE_ADDRESS_PRIORITY.find((t) => byType.has(t));
  if (type === undefined) return [];
  const labels: LabelSet = { [`${META}node_provider_id`]: node.spec.providerID };
  addObjectMetaLabels(labels, node.metadata, 'node');
  const target: LabelSet = {
    __address__: joinHostPort(byType.get(type)![0]!, String(node.status.daemonEndpoints.kubeletEndpoint.Port)),
    instance: node.metadata.name,
  };
  for (const [t, addresses] of byType) target[sanitizeLabelName(`${META}node_address_${t}`)] = addresses[0]!;
  return flatten(`node/${node.metadata.name}`, labels, [target]);
}
