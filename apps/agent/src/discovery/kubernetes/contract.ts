import type { KubernetesRole } from '@fleet/pipeline';
import type { TargetGroup } from '../discovery.js';

/**
 * The seam between the Kubernetes API client (list/watch, `client.ts`, `informer.ts`) and the
 * role builders (`roles.ts`): the client keeps one store per watched resource kind and, when any
 * of them changes, asks the builders for the role's target groups.
 */

/** Resource kinds the discoverer may watch, with their list paths. */
export type ResourceKind = 'pods' | 'services' | 'endpoints' | 'endpointslices' | 'nodes' | 'ingresses' | 'namespaces';

export const RESOURCE_PATHS: Record<ResourceKind, { group: string; version: string; namespaced: boolean }> = {
  pods: { group: '', version: 'v1', namespaced: true },
  services: { group: '', version: 'v1', namespaced: true },
  endpoints: { group: '', version: 'v1', namespaced: true },
  endpointslices: { group: 'discovery.k8s.io', version: 'v1', namespaced: true },
  nodes: { group: '', version: 'v1', namespaced: false },
  ingresses: { group: 'networking.k8s.io', version: 'v1', namespaced: true },
  namespaces: { group: '', version: 'v1', namespaced: false },
};

/** Any object as the API server returns it (JSON), with the metadata every builder reads. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: Array<{ kind: string; name: string; controller?: boolean; apiVersion?: string; uid?: string }>;
  };
  spec?: unknown;
  status?: unknown;
  // Endpoints and EndpointSlices keep their data at the top level.
  [field: string]: unknown;
}

/** A read view of one watched kind's current objects, keyed `namespace/name` (`name` when cluster-scoped). */
export interface ObjectStore {
  get(key: string): KubeObject | undefined;
  values(): Iterable<KubeObject>;
}

/** The stores a role's builder reads; only the kinds `resourcesFor` asked for are present. */
export type RoleSources = Partial<Record<ResourceKind, ObjectStore>>;

/** What a role needs watched: its own kind, plus pods/services for endpoints, nodes/namespaces for attach_metadata. */
export type ResourcesFor = (role: KubernetesRole, attachMetadata: { node: boolean; namespace: boolean }) => ResourceKind[];

/**
 * Every target group of the role from the current objects, with exactly the `__meta_kubernetes_*`
 * labels Prometheus sets (same names, same values) and `__address__` per target; one group per
 * object, `source` as Prometheus names it (`pod/<ns>/<name>`, `svc/<ns>/<name>`, `endpoints/<ns>/<name>`,
 * `endpointslice/<ns>/<name>`, `node/<name>`, `ingress/<ns>/<name>`).
 */
export type BuildGroups = (role: KubernetesRole, sources: RoleSources, attachMetadata: { node: boolean; namespace: boolean }) => TargetGroup[];
