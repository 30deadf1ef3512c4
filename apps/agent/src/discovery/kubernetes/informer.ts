import type { DiscoveryDeps } from '../discovery.js';
import { KubeApiError, KubeProtocolError, type KubeClient, type ResourceQuery, type WatchEvent } from './client.js';
import { RESOURCE_PATHS, type KubeObject, type ObjectStore } from './contract.js';

/** Retry timing of an informer (client-go's reflector: 800 ms doubling to 30 s, with jitter). */
export interface BackoffSettings {
  initialMs: number;
  maxMs: number;
}

/** What an {@link Informer} watches and whom it tells. */
export interface InformerOptions {
  client: KubeClient;
  query: ResourceQuery;
  /** After every change of the store, including each complete (re)list. */
  onChange: () => void;
  /** A failure message (the same one is not repeated), or undefined once it works again. */
  onStatus: (error: string | undefined) => void;
  log: DiscoveryDeps['log'];
  /** Objects per list page (`limit`), default 500 as client-go's pager. */
  pageSize?: number | undefined;
  backoff?: BackoffSettings | undefined;
  /** The `timeoutSeconds` of the next watch; default random in [300, 600) as client-go. */
  watchTimeoutSeconds?: (() => number) | undefined;
  /** Most objects one informer keeps (default 200 000); a larger list or watch is an error. */
  maxObjects?: number | undefined;
}

