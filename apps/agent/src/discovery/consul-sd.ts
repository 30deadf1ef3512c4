import type { ConsulSdConfig } from '@fleet/pipeline';
import { request, type Dispatcher } from 'undici';
import { z } from 'zod';
import { authorizationHeader } from '../remote-write/http.js';
import { AGENT_VERSION } from '../version.js';
import type { Discoverer, DiscoveryDeps, TargetGroup } from './discovery.js';
import { joinHostPort } from './dns-sd.js';
import { discoveryDispatcher, readBounded, redactUrl, statusText } from './http-sd.js';

/** How long Consul may hold a blocking query (Prometheus's `watchTimeout`). */
const WATCH_TIMEOUT_MS = 120_000;
/** Longest pause after consecutive failures (Prometheus's fixed `retryInterval`). */
const MAX_BACKOFF_MS = 15_000;
/** Largest Consul answer accepted. */
const MAX_BODY = 32 * 1024 * 1024;
/** Most services watched at once (each holds one blocking request). */
export const CONSUL_MAX_SERVICES = 1000;

const stringMap = z.record(z.string(), z.string()).nullish();
const servicesSchema = z.record(z.string(), z.array(z.string()).nullish());
const entriesSchema = z.array(
  z.object({
    Node: z.object({ Node: z.string(), Address: z.string(), Meta: stringMap, TaggedAddresses: stringMap }),
    Service: z.object({
      ID: z.string(),
      Service: z.string(),
      Tags: z.array(z.string()).nullish(),
      Address: z.string().nullish(),
      Port: z.number().int(),
      Meta: stringMap,
      Namespace: z.string().nullish(),
      Partition: z.string().nullish(),
    }),
    Checks: z.array(z.object({ CheckID: z.string(), Status: z.string() })).nullish(),
  }),
);
type Entry = z.infer<typeof entriesSchema>[number];

/** Prometheus's `strutil.SanitizeLabelName`: every character outside `[a-zA-Z0-9_]` becomes `_`. */
const sanitize = (name: string): string => name.replace(/[^a-zA-Z0-9_]/g, '_');

/** The Consul API's `HealthChecks.AggregatedStatus`: maintenance > critical > warning > passing. */
export function aggregatedStatus(checks: Array<{ CheckID: string; Status: string }>): string {
  let warning = false;
  let critical = false;
  let maintenance = false;
  for (const c of checks) {
    if (c.CheckID === '_node_maintenance' || c.CheckID.startsWith('_service_maintenance:')) {
      maintenance = true;
      continue;
    }
    if (c.Status === 'passing') continue;
    if (c.Status === 'warning') warning = true;
    else if (c.Status === 'critical') critical = true;
    else return '';
  }
  if (maintenance) return 'maintenance';
  if (critical) return 'critical';
  if (warning) return 'warning';
  return 'passing';
}

/** One watched service: its in-flight request and whether it has answered once. */
interface Watch {
  abort: AbortController;
  reported: boolean;
}

/**
 * `consul_sd_configs`, the catalog API exactly as Prometheus drives it:
 *
 * - The datacenter is the configured one, else `/v1/agent/self`'s `Config.Datacenter`.
 * - Without `services`, or with `tags`, `/v1/catalog/services` is watched and every service
 *   whose name is wanted and whose tags include all `tags` gets a watch; services that leave the
 *   catalog lose their targets. With `services` and no `tags`, exactly those are watched.
 * - Each watch is `/v1/health/service/<name>` with one `tag` per configured tag.
 * - Every query is blocking (`index` = the last `X-Consul-Index`, `wait=120000ms`) with `stale`
 *   (allow_stale), `dc`, `ns`, `partition`, `node-meta` (`key:value`), `filter`, the token as
 *   `X-Consul-Token` and the block's authorization/TLS; queries start at most once per
 *   `refresh_interval`. An unchanged index means nothing changed; an index that goes backwards
 *   resets to 0. Failures go to `onError` (last targets kept) and back off up to 15 s.
 *
 * Labels: `__meta_consul_service` and `__meta_consul_dc` per group; per instance
 * `__meta_consul_address`, `_node`, `_namespace`, `_partition`, `_tags` (joined with
 * `tag_separator`, which also leads and trails), `_service_address`, `_service_port`,
 * `_service_id`, `_health`, `_metadata_<key>` (node meta), `_service_metadata_<key>`,
 * `_tagged_address_<key>` (node tagged addresses); `__address__` is the service address (else
 * the node's) with the service port. Each instance is its own group (labels are per group in
 * {@link TargetGroup}); all groups of a service have `source` = the service name.
 */
