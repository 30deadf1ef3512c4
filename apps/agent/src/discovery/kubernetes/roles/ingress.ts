import { z } from 'zod';
import type { TargetGroup } from '../../discovery.js';
import {
  META,
  NAMESPACE_LABEL,
  addObjectMetaLabels,
  cachedParser,
  flatten,
  list,
  metadataSchema,
  optStr,
  str,
  struct,
  withNamespaceLabels,
  type BuildContext,
  type LabelSet,
} from './common.js';

/** `networking.k8s.io/v1` Ingress, the fields discovery reads. */
export const ingressSchema = z.object({
  metadata: metadataSchema,
  spec: struct({
    ingressClassName: optStr,
    rules: list(
      z.object({
        host: str,
        http: z
          .object({ paths: list(z.object({ path: str })) })
          .nullish()
          .transform((v) => v ?? undefined),
      }),
    ),
    tls: list(z.object({ hosts: list(z.string()) })),
  }),
});
/** A parsed ingress. */
export type Ingress = z.output<typeof ingressSchema>;

/** Parses (once per object) an ingress from its store; `undefined` = malformed. */
export const parseIngress = cachedParser(ingressSchema);

/** Prometheus's `matchesHostnamePattern`: equal, or `*.rest` matching a host with as many labels and the same rest. */
export function matchesHostnamePattern(pattern: string, host: string): boolean {
  if (pattern === host) return true;
  const p = pattern.split('.');
  const h = host.split('.');
  if (p[0] !== '*' || p.length !== h.length) return false;
  return p.every((part, i) => i === 0 || part === h[i]);
}

/**
 * Role `ingress` (Prometheus's `buildIngress`): per rule, one target per HTTP path (`/` for an empty
 * path, a single `/` when the rule has no `http` block) at the rule's host, scheme `https` when a TLS
 * host pattern matches the host.
 */
export function buildIngressGroups(ing: Ingress, ctx: BuildContext): TargetGroup[] {
  let labels: LabelSet = { [NAMESPACE_LABEL]: ing.metadata.namespace };
  if (ing.spec.ingressClassName !== undefined) labels[`${META}ingress_class_name`] = ing.spec.ingressClassName;
  addObjectMetaLabels(labels, ing.metadata, 'ingress');
  if (ctx.attach.namespace) labels = withNamespaceLabels(labels, ctx.sources.namespaces, ing.metadata.namespace);

  const tlsHosts = ing.spec.tls.flatMap((t) => t.hosts);
  const targets: LabelSet[] = [];
  for (const rule of ing.spec.rules) {
    const paths = rule.http ? rule.http.paths.map((p) => p.path || '/') : ['/'];
    const scheme = tlsHosts.some((pattern) => matchesHostnamePattern(pattern, rule.host)) ? 'https' : 'http';
    for (const path of paths) {
      targets.push({
        __address__: rule.host,
        [`${META}ingress_scheme`]: scheme,
        [`${META}ingress_host`]: rule.host,
        [`${META}ingress_path`]: path,
      });
    }
  }
  return flatten(`ingress/${ing.metadata.namespace}/${ing.metadata.name}`, labels, targets);
}
