/**
 * ScrapeLoop against real loopback exporters: the Accept header of scrape_protocols,
 * compression, body_size_limit (plain and gzip, endless bodies), label limits, redirects and
 * rotated bearer token files. Each scrape is driven with `scrapeOnce()` (no timers).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { constants, createGzip } from 'node:zlib';
import type { Label, ScrapeConfig } from '@fleet/pipeline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHttpDispatcher } from '../remote-write/http.js';
import { SeriesTable } from '../series/series-table.js';
import { AgentMetrics } from '../telemetry/metrics.js';
import type { SampleColumns } from '../wal/format.js';
import { acceptHeader, labelLimitViolation, ScrapeLoop } from './loop.js';
import { buildTargets } from './target.js';

/** A scrape job as the config parser would produce it, with test overrides. */
function job(overrides: Partial<ScrapeConfig> = {}): ScrapeConfig {
  return {
    jobName: 'test',
    scrapeIntervalMs: 60_000,
    scrapeTimeoutMs: 5_000,
    metricsPath: '/metrics',
    scheme: 'http',
    params: {},
    honorLabels: false,
    honorTimestamps: true,
    staticConfigs: [],
    fileSdConfigs: [],
    kubernetesSdConfigs: [],
    ec2SdConfigs: [],
    dnsSdConfigs: [],
    httpSdConfigs: [],
    consulSdConfigs: [],
    relabelConfigs: [],
    metricRelabelConfigs: [],
    scrapeProtocols: ['OpenMetricsText1.0.0', 'OpenMetricsText0.0.1', 'PrometheusText1.0.0', 'PrometheusText0.0.4'],
    enableCompression: true,
    sampleLimit: 0,
    bodySizeLimitBytes: 0,
    labelLimit: 0,
    labelNameLengthLimit: 0,
    labelValueLengthLimit: 0,
    targetLimit: 0,
    keepDroppedTargets: 0,
    ...overrides,
  };
}

interface Exporter {
  server: Server;
  address: string;
  requests: IncomingMessage[];
  /** Resolves when the client closed a connection before the response ended. */
  abandoned: Promise<void>;
}

