import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One registered service instance (a catalog entry with its node and checks). */
export interface FakeInstance {
  node: string;
  address: string;
  nodeMeta?: Record<string, string>;
  taggedAddresses?: Record<string, string>;
  service: string;
  /** Defaults to the service name. */
  id?: string;
  tags?: string[];
  serviceAddress?: string;
  port: number;
  meta?: Record<string, string>;
  namespace?: string;
  partition?: string;
  /** Defaults to one passing `serfHealth` check. */
  checks?: Array<{ CheckID: string; Status: string }>;
}

/** A request as the fake received it. */
export interface LoggedRequest {
  path: string;
  query: URLSearchParams;
  token: string | undefined;
  authorization: string | undefined;
  /** The index the fake answered with (unset when the request was refused or is still held). */
  answeredIndex?: number;
}

const instanceId = (i: FakeInstance): string => i.id ?? i.service;

/**
 * A Consul agent for tests on 127.0.0.1: `/v1/agent/self`, `/v1/catalog/services` and
 * `/v1/health/service/<name>` with blocking queries (a request whose `index` is not older than
 * the current one is held until the catalog changes or `wait` runs out), `X-Consul-Index`,
 * `dc`/`tag`/`node-meta` handling, an optional ACL token (`X-Consul-Token`, else 403), an
 * optional path prefix, injected failures, and a log of every request.
 */
export class FakeConsul {
  /** The current raft index; every change increments it. */
  index = 1;
  readonly requests: LoggedRequest[] = [];
  private readonly instances: FakeInstance[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly failures: Array<{ pathPrefix: string; status: number; body: string }> = [];
  private readonly requestWaiters = new Set<() => void>();
  private server: Server | null = null;
  /** `127.0.0.1:<port>` once started. */
  address = '';

  constructor(private readonly options: { datacenter?: string; token?: string; prefix?: string } = {}) {}

  /** Adds or replaces (same service and id) an instance. */
  register(instance: FakeInstance): void {
    const at = this.instances.findIndex((i) => i.service === instance.service && instanceId(i) === instanceId(instance));
    if (at >= 0) this.instances[at] = instance;
    else this.instances.push(instance);
    this.bump();
  }

  /** Removes every instance of a service (or the one with `id`). */
  deregister(service: string, id?: string): void {
    for (let i = this.instances.length - 1; i >= 0; i--) {
      const x = this.instances[i]!;
      if (x.service === service && (id === undefined || instanceId(x) === id)) this.instances.splice(i, 1);
    }
    this.bump();
  }

  /** Sets the index (e.g. lower, as after a snapshot restore) and releases held requests. */
  setIndex(index: number): void {
    this.index = index;
    this.wake();
  }

  /** Answers the next `count` requests under `pathPrefix` with `status`. */
  failNext(pathPrefix: string, status: number, count = 1, body = 'injected failure'): void {
    for (let i = 0; i < count; i++) this.failures.push({ pathPrefix, status, body });
  }

  /** Requests whose path starts with `prefix`. */
  requestsTo(prefix: string): LoggedRequest[] {
    return this.requests.filter((r) => r.path.startsWith(prefix));
  }

  /** Resolves once a request matching `test` has arrived (checked on every request); rejects after `timeoutMs`. */
  untilRequest(what: string, test: (r: LoggedRequest) => boolean, timeoutMs = 10_000): Promise<LoggedRequest> {
    const found = this.requests.find(test);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = this.requests.find(test);
        if (!hit) return;
        clearTimeout(timer);
        this.requestWaiters.delete(check);
        resolve(hit);
      };
      const timer = setTimeout(() => {
        this.requestWaiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for a request: ${what}`));
      }, timeoutMs);
      this.requestWaiters.add(check);
    });
  }

  /** Listens on an OS-chosen loopback port. */
  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.address = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Releases held requests and closes the server. */
  async stop(): Promise<void> {
    this.wake();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private bump(): void {
    this.index++;
    this.wake();
  }

  private wake(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const prefix = this.options.prefix ?? '';
    const path = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : `(outside prefix)${url.pathname}`;
    const token = req.headers['x-consul-token'] as string | undefined;
    const logged: LoggedRequest = { path, query: url.searchParams, token, authorization: req.headers.authorization };
    this.requests.push(logged);
    for (const check of [...this.requestWaiters]) check();
    const send = (status: number, body: unknown): void => {
      if (res.destroyed) return;
      logged.answeredIndex = status === 200 ? this.index : undefined;
      res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json', 'x-consul-index': String(this.index), 'x-consul-knownleader': 'true' });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    if (req.method !== 'GET') return send(405, 'method not allowed');
    if (this.options.token !== undefined && token !== this.options.token) return send(403, 'ACL not found');
    const failure = this.failures.findIndex((f) => path.startsWith(f.pathPrefix));
    if (failure >= 0) {
      const [f] = this.failures.splice(failure, 1);
      return send(f!.status, f!.body);
    }
    const dc = this.options.datacenter ?? 'dc1';
    const askedDc = url.searchParams.get('dc');
    if (askedDc !== null && askedDc !== dc) return send(500, 'No path to datacenter');

    if (path === '/v1/agent/self') return send(200, { Config: { Datacenter: dc, NodeName: 'fake-agent' }, Member: {} });
    if (path !== '/v1/catalog/services' && !path.startsWith('/v1/health/service/')) return send(404, 'not found');

    await this.block(url.searchParams, res);
    if (res.destroyed) return;
    const nodeMeta = url.searchParams.getAll('node-meta').map((kv) => kv.split(':', 2) as [string, string]);
    const matchesMeta = (i: FakeInstance) => nodeMeta.every(([k, v]) => i.nodeMeta?.[k] === v);
    if (path === '/v1/catalog/services') {
      const out: Record<string, string[]> = {};
      for (const i of this.instances.filter(matchesMeta)) out[i.service] = [...new Set([...(out[i.service] ?? []), ...(i.tags ?? [])])];
      return send(200, out);
    }
    const name = decodeURIComponent(path.slice('/v1/health/service/'.length));
    const tags = url.searchParams.getAll('tag');
    const entries = this.instances
      .filter((i) => i.service === name && matchesMeta(i) && tags.every((t) => i.tags?.includes(t)))
      .map((i) => ({
        Node: { ID: '', Node: i.node, Address: i.address, Datacenter: dc, TaggedAddresses: i.taggedAddresses ?? null, Meta: i.nodeMeta ?? null },
        Service: {
          ID: instanceId(i),
          Service: i.service,
          Tags: i.tags ?? null,
          Address: i.serviceAddress ?? '',
          Meta: i.meta ?? null,
          Port: i.port,
          ...(i.namespace !== undefined ? { Namespace: i.namespace } : {}),
          ...(i.partition !== undefined ? { Partition: i.partition } : {}),
        },
        Checks: (i.checks ?? [{ CheckID: 'serfHealth', Status: 'passing' }]).map((c) => ({ Node: i.node, Name: c.CheckID, ...c })),
      }));
    return send(200, entries);
  }

  /** Holds a blocking query until the index changes or its `wait` (default 5 min) runs out. */
  private async block(query: URLSearchParams, res: ServerResponse): Promise<void> {
    const asked = Number(query.get('index') ?? '0');
    if (!(asked > 0) || asked < this.index) return;
    const m = /^(\d+)(ms|s|m)?$/.exec(query.get('wait') ?? '');
    const waitMs = m ? Number(m[1]) * (m[2] === 'm' ? 60_000 : m[2] === 's' || !m[2] ? 1000 : 1) : 300_000;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      this.waiters.add(done);
      res.on('close', done);
    });
  }
}
