import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RESOURCE_PATHS, type KubeObject, type ResourceKind } from '../contract.js';
import { compileSelectors, type ObjectFilter } from './selectors.js';

/** Options of {@link FakeKubeApiServer.start}. */
export interface FakeApiServerOptions {
  /** Bearer token every request must carry (`Authorization: Bearer <token>`); unset: no check. */
  token?: string | undefined;
  /** Serve HTTPS with this key and certificate (see {@link selfSignedCertificate}). */
  tls?: { key: string | Buffer; cert: string | Buffer } | undefined;
}

/** One request the server received. */
export interface RecordedRequest {
  method: string;
  /** Path without the query, e.g. `/api/v1/namespaces/default/pods`. */
  path: string;
  query: Record<string, string>;
  authorization: string | undefined;
  /** The resource kind addressed (undefined for an unknown path). */
  kind: ResourceKind | undefined;
  namespace: string | undefined;
  watch: boolean;
  /** HTTP status answered. */
  status: number;
}

interface Change {
  rv: number;
  kind: ResourceKind;
  /** The object after the change (DELETED: as it was). */
  object: KubeObject;
  previous: KubeObject | undefined;
  deleted: boolean;
}

interface OpenWatch {
  kind: ResourceKind;
  namespace: string | undefined;
  matches: ObjectFilter;
  bookmarks: boolean;
  res: ServerResponse;
  timer: NodeJS.Timeout;
}

const KIND_NAMES: Record<ResourceKind, string> = {
  pods: 'Pod',
  services: 'Service',
  endpoints: 'Endpoints',
  endpointslices: 'EndpointSlice',
  nodes: 'Node',
  ingresses: 'Ingress',
  namespaces: 'Namespace',
};

const apiVersionOf = (kind: ResourceKind) => (RESOURCE_PATHS[kind].group ? `${RESOURCE_PATHS[kind].group}/${RESOURCE_PATHS[kind].version}` : RESOURCE_PATHS[kind].version);
const keyOf = (obj: { metadata: { namespace?: string | undefined; name: string } }) => (obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : obj.metadata.name);
const clone = <T>(v: T): T => structuredClone(v);

/** A Kubernetes `Status` failure body, as the API server sends it. */
export function statusBody(code: number, reason: string, message: string, details?: Record<string, unknown>): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code });
}

/**
 * A Kubernetes API server stand-in on 127.0.0.1 speaking the real list/watch JSON for the kinds
 * of `RESOURCE_PATHS`: objects in memory under one monotonically increasing resourceVersion,
 * paged lists (`limit`/`continue`), watches from a resourceVersion (replaying later changes,
 * `allowWatchBookmarks`, `timeoutSeconds`), label/field selectors (equality and set-based
 * label requirements, `field=value`/`field!=value`), bearer-token checks and a request log.
 * Test hooks: {@link closeWatches}, {@link expireResourceVersions}, {@link forbid}, {@link failKind}.
 */
export class FakeKubeApiServer {
  /** Every request received, in order. */
  readonly requests: RecordedRequest[] = [];
  private readonly store = new Map<ResourceKind, Map<string, KubeObject>>();
  private readonly history: Change[] = [];
  private readonly watches = new Set<OpenWatch>();
  private readonly failures = new Map<ResourceKind, number>();
  private readonly pages = new Map<string, { rv: number; items: KubeObject[]; kind: ResourceKind }>();
  private rv = 1;
  private expiredThrough = 0;
  private expireAs: 'event' | 'http' = 'event';
  private uid = 0;
  private token: string | undefined;

  private constructor(
    private readonly server: Server,
    /** Base URL, e.g. `http://127.0.0.1:41234`. */
    readonly url: string,
    options: FakeApiServerOptions,
  ) {
    this.token = options.token;
  }

