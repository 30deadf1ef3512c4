import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AgentMetrics } from './metrics.js';

/** The agent's own HTTP endpoint: `/metrics`, `/-/healthy`, `/-/ready`. */
export async function startTelemetryServer(options: {
  listen: string;
  metrics: AgentMetrics;
  ready: () => boolean;
}): Promise<{ server: http.Server; url: string; close(): Promise<void> }> {
  const { host, port } = parseListen(options.listen);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      options.metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': options.metrics.registry.contentType });
          res.end(text);
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(String(err));
        },
      );
      return;
    }
    if (path === '/-/healthy') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('fleet-agent is healthy.\n');
    if (path === '/-/ready') {
      const ok = options.ready();
      return void res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'fleet-agent is ready.\n' : 'fleet-agent is not ready.\n');
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const shown = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  return {
    server,
    url: `http://${shown}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `127.0.0.1:12345`, `[::1]:9000`, `:12345` (all interfaces) → host and port. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen);
  if (!m || Number(m[3]) > 65535) throw new Error(`--listen ${JSON.stringify(listen)}: expected host:port, e.g. 127.0.0.1:12345`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port: Number(m[3]) };
}
