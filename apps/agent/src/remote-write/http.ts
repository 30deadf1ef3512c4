import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import type { HttpClientConfig, ProxyConfig, TlsConfig } from '@fleet/pipeline';
import { Agent, Dispatcher, interceptors, ProxyAgent } from 'undici';

/** Redirects followed before a request fails, as Go's `http.Client` (`stopped after 10 redirects`). */
export const MAX_REDIRECTS = 10;

/** Status codes Go's client follows (undici also follows 300; Go returns it). */
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

type TlsOptions = Pick<ConnectionOptions, 'ca' | 'cert' | 'key' | 'servername' | 'rejectUnauthorized' | 'minVersion' | 'maxVersion'>;

/**
 * Node TLS options of a `tls_config` (CA, client certificate and key inline or in files, server
 * name, insecure_skip_verify, min/max version). Files are read now, so a missing file is reported
 * at config-apply time, naming the file.
 */
function tlsOptions(tls: TlsConfig | undefined): TlsOptions {
  const read = (what: string, inline: string | undefined, file: string | undefined) => {
    if (inline) return inline;
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`tls_config.${what} ${file}: ${(err as { code?: string }).code ?? 'cannot read'}`, { cause: err });
    }
  };
  const version = (v: TlsConfig['minVersion']) => (v ? (`TLSv1${v === 'TLS10' ? '' : `.${v.slice(4)}`}` as 'TLSv1.2') : undefined);
  const minVersion = version(tls?.minVersion);
  const maxVersion = version(tls?.maxVersion);
  return {
    ca: read('ca_file', tls?.ca, tls?.caFile),
    cert: read('cert_file', tls?.cert, tls?.certFile),
    key: read('key_file', tls?.key, tls?.keyFile),
    servername: tls?.serverName,
    rejectUnauthorized: !(tls?.insecureSkipVerify ?? false),
    ...(minVersion ? { minVersion } : {}),
    ...(maxVersion ? { maxVersion } : {}),
  };
}

/**
 * An undici dispatcher honouring a `tls_config` (CA, client certificate, server name,
 * insecure_skip_verify, min_version). Files are read when the dispatcher is created, so a
 * missing file is reported at config-apply time, naming the file. No proxy, HTTP/1.1 only, no
 * redirects: {@link createHttpDispatcher} is the one that honours a whole `HttpClientConfig`.
 */
export function createDispatcher(tls: TlsConfig | undefined, options: { connections?: number } = {}): Agent {
  return new Agent({ connections: options.connections ?? 16, keepAliveTimeout: 30_000, connect: tlsOptions(tls) });
}

/** Options of {@link createHttpDispatcher} that are not part of the config block. */
export interface HttpDispatcherOptions {
  /** Connections per origin (default 16). */
  connections?: number;
  /** Where `proxy_from_environment` reads HTTP_PROXY / HTTPS_PROXY / NO_PROXY (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

/**
 * The dispatcher of one HTTP client block (scrape job, HTTP-based discovery, remote write):
 * `tls_config`; `proxy_url` (HTTP forwarding for http targets, CONNECT for https ones) with
 * `no_proxy`, or `proxy_from_environment`, and `proxy_connect_header`; HTTP/2 over TLS unless
 * `enable_http2: false`; redirects followed (at most {@link MAX_REDIRECTS}) unless
 * `follow_redirects: false`, dropping `Authorization` when the origin changes. Close it when done.
 */
export function createHttpDispatcher(config: HttpClientConfig, options: HttpDispatcherOptions = {}): Dispatcher {
  const router = new ProxyRouter(config, options);
  return config.followRedirects === false ? router : router.compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTS }));
}

/**
 * Whether a response's status is one the dispatcher of {@link createHttpDispatcher} would have
 * followed: with `follow_redirects` on, getting one back means the redirects ran out.
 */
export function isFollowedRedirect(statusCode: number, location: unknown): boolean {
  return REDIRECT_STATUSES.has(statusCode) && typeof location === 'string' && location !== '';
}

/** Sends each request directly or through the proxy its origin calls for. */
class ProxyRouter extends Dispatcher {
  private readonly direct: Agent;
  private readonly proxies = new Map<string, ProxyAgent>();
  private readonly choose: (origin: URL) => string | null;
  private readonly build: (proxy: string) => ProxyAgent;

  constructor(config: HttpClientConfig, options: HttpDispatcherOptions) {
    super();
    const tls = tlsOptions(config.tlsConfig);
    const allowH2 = config.enableHttp2 ?? true;
    const common = { connections: options.connections ?? 16, keepAliveTimeout: 30_000, allowH2 };
    this.direct = new Agent({ ...common, connect: { ...tls, allowH2 } });
    this.choose = proxySelector(config.proxy, options.env ?? process.env);
    const { servername: _targetName, ...proxyTls } = tls;
    this.build = (proxy) =>
      new ProxyAgent({
        ...common,
        uri: proxy,
        proxyTunnel: false, // http targets: absolute-URI forwarding, as Go; https targets still CONNECT
        headers: { ...config.proxy?.connectHeaders },
        requestTls: { ...tls, allowH2 },
        proxyTls,
      });
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const origin = options.origin === undefined ? null : new URL(String(options.origin));
    const proxy = origin ? this.choose(origin) : null;
    if (!proxy) return this.direct.dispatch(options, handler);
    let agent = this.proxies.get(proxy);
    if (!agent) {
      agent = this.build(proxy);
      this.proxies.set(proxy, agent);
    }
    return agent.dispatch(options, handler);
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    const done = Promise.all([this.direct.close(), ...[...this.proxies.values()].map((p) => p.close())]).then(() => undefined);
    if (!callback) return done;
    void done.then(callback, callback);
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
    const err = typeof a === 'function' ? null : (a ?? null);
    const callback = typeof a === 'function' ? a : b;
    const done = Promise.all([this.direct.destroy(err), ...[...this.proxies.values()].map((p) => p.destroy(err))]).then(() => undefined);
    if (!callback) return done;
    void done.then(callback, callback);
  }
}