  /** Starts a server on 127.0.0.1 with a port picked by the OS. */
  static async start(options: FakeApiServerOptions = {}): Promise<FakeKubeApiServer> {
    const ref: { self?: FakeKubeApiServer } = {};
    const handler = (req: IncomingMessage, res: ServerResponse) => ref.self!.handle(req, res);
    const server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handler) : createHttpServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    ref.self = new FakeKubeApiServer(server, `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`, options);
    return ref.self;
  }

  /** The current (latest) resourceVersion. */
  get resourceVersion(): string {
    return String(this.rv);
  }

  /** Changes the bearer token the server accepts (e.g. a rotated service-account token). */
  setToken(token: string | undefined): void {
    this.token = token;
  }

  /** Creates an object (namespaced kinds need `metadata.namespace`); returns it as stored, with its resourceVersion. */
  add(kind: ResourceKind, obj: KubeObject): KubeObject {
    if (this.kindStore(kind).has(keyOf(obj))) throw new Error(`${kind} ${keyOf(obj)} exists already`);
    return this.write(kind, obj, false);
  }

  /** Replaces an existing object; returns it as stored. */
  update(kind: ResourceKind, obj: KubeObject): KubeObject {
    if (!this.kindStore(kind).has(keyOf(obj))) throw new Error(`${kind} ${keyOf(obj)} does not exist`);
    return this.write(kind, obj, false);
  }

  /** Deletes an object (only its `metadata.namespace`/`name` are read). */
  delete(kind: ResourceKind, obj: { metadata: { namespace?: string | undefined; name: string } }): void {
    const existing = this.kindStore(kind).get(keyOf(obj));
    if (!existing) throw new Error(`${kind} ${keyOf(obj)} does not exist`);
    this.write(kind, existing, true);
  }

  /** The current objects of a kind. */
  objects(kind: ResourceKind): KubeObject[] {
    return [...this.kindStore(kind).values()].map(clone);
  }

  /** Sends a BOOKMARK at the current resourceVersion on every open watch that allows bookmarks. */
  bookmark(): void {
    for (const w of this.watches) {
      if (w.bookmarks) this.send(w, { type: 'BOOKMARK', object: { kind: KIND_NAMES[w.kind], apiVersion: apiVersionOf(w.kind), metadata: { resourceVersion: String(this.rv) } } });
    }
  }

  /** Ends every open watch stream (`abrupt`: destroys the connections instead of ending the responses). */
  closeWatches(options: { abrupt?: boolean } = {}): void {
    for (const w of [...this.watches]) this.endWatch(w, options.abrupt ?? false);
  }

  /**
   * Compacts history: every resourceVersion up to now becomes too old, so a watch resuming from
   * one (and a `continue` token) fails with 410 Gone — as an ERROR event on a 200 stream
   * (`event`, what a real server does) or as an HTTP 410 (`http`). Open watches get an ERROR
   * 410 event and end. A new list gets a fresh resourceVersion.
   */
  expireResourceVersions(as: 'event' | 'http' = 'event'): void {
    this.expireAs = as;
    this.expiredThrough = this.rv;
    this.rv++;
    this.pages.clear();
    for (const w of [...this.watches]) {
      this.send(w, { type: 'ERROR', object: JSON.parse(statusBody(410, 'Expired', 'too old resource version')) as unknown });
      this.endWatch(w, false);
    }
  }

  /** From now on, lists and watches of `kind` answer 403 Forbidden with the real Status body (open watches continue). */
  forbid(kind: ResourceKind): void {
    this.failures.set(kind, 403);
  }

  /** From now on, requests for `kind` answer `status` (e.g. 500, 503) with a Status body. */
  failKind(kind: ResourceKind, status: number): void {
    this.failures.set(kind, status);
  }

  /** Ends {@link forbid} / {@link failKind} for `kind`. */
  allow(kind: ResourceKind): void {
    this.failures.delete(kind);
  }

  /** Open watch streams (of one kind, or all). */
  openWatches(kind?: ResourceKind): number {
    return [...this.watches].filter((w) => kind === undefined || w.kind === kind).length;
  }

  /** Stops the server and ends every connection. */
  async close(): Promise<void> {
    this.closeWatches({ abrupt: true });
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private kindStore(kind: ResourceKind): Map<string, KubeObject> {
    let m = this.store.get(kind);
    if (!m) this.store.set(kind, (m = new Map()));
    return m;
  }

  private write(kind: ResourceKind, input: KubeObject, deleted: boolean): KubeObject {
    if (RESOURCE_PATHS[kind].namespaced !== Boolean(input.metadata.namespace)) {
      throw new Error(`${kind} ${RESOURCE_PATHS[kind].namespaced ? 'need' : 'must not have'} metadata.namespace`);
    }
    const store = this.kindStore(kind);
    const previous = store.get(keyOf(input));
    const rv = ++this.rv;
    const obj: KubeObject = {
      ...clone(input),
      kind: KIND_NAMES[kind],
      apiVersion: apiVersionOf(kind),
      metadata: { ...clone(input.metadata), uid: input.metadata.uid ?? previous?.metadata.uid ?? `uid-${++this.uid}`, resourceVersion: String(rv) },
    };
    if (deleted) store.delete(keyOf(obj));
    else store.set(keyOf(obj), obj);
    const change: Change = { rv, kind, object: obj, previous, deleted };
    this.history.push(change);
    for (const w of this.watches) this.deliver(w, change);
    return clone(obj);
  }

  /** Sends the event a change means for one watch (selectors can turn an update into ADDED or DELETED). */
  private deliver(w: OpenWatch, c: Change): void {
    if (c.kind !== w.kind) return;
    if (w.namespace !== undefined && c.object.metadata.namespace !== w.namespace) return;
    const before = c.previous !== undefined && w.matches(c.previous);
    const after = !c.deleted && w.matches(c.object);
    const type = c.deleted ? (before ? 'DELETED' : undefined) : before && after ? 'MODIFIED' : after ? 'ADDED' : before ? 'DELETED' : undefined;
    if (type) this.send(w, { type, object: c.object });
  }

  private send(w: OpenWatch, event: { type: string; object: unknown }): void {
    if (!w.res.writableEnded && !w.res.destroyed) w.res.write(`${JSON.stringify(event)}\n`);
  }

  private endWatch(w: OpenWatch, abrupt: boolean): void {
    clearTimeout(w.timer);
    this.watches.delete(w);
    if (abrupt) w.res.destroy();
    else w.res.end();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    const route = parseRoute(url.pathname);
    const watch = query.watch === '1' || query.watch === 'true';
    const record: RecordedRequest = { method: req.method ?? '', path: url.pathname, query, authorization: req.headers.authorization, kind: route?.kind, namespace: route?.namespace, watch, status: 0 };
    this.requests.push(record);
    const fail = (code: number, reason: string, message: string, details?: Record<string, unknown>) => {
      record.status = code;
      res.writeHead(code, { 'content-type': 'application/json' }).end(statusBody(code, reason, message, details));
    };
    if (this.token !== undefined && req.headers.authorization !== `Bearer ${this.token}`) return fail(401, 'Unauthorized', 'Unauthorized');
    if (!route) return fail(404, 'NotFound', 'the server could not find the requested resource');
    if (req.method !== 'GET') return fail(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    const { kind, namespace } = route;
    const failure = this.failures.get(kind);
    if (failure === 403) {
      const group = RESOURCE_PATHS[kind].group;
      const scope = namespace !== undefined ? `in the namespace "${namespace}"` : 'at the cluster scope';
      return fail(403, 'Forbidden', `${kind} is forbidden: User "system:serviceaccount:monitoring:fleet-agent" cannot ${watch ? 'watch' : 'list'} resource "${kind}" in API group "${group}" ${scope}`, { kind, ...(group ? { group } : {}) });
    }
    if (failure !== undefined) return fail(failure, failure === 503 ? 'ServiceUnavailable' : 'InternalError', `injected failure ${failure}`);
    let matches: ObjectFilter;
    try {
      matches = compileSelectors(query.labelSelector, query.fieldSelector);
    } catch (err) {
      return fail(400, 'BadRequest', (err as Error).message);
    }
    const inScope = (o: KubeObject) => (namespace === undefined || o.metadata.namespace === namespace) && matches(o);

    if (!watch) {
      const limit = query.limit ? Number(query.limit) : 0;
      let snapshot: { rv: number; items: KubeObject[]; kind: ResourceKind };
      if (query.continue) {
        const saved = this.pages.get(query.continue);
        if (!saved || saved.kind !== kind) return fail(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result.');
        this.pages.delete(query.continue);
        snapshot = saved;
      } else {
        const items = [...this.kindStore(kind).values()].filter(inScope).sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
        snapshot = { rv: this.rv, items, kind };
      }
      const page = limit > 0 ? snapshot.items.slice(0, limit) : snapshot.items;
      const rest = limit > 0 ? snapshot.items.slice(limit) : [];
      let continueToken: string | undefined;
      if (rest.length) {
        continueToken = randomBytes(12).toString('base64url');
        this.pages.set(continueToken, { rv: snapshot.rv, items: rest, kind });
      }
      record.status = 200;
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          kind: `${KIND_NAMES[kind]}List`,
          apiVersion: apiVersionOf(kind),
          metadata: { resourceVersion: String(snapshot.rv), ...(continueToken ? { continue: continueToken, remainingItemCount: rest.length } : {}) },
          items: page.map((o) => ({ ...o, kind: undefined, apiVersion: undefined })),
        }),
      );
      return;
    }

    const from = Number(query.resourceVersion ?? '0');
    if (!Number.isInteger(from) || from < 0) return fail(400, 'BadRequest', `invalid resourceVersion "${query.resourceVersion}"`);
    const tooOld = from !== 0 && from <= this.expiredThrough;
    if (tooOld && this.expireAs === 'http') return fail(410, 'Expired', `too old resource version: ${from} (${this.expiredThrough + 1})`);
    record.status = 200;
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const timeoutSeconds = Number(query.timeoutSeconds ?? '1800');
    const w: OpenWatch = { kind, namespace, matches, bookmarks: query.allowWatchBookmarks === 'true', res, timer: setTimeout(() => this.endWatch(w, false), timeoutSeconds * 1000) };
    if (tooOld) {
      this.send(w, { type: 'ERROR', object: JSON.parse(statusBody(410, 'Expired', `too old resource version: ${from} (${this.expiredThrough + 1})`)) as unknown });
      clearTimeout(w.timer);
      res.end();
      return;
    }
    this.watches.add(w);
    req.on('close', () => {
      clearTimeout(w.timer);
      this.watches.delete(w);
    });
    if (from === 0) for (const o of this.kindStore(kind).values()) if (inScope(o)) this.send(w, { type: 'ADDED', object: o });
    if (from !== 0) for (const c of this.history) if (c.rv > from) this.deliver(w, c);
  }
}

