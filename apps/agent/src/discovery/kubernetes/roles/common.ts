import { isIP } from 'node:net';
import { z } from 'zod';
import type { TargetGroup } from '../../discovery.js';
import type { KubeObject, ObjectStore, RoleSources } from '../contract.js';

/** Prefix of every label Kubernetes discovery sets (Prometheus: `model.MetaLabelPrefix + "kubernetes_"`). */
export const META = '__meta_kubernetes_';
/** `__meta_kubernetes_namespace`: the object's namespace, on every namespaced role. */
export const NAMESPACE_LABEL = `${META}namespace`;

/** Labels of one group or one target, before they are flattened into our {@link TargetGroup}s. */
export type LabelSet = Record<string, string>;

/** What a role builder reads besides its own object: the other stores and the attach_metadata switches. */
export interface BuildContext {
  sources: RoleSources;
  attach: { node: boolean; namespace: boolean };
}

/**
 * Prometheus's `strutil.SanitizeLabelName`: every character (code point) outside `[a-zA-Z0-9_]`
 * becomes `_`. It does not fix a leading digit; callers always prepend a valid prefix.
 */
export function sanitizeLabelName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/gu, '_');
}

// Go's JSON decoding gives a missing or null field its zero value; these schemas do the same, and
// refuse a field of the wrong type (the object then never reaches Prometheus's store either).
/** A Go `string`: missing or null is "". */
export const str = z.preprocess((v) => v ?? '', z.string());
/** A Go `*string`: missing or null is unset. */
export const optStr = z.string().nullish().transform((v) => v ?? undefined);
/** A Go `*bool`. */
export const optBool = z.boolean().nullish().transform((v) => v ?? undefined);
const int32 = z.number().int().min(-2147483648).max(2147483647);
/** A Go `int32`: missing or null is 0. */
export const num = z.preprocess((v) => v ?? 0, int32);
/** A Go `*int32`. */
export const optNum = int32.nullish().transform((v) => v ?? undefined);
/** A Go `map[string]string`. */
export const stringMap = z.preprocess((v) => v ?? {}, z.record(z.string(), z.string()));
/** A Go slice of `item`: missing or null is empty. */
export function list<T extends z.ZodType>(item: T) {
  return z.preprocess((v) => v ?? [], z.array(item));
}
/** A Go struct value (not a pointer): missing or null is the zero struct. */
export function struct<S extends z.ZodRawShape>(shape: S) {
  return z.preprocess((v) => v ?? {}, z.object(shape));
}

/** `metav1.ObjectMeta`, the fields discovery reads; a name is required (stores key objects by it). */
export const metadataSchema = z.object({
  name: z.string().min(1),
  namespace: str,
  uid: str,
  labels: stringMap,
  annotations: stringMap,
  ownerReferences: list(z.object({ kind: str, name: str, controller: optBool })),
});
/** Parsed object metadata. */
export type ObjectMeta = z.output<typeof metadataSchema>;

/** `corev1.ObjectReference` as endpoints carry it. */
export const objectRefSchema = z.object({ kind: str, name: str, namespace: str }).nullish().transform((v) => v ?? undefined);

/**
 * A parser for one kind that remembers its answer per object (stores hand out the same object until
 * it changes, and every change rebuilds all groups). `undefined` = malformed, skipped.
 */
export function cachedParser<T>(schema: z.ZodType<T>): (obj: KubeObject) => T | undefined {
  const cache = new WeakMap<object, { value: T | undefined }>();
  return (obj) => {
    if (typeof obj !== 'object' || obj === null) return undefined;
    const hit = cache.get(obj);
    if (hit) return hit.value;
    const parsed = schema.safeParse(obj);
    const value = parsed.success ? parsed.data : undefined;
    cache.set(obj, { value });
    return value;
  };
}

/** Prometheus's `addObjectMetaLabels`: `<role>_name`, `<role>_label_*`, `_labelpresent_*`, `_annotation_*`, `_annotationpresent_*`. */
export function addObjectMetaLabels(ls: LabelSet, meta: Pick<ObjectMeta, 'name' | 'labels' | 'annotations'>, role: string): void {
  ls[`${META}${role}_name`] = meta.name;
  addLabelsAndAnnotations(ls, meta, role);
}