/** A loopback HTTP server answering every request with `handle`. */
async function startServer(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<Exporter> {
  const requests: IncomingMessage[] = [];
  let markAbandoned!: () => void;
  const abandoned = new Promise<void>((resolve) => (markAbandoned = resolve));
  const server = createServer((req, res) => {
    requests.push(req);
    res.on('close', () => {
      if (!res.writableFinished) markAbandoned();
    });
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}`, requests, abandoned };
}

/** The samples appended by a loop, with their series labels. */
class Captured {
  readonly samples: Array<{ labels: readonly Label[]; ts: number; value: number }> = [];
  constructor(private readonly series: SeriesTable) {}
  append(columns: SampleColumns): Promise<void> {
    for (let i = 0; i < columns.count; i++) {
      const labels = this.series.get(columns.refs[i]!)!.labels;
      this.samples.push({ labels, ts: columns.timestamps[i]!, value: columns.valueView.getFloat64(i * 8, true) });
    }
    return Promise.resolve();
  }
  /** Value of the last sample of `name`. */
  last(name: string): number | undefined {
    return this.samples.filter((s) => s.labels.some((l) => l.name === '__name__' && l.value === name)).at(-1)?.value;
  }
}

const servers: Server[] = [];
const loops: ScrapeLoop[] = [];
const closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  await Promise.all(loops.splice(0).map((l) => l.stop({ stale: false })));
  await Promise.all(closers.splice(0).map((c) => c()));
  await Promise.all(
    servers.splice(0).map((s) => {
      s.closeAllConnections();
      return new Promise((r) => s.close(r));
    }),
  );
});

async function exporter(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<Exporter> {
  const e = await startServer(handle);
  servers.push(e.server);
  return e;
}

/** A loop for one target at `address` with the job settings given; returns it and its samples. */
function loopFor(address: string, config: ScrapeConfig, env: NodeJS.ProcessEnv = {}): { loop: ScrapeLoop; captured: Captured } {
  const series = new SeriesTable();
  const captured = new Captured(series);
  const { targets } = buildTargets(config, [{ source: 'test', targets: [address], labels: {} }], []);
  const dispatcher = createHttpDispatcher(config, { connections: 4, env });
  closers.push(() => dispatcher.close());
  const loop = new ScrapeLoop(targets[0]!, config, {
    metricRelabel: [],
    series,
    appender: captured,
    metrics: new AgentMetrics(),
    dispatcher,
    log: () => undefined,
  });
  loops.push(loop);
  return { loop, captured };
}

const serve = (body: string, headers: Record<string, string> = {}) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', ...headers });
  res.end(body);
};

describe('Accept and Accept-Encoding', () => {
  it('builds Prometheus q-values from scrape_protocols in order, skipping protobuf', () => {
    expect(acceptHeader(['OpenMetricsText1.0.0', 'OpenMetricsText0.0.1', 'PrometheusText1.0.0', 'PrometheusText0.0.4'])).toBe(
      'application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,' +
        'text/plain;version=1.0.0;escaping=underscores;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2',
    );
    expect(acceptHeader(['PrometheusText0.0.4', 'OpenMetricsText0.0.1'])).toBe('text/plain;version=0.0.4;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,*/*;q=0.4');
    expect(acceptHeader(['PrometheusProto', 'PrometheusText0.0.4'])).toBe('text/plain;version=0.0.4;q=0.6,*/*;q=0.5');
  });

  it('sends the protocol list and gzip, or identity when enable_compression is false', async () => {
    const e = await exporter(serve('up_metric 1\n'));
    const compressed = loopFor(e.address, job({ scrapeProtocols: ['PrometheusText0.0.4'] }));
    await compressed.loop.scrapeOnce();
    expect(e.requests[0]!.headers.accept).toBe('text/plain;version=0.0.4;q=0.6,*/*;q=0.5');
    expect(e.requests[0]!.headers['accept-encoding']).toBe('gzip');
    const plain = loopFor(e.address, job({ scrapeProtocols: ['OpenMetricsText1.0.0', 'PrometheusText0.0.4'], enableCompression: false }));
    await plain.loop.scrapeOnce();
    expect(e.requests[1]!.headers.accept).toBe('application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,text/plain;version=0.0.4;q=0.5,*/*;q=0.4');
    expect(e.requests[1]!.headers['accept-encoding']).toBe('identity');
    expect(plain.loop.status().up).toBe(true);
  });

  it('reads a gzip-encoded body', async () => {
    const body = Buffer.from('zipped_metric 42\n');
    const e = await exporter((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
      const gz = createGzip();
      gz.pipe(res);
      gz.end(body);
    });
    const { loop, captured } = loopFor(e.address, job());
    await loop.scrapeOnce();
    expect(loop.status()).toMatchObject({ up: true, lastError: null });
    expect(captured.last('zipped_metric')).toBe(42);
  });
});

describe('a broken gzip body', () => {
  it('fails the scrape naming the encoding', async () => {
    const e = await exporter((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
      res.end('not gzip at all');
    });
    const { loop } = loopFor(e.address, job());
    await loop.scrapeOnce();
    expect(loop.status().up).toBe(false);
    expect(loop.status().lastError).toMatch(/^invalid gzip body: /);
  });
});

describe('body_size_limit', () => {
  /** Writes `line` forever (until the client goes away), through gzip when asked. */
  const endless = (gzip: boolean) => (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/plain', ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
    const out = gzip ? createGzip({ level: constants.Z_BEST_COMPRESSION }) : res;
    if (gzip) out.pipe(res);
    // Zeros in a comment line compress about 1000:1: a gzip bomb without end.
    const chunk = Buffer.from(`# ${'0'.repeat(64 * 1024)}\n`);
    const pump = () => {
      while (!res.destroyed && out.write(chunk));
      if (!res.destroyed) out.once('drain', pump);
    };
    res.on('close', () => out.destroy());
    pump();
  };

  it('fails a plain body that reaches the limit, without reading it to the end', async () => {
    const e = await exporter(endless(false));
    const { loop, captured } = loopFor(e.address, job({ bodySizeLimitBytes: 1024 * 1024 }));
    await loop.scrapeOnce();
    expect(loop.status()).toMatchObject({ up: false, lastError: 'body size limit exceeded' });
    expect(captured.last('up')).toBe(0);
    await e.abandoned;
  });

  it('bounds the decompression of an endless gzip body (a gzip bomb)', async () => {
    const e = await exporter(endless(true));
    const { loop, captured } = loopFor(e.address, job({ bodySizeLimitBytes: 4 * 1024 * 1024 }));
    await loop.scrapeOnce();
    expect(loop.status()).toMatchObject({ up: false, lastError: 'body size limit exceeded' });
    expect(captured.last('up')).toBe(0);
    await e.abandoned;
  });

  it('accepts a body under the limit; one of exactly the limit fails, as in Prometheus', async () => {
    const body = 'a_metric 1\n'; // 11 bytes
    const e = await exporter(serve(body));
    const under = loopFor(e.address, job({ bodySizeLimitBytes: body.length + 1 }));
    await under.loop.scrapeOnce();
    expect(under.loop.status()).toMatchObject({ up: true, samples: 1 });
    const exact = loopFor(e.address, job({ bodySizeLimitBytes: body.length }));
    await exact.loop.scrapeOnce();
    expect(exact.loop.status()).toMatchObject({ up: false, lastError: 'body size limit exceeded' });
  });
});

