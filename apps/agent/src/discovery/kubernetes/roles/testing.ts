import type { TargetGroup } from '../../discovery.js';
import type { KubeObject, ObjectStore } from '../contract.js';

/** Test support: a store over fixed objects, keyed `namespace/name` (`name` when cluster-scoped). */
export function storeOf(objects: unknown[]): ObjectStore {
  const map = new Map<string, KubeObject>();
  for (const o of objects as KubeObject[]) {
    const ns = o.metadata?.namespace;
    map.set(ns ? `${ns}/${o.metadata.name}` : o.metadata?.name, o);
  }
  return { get: (k) => map.get(k), values: () => map.values() };
}

/** Test support: one discovered target, as Prometheus would list it (group labels merged under the target's). */
export interface FlatTarget {
  source: string;
  address: string;
  labels: Record<string, string>;
}

/** Test support: our groups back as one entry per target. */
export function flatTargets(groups: TargetGroup[]): FlatTarget[] {
  return groups.flatMap((g) => g.targets.map((address) => ({ source: g.source, address, labels: g.labels })));
}

/** Test support: a Prometheus-style expectation (group labels + per-target labels with `__address__`). */
export function expectGroup(source: string, groupLabels: Record<string, string>, targets: Array<Record<string, string>>): FlatTarget[] {
  return targets.map(({ __address__: address = '', ...own }) => ({ source, address, labels: { ...groupLabels, ...own } }));
}