/** Key of an object in its store: `namespace/name`, or `name` when cluster-scoped. */
export function objectKey(obj: KubeObject): string {
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : obj.metadata.name;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

class Gone extends Error {}

/**
 * List/watch of one resource kind (in one namespace or all), keeping the current objects, as
 * client-go's reflector: a paged list, then a watch from the list's resourceVersion with
 * bookmarks; a watch that ends resumes from the last resourceVersion seen (events and
 * bookmarks); `410 Gone` relists; other failures retry with exponential backoff and jitter
 * (401/403 at the slowest pace) while the last good objects stay. Never throws.
 */
export class Informer implements ObjectStore {
  private objects = new Map<string, KubeObject>();
  private rv: string | undefined;
  private readonly abort = new AbortController();
  private synced = false;
  private started = false;
  private error: string | undefined;
  private readonly backoff: BackoffSettings;

  constructor(private readonly options: InformerOptions) {
    this.backoff = options.backoff ?? { initialMs: 800, maxMs: 30_000 };
  }

  /** Whether one complete list has been received. */
  get hasSynced(): boolean {
    return this.synced;
  }

  /** The last resourceVersion seen (list, event or bookmark). */
  get resourceVersion(): string | undefined {
    return this.rv;
  }

  /** Current object by `namespace/name` (or `name`). */
  get(key: string): KubeObject | undefined {
    return this.objects.get(key);
  }

  /** Current objects. */
  values(): Iterable<KubeObject> {
    return this.objects.values();
  }

  /** Number of current objects. */
  get size(): number {
    return this.objects.size;
  }

  /** Starts listing and watching (once). */
  start(): void {
    if (this.started) return;
    this.started = true;
    void this.run();
  }

  /** Aborts every request; no callback runs afterwards. */
  stop(): void {
    this.abort.abort();
  }

  private get signal(): AbortSignal {
    return this.abort.signal;
  }

  private where(): string {
    const { kind, namespace } = this.options.query;
    if (!RESOURCE_PATHS[kind].namespaced) return kind;
    return namespace !== undefined ? `${kind} in namespace ${namespace}` : `${kind} in all namespaces`;
  }

  private status(error: string | undefined): void {
    if (this.signal.aborted || error === this.error) return;
    this.error = error;
    try {
      this.options.onStatus(error);
    } catch {
      // a callback's failure is not the informer's
    }
  }

  private changed(): void {
    if (this.signal.aborted) return;
    try {
      this.options.onChange();
    } catch (err) {
      this.options.log('error', 'kubernetes_sd: change handler failed', { error: (err as Error).message });
    }
  }

  private delay(failures: number, slow: boolean): number {
    const base = slow ? this.backoff.maxMs : Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** Math.min(failures, 30));
    return Math.min(this.backoff.maxMs, base * (1 + Math.random())) * (slow ? 0.75 + Math.random() * 0.25 : 1);
  }

  private describe(err: unknown, verb: 'list' | 'watch'): string {
    const { kind, namespace } = this.options.query;
    const what = `kubernetes_sd: ${verb} ${this.where()}`;
    if (err instanceof KubeApiError) {
      const detail = err.detail ? ` (${err.detail.slice(0, 300)})` : '';
      if (err.status === 401) {
        return `${what}: 401 Unauthorized${detail}: the API server refused the credentials (check the service-account token, bearer token or kubeconfig user)`;
      }
      if (err.status === 403) {
        const group = RESOURCE_PATHS[kind].group;
        const resource = group ? `${kind}.${group}` : kind;
        const binding =
          RESOURCE_PATHS[kind].namespaced && namespace !== undefined ? `a Role and RoleBinding in namespace ${namespace}, or a ClusterRole` : 'a ClusterRole and ClusterRoleBinding';
        return `${what}: 403 Forbidden${detail}: the service account needs get/list/watch on ${resource} (${binding})`;
      }
      return `${what}: ${err.message.slice(0, 400)}`;
    }
    const e = err as { message?: string; code?: string; cause?: { code?: string; message?: string } };
    const cause = e.cause?.code ?? e.cause?.message;
    return `${what} at ${this.options.client.connection.server}: ${e.message ?? String(err)}${cause && !e.message?.includes(cause) ? ` (${cause})` : ''}`;
  }

  private async run(): Promise<void> {
    let failures = 0;
    let gone = 0;
    while (!this.signal.aborted) {
      let verb: 'list' | 'watch' = 'list';
      try {
        if (this.rv === undefined) {
          await this.relist();
          this.status(undefined);
        }
        verb = 'watch';
        const outcome = await this.watchOnce();
        failures = outcome === 'short' ? failures + 1 : 0;
        gone = 0;
        if (outcome === 'short') await sleep(this.delay(failures - 1, false), this.signal);
      } catch (err) {
        if (this.signal.aborted) return;
        if (err instanceof Gone || (err instanceof KubeApiError && err.status === 410)) {
          this.options.log('info', `kubernetes_sd: resourceVersion of ${this.where()} expired (410 Gone); listing again`);
          this.rv = undefined;
          if (gone++ > 0) await sleep(this.delay(gone - 2, false), this.signal);
          continue;
        }
        this.status(this.describe(err, verb));
        const slow = err instanceof KubeApiError && (err.status === 401 || err.status === 403);
        await sleep(this.delay(failures++, slow), this.signal);
      }
    }
  }

  private async relist(): Promise<void> {
    const next = new Map<string, KubeObject>();
    const max = this.options.maxObjects ?? 200_000;
    let continueToken: string | undefined;
    let rv: string;
    do {
      const page = await this.options.client.list(this.options.query, { limit: this.options.pageSize ?? 500, continueToken }, this.signal);
      for (const item of page.items) next.set(objectKey(item), item);
      if (next.size > max) throw new KubeProtocolError(`more than ${max} objects`);
      continueToken = page.continueToken;
      rv = page.resourceVersion;
    } while (continueToken);
    if (this.signal.aborted) return;
    this.objects = next;
    this.rv = rv;
    this.synced = true;
    this.changed();
  }

  /**
   * One watch: 'ended' when the stream ended (normally, or its connection dropped: both resume
   * from the last resourceVersion without a report), 'short' when it ended at once with nothing
   * (resumes after a backoff, as client-go's "very short watch").
   */
  private async watchOnce(): Promise<'ended' | 'short'> {
    const timeoutSeconds = this.options.watchTimeoutSeconds?.() ?? Math.floor(300 * (1 + Math.random()));
    const started = Date.now();
    const events = await this.options.client.watch(this.options.query, { resourceVersion: this.rv!, timeoutSeconds }, this.signal);
    this.status(undefined);
    let seen = 0;
    try {
      for await (const ev of events) {
        seen++;
        this.apply(ev);
      }
    } catch (err) {
      if (this.signal.aborted || err instanceof Gone || err instanceof KubeApiError || err instanceof KubeProtocolError || !(err instanceof Error)) throw err;
      this.options.log('info', `kubernetes_sd: watch of ${this.where()} dropped; resuming`, { error: err.message });
    }
    return seen === 0 && Date.now() - started < 1000 ? 'short' : 'ended';
  }

  private apply(ev: WatchEvent): void {
    if (this.signal.aborted) return;
    switch (ev.type) {
      case 'ERROR':
        if (ev.status.code === 410) throw new Gone();
        throw new KubeApiError(ev.status.code ?? 500, ev.status.reason, ev.status.message);
      case 'BOOKMARK':
        this.rv = ev.resourceVersion;
        return;
      case 'DELETED':
        this.objects.delete(objectKey(ev.object));
        break;
      default:
        if (!this.objects.has(objectKey(ev.object)) && this.objects.size >= (this.options.maxObjects ?? 200_000)) {
          throw new KubeProtocolError(`more than ${this.options.maxObjects ?? 200_000} objects`);
        }
        this.objects.set(objectKey(ev.object), ev.object);
    }
    if (ev.object.metadata.resourceVersion) this.rv = ev.object.metadata.resourceVersion;
    this.changed();
  }
}