function addLabelsAndAnnotations(ls: LabelSet, meta: Pick<ObjectMeta, 'labels' | 'annotations'>, role: string): void {
  for (const [k, v] of Object.entries(meta.labels)) {
    const ln = sanitizeLabelName(k);
    ls[`${META}${role}_label_${ln}`] = v;
    ls[`${META}${role}_labelpresent_${ln}`] = 'true';
  }
  for (const [k, v] of Object.entries(meta.annotations)) {
    const ln = sanitizeLabelName(k);
    ls[`${META}${role}_annotation_${ln}`] = v;
    ls[`${META}${role}_annotationpresent_${ln}`] = 'true';
  }
}

const metaOnly = cachedParser(z.object({ metadata: metadataSchema }));

/** The store key of an object: `namespace/name`, or `name` when there is no namespace (client-go's key). */
export function namespacedName(namespace: string, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

/**
 * attach_metadata.node (Prometheus's `addNodeLabels`): the named node's `__meta_kubernetes_node_name`,
 * labels and annotations, merged over `ls`; nothing when the name is unset or the node is unknown.
 */
export function withNodeLabels(ls: LabelSet, nodes: ObjectStore | undefined, nodeName: string | undefined): LabelSet {
  if (nodeName === undefined || !nodes) return ls;
  const node = nodes.get(nodeName);
  const parsed = node && metaOnly(node);
  if (!parsed) return ls;
  const extra: LabelSet = {};
  addObjectMetaLabels(extra, parsed.metadata, 'node');
  return { ...ls, ...extra };
}

/** attach_metadata.namespace: the namespace's `__meta_kubernetes_namespace_label_*`/`_labelpresent_*`/`_annotation_*`/`_annotationpresent_*`. */
export function withNamespaceLabels(ls: LabelSet, namespaces: ObjectStore | undefined, namespace: string): LabelSet {
  if (!namespaces) return ls;
  const ns = namespaces.get(namespace);
  const parsed = ns && metaOnly(ns);
  if (!parsed) return ls;
  const extra: LabelSet = {};
  addLabelsAndAnnotations(extra, parsed.metadata, 'namespace');
  return { ...ls, ...extra };
}

/** Go's `net.JoinHostPort`: brackets a host containing a colon. */
export function joinHostPort(host: string, port: string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Go's `strconv.FormatUint(uint64(int32))` (a negative port wraps, as in Go). */
export function formatPort(port: number): string {
  return port < 0 ? (2n ** 64n + BigInt(port)).toString() : String(port);
}

/**
 * How Go's `net.ParseIP` sees a string: `v4` for dotted quads and IPv4-mapped IPv6 (`To4() != nil`),
 * `v6` otherwise, `undefined` when it is no IP (zones are not IPs to Go). `canonical` is Go's
 * `ip.String()` for IPv6 (RFC 5952, as the WHATWG URL serialiser also writes it).
 */
export function parseGoIp(s: string): { family: 'v4' } | { family: 'v6'; canonical: string } | undefined {
  if (s.includes('%')) return undefined;
  const kind = isIP(s);
  if (kind === 4) return { family: 'v4' };
  if (kind !== 6) return undefined;
  const host = new URL(`http://[${s}]/`).hostname; // "[2001:db8::1]"
  const canonical = host.slice(1, -1);
  if (/^::ffff:[0-9a-f]{1,4}:[0-9a-f]{1,4}$/.test(canonical)) return { family: 'v4' };
  return { family: 'v6', canonical };
}

/**
 * Our {@link TargetGroup} has no per-target labels, so each Prometheus target becomes a group of its
 * own (one address) whose labels are the group's labels with the target's over them, as
 * Prometheus merges them (target labels win); all share the object's `source`.
 */
export function flatten(source: string, groupLabels: LabelSet, targets: LabelSet[]): TargetGroup[] {
  return targets.map(({ __address__: address = '', ...own }) => ({ source, targets: [address], labels: { ...groupLabels, ...own } }));
}
