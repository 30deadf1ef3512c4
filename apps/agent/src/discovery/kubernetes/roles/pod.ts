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
  num,
  parseGoIp,
  str,
  struct,
  withNamespaceLabels,
  withNodeLabels,
  type BuildContext,
  type LabelSet,
} from './common.js';

const containerSchema = z.object({
  name: str,
  image: str,
  ports: list(z.object({ name: str, containerPort: num, protocol: str })),
});
const containerStatusSchema = z.object({ name: str, containerID: str });

/** `corev1.Pod`, the fields discovery reads. */
export const podSchema = z.object({
  metadata: metadataSchema,
  spec: struct({ nodeName: str, containers: list(containerSchema), initContainers: list(containerSchema) }),
  status: struct({
    podIP: str,
    podIPs: list(z.object({ ip: str })),
    hostIP: str,
    phase: str,
    conditions: list(z.object({ type: str, status: str })),
    containerStatuses: list(containerStatusSchema),
    initContainerStatuses: list(containerStatusSchema),
  }),
});
/** A parsed pod. */
export type Pod = z.output<typeof podSchema>;
/** One container of a pod spec. */
export type Container = z.output<typeof containerSchema>;

/** Parses (once per object) a pod from its store; `undefined` = malformed. */
export const parsePod = cachedParser(podSchema);

/** `__meta_kubernetes_pod_container_*` label names, shared with the endpoints roles. */
export const CONTAINER = {
  name: `${META}pod_container_name`,
  id: `${META}pod_container_id`,
  image: `${META}pod_container_image`,
  portName: `${META}pod_container_port_name`,
  portNumber: `${META}pod_container_port_number`,
  portProtocol: `${META}pod_container_port_protocol`,
  init: `${META}pod_container_init`,
} as const;

/** The pod's containers followed by its init containers, each with whether it is an init container. */
export function allContainers(pod: Pod): Array<{ c: Container; init: boolean }> {
  return [...pod.spec.containers.map((c) => ({ c, init: false })), ...pod.spec.initContainers.map((c) => ({ c, init: true }))];
}

/** Prometheus's `podLabels`: the pod-level labels (no namespace), also attached to endpoints targets. */
export function podLabels(pod: Pod): LabelSet {
  const ready = pod.status.conditions.find((c) => c.type === 'Ready');
  const ls: LabelSet = {
    [`${META}pod_ip`]: pod.status.podIP,
    [`${META}pod_ready`]: (ready ? ready.status : 'Unknown').toLowerCase(),
    [`${META}pod_phase`]: pod.status.phase,
    [`${META}pod_node_name`]: pod.spec.nodeName,
    [`${META}pod_host_ip`]: pod.status.hostIP,
    [`${META}pod_uid`]: pod.metadata.uid,
  };
  // The first IPv4 and the first IPv6 of status.podIPs.
  for (const { ip } of pod.status.podIPs) {
    if (ip === '') continue;
    const v4 = `${META}pod_ipv4` in ls;
    const v6 = `${META}pod_ipv6` in ls;
    if (v4 && v6) break;
    const parsed = parseGoIp(ip);
    if (parsed?.family === 'v4' && !v4) ls[`${META}pod_ipv4`] = ip;
    else if (parsed?.family === 'v6' && !v6) ls[`${META}pod_ipv6`] = ip;
  }
  addObjectMetaLabels(ls, pod.metadata, 'pod');
  const controller = pod.metadata.ownerReferences.find((r) => r.controller === true);
  if (controller) {
    if (controller.kind) ls[`${META}pod_controller_kind`] = controller.kind;
    if (controller.name) ls[`${META}pod_controller_name`] = controller.name;
  }
  return ls;
}

/** The source Prometheus gives a pod's group (`pod/<namespace>/<name>`). */
export function podSource(namespace: string, name: string): string {
  return `pod/${namespacedName(namespace, name)}`;
}

/**
 * Role `pod` (Prometheus's `buildPod`): one target per declared container port (`podIP:port`) and
 * one per container without ports (`podIP`, bracketed when IPv6), init containers included; a pod
 * without an IP has no targets.
 */
export function buildPodGroups(pod: Pod, ctx: BuildContext): TargetGroup[] {
  const podIP = pod.status.podIP;
  if (podIP === '') return [];
  let labels: LabelSet = { ...podLabels(pod), [NAMESPACE_LABEL]: pod.metadata.namespace };
  if (ctx.attach.node) labels = withNodeLabels(labels, ctx.sources.nodes, pod.spec.nodeName);
  if (ctx.attach.namespace) labels = withNamespaceLabels(labels, ctx.sources.namespaces, pod.metadata.namespace);

  const targets: LabelSet[] = [];
  for (const { c, init } of allContainers(pod)) {
    const statuses = init ? pod.status.initContainerStatuses : pod.status.containerStatuses;
    const id = statuses.find((s) => s.name === c.name)?.containerID ?? '';
    const common: LabelSet = { [CONTAINER.name]: c.name, [CONTAINER.id]: id, [CONTAINER.image]: c.image, [CONTAINER.init]: String(init) };
    if (c.ports.length === 0) {
      const ip = parseGoIp(podIP);
      targets.push({ __address__: ip?.family === 'v6' ? `[${ip.canonical}]` : podIP, ...common });
      continue;
    }
    for (const port of c.ports) {
      const number = formatPort(port.containerPort);
      targets.push({
        __address__: joinHostPort(podIP, number),
        ...common,
        [CONTAINER.portNumber]: number,
        [CONTAINER.portName]: port.name,
        [CONTAINER.portProtocol]: port.protocol,
      });
    }
  }
  return flatten(podSource(pod.metadata.namespace, pod.metadata.name), labels, targets);
}
