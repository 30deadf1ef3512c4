/**
 * A synthetic Prometheus exporter on a loopback port whose exposition the test controls. Every
 * response can stamp explicit sample timestamps, so a test knows exactly which samples exist.
 */
import http from 'node:http';
import https from 'node:https';

/** A running exporter. */
export interface Exporter {
  /** `host:port` to put in static_configs. */
  target: string;
  /** Sets the body served from now on (a function gets the response number and time). */
  serve(body: string | ((n: number, nowMs: number) => string)): void;
  /** How many scrapes were answered, and when (ms). */
  served: number[];
  close(): Promise<void>;
}

/** Options of {@link startExporter}. */
export interface ExporterOptions {
  /** Required `Authorization` header value; other requests get 401. */
  authorization?: string;
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

export async function startExporter(options: ExporterOptions = {}): Promise<Exporter> {
  let body: string | ((n: number, nowMs: number) => string) = '';
  const served: number[] = [];
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (options.authorization !== undefined && req.headers.authorization !== options.authorization) {
      res.writeHead(401, { 'content-type': 'text/plain' });
      res.end('unauthorized\n');
      return;
    }
    const now = Date.now();
    const text = typeof body === 'function' ? body(served.length, now) : body;
    served.push(now);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(text);
  };
  const server = options.tls ? https.createServer(options.tls, handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    target: `127.0.0.1:${port}`,
    serve: (b) => (body = b),
    served,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