/**
 * The proxy URL (or null: connect directly) for each request origin, as Prometheus decides:
 * `proxy_url` alone proxies everything (Go's `http.ProxyURL`); with `no_proxy`, or from the
 * environment, Go's `httpproxy` rules apply (never for localhost / loopback addresses; `no_proxy`
 * entries are hosts and their subdomains, `.domains`, IPs, CIDRs, each optionally `:port`, or `*`).
 */
export function proxySelector(proxy: ProxyConfig | undefined, env: NodeJS.ProcessEnv): (origin: URL) => string | null {
  if (!proxy) return () => null;
  if (proxy.fromEnvironment) {
    const get = (upper: string) => env[upper] || env[upper.toLowerCase()] || '';
    const http = parseProxyUrl(get('HTTP_PROXY'), 'HTTP_PROXY');
    const https = parseProxyUrl(get('HTTPS_PROXY'), 'HTTPS_PROXY');
    const bypass = noProxyMatcher(get('NO_PROXY'));
    // Go refuses HTTP_PROXY for http requests in a CGI environment (golang.org/s/cgihttpproxy).
    const cgi = Boolean(env.REQUEST_METHOD);
    return (origin) => {
      const chosen = origin.protocol === 'https:' ? https : origin.protocol === 'http:' && !cgi ? http : null;
      return chosen && !bypass(origin) ? chosen : null;
    };
  }
  const url = parseProxyUrl(proxy.url ?? '', 'proxy_url');
  if (!url) return () => null;
  if (!proxy.noProxy) return () => url;
  const bypass = noProxyMatcher(proxy.noProxy);
  return (origin) => (bypass(origin) ? null : url);
}

/** A proxy setting as Go reads it: a bare `host:port` means `http://host:port`; http and https only. */
function parseProxyUrl(value: string, what: string): string | null {
  if (!value) return null;
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
  } catch {
    throw new Error(`${what}: not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${what}: scheme ${url.protocol.slice(0, -1)} is not supported (http or https)`);
  return url.href;
}

/**
 * Go's `httpproxy` bypass test for a `no_proxy` list: true when the origin must be reached
 * directly. localhost and loopback addresses always are.
 */
export function noProxyMatcher(noProxy: string): (origin: URL) => boolean {
  const ips: Array<{ ip: string; port: string }> = [];
  const cidrs = new BlockList();
  let anyCidr = false;
  const domains: Array<{ suffix: string; port: string; matchHost: boolean }> = [];
  let all = false;
  for (const raw of noProxy.split(',')) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') {
      all = true;
      break;
    }
    const cidr = /^(.+)\/(\d{1,3})$/.exec(entry);
    if (cidr && isIP(cidr[1]!) && Number(cidr[2]) <= (isIP(cidr[1]!) === 4 ? 32 : 128)) {
      cidrs.addSubnet(cidr[1]!, Number(cidr[2]), isIP(cidr[1]!) === 4 ? 'ipv4' : 'ipv6');
      anyCidr = true;
      continue;
    }
    let host = entry;
    let port = '';
    const withPort = /^(\[[^\]]*\]|[^:]*):(\d*)$/.exec(entry);
    if (withPort) {
      host = withPort[1]!;
      port = withPort[2]!;
      if (!host) continue;
    }
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
    if (isIP(host)) {
      ips.push({ ip: normaliseIp(host), port });
      continue;
    }
    if (!host) continue;
    if (host.startsWith('*.')) host = host.slice(1);
    const matchHost = !host.startsWith('.');
    domains.push({ suffix: matchHost ? `.${host}` : host, port, matchHost });
  }
  return (origin) => {
    const host = unbracket(origin.hostname).toLowerCase();
    const port = origin.port || (origin.protocol === 'https:' ? '443' : '80');
    if (host === 'localhost') return true;
    const family = isIP(host);
    if (family && isLoopback(host, family)) return true;
    if (all) return true;
    if (family) {
      const ip = normaliseIp(host);
      if (ips.some((m) => m.ip === ip && (m.port === '' || m.port === port))) return true;
      if (anyCidr && cidrs.check(host, family === 4 ? 'ipv4' : 'ipv6')) return true;
    }
    return domains.some((m) => (host.endsWith(m.suffix) || (m.matchHost && host === m.suffix.slice(1))) && (m.port === '' || m.port === port));
  };
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

function isLoopback(ip: string, family: number): boolean {
  return LOOPBACK.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

/** One spelling per IP address (IPv6 compressed, as the URL parser writes it). */
function normaliseIp(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  try {
    return unbracket(new URL(`http://[${ip}]/`).hostname);
  } catch {
    return ip;
  }
}

/**
 * The `Authorization` header value of a basic_auth / authorization block (secrets read from
 * files on every call, so rotated files are picked up), or undefined.
 */
export function authorizationHeader(config: HttpClientConfig): string | undefined {
  if (config.basicAuth) {
    const username = config.basicAuth.usernameFile ? readFileSync(config.basicAuth.usernameFile, 'utf8').trim() : config.basicAuth.username;
    const password = config.basicAuth.passwordFile ? readFileSync(config.basicAuth.passwordFile, 'utf8').trim() : (config.basicAuth.password ?? '');
    return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }
  if (config.authorization) {
    const credentials = config.authorization.credentialsFile
      ? readFileSync(config.authorization.credentialsFile, 'utf8').trim()
      : (config.authorization.credentials ?? '');
    return `${config.authorization.type} ${credentials}`;
  }
  return undefined;
}