export class ConsulDiscoverer implements Discoverer {
  private readonly dispatcher: Dispatcher;
  private readonly base: string;
  private readonly stopAll = new AbortController();
  private readonly watches = new Map<string, Watch>();
  private readonly groups = new Map<string, TargetGroup[]>();
  private datacenter = '';
  private stopped = false;
  private catalogReported = false;
  private lastEmitted: string | null = null;
  private onUpdate: (groups: TargetGroup[]) => void = () => undefined;
  private onError: (message: string) => void = () => undefined;

  constructor(
    private readonly config: ConsulSdConfig,
    private readonly deps: DiscoveryDeps,
  ) {
    // One connection per blocking watch, as Go's transport would open.
    this.dispatcher = discoveryDispatcher(config, CONSUL_MAX_SERVICES + 2, deps.env);
    let scheme: string = config.scheme;
    let server = config.server;
    const sep = server.indexOf('://');
    if (sep >= 0) {
      scheme = server.slice(0, sep);
      server = server.slice(sep + 3);
    }
    this.base = `${scheme}://${server}${config.pathPrefix ?? ''}`;
  }

  start(onUpdate: (groups: TargetGroup[]) => void, onError: (message: string) => void): void {
    this.onUpdate = onUpdate;
    this.onError = (m) => onError(`consul_sd ${redactUrl(this.base)}: ${m}`);
    void this.run().catch((err: unknown) => {
      if (!this.stopped) this.onError((err as Error).message);
    });
  }

  stop(): void {
    this.stopped = true;
    this.stopAll.abort();
    for (const w of this.watches.values()) w.abort.abort();
    void this.dispatcher.close().catch(() => undefined);
  }

  private async run(): Promise<void> {
    for (let failures = 0; !this.stopped && !this.datacenter; ) {
      if (this.config.datacenter) {
        this.datacenter = this.config.datacenter;
        break;
      }
      try {
        const { body } = await this.get('/v1/agent/self', new URLSearchParams(), this.stopAll.signal);
        const dc = (body as { Config?: { Datacenter?: unknown } } | null)?.Config?.Datacenter;
        if (typeof dc !== 'string') throw new Error(`/v1/agent/self: invalid Config.Datacenter ${JSON.stringify(dc)}`);
        this.datacenter = dc;
      } catch (err) {
        if (this.stopped) return;
        this.onError(`cannot learn the datacenter: ${(err as Error).message}`);
        this.emit(true);
        await this.sleep(this.backoff(++failures));
      }
    }
    if (this.stopped) return;
    if (this.config.services.length === 0 || this.config.tags.length > 0) await this.watchCatalog();
    else {
      for (const name of this.config.services) this.watch(name);
      await this.sleep(Number.POSITIVE_INFINITY);
    }
  }

  /** Query parameters every call carries (the Consul client's config plus Prometheus's QueryOptions). */
  private params(index: number): URLSearchParams {
    const p = new URLSearchParams();
    if (this.config.namespace) p.set('ns', this.config.namespace);
    if (this.config.partition) p.set('partition', this.config.partition);
    if (this.config.datacenter) p.set('dc', this.config.datacenter);
    if (this.config.allowStale) p.set('stale', '');
    if (index !== 0) p.set('index', String(index));
    p.set('wait', `${WATCH_TIMEOUT_MS}ms`);
    if (this.config.filter) p.set('filter', this.config.filter);
    for (const [k, v] of Object.entries(this.config.nodeMeta)) p.append('node-meta', `${k}:${v}`);
    return p;
  }

