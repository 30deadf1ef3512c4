import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpSdConfig } from '@fleet/pipeline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AGENT_VERSION } from '../version.js';
import { HttpDiscoverer, parseTargetList } from './http-sd.js';
import { Recorder, addresses } from './test-support/recorder.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const json =
  (body: unknown, contentType = 'application/json', status = 200): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': contentType });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };

describe('HttpDiscoverer (loopback HTTP server)', () => {
  let server: Server;
  let url: string;
  let handler: Handler;
  let requests: IncomingMessage[];
  let discoverer: HttpDiscoverer | null = null;
  let rec: Recorder;

  beforeEach(async () => {
    requests = [];
    handler = json([]);
    server = createServer((req, res) => {
      requests.push(req);
      handler(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sd`;
    rec = new Recorder();
  });
  afterEach(async () => {
    discoverer?.stop();
    discoverer = null;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const run = (config: Partial<HttpSdConfig> = {}) => {
    // Short intervals make the refresh tests quick; the request timeout is one interval (as in
    // Prometheus), so a slow answer there only means an error and another try.
    discoverer = new HttpDiscoverer({ url, refreshIntervalMs: 100, ...config }, rec.deps());
    rec.start(discoverer);
  };

  const good = [
    { targets: ['10.0.0.1:9100', '10.0.0.2:9100'], labels: { env: 'prod', __meta_url: 'overridden' } },
    { targets: ['10.0.0.3:9100'] },
  ];

  it('a good list: groups `<url>:<i>` with __meta_url; the request carries Prometheus’s headers and the authorization', async () => {
    handler = json(good, 'application/json; charset=utf-8');
    run({ authorization: { type: 'Bearer', credentials: 's3cret' }, refreshIntervalMs: 5_000 });
    await rec.until('the first update', () => rec.updates.length > 0);
    expect(rec.latest).toEqual([
      { source: `${url}:0`, targets: ['10.0.0.1:9100', '10.0.0.2:9100'], labels: { env: 'prod', __meta_url: url } },
      { source: `${url}:1`, targets: ['10.0.0.3:9100'], labels: { __meta_url: url } },
    ]);
    const req = requests[0]!;
    expect(req.method).toBe('GET');
    expect(req.url).toBe('/sd');
    expect(req.headers.accept).toBe('application/json');
    expect(req.headers['user-agent']).toBe(`fleet-agent/${AGENT_VERSION}`);
    expect(req.headers['x-prometheus-refresh-interval-seconds']).toBe('5');
    expect(req.headers.authorization).toBe('Bearer s3cret');
    expect(rec.errors).toEqual([]);
  });

  it('a refresh picks up a changed list, and a list that shrinks drops the vanished groups', async () => {
    handler = json(good);
    run();
    await rec.until('two groups', () => rec.latest.length === 2);
    handler = json([{ targets: ['10.9.9.9:80'] }]);
    await rec.until('the new list', () => rec.latest.length === 1 && addresses(rec.latest).join() === '10.9.9.9:80');
  });

  it('another content type is refused and the last good targets stay', async () => {
    handler = json(good);
    run();
    await rec.until('the good list', () => rec.latest.length === 2);
    handler = json(good, 'text/plain; charset=utf-8');
    await rec.error(/^http_sd http:\/\/127\.0\.0\.1:\d+\/sd: unsupported content type "text\/plain; charset=utf-8"; keeping the last targets$/);
    expect(addresses(rec.latest)).toEqual(['10.0.0.1:9100', '10.0.0.2:9100', '10.0.0.3:9100']);
  });

  it('a bad label name is refused naming its JSON path', async () => {
    handler = json([{ targets: ['a:1'] }, { targets: ['b:1'], labels: { 'bad-name': 'x' } }]);
    run();
    await rec.error(/: invalid target list at \[1\]\.labels\["bad-name"\]: not a valid label name$/);
    expect(rec.latest).toEqual([]);
  });

  it('HTTP 500 is reported with its status and the last good targets stay; recovery replaces them', async () => {
    handler = json(good);
    run();
    await rec.until('the good list', () => rec.latest.length === 2);
    handler = json('oops', 'text/plain', 500);
    await rec.error(/: server returned HTTP status 500 Internal Server Error; keeping the last targets$/);
    expect(addresses(rec.latest)).toHaveLength(3);
    handler = json([{ targets: ['10.1.1.1:9100'] }]);
    await rec.until('the recovered list', () => addresses(rec.latest).join() === '10.1.1.1:9100');
  });

  it('invalid JSON is refused', async () => {
    handler = json('[{"targets": [');
    run({ refreshIntervalMs: 5_000 });
    await rec.error(/: invalid JSON: /);
  });

  it('a body over 16 MiB is refused', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      let sent = 0;
      const more = (): void => {
        while (sent < 20 && res.write(chunk)) sent++;
        if (sent < 20) res.once('drain', more);
        else res.end('[]');
      };
      res.on('error', () => undefined);
      more();
    };
    run({ refreshIntervalMs: 20_000 });
    await rec.error(/: response body exceeds 16 MiB$/);
  });
});

describe('parseTargetList', () => {
  it('accepts null targets/labels; refuses null items, unknown keys and non-string targets, naming the path', () => {
    expect(parseTargetList([{ targets: null, labels: null }])).toEqual([{ targets: [], labels: {} }]);
    expect(() => parseTargetList([{ targets: [] }, null])).toThrow(/at \[1\]: /);
    expect(() => parseTargetList([{ targets: [], extra: 1 }])).toThrow(/at \[0\]: Unrecognized key: "extra"/);
    expect(() => parseTargetList([{ targets: ['a', 7] }])).toThrow(/at \[0\]\.targets\[1\]: /);
    expect(() => parseTargetList({ targets: [] })).toThrow(/at \$: /);
  });
});
