import { z } from 'zod';
import type { TargetGroup } from '../../discovery.js';
import {
  META,
  NAMESPACE_LABEL,
  addObjectMetaLabels,
  cachedParser,
  flatten,
  formatPort,
  joinHostPort,
  list,
  metadataSchema,
  namespacedName,
  objectRefSchema,
  optBool,
  optNum,
  optStr,
  sanitizeLabelName,
  str,
  stringMap,
  struct,
  withNamespaceLabels,
  withNodeLabels,
  type BuildContext,
  type LabelSet,
} from './common.js';
import { resolvePodRef, uncoveredPodPortTargets, type SeenPod } from './endpoints.js';
import { CONTAINER, allContainers, podLabels } from './pod.js';
import { lookupServiceLabels } from './service.js';

const endpointSchema = z.object({
  addresses: list(z.string()),
  conditions: struct({ ready: optBool, serving: optBool, terminating: optBool }),
  hostname: optStr,
  targetRef: objectRefSchema,
  nodeName: optStr,
  zone: optStr,
  deprecatedTopology: stringMap,
});
const portSchema = z.object({ name: optStr, protocol: optStr, port: optNum, appProtocol: optStr });

/** `discovery.k8s.io/v1` EndpointSlice, the fields discovery reads. */
export const endpointSliceSchema = z.object({
  metadata: metadataSchema,
  addressType: str,
  endpoints: list(endpointSchema),
  ports: list(portSchema),
});
/** A parsed EndpointSlice. */
export type EndpointSlice = z.output<typeof endpointSliceSchema>;

/** Parses (once per object) an EndpointSlice from its store; `undefined` = malformed. */
export const parseEndpointSlice = cachedParser(endpointSliceSchema);

/** The label every EndpointSlice carries naming its Service. */
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
const ES = `${META}endpointslice_`;

/**
 * Role `endpointslice` (Prometheus's `buildEndpointSlice`): per endpoint, per port, one target per
 * address (`addr:port`, or `addr` for a port without a number) with the slice's port, condition,
 * hostname, node, zone and topology labels; the service named by `kubernetes.io/service-name` adds its
 * labels to the group, a Pod target ref adds the pod's labels and the matching container port's, and
 * the pods' other container ports become targets of their own.
 */
export function buildEndpointSliceGroups(eps: EndpointSlice, ctx: BuildContext): TargetGroup[] {
  const { namespace, name } = eps.metadata;
  let labels: LabelSet = { [NAMESPACE_LABEL]: namespace, [`${ES}address_type`]: eps.addressType };
  addObjectMetaLabels(labels, eps.metadata, 'endpointslice');
  const serviceName = eps.metadata.labels[SERVICE_NAME_LABEL];
  if (serviceName !== undefined) labels = { ...labels, ...lookupServiceLabels(ctx.sources.services, namespace, serviceName) };
  if (ctx.attach.namespace) labels = withNamespaceLabels(labels, ctx.sources.namespaces, namespace);

  const targets: LabelSet[] = [];
  const seen = new Map<string, SeenPod>();
  const add = (addr: string, ep: z.output<typeof endpointSchema>, port: z.output<typeof portSchema>) => {
    let t: LabelSet = { __address__: port.port !== undefined ? joinHostPort(addr, formatPort(port.port)) : addr };
    if (port.name !== undefined) t[`${ES}port_name`] = port.name;
    if (port.protocol !== undefined) t[`${ES}port_protocol`] = port.protocol;
    if (port.port !== undefined) t[`${ES}port`] = formatPort(port.port);
    if (port.appProtocol !== undefined) t[`${ES}port_app_protocol`] = port.appProtocol;
    const { ready, serving, terminating } = ep.conditions;
    if (ready !== undefined) t[`${ES}endpoint_conditions_ready`] = String(ready);
    if (serving !== undefined) t[`${ES}endpoint_conditions_serving`] = String(serving);
    if (terminating !== undefined) t[`${ES}endpoint_conditions_terminating`] = String(terminating);
    if (ep.hostname !== undefined) t[`${ES}endpoint_hostname`] = ep.hostname;
    if (ep.targetRef) {
      t[`${ES}address_target_kind`] = ep.targetRef.kind;
      t[`${ES}address_target_name`] = ep.targetRef.name;
    }
    if (ep.nodeName !== undefined) t[`${ES}endpoint_node_name`] = ep.nodeName;
    if (ep.zone !== undefined) t[`${ES}endpoint_zone`] = ep.zone;
    for (const [k, v] of Object.entries(ep.deprecatedTopology)) {
      const ln = sanitizeLabelName(k);
      t[`${ES}endpoint_topology_${ln}`] = v;
      t[`${ES}endpoint_topology_present_${ln}`] = 'true';
    }
    if (ctx.attach.node) {
      const nodeName = ep.targetRef?.kind === 'Node' ? ep.targetRef.name : ep.nodeName;
      t = withNodeLabels(t, ctx.sources.nodes, nodeName);
    }
    const pod = resolvePodRef(ctx.sources.pods, ep.targetRef);
    if (!pod) {
      targets.push(t);
      return;
    }
    const key = namespacedName(pod.metadata.namespace, pod.metadata.name);
    let entry = seen.get(key);
    if (!entry) seen.set(key, (entry = { pod, ports: [] }));
    t = { ...t, ...podLabels(pod) };
    if (port.port !== undefined) {
      // Every container with a matching port overwrites the previous match (Go breaks only the inner loop).
      for (const { c, init } of allContainers(pod)) {
        const cport = c.ports.find((p) => p.containerPort === port.port);
        if (!cport) continue;
        t[CONTAINER.name] = c.name;
        t[CONTAINER.image] = c.image;
        t[CONTAINER.portName] = cport.name;
        t[CONTAINER.portNumber] = formatPort(port.port);
        t[CONTAINER.portProtocol] = cport.protocol;
        t[CONTAINER.init] = String(init);
      }
      entry.ports.push(port.port);
    }
    targets.push(t);
  };
  for (const ep of eps.endpoints) {
    for (const port of eps.ports) {
      for (const addr of ep.addresses) add(addr, ep, port);
    }
  }
  targets.push(...uncoveredPodPortTargets(seen.values()));
  return flatten(`endpointslice/${namespace}/${name}`, labels, targets);
}
