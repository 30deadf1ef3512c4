import { z } from 'zod';
import type { TargetGroup } from '../../discovery.js';
import type { ObjectStore } from '../contract.js';
import {
  META,
  NAMESPACE_LABEL,
  addObjectMetaLabels,
  cachedParser,
  flatten,
  joinHostPort,
  list,
  metadataSchema,
  namespacedName,
  num,
  str,
  struct,
  withNamespaceLabels,
  type BuildContext,
  type LabelSet,
} from './common.js';

/** `corev1.Service`, the fields discovery reads. */
export const serviceSchema = z.object({
  metadata: metadataSchema,
  spec: struct({
    ports: list(z.object({ name: str, port: num, protocol: str })),
    type: str,
    clusterIP: str,
    externalName: str,
    loadBalancerIP: str,
  }),
});
/** A parsed service. */
export type Service = z.output<typeof serviceSchema>;

/** Parses (once per object) a service from its store; `undefined` = malformed. */
export const parseService = cachedParser(serviceSchema);

/** Prometheus's `serviceLabels`: namespace, `__meta_kubernetes_service_name`, labels and annotations. */
export function serviceLabels(svc: Service): LabelSet {
  const ls: LabelSet = { [NAMESPACE_LABEL]: svc.metadata.namespace };
  addObjectMetaLabels(ls, svc.metadata, 'service');
  return ls;
}

/** The labels of the service `namespace/name` from the services store, if it is there (endpoints roles). */
export function lookupServiceLabels(services: ObjectStore | undefined, namespace: string, name: string): LabelSet | undefined {
  const obj = services?.get(namespacedName(namespace, name));
  const svc = obj && parseService(obj);
  return svc ? serviceLabels(svc) : undefined;
}

/**
 * Role `service` (Prometheus's `buildService`): one target per port at `<name>.<namespace>.svc:<port>`,
 * with the port, type, and cluster IP (or external name for ExternalName services; load balancer IP
 * for LoadBalancer services).
 */
export function buildServiceGroups(svc: Service, ctx: BuildContext): TargetGroup[] {
  let labels = serviceLabels(svc);
  if (ctx.attach.namespace) labels = withNamespaceLabels(labels, ctx.sources.namespaces, svc.metadata.namespace);
  const { spec } = svc;
  const targets = spec.ports.map((port) => {
    const number = String(port.port);
    const t: LabelSet = {
      __address__: joinHostPort(`${svc.metadata.name}.${svc.metadata.namespace}.svc`, number),
      [`${META}service_port_name`]: port.name,
      [`${META}service_port_number`]: number,
      [`${META}service_port_protocol`]: port.protocol,
      [`${META}service_type`]: spec.type,
    };
    if (spec.type === 'ExternalName') t[`${META}service_external_name`] = spec.externalName;
    else t[`${META}service_cluster_ip`] = spec.clusterIP;
    if (spec.type === 'LoadBalancer') t[`${META}service_loadbalancer_ip`] = spec.loadBalancerIP;
    return t;
  });
  return flatten(`svc/${svc.metadata.namespace}/${svc.metadata.name}`, labels, targets);
}
