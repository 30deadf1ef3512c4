/**
 * A synthetic Prometheus exporter on a loopback port whose exposition the test controls. Every
 * response can stamp explicit sample timestamps, so a test knows exactly which samples exist.
 */
import http from 'node:http';

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

export async function startExporter(): Promise<Exporter> {
  let body: string | ((n: number, nowMs: number) => string) = '';
  const served: number[] = [];
  const server = http.createServer((req, res) => {
    const now = Date.now();
    const text = typeof body === 'function' ? body(served.length, now) : body;
    served.push(now);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(text);
  });
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
