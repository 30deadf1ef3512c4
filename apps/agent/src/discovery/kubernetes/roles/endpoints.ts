import { z } from 'zod';
import type { TargetGroup } from '../../discovery.js';
import type { ObjectStore } from '../contract.js';
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
  num,
  objectRefSchema,
  optStr,
  str,
  withNamespaceLabels,
  withNodeLabels,
  type BuildContext,
  type LabelSet,
} from './common.js';
import { CONTAINER, allContainers, parsePod, podLabels, type Pod } from './pod.js';
import { lookupServiceLabels } from './service.js';

const addressSchema = z.object({ ip: str, hostname: str, nodeName: optStr, targetRef: objectRefSchema });
const portSchema = z.object({ name: str, port: num, protocol: str });

/** `corev1.Endpoints`, the fields discovery reads. */
export const endpointsSchema = z.object({
  metadata: metadataSchema,
  subsets: list(z.object({ addresses: list(addressSchema), notReadyAddresses: list(addressSchema), ports: list(portSchema) })),
});
/** Parsed Endpoints. */
export type Endpoints = z.output<typeof endpointsSchema>;

/** Parses (once per object) an Endpoints object from its store; `undefined` = malformed. */
export const parseEndpoints = cachedParser(endpointsSchema);

/** The pod an endpoint's `targetRef` names, when it is a Pod that the pods store holds. */
export function resolvePodRef(pods: ObjectStore | undefined, ref: { kind: string; name: string; namespace: string } | undefined): Pod | undefined {
  if (!ref || ref.kind !== 'Pod' || !pods) return undefined;
  const obj = pods.get(namespacedName(ref.namespace, ref.name));
  return obj && parsePod(obj);
}

/** A pod seen behind an endpoint, with the endpoint ports already turned into targets. */
export interface SeenPod {
  pod: Pod;
  ports: number[];
}

/**
 * The targets Prometheus adds for every container port (init containers included) of the seen pods
 * that no endpoint port covered, at `podIP:port` with the pod's labels; pods without an IP add none.
 */
export function uncoveredPodPortTargets(seen: Iterable<SeenPod>): LabelSet[] {
  const out: LabelSet[] = [];
  for (const { pod, ports } of seen) {
    if (pod.status.podIP === '') continue;
    for (const { c, init } of allContainers(pod)) {
      for (const cport of c.ports) {
        if (ports.includes(cport.containerPort)) continue;
        const number = formatPort(cport.containerPort);
        out.push({
          __address__: joinHostPort(pod.status.podIP, number),
          [CONTAINER.name]: c.name,
          [CONTAINER.image]: c.image,
          [CONTAINER.portName]: cport.name,
          [CONTAINER.portNumber]: number,
          [CONTAINER.portProtocol]: cport.protocol,
          [CONTAINER.init]: String(init),
          ...podLabels(pod),
        });
      }
    }
  }
  return out;
}

/**
 * Role `endpoints` (Prometheus's `buildEndpoints`): per subset, per port, one target per ready
 * address (`_endpoint_ready="true"`) and per not-ready address (`"false"`); the service of the same
 * name adds its labels to the group, a Pod target ref adds the pod's labels and the matching container
 * port's, and the pods' other container ports become targets of their own.
 */
export function buildEndpointsGroups(eps: Endpoints, ctx: BuildContext): TargetGroup[] {
  const { namespace, name } = eps.metadata;
  let labels: LabelSet = { [NAMESPACE_LABEL]: namespace, ...lookupServiceLabels(ctx.sources.services, namespace, name) };
  addObjectMetaLabels(labels, eps.metadata, 'endpoints');
  if (ctx.attach.namespace) labels = withNamespaceLabels(labels, ctx.sources.namespaces, namespace);

  const targets: LabelSet[] = [];
  const seen = new Map<string, SeenPod>();
  const add = (addr: z.output<typeof addressSchema>, port: z.output<typeof portSchema>, ready: string) => {
    let t: LabelSet = {
      __address__: joinHostPort(addr.ip, formatPort(port.port)),
      [`${META}endpoint_port_name`]: port.name,
      [`${META}endpoint_port_protocol`]: port.protocol,
      [`${META}endpoint_ready`]: ready,
    };
    if (addr.targetRef) {
      t[`${META}endpoint_address_target_kind`] = addr.targetRef.kind;
      t[`${META}endpoint_address_target_name`] = addr.targetRef.name;
    }
    if (addr.nodeName !== undefined) t[`${META}endpoint_node_name`] = addr.nodeName;
    if (addr.hostname !== '') t[`${META}endpoint_hostname`] = addr.hostname;
    if (ctx.attach.node) {
      const nodeName = addr.nodeName ?? (addr.targetRef?.kind === 'Node' ? addr.targetRef.name : undefined);
      t = withNodeLabels(t, ctx.sources.nodes, nodeName);
    }
    const pod = resolvePodRef(ctx.sources.pods, addr.targetRef);
    if (!pod) {
      targets.push(t);
      return;
    }
    const key = namespacedName(pod.metadata.namespace, pod.metadata.name);
    let entry = seen.get(key);
    if (!entry) seen.set(key, (entry = { pod, ports: [] }));
    t = { ...t, ...podLabels(pod) };
    // Every container with a matching port overwrites the previous match (Go breaks only the inner loop).
    for (const { c, init } of allContainers(pod)) {
      const cport = c.ports.find((p) => p.containerPort === port.port);
      if (!cport) continue;
      t[CONTAINER.name] = c.name;
      t[CONTAINER.image] = c.image;
      t[CONTAINER.portName] = cport.name;
      t[CONTAINER.portNumber] = formatPort(port.port);
      t[CONTAINER.portProtocol] = port.protocol;
      t[CONTAINER.init] = String(init);
    }
    entry.ports.push(port.port);
    targets.push(t);
  };
  for (const subset of eps.subsets) {
    for (const port of subset.ports) {
      for (const addr of subset.addresses) add(addr, port, 'true');
      for (const addr of subset.notReadyAddresses) add(addr, port, 'false');
    }
  }
  targets.push(...uncoveredPodPortTargets(seen.values()));
  return flatten(`endpoints/${namespace}/${name}`, labels, targets);
}
