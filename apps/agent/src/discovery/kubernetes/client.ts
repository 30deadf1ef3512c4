import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { KubernetesSdConfig } from '@fleet/pipeline';
import { Agent, request, type Dispatcher } from 'undici';
import { z } from 'zod';
import { authorizationHeader, createHttpDispatcher } from '../../remote-write/http.js';
import { AGENT_VERSION } from '../../version.js';
import type { DiscoveryDeps } from '../discovery.js';
import { RESOURCE_PATHS, type KubeObject, type ResourceKind } from './contract.js';
import { loadKubeconfig } from './kubeconfig.js';

/** Where Kubernetes mounts a pod's service-account token, CA and namespace. */
export const DEFAULT_SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * Environment variable (read from `DiscoveryDeps.env`) that moves the service-account directory
 * (`token`, `ca.crt`, `namespace`) away from {@link DEFAULT_SERVICE_ACCOUNT_DIR}; for tests and
 * unusual mounts. The `serviceAccountDir` option of {@link resolveConnection} takes precedence.
 */
export const SERVICE_ACCOUNT_DIR_ENV = 'FLEET_K8S_SERVICEACCOUNT_DIR';

/** How to reach one API server: base URL, transport and credentials. */
export interface KubeConnection {
  /** Base URL without a trailing slash, e.g. `https://10.96.0.1:443`. */
  server: string;
  dispatcher: Dispatcher;
  /** The `Authorization` header value for the next request (token files re-read as they rotate). */
  authorization: () => string | undefined;
  /** The namespace `namespaces.own_namespace` means (in-cluster: the pod's; kubeconfig: the context's). */
  ownNamespace?: string | undefined;
  /** For logs: how the connection was configured (never a secret). */
  describe: string;
}

/** Options of {@link resolveConnection}. */
export interface ConnectionOptions {
  /** Service-account directory for in-cluster config (else `FLEET_K8S_SERVICEACCOUNT_DIR`, else the standard mount). */
  serviceAccountDir?: string | undefined;
  /** How long a token read from a file is used before the file is read again (client-go: 1 min). */
  tokenRefreshMs?: number | undefined;
}

/** A token read from a file, re-read every `refreshMs` (bound service-account tokens rotate); the last good one is kept when a re-read fails. */
function fileToken(file: string, refreshMs: number, what: string): () => string {
  let cached: { token: string; at: number } | undefined;
  const read = () => {
    cached = { token: readFileSync(file, 'utf8').trim(), at: Date.now() };
  };
  try {
    read();
  } catch (err) {
    throw new Error(`kubernetes_sd: ${what} ${file}: ${(err as { code?: string }).code ?? 'cannot read'}`, { cause: err });
  }
  return () => {
    if (Date.now() - cached!.at >= refreshMs) {
      try {
        read();
      } catch {
        // keep the last good token; the API server says when it stops being valid
      }
    }
    return cached!.token;
  };
}

/**
 * The connection of a `kubernetes_sd_configs` entry, as Prometheus picks it: `kubeconfig_file`,
 * else `api_server` with the block's own HTTP client settings, else in-cluster
 * (`KUBERNETES_SERVICE_HOST`/`_PORT`, the service account's token, `ca.crt` and `namespace`).
 * Throws an Error naming what is missing or wrong. Proxy settings are not applied.
 */
