import { KUBERNETES_ALLOWED_SELECTORS, type KubernetesRole, type KubernetesSdConfig } from '@fleet/pipeline';
import type { Discoverer, DiscoveryDeps, TargetGroup } from '../discovery.js';
import { KubeClient, resolveConnection, type ClientLimits, type ConnectionOptions } from './client.js';
import { RESOURCE_PATHS, type KubeObject, type ObjectStore, type ResourceKind, type RoleSources } from './contract.js';
import { Informer, type BackoffSettings } from './informer.js';
import { buildGroups, resourcesFor } from './roles.js';

/** Tuning of a {@link KubernetesDiscoverer} (tests shorten the timings). */
export interface KubernetesDiscovererOptions extends ConnectionOptions {
  /** Coalesces bursts of changes into one update (default 100 ms). */
  debounceMs?: number | undefined;
  /** Informer retry timing (default 800 ms doubling to 30 s). */
  backoff?: BackoffSettings | undefined;
  /** Objects per list page (default 500). */
  pageSize?: number | undefined;
  /** Size limits on API responses. */
  limits?: Partial<ClientLimits> | undefined;
  /** Retry interval when the connection cannot be set up (missing kubeconfig or token; default 30 s). */
  connectRetryMs?: number | undefined;
}

/** The selector role that filters each kind's requests. */
const SELECTOR_ROLE: Partial<Record<ResourceKind, KubernetesRole>> = {
  pods: 'pod',
  services: 'service',
  endpoints: 'endpoints',
  endpointslices: 'endpointslice',
  nodes: 'node',
  ingresses: 'ingress',
};

/** One kind's objects across the namespaces watched. */
class MergedStore implements ObjectStore {
  constructor(private readonly parts: Informer[]) {}

  get(key: string): KubeObject | undefined {
    for (const p of this.parts) {
      const o = p.get(key);
      if (o) return o;
    }
    return undefined;
  }

  *values(): Iterable<KubeObject> {
    for (const p of this.parts) yield* p.values();
  }
}

/**
 * `kubernetes_sd_configs`: watches the kinds the role needs (per configured namespace, or
 * cluster-wide; nodes and namespaces always cluster-wide) with the role's selectors, and after
 * the initial lists — then after every change, debounced — sends every target group the role
 * builders make. Failures go to `onError` once each (recoveries are logged) and the last good
 * objects stay. Connection: see {@link resolveConnection}; the service-account directory can be
 * moved with `FLEET_K8S_SERVICEACCOUNT_DIR` in `deps.env` (tests).
 */
export class KubernetesDiscoverer implements Discoverer {
  private informers: Informer[] = [];
  private client: KubeClient | undefined;
  private stopped = false;
  private initialSent = false;
  private debounce: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private readonly errors = new Map<string, string>();
  private onUpdate: (groups: TargetGroup[]) => void = () => undefined;
  private onError: (message: string) => void = () => undefined;
  private sources: RoleSources = {};

  constructor(
    private readonly config: KubernetesSdConfig,
    private readonly deps: DiscoveryDeps,
    private readonly options: KubernetesDiscovererOptions = {},
  ) {}

  /** Connects and starts watching. */
  start(onUpdate: (groups: TargetGroup[]) => void, onError: (message: string) => void): void {
    this.onUpdate = onUpdate;
    this.onError = onError;
    this.connect();
  }

  /** Aborts every request and timer. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.debounce);
    clearTimeout(this.retry);
    for (const i of this.informers) i.stop();
    void this.client?.close();
  }

  private connect(): void {
    if (this.stopped) return;
    let client: KubeClient;
    try {
      client = new KubeClient(resolveConnection(this.config, this.deps, this.options), this.options.limits);
    } catch (err) {
      this.report('connection', (err as Error).message);
      this.retry = setTimeout(() => this.connect(), this.options.connectRetryMs ?? 30_000);
      return;
    }
    this.report('connection', undefined);
    this.client = client;
    const own = client.connection.ownNamespace;
    const named = [...new Set([...this.config.namespaces.names, ...(this.config.namespaces.ownNamespace && own ? [own] : [])])];
    const namespaces: Array<string | undefined> = named.length || this.config.namespaces.ownNamespace ? named : [undefined];
    this.deps.log('info', 'kubernetes_sd: watching', {
      role: this.config.role,
      connection: client.connection.describe,
      namespaces: namespaces.map((n) => n ?? '(all)'),
    });

    const byKind = new Map<ResourceKind, Informer[]>();
    for (const kind of resourcesFor(this.config.role, this.config.attachMetadata)) {
      const selectorRole = SELECTOR_ROLE[kind];
      const selector =
        selectorRole && KUBERNETES_ALLOWED_SELECTORS[this.config.role].includes(selectorRole) ? this.config.selectors.find((s) => s.role === selectorRole) : undefined;
      for (const namespace of RESOURCE_PATHS[kind].namespaced ? namespaces : [undefined]) {
        const key = `${kind}/${namespace ?? '*'}`;
        const informer = new Informer({
          client,
          query: { kind, namespace, labelSelector: selector?.label, fieldSelector: selector?.field },
          onChange: () => this.changed(),
          onStatus: (error) => this.report(key, error),
          log: this.deps.log,
          pageSize: this.options.pageSize,
          backoff: this.options.backoff,
        });
        byKind.set(kind, [...(byKind.get(kind) ?? []), informer]);
        this.informers.push(informer);
      }
    }
    this.sources = Object.fromEntries([...byKind].map(([kind, parts]) => [kind, parts.length === 1 ? parts[0]! : new MergedStore(parts)]));
    for (const i of this.informers) i.start();
    if (this.informers.length === 0) this.changed(); // nothing to watch: the (empty) initial update at once
  }

  private changed(): void {
    if (this.stopped) return;
    if (!this.initialSent) {
      if (this.informers.every((i) => i.hasSynced)) {
        this.initialSent = true;
        this.emit();
      }
      return;
    }
    this.debounce ??= setTimeout(() => {
      this.debounce = undefined;
      this.emit();
    }, this.options.debounceMs ?? 100);
  }

  private emit(): void {
    if (this.stopped) return;
    let groups: TargetGroup[];
    try {
      groups = buildGroups(this.config.role, this.sources, this.config.attachMetadata);
    } catch (err) {
      this.report('build', `kubernetes_sd: building the ${this.config.role} targets failed: ${(err as Error).message}`);
      return;
    }
    this.report('build', undefined);
    try {
      this.onUpdate(groups);
    } catch (err) {
      this.deps.log('error', 'kubernetes_sd: update handler failed', { error: (err as Error).message });
    }
  }

  /** Reports a failure once (until it changes), and logs its end. */
  private report(key: string, error: string | undefined): void {
    if (this.stopped) return;
    const previous = this.errors.get(key);
    if (error === undefined) {
      if (previous !== undefined) {
        this.errors.delete(key);
        this.deps.log('info', 'kubernetes_sd: recovered', { previousError: previous });
      }
      return;
    }
    if (previous === error) return;
    this.errors.set(key, error);
    try {
      this.onError(error);
    } catch {
      // the caller's handler failing is not ours to report
    }
  }
}