  /**
   * Runs one blocking query after another, at most one per refresh interval; `onResult` gets each
   * answer whose index moved. Returns when stopped or `signal` aborts.
   */
  private async blockingLoop(path: string, extra: URLSearchParams, signal: AbortSignal, onResult: (body: unknown) => void, onFailure: (message: string) => void): Promise<void> {
    let index = 0;
    let answered = false;
    let failures = 0;
    while (!this.stopped && !signal.aborted) {
      const started = Date.now();
      try {
        const params = this.params(index);
        for (const [k, v] of extra) params.append(k, v);
        const res = await this.get(path, params, signal);
        // The same index again: the wait ran out with nothing new.
        if (!answered || res.index !== index) {
          onResult(res.body);
          answered = true;
          // Consul's advice: an index that goes backwards (e.g. a restored snapshot) starts over.
          index = res.index < index ? 0 : res.index;
        }
        failures = 0;
      } catch (err) {
        if (this.stopped || signal.aborted) return;
        const message = (err as Error).message;
        this.deps.log('warn', 'consul_sd query failed', { path, error: message });
        onFailure(message);
        await this.sleep(this.backoff(++failures), signal);
        continue;
      }
      await this.sleep(Math.max(0, this.config.refreshIntervalMs - (Date.now() - started)), signal);
    }
  }

  private async watchCatalog(): Promise<void> {
    await this.blockingLoop(
      '/v1/catalog/services',
      new URLSearchParams(),
      this.stopAll.signal,
      (body) => {
        const parsed = servicesSchema.safeParse(body);
        if (!parsed.success) throw new Error(`/v1/catalog/services: unexpected answer (${parsed.error.issues[0]!.message})`);
        this.reconcile(parsed.data);
      },
      (message) => {
        this.onError(`watching the catalog: ${message}; keeping the last targets`);
        this.catalogReported = true;
        this.emit();
      },
    );
  }

  private reconcile(services: Record<string, string[] | null | undefined>): void {
    const wanted = this.config.services;
    const tags = this.config.tags;
    let skipped = 0;
    for (const [name, serviceTags] of Object.entries(services)) {
      if (wanted.length && !wanted.includes(name)) continue;
      if (!tags.every((t) => (serviceTags ?? []).includes(t))) continue;
      if (this.watches.has(name)) continue;
      if (this.watches.size >= CONSUL_MAX_SERVICES) {
        skipped++;
        continue;
      }
      this.watch(name);
    }
    if (skipped) this.onError(`${skipped} services not watched: at most ${CONSUL_MAX_SERVICES} services per consul_sd_config`);
    // As in Prometheus, a watched service stops being watched only when it leaves the catalog.
    for (const [name, w] of this.watches) {
      if (name in services) continue;
      w.abort.abort();
      this.watches.delete(name);
      this.groups.delete(name);
    }
    this.catalogReported = true;
    this.emit();
  }

  private watch(name: string): void {
    const w: Watch = { abort: new AbortController(), reported: false };
    this.watches.set(name, w);
    const extra = new URLSearchParams();
    for (const t of this.config.tags) extra.append('tag', t);
    void this.blockingLoop(
      `/v1/health/service/${encodeURIComponent(name)}`,
      extra,
      w.abort.signal,
      (body) => {
        const parsed = entriesSchema.safeParse(body);
        if (!parsed.success) {
          const issue = parsed.error.issues[0]!;
          throw new Error(`/v1/health/service/${name}: unexpected answer at ${issue.path.join('.')}: ${issue.message}`);
        }
        if (w.abort.signal.aborted) return;
        this.groups.set(name, parsed.data.map((e) => this.group(name, e)));
        w.reported = true;
        this.emit();
      },
      (message) => {
        this.onError(`watching service ${name}: ${message}${this.groups.has(name) ? '; keeping its last targets' : ''}`);
        w.reported = true;
        this.emit();
      },
    );
  }