/** Which kind (and namespace) a request path addresses, as the API server routes list/watch paths. */
function parseRoute(pathname: string): { kind: ResourceKind; namespace: string | undefined } | undefined {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let group = '';
  let version: string | undefined;
  let rest: string[];
  if (parts[0] === 'api') [version, rest] = [parts[1], parts.slice(2)];
  else if (parts[0] === 'apis') [group, version, rest] = [parts[1] ?? '', parts[2], parts.slice(3)];
  else return undefined;
  let namespace: string | undefined;
  let kindName: string | undefined;
  if (rest.length === 1) kindName = rest[0];
  else if (rest.length === 3 && rest[0] === 'namespaces') [namespace, kindName] = [rest[1], rest[2]];
  else return undefined;
  const kind = (Object.keys(RESOURCE_PATHS) as ResourceKind[]).find((k) => k === kindName);
  if (!kind || RESOURCE_PATHS[kind].group !== group || RESOURCE_PATHS[kind].version !== version) return undefined;
  if (namespace !== undefined && !RESOURCE_PATHS[kind].namespaced) return undefined;
  return { kind, namespace };
}

/**
 * A self-signed certificate for 127.0.0.1 and localhost, made with openssl (present on the CI
 * image; the e2e tests use it the same way). Returns PEM key and certificate.
 */
export function selfSignedCertificate(): { key: string; cert: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'fake-kube-tls-'));
  try {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-keyout', key, '-out', cert, '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
