/**
 * The HTTP client of scrape jobs, discovery and remote write: no_proxy and environment rules
 * (Go's httpproxy), CONNECT through a loopback proxy with proxy_connect_header, HTTP/2 over TLS,
 * TLS verification, and Authorization headers from rotated files.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { HttpClientConfig } from '@fleet/pipeline';
import { request, type Dispatcher } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { authorizationHeader, createDispatcher, createHttpDispatcher, noProxyMatcher, proxySelector } from './http.js';

const url = (u: string) => new URL(u);

describe('no_proxy (Go httpproxy rules)', () => {
  it('matches hosts with their subdomains, .domains, *.domains, IPs, CIDRs and ports', () => {
    const bypass = noProxyMatcher(' Example.com, .svc.cluster.local,*.corp.test, 10.0.0.0/8, 192.168.1.7, fd00::/8, internal.test:8080, [2001:db8::1]:9100 ');
    expect(bypass(url('http://example.com/'))).toBe(true);
    expect(bypass(url('http://api.example.com:9100/'))).toBe(true);
    expect(bypass(url('http://notexample.com/'))).toBe(false);
    expect(bypass(url('http://svc.cluster.local/'))).toBe(false); // a leading dot: subdomains only
    expect(bypass(url('http://kube-dns.kube-system.svc.cluster.local:9153/'))).toBe(true);
    expect(bypass(url('http://a.corp.test/'))).toBe(true);
    expect(bypass(url('http://corp.test/'))).toBe(false);
    expect(bypass(url('http://10.20.30.40:9100/'))).toBe(true);
    expect(bypass(url('http://11.0.0.1/'))).toBe(false);
    expect(bypass(url('http://192.168.1.7:9100/'))).toBe(true);
    expect(bypass(url('http://192.168.1.8/'))).toBe(false);
    expect(bypass(url('http://[fd12::5]:9100/'))).toBe(true);
    expect(bypass(url('http://internal.test:8080/'))).toBe(true);
    expect(bypass(url('http://internal.test:8081/'))).toBe(false);
    expect(bypass(url('http://[2001:db8::1]:9100/'))).toBe(true);
    expect(bypass(url('http://[2001:db8::1]:9101/'))).toBe(false);
  });

  it('never proxies localhost and loopback addresses; * bypasses everything', () => {
    const none = noProxyMatcher('other.test');
    expect(none(url('http://localhost:9090/'))).toBe(true);
    expect(none(url('http://127.0.0.1:9090/'))).toBe(true);
    expect(none(url('http://127.9.9.9/'))).toBe(true);
    expect(none(url('http://[::1]:9090/'))).toBe(true);
    expect(none(url('http://node.example/'))).toBe(false);
    expect(noProxyMatcher('*')(url('https://anything.example/'))).toBe(true);
  });

  it('compares default ports: https means 443, http 80', () => {
    const bypass = noProxyMatcher('secure.test:443,plain.test:80');
    expect(bypass(url('https://secure.test/'))).toBe(true);
    expect(bypass(url('http://secure.test/'))).toBe(false);
    expect(bypass(url('http://plain.test/'))).toBe(true);
  });
});

describe('proxy selection', () => {
  const base = { fromEnvironment: false, connectHeaders: {} };

  it('proxy_url alone proxies everything, loopback too (Go http.ProxyURL)', () => {
    const choose = proxySelector({ ...base, url: 'http://proxy.test:3128' }, {});
    expect(choose(url('http://127.0.0.1:9100/'))).toBe('http://proxy.test:3128/');
    expect(choose(url('https://node.example/'))).toBe('http://proxy.test:3128/');
  });

  it('proxy_url with no_proxy bypasses the listed hosts', () => {
    const choose = proxySelector({ ...base, url: 'http://proxy.test:3128', noProxy: '.cluster.local' }, {});
    expect(choose(url('http://a.cluster.local/'))).toBeNull();
    expect(choose(url('http://node.example/'))).toBe('http://proxy.test:3128/');
  });

  it('proxy_from_environment reads HTTP_PROXY / HTTPS_PROXY / NO_PROXY, lower-case too', () => {
    const upper = proxySelector({ ...base, fromEnvironment: true }, { HTTP_PROXY: 'http://plain-proxy:3128', HTTPS_PROXY: 'secure-proxy:3129', NO_PROXY: 'skip.test' });
    expect(upper(url('http://node.example/'))).toBe('http://plain-proxy:3128/');
    expect(upper(url('https://node.example/'))).toBe('http://secure-proxy:3129/'); // a bare host:port means http://
    expect(upper(url('http://skip.test/'))).toBeNull();
    const lower = proxySelector({ ...base, fromEnvironment: true }, { https_proxy: 'http://lower:1', no_proxy: '*' });
    expect(lower(url('http://node.example/'))).toBeNull();
    expect(proxySelector({ ...base, fromEnvironment: true }, { https_proxy: 'http://lower:1' })(url('https://node.example/'))).toBe('http://lower:1/');
    expect(proxySelector({ ...base, fromEnvironment: true }, { https_proxy: 'http://lower:1' })(url('http://node.example/'))).toBeNull();
  });

  it('ignores HTTP_PROXY for http requests in a CGI environment, as Go', () => {
    const choose = proxySelector({ ...base, fromEnvironment: true }, { HTTP_PROXY: 'http://p:1', REQUEST_METHOD: 'GET' });
    expect(choose(url('http://node.example/'))).toBeNull();
  });

  it('refuses proxy schemes it cannot speak', () => {
    expect(() => proxySelector({ ...base, url: 'socks5://proxy.test:1080' }, {})).toThrow('proxy_url: scheme socks5 is not supported (http or https)');
  });
});

describe('over TLS', () => {
  let dir: string;
  let cert: string;
  let key: string;
  let caFile: string;
  const closers: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-http-client-'));
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=fleet-test', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', 'key.pem', '-out', 'cert.pem'],
      { cwd: dir, stdio: 'pipe' },
    );
    cert = await readFile(path.join(dir, 'cert.pem'), 'utf8');
    key = await readFile(path.join(dir, 'key.pem'), 'utf8');
    caFile = path.join(dir, 'cert.pem');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((c) => c()));
  });

  /** An HTTPS server (HTTP/2 and HTTP/1.1) answering with the protocol version it spoke. */
  async function target(): Promise<{ origin: string; versions: string[] }> {
    const versions: string[] = [];
    const server: Http2SecureServer = createSecureServer({ cert, key, allowHTTP1: true }, (req, res) => {
      versions.push(req.httpVersion);
      res.end(`version ${req.httpVersion}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => server.close(r)));
    const sockets = new Set<Socket>();
    server.on('connection', (s: Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    closers.push(async () => {
      for (const s of sockets) s.destroy();
    });
    return { origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, versions };
  }

  /** A forward proxy that only tunnels (CONNECT), recording each CONNECT's target and headers. */
  async function tunnelProxy(): Promise<{ url: string; connects: Array<{ target: string; headers: IncomingHttpHeaders }> }> {
    const connects: Array<{ target: string; headers: IncomingHttpHeaders }> = [];
    const server: Server = createHttpServer((_req, res) => res.writeHead(405).end());
    const sockets = new Set<Socket>();
    server.on('connect', (req, client: Socket, head: Buffer) => {
      connects.push({ target: req.url!, headers: req.headers });
      const [host, port] = [req.url!.slice(0, req.url!.lastIndexOf(':')), Number(req.url!.slice(req.url!.lastIndexOf(':') + 1))];
      const upstream = connect(port, host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client).pipe(upstream);
      });
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => sockets.delete(s));
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(async () => {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connects };
  }

  async function get(dispatcher: Dispatcher, target: string): Promise<string> {
    closers.push(() => dispatcher.close());
    const res = await request(target, { dispatcher });
    return res.body.text();
  }

  const tls = (extra: Partial<NonNullable<HttpClientConfig['tlsConfig']>> = {}) => ({ tlsConfig: { caFile, insecureSkipVerify: false, ...extra } });

  it('offers HTTP/2 by default and speaks HTTP/1.1 with enable_http2: false', async () => {
    const t = await target();
    expect(await get(createHttpDispatcher(tls()), `${t.origin}/`)).toBe('version 2.0');
    expect(await get(createHttpDispatcher({ ...tls(), enableHttp2: false }), `${t.origin}/`)).toBe('version 1.1');
  });

  it('verifies the server against ca_file (or inline ca); insecure_skip_verify still skips it', async () => {
    const t = await target();
    await expect(get(createHttpDispatcher({ tlsConfig: { insecureSkipVerify: false } }), `${t.origin}/`)).rejects.toThrow(/self-signed|certificate/i);
    expect(await get(createHttpDispatcher({ tlsConfig: { ca: cert, insecureSkipVerify: false } }), `${t.origin}/`)).toMatch(/^version /);
    expect(await get(createHttpDispatcher({ tlsConfig: { insecureSkipVerify: true } }), `${t.origin}/`)).toMatch(/^version /);
  });

  it('createDispatcher(tls, { connections }) keeps working for its existing callers (HTTP/1.1)', async () => {
    const t = await target();
    expect(await get(createDispatcher({ caFile, insecureSkipVerify: false }, { connections: 2 }), `${t.origin}/`)).toBe('version 1.1');
    expect(() => createDispatcher({ caFile: path.join(dir, 'missing.pem'), insecureSkipVerify: false })).toThrow(`tls_config.ca_file ${path.join(dir, 'missing.pem')}: ENOENT`);
  });

  it('tunnels https targets through proxy_url with CONNECT, sending proxy_connect_header', async () => {
    const t = await target();
    const proxy = await tunnelProxy();
    const dispatcher = createHttpDispatcher({ ...tls(), proxy: { url: proxy.url, fromEnvironment: false, connectHeaders: { 'X-Proxy-Token': 'tunnel-secret' } } });
    expect(await get(dispatcher, `${t.origin}/metrics`)).toBe('version 2.0');
    expect(proxy.connects).toHaveLength(1);
    expect(proxy.connects[0]!.target).toBe(t.origin.slice('https://'.length));
    expect(proxy.connects[0]!.headers['x-proxy-token']).toBe('tunnel-secret');
  });

  it('goes direct when no_proxy lists the target, the proxy seeing nothing', async () => {
    const t = await target();
    const proxy = await tunnelProxy();
    const dispatcher = createHttpDispatcher({ ...tls(), proxy: { url: proxy.url, noProxy: '127.0.0.1', fromEnvironment: false, connectHeaders: {} } });
    expect(await get(dispatcher, `${t.origin}/`)).toMatch(/^version /);
    expect(proxy.connects).toHaveLength(0);
  });
});

describe('authorizationHeader', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-http-auth-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads credentials files on every call (rotation) and trims them', async () => {
    const file = path.join(dir, 'token');
    await writeFile(file, 'one\n');
    const config: HttpClientConfig = { authorization: { type: 'Bearer', credentialsFile: file } };
    expect(authorizationHeader(config)).toBe('Bearer one');
    await writeFile(file, ' two \n');
    expect(authorizationHeader(config)).toBe('Bearer two');
  });

  it('builds basic auth from username / password files', async () => {
    await writeFile(path.join(dir, 'user'), 'scraper\n');
    await writeFile(path.join(dir, 'pass'), 'p@ss\n');
    const header = authorizationHeader({ basicAuth: { username: '', usernameFile: path.join(dir, 'user'), passwordFile: path.join(dir, 'pass') } });
    expect(header).toBe(`Basic ${Buffer.from('scraper:p@ss').toString('base64')}`);
    expect(authorizationHeader({})).toBeUndefined();
  });
});