  private group(name: string, e: Entry): TargetGroup {
    const sep = this.config.tagSeparator;
    const service = e.Service;
    const serviceAddress = service.Address ?? '';
    const labels: Record<string, string> = {
      __meta_consul_service: name,
      __meta_consul_dc: this.datacenter,
      __meta_consul_address: e.Node.Address,
      __meta_consul_node: e.Node.Node,
      __meta_consul_namespace: service.Namespace ?? '',
      __meta_consul_partition: service.Partition ?? '',
      __meta_consul_tags: `${sep}${(service.Tags ?? []).join(sep)}${sep}`,
      __meta_consul_service_address: serviceAddress,
      __meta_consul_service_port: String(service.Port),
      __meta_consul_service_id: service.ID,
      __meta_consul_health: aggregatedStatus(e.Checks ?? []),
    };
    for (const [k, v] of Object.entries(e.Node.Meta ?? {})) labels[`__meta_consul_metadata_${sanitize(k)}`] = v;
    for (const [k, v] of Object.entries(service.Meta ?? {})) labels[`__meta_consul_service_metadata_${sanitize(k)}`] = v;
    for (const [k, v] of Object.entries(e.Node.TaggedAddresses ?? {})) labels[`__meta_consul_tagged_address_${sanitize(k)}`] = v;
    return { source: name, targets: [joinHostPort(serviceAddress || e.Node.Address, service.Port)], labels };
  }

  /** Sends the current list if it changed, once every watch has answered (or failed) once. */
  private emit(force = false): void {
    if (this.stopped) return;
    if (!force) {
      const catalogMode = this.config.services.length === 0 || this.config.tags.length > 0;
      if (this.lastEmitted === null && ((catalogMode && !this.catalogReported) || [...this.watches.values()].some((w) => !w.reported))) return;
    }
    const list = [...this.watches.keys()].flatMap((n) => this.groups.get(n) ?? []);
    const key = JSON.stringify(list);
    if (key === this.lastEmitted) return;
    this.lastEmitted = key;
    this.onUpdate(list);
  }

  private backoff(failures: number): number {
    return Math.min(MAX_BACKOFF_MS, Math.max(this.config.refreshIntervalMs, 100) * 2 ** (failures - 1));
  }

  private sleep(ms: number, signal: AbortSignal = this.stopAll.signal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted || this.stopAll.signal.aborted) return resolve();
      const done = (): void => {
        if (timer) clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.stopAll.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = Number.isFinite(ms) ? setTimeout(done, ms) : null;
      signal.addEventListener('abort', done, { once: true });
      this.stopAll.signal.addEventListener('abort', done, { once: true });
    });
  }

  private async get(path: string, params: URLSearchParams, signal: AbortSignal): Promise<{ body: unknown; index: number }> {
    const query = params.toString();
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': `fleet-agent/${AGENT_VERSION}` };
    if (this.config.token) headers['x-consul-token'] = this.config.token;
    const auth = authorizationHeader(this.config);
    if (auth) headers.authorization = auth;
    const timeoutMs = WATCH_TIMEOUT_MS + 15_000;
    const res = await request(`${this.base}${path}${query ? `?${query}` : ''}`, {
      method: 'GET',
      headers,
      dispatcher: this.dispatcher,
      signal: AbortSignal.any([signal, this.stopAll.signal, AbortSignal.timeout(timeoutMs)]),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const body = await readBounded(res.body, MAX_BODY);
    if (res.statusCode !== 200) {
      const text = body.toString('utf8', 0, Math.min(body.length, 200)).trim();
      throw new Error(`${path}: HTTP status ${statusText(res.statusCode)}${text ? ` (${text})` : ''}`);
    }
    const rawIndex = res.headers['x-consul-index'];
    const index = Number(Array.isArray(rawIndex) ? rawIndex[0] : rawIndex);
    if (!Number.isSafeInteger(index) || index < 0) throw new Error(`${path}: missing or invalid X-Consul-Index`);
    try {
      return { body: JSON.parse(body.toString('utf8')) as unknown, index };
    } catch (err) {
      throw new Error(`${path}: invalid JSON: ${(err as Error).message}`, { cause: err });
    }
  }
}