describe('label limits (after target labels and metric relabelling)', () => {
  // `m{a="1"}` becomes {__name__, a, instance, job}: four labels.
  const body = 'm{a="1"} 1\nlong_label_metric{a_rather_long_label_name="short"} 2\n';

  it.each([
    ['label_limit', { labelLimit: 3 }, 'label_limit exceeded (metric: m, number of labels: 4, limit: 3)'],
    [
      'label_name_length_limit',
      { labelNameLengthLimit: 10 },
      'label_name_length_limit exceeded (metric: long_label_metric, label name: a_rather_long_label_name, length: 24, limit: 10)',
    ],
    ['label_value_length_limit', { labelValueLengthLimit: 4 }, 'label_value_length_limit exceeded (metric: m, label name: instance, value: "127.0.0.1:PORT", length: LEN, limit: 4)'],
  ] as const)('%s fails the whole scrape with up = 0', async (_name, limits, message) => {
    const e = await exporter(serve(body));
    const port = e.address.split(':')[1]!;
    const { loop, captured } = loopFor(e.address, job(limits));
    await loop.scrapeOnce();
    expect(loop.status()).toMatchObject({ up: false, samples: 0, lastError: message.replace('PORT', port).replace('LEN', String(e.address.length)) });
    expect(captured.last('up')).toBe(0);
    expect(captured.last('m')).toBeUndefined();
    // Nothing of the failed scrape was cached: the next scrape fails the same way.
    await loop.scrapeOnce();
    expect(loop.status().up).toBe(false);
  });

  it('passes at the limits exactly', async () => {
    const e = await exporter(serve(body));
    const { loop, captured } = loopFor(e.address, job({ labelLimit: 4, labelNameLengthLimit: 24, labelValueLengthLimit: 'long_label_metric'.length }));
    await loop.scrapeOnce();
    expect(loop.status()).toMatchObject({ up: true, lastError: null, samples: 2 });
    expect(captured.last('up')).toBe(1);
  });

  it('counts bytes and clips names to 50 characters in the message', () => {
    const labels = [
      { name: '__name__', value: 'x'.repeat(60) },
      { name: 'v', value: 'é'.repeat(3) },
    ];
    expect(labelLimitViolation(labels, { labelLimit: 1, labelNameLengthLimit: 0, labelValueLengthLimit: 0 })).toBe(
      `label_limit exceeded (metric: ${'x'.repeat(50)}, number of labels: 2, limit: 1)`,
    );
    expect(labelLimitViolation(labels, { labelLimit: 0, labelNameLengthLimit: 0, labelValueLengthLimit: 61 })).toBeNull();
    expect(labelLimitViolation([labels[1]!], { labelLimit: 0, labelNameLengthLimit: 0, labelValueLengthLimit: 5 })).toBe(
      'label_value_length_limit exceeded (metric: , label name: v, value: "ééé", length: 6, limit: 5)',
    );
  });
});

describe('redirects', () => {
  it('follow_redirects false: a 3xx fails the scrape with its status', async () => {
    const e = await exporter((req, res) => {
      if (req.url === '/metrics') res.writeHead(302, { location: '/real' }).end();
      else serve('real_metric 1\n')(req, res);
    });
    const { loop } = loopFor(e.address, job({ followRedirects: false }));
    await loop.scrapeOnce();
    expect(loop.status()).toMatchObject({ up: false, lastError: 'server returned HTTP status 302 Found' });
    expect(e.requests.map((r) => r.url)).toEqual(['/metrics']);
  });

  it('follows redirects by default, keeping Authorization on the same origin only', async () => {
    const other = await exporter(serve('elsewhere_metric 1\n'));
    const e = await exporter((req, res) => {
      if (req.url === '/metrics') res.writeHead(301, { location: '/moved' }).end();
      else if (req.url === '/moved') res.writeHead(307, { location: `http://${other.address}/final` }).end();
      else res.writeHead(404).end();
    });
    const { loop, captured } = loopFor(e.address, job({ authorization: { type: 'Bearer', credentials: 'sekret' } }));
    await loop.scrapeOnce();
    expect(loop.status()).toMatchObject({ up: true, lastError: null });
    expect(captured.last('elsewhere_metric')).toBe(1);
    expect(e.requests.map((r) => [r.url, r.headers.authorization])).toEqual([
      ['/metrics', 'Bearer sekret'],
      ['/moved', 'Bearer sekret'],
    ]);
    expect(other.requests.map((r) => [r.url, r.headers.authorization])).toEqual([['/final', undefined]]);
  });

  it('gives up after 10 redirects, as Go', async () => {
    const e = await exporter((req, res) => {
      const n = req.url === '/metrics' ? 0 : Number(req.url!.slice(2));
      res.writeHead(302, { location: `/r${n + 1}` }).end();
    });
    const { loop } = loopFor(e.address, job());
    await loop.scrapeOnce();
    expect(loop.status()).toMatchObject({ up: false, lastError: 'stopped after 10 redirects' });
    expect(e.requests).toHaveLength(11);
  });
});