export function resolveConnection(config: KubernetesSdConfig, deps: DiscoveryDeps, options: ConnectionOptions = {}): KubeConnection {
  const refreshMs = options.tokenRefreshMs ?? 60_000;
  if (config.kubeconfigFile) {
    const kc = loadKubeconfig(config.kubeconfigFile);
    const token = kc.token !== undefined ? () => kc.token! : kc.tokenFile ? fileToken(kc.tokenFile, refreshMs, 'kubeconfig tokenFile') : undefined;
    const basic = kc.basicAuth ? `Basic ${Buffer.from(`${kc.basicAuth.username}:${kc.basicAuth.password}`).toString('base64')}` : undefined;
    return {
      server: kc.server,
      dispatcher: new Agent({
        connections: 8,
        connect: { ca: kc.ca, cert: kc.cert, key: kc.key, servername: kc.serverName, rejectUnauthorized: !kc.insecureSkipVerify },
      }),
      authorization: () => (token ? `Bearer ${token()}` : basic),
      ownNamespace: kc.namespace,
      describe: `kubeconfig ${config.kubeconfigFile} (context ${kc.context})`,
    };
  }
  if (config.apiServer) {
    if (config.namespaces.ownNamespace) throw new Error('kubernetes_sd: namespaces.own_namespace needs the in-cluster config (it is unknown with api_server)');
    let dispatcher: Dispatcher;
    try {
      dispatcher = createHttpDispatcher(config, { connections: 8, env: deps.env });
    } catch (err) {
      throw new Error(`kubernetes_sd: ${(err as Error).message}`, { cause: err });
    }
    return {
      server: config.apiServer.replace(/\/+$/, ''),
      dispatcher,
      authorization: () => authorizationHeader(config),
      describe: `api_server ${new URL(config.apiServer).origin}`,
    };
  }
  const host = deps.env.KUBERNETES_SERVICE_HOST;
  const port = deps.env.KUBERNETES_SERVICE_PORT;
  if (!host) throw new Error('kubernetes_sd: not running in a cluster (KUBERNETES_SERVICE_HOST unset) and no api_server or kubeconfig_file given');
  if (!port) throw new Error('kubernetes_sd: not running in a cluster (KUBERNETES_SERVICE_PORT unset) and no api_server or kubeconfig_file given');
  const dir = options.serviceAccountDir ?? deps.env[SERVICE_ACCOUNT_DIR_ENV] ?? DEFAULT_SERVICE_ACCOUNT_DIR;
  const token = fileToken(path.join(dir, 'token'), refreshMs, 'service-account token');
  let ca: Buffer | undefined;
  try {
    ca = readFileSync(path.join(dir, 'ca.crt'));
  } catch (err) {
    deps.log('warn', 'kubernetes_sd: no service-account CA; the API server certificate is checked against the system CAs', {
      file: path.join(dir, 'ca.crt'),
      code: (err as { code?: string }).code,
    });
  }
  let ownNamespace: string | undefined;
  if (config.namespaces.ownNamespace) {
    const file = path.join(dir, 'namespace');
    try {
      ownNamespace = readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new Error(`kubernetes_sd: could not determine the pod's namespace for own_namespace (${file}: ${(err as { code?: string }).code ?? 'cannot read'})`, { cause: err });
    }
    if (!ownNamespace) throw new Error(`kubernetes_sd: could not determine the pod's namespace for own_namespace (${file} is empty)`);
  }
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    server,
    dispatcher: new Agent({ connections: 8, connect: { ca } }),
    authorization: () => `Bearer ${token()}`,
    ownNamespace,
    describe: `in-cluster ${server}`,
  };
}

/** A failed API request: HTTP status and the Kubernetes Status body's reason and message. */
export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string | undefined,
    readonly detail: string | undefined,
  ) {
    super(`${status}${reason ? ` ${reason}` : ''}${detail ? `: ${detail}` : ''}`);
    this.name = 'KubeApiError';
  }
}

/** The API server sent something this client refuses (malformed, or larger than a limit). */
export class KubeProtocolError extends Error {
  override name = 'KubeProtocolError';
}

/** Which objects a list or watch asks for. */
export interface ResourceQuery {
  kind: ResourceKind;
  /** Unset: all namespaces (and always for cluster-scoped kinds). */
  namespace?: string | undefined;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
}

/** One page of a list. */
export interface ListPage {
  items: KubeObject[];
  resourceVersion: string;
  /** Set when more pages follow. */
  continueToken?: string | undefined;
}

/** The `Status` object of an ERROR watch event. */
export interface KubeStatus {
  code?: number | undefined;
  reason?: string | undefined;
  message?: string | undefined;
}