describe('through an HTTP proxy', () => {
  /**
   * A forward proxy (absolute-URI requests, as Go sends for http targets) that resolves every
   * host name to the loopback exporter's address and records what it was asked for.
   */
  async function forwardProxy(): Promise<{ url: string; asked: Array<{ url: string; headers: IncomingMessage['headers'] }> }> {
    const asked: Array<{ url: string; headers: IncomingMessage['headers'] }> = [];
    const proxy = await exporter((req, res) => {
      asked.push({ url: req.url!, headers: req.headers });
      const wanted = new URL(req.url!);
      const upstream = httpRequest({ host: '127.0.0.1', port: wanted.port, path: `${wanted.pathname}${wanted.search}`, headers: { ...req.headers, host: wanted.host } }, (up) => {
        res.writeHead(up.statusCode!, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.writeHead(502).end());
      upstream.end();
    });
    return { url: `http://${proxy.address}`, asked };
  }

  it('sends the scrape to proxy_url, host names and all', async () => {
    const e = await exporter(serve('proxied_metric 7\n'));
    const proxy = await forwardProxy();
    const port = e.address.split(':')[1]!;
    const { loop, captured } = loopFor(`metrics.example.test:${port}`, job({ proxy: { url: proxy.url, fromEnvironment: false, connectHeaders: {} } }));
    await loop.scrapeOnce();
    expect(loop.status()).toMatchObject({ up: true, lastError: null });
    expect(captured.last('proxied_metric')).toBe(7);
    expect(proxy.asked.map((a) => a.url)).toEqual([`http://metrics.example.test:${port}/metrics`]);
    expect(e.requests[0]!.headers.host).toBe(`metrics.example.test:${port}`);
  });

  it('bypasses the proxy for hosts in no_proxy', async () => {
    const e = await exporter(serve('direct_metric 1\n'));
    const proxy = await forwardProxy();
    const { loop } = loopFor(e.address, job({ proxy: { url: proxy.url, noProxy: '10.0.0.0/8,127.0.0.1', fromEnvironment: false, connectHeaders: {} } }));
    await loop.scrapeOnce();
    expect(loop.status().up).toBe(true);
    expect(proxy.asked).toHaveLength(0);
    expect(e.requests).toHaveLength(1);
  });

  it('uses http_proxy from the environment with proxy_from_environment', async () => {
    const e = await exporter(serve('env_metric 1\n'));
    const proxy = await forwardProxy();
    const port = e.address.split(':')[1]!;
    const { loop } = loopFor(`node.example.test:${port}`, job({ proxy: { fromEnvironment: true, connectHeaders: {} } }), { http_proxy: proxy.url, NO_PROXY: 'other.test' });
    await loop.scrapeOnce();
    expect(loop.status().up).toBe(true);
    expect(proxy.asked.map((a) => a.url)).toEqual([`http://node.example.test:${port}/metrics`]);
  });
});

describe('bearer_token_file', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-scrape-token-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is read again for every scrape, so a rotated token is used at once', async () => {
    const file = path.join(dir, 'token');
    await writeFile(file, 'first-token\n');
    const e = await exporter(serve('a 1\n'));
    const { loop } = loopFor(e.address, job({ authorization: { type: 'Bearer', credentialsFile: file } }));
    await loop.scrapeOnce();
    await writeFile(file, 'second-token\n');
    await loop.scrapeOnce();
    expect(e.requests.map((r) => r.headers.authorization)).toEqual(['Bearer first-token', 'Bearer second-token']);
  });
});