/** One event of a watch stream. */
export type WatchEvent =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: KubeObject }
  | { type: 'BOOKMARK'; resourceVersion: string }
  | { type: 'ERROR'; status: KubeStatus };

/** Size limits on what the API server sends. */
export interface ClientLimits {
  /** Largest list page body (default 64 MiB). */
  maxListBytes: number;
  /** Largest single watch event line (default 16 MiB). */
  maxEventBytes: number;
}

const DEFAULT_LIMITS: ClientLimits = { maxListBytes: 64 * 1024 * 1024, maxEventBytes: 16 * 1024 * 1024 };

const kubeObjectSchema = z.looseObject({
  metadata: z.looseObject({ name: z.string().min(1), namespace: z.string().optional(), resourceVersion: z.string().optional() }),
});
const listSchema = z.looseObject({
  metadata: z.looseObject({ resourceVersion: z.string().optional(), continue: z.string().optional() }).optional(),
  items: z.array(kubeObjectSchema).nullable(),
});
const statusSchema = z.looseObject({ code: z.number().optional(), reason: z.string().optional(), message: z.string().optional() });
const eventSchema = z.object({ type: z.enum(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']), object: z.looseObject({}) });

/** `/api/v1/namespaces/<ns>/pods`, `/apis/discovery.k8s.io/v1/endpointslices`, … */
export function resourcePath(kind: ResourceKind, namespace?: string): string {
  const r = RESOURCE_PATHS[kind];
  const prefix = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  return r.namespaced && namespace !== undefined ? `${prefix}/namespaces/${encodeURIComponent(namespace)}/${kind}` : `${prefix}/${kind}`;
}

const firstIssue = (err: z.ZodError) => `${err.issues[0]!.path.join('.')}: ${err.issues[0]!.message}`;

/** A minimal Kubernetes API client: paged lists and JSON watch streams, bounded in size. */
export class KubeClient {
  private readonly limits: ClientLimits;

  constructor(
    readonly connection: KubeConnection,
    limits: Partial<ClientLimits> = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  private async send(query: ResourceQuery, params: Record<string, string | undefined>, signal: AbortSignal, timeouts: { headersMs: number; bodyMs: number }) {
    const search = new URLSearchParams();
    if (query.labelSelector) search.set('labelSelector', query.labelSelector);
    if (query.fieldSelector) search.set('fieldSelector', query.fieldSelector);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) search.set(k, v);
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': `fleet-agent/${AGENT_VERSION}` };
    const auth = this.connection.authorization();
    if (auth) headers.authorization = auth;
    const res = await request(`${this.connection.server}${resourcePath(query.kind, query.namespace)}?${search}`, {
      dispatcher: this.connection.dispatcher,
      signal,
      headers,
      headersTimeout: timeouts.headersMs,
      bodyTimeout: timeouts.bodyMs,
    });
    if (res.statusCode !== 200) {
      let status: KubeStatus = {};
      try {
        const parsed = statusSchema.safeParse(JSON.parse((await readBounded(res.body, 64 * 1024)).toString('utf8')));
        if (parsed.success) status = parsed.data;
      } catch {
        // not a Status body
      }
      res.body.destroy();
      throw new KubeApiError(res.statusCode, status.reason, status.message);
    }
    return res;
  }

  /** One page of a list (`limit`, `continue`), consistent with the server's current state. */
  async list(query: ResourceQuery, page: { limit: number; continueToken?: string | undefined }, signal: AbortSignal): Promise<ListPage> {
    const res = await this.send(query, { limit: String(page.limit), continue: page.continueToken }, signal, { headersMs: 60_000, bodyMs: 60_000 });
    const body = await readBounded(res.body, this.limits.maxListBytes, `list of ${query.kind} larger than ${this.limits.maxListBytes} bytes`);
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw new KubeProtocolError(`list of ${query.kind}: the response is not JSON`);
    }
    const parsed = listSchema.safeParse(json);
    if (!parsed.success) throw new KubeProtocolError(`list of ${query.kind}: not a Kubernetes list (${firstIssue(parsed.error)})`);
    const rv = parsed.data.metadata?.resourceVersion;
    if (!rv) throw new KubeProtocolError(`list of ${query.kind}: no metadata.resourceVersion`);
    return { items: (parsed.data.items ?? []) as KubeObject[], resourceVersion: rv, continueToken: parsed.data.metadata?.continue || undefined };
  }

  /**
   * Opens a watch from `resourceVersion` (with bookmarks, ending after `timeoutSeconds`); resolves
   * once the server accepted it, with its events, which end when the server ends the stream.
   * Events larger than `maxEventBytes` are refused with an error.
   */
  async watch(query: ResourceQuery, from: { resourceVersion: string; timeoutSeconds: number }, signal: AbortSignal): Promise<AsyncIterable<WatchEvent>> {
    const res = await this.send(
      query,
      { watch: '1', allowWatchBookmarks: 'true', resourceVersion: from.resourceVersion, timeoutSeconds: String(from.timeoutSeconds) },
      signal,
      { headersMs: 60_000, bodyMs: (from.timeoutSeconds + 60) * 1000 },
    );
    return this.events(query, res.body);
  }

  private async *events(query: ResourceQuery, body: Dispatcher.ResponseData['body']): AsyncGenerator<WatchEvent> {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const parse = (line: Buffer): WatchEvent | undefined => {
      const text = line.toString('utf8').trim();
      if (!text) return undefined;
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new KubeProtocolError(`watch of ${query.kind}: an event is not JSON`);
      }
      const ev = eventSchema.safeParse(json);
      if (!ev.success) throw new KubeProtocolError(`watch of ${query.kind}: not a watch event (${firstIssue(ev.error)})`);
      const { type, object } = ev.data;
      if (type === 'ERROR') {
        const st = statusSchema.safeParse(object);
        return { type, status: st.success ? st.data : {} };
      }
      if (type === 'BOOKMARK') {
        const rv = (object as { metadata?: { resourceVersion?: unknown } }).metadata?.resourceVersion;
        if (typeof rv !== 'string' || !rv) throw new KubeProtocolError(`watch of ${query.kind}: a BOOKMARK without metadata.resourceVersion`);
        return { type, resourceVersion: rv };
      }
      const obj = kubeObjectSchema.safeParse(object);
      if (!obj.success) throw new KubeProtocolError(`watch of ${query.kind}: a ${type} object is malformed (${firstIssue(obj.error)})`);
      return { type, object: obj.data as KubeObject };
    };
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        let start = 0;
        for (let nl = chunk.indexOf(10, start); nl >= 0; nl = chunk.indexOf(10, start)) {
          const line = pending.length ? Buffer.concat([...pending, chunk.subarray(start, nl)]) : chunk.subarray(start, nl);
          pending = [];
          pendingBytes = 0;
          start = nl + 1;
          if (line.length > this.limits.maxEventBytes) throw new KubeProtocolError(`watch of ${query.kind}: an event is larger than ${this.limits.maxEventBytes} bytes`);
          const ev = parse(line);
          if (ev) yield ev;
        }
        if (start < chunk.length) {
          pendingBytes += chunk.length - start;
          if (pendingBytes > this.limits.maxEventBytes) throw new KubeProtocolError(`watch of ${query.kind}: an event is larger than ${this.limits.maxEventBytes} bytes`);
          pending.push(chunk.subarray(start));
        }
      }
      const last = pending.length ? parse(Buffer.concat(pending)) : undefined;
      if (last) yield last;
    } finally {
      body.destroy();
    }
  }

  /** Closes the connections (requests in flight fail). */
  async close(): Promise<void> {
    await this.connection.dispatcher.destroy().catch(() => undefined);
  }
}

/** Reads a body up to `max` bytes; more is an error. */
async function readBounded(body: AsyncIterable<Buffer> & { destroy(): unknown }, max: number, what = `response larger than ${max} bytes`): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      body.destroy();
      throw new KubeProtocolError(what);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
