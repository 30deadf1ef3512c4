// Synthetic Prometheus exporter for `npm run bench:agent` (forked by run.mjs; its CPU is not
// part of any measurement).
//
// Serves BENCH_SERIES (argv[2], default 100,000) active series in the text exposition format
// 0.0.4 at http://127.0.0.1:<port>/metrics. The series are ~20 realistic metric families
// (counters and gauges) whose label sets are products of a few fixed dimensions (method, code,
// queue, ...) with `service` and `instance_id`, 3–5 labels per series, e.g.
//   http_requests_total{service="svc-12",method="GET",code="200",instance_id="i-3"} 1000482311
//
// The body is rendered once into a Buffer in which every value has a fixed-width slot; a
// scrape that comes at least 1 s after the previous update rewrites the digits of every slot in
// place (counters grow by 0–99, gauges take a new 0.dddddd value), so values change on every
// scrape while an update costs a few milliseconds and no allocation. The body is served
// uncompressed (no gzip, whatever Accept-Encoding says), the same for both systems under test.
//
// Protocol with the parent: once listening, sends {port} over the IPC channel. GET /stats
// returns {scrapes, bytes, series, bodyBytes}. Exits when the parent goes away.
import { Buffer } from 'node:buffer';
import http from 'node:http';

const SERIES = Number(process.argv[2] ?? 100_000);

// [name, type, help, fixed dimensions]. Each series also has service="svc-N" first and
// instance_id="i-N" last; with 1–3 fixed dimensions that makes 3–5 labels per series.
const METHODS = ['GET', 'POST', 'PUT', 'DELETE'];
const range = (prefix, n) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const FAMILIES = [
  ['http_requests_total', 'counter', 'HTTP requests served.', { method: METHODS, code: ['200', '201', '204', '400', '404', '500'] }],
  ['http_request_errors_total', 'counter', 'HTTP requests that failed.', { method: METHODS, code: ['500', '502', '503'] }],
  ['http_request_size_bytes_total', 'counter', 'Bytes received in HTTP requests.', { method: METHODS }],
  ['http_response_size_bytes_total', 'counter', 'Bytes sent in HTTP responses.', { method: METHODS }],
  ['http_inflight_requests', 'gauge', 'HTTP requests being served.', { handler: ['/api/v1/items', '/api/v1/users', '/api/v1/orders', '/healthz', '/metrics', '/login', '/logout', '/search'] }],
  ['rpc_client_calls_total', 'counter', 'RPC calls made.', { rpc_method: range('Method', 10), status: ['OK', 'UNAVAILABLE', 'DEADLINE_EXCEEDED'] }],
  ['rpc_client_latency_seconds_total', 'counter', 'Total time spent in RPC calls.', { rpc_method: range('Method', 10) }],
  ['db_queries_total', 'counter', 'Database queries run.', { operation: ['select', 'insert', 'update', 'delete'], table: range('table_', 8) }],
  ['db_connections_open', 'gauge', 'Open database connections.', { pool: ['primary', 'replica', 'analytics'] }],
  ['cache_hits_total', 'counter', 'Cache hits.', { cache: range('cache-', 5) }],
  ['cache_misses_total', 'counter', 'Cache misses.', { cache: range('cache-', 5) }],
  ['queue_messages_published_total', 'counter', 'Messages published.', { queue: range('queue-', 6) }],
  ['queue_messages_consumed_total', 'counter', 'Messages consumed.', { queue: range('queue-', 6), result: ['ack', 'nack'] }],
  ['queue_depth', 'gauge', 'Messages waiting in a queue.', { queue: range('queue-', 6) }],
  ['process_cpu_seconds_total', 'counter', 'CPU time used.', { container: ['app', 'sidecar'] }],
  ['process_resident_memory_bytes', 'gauge', 'Resident memory.', { container: ['app', 'sidecar'] }],
  ['go_goroutines', 'gauge', 'Goroutines.', { container: ['app', 'sidecar'] }],
  ['jvm_gc_pause_seconds_total', 'counter', 'Time spent in GC pauses.', { gc: ['young', 'old'], cause: ['allocation', 'system', 'metadata'] }],
  ['kafka_consumer_lag', 'gauge', 'Consumer lag in messages.', { topic: range('topic-', 6), partition: range('', 8) }],
  ['node_network_receive_bytes_total', 'counter', 'Bytes received by a network device.', { device: ['eth0', 'eth1', 'lo'] }],
];
const SERVICES = 50;

// xorshift32: fast, deterministic values.
let rng = 0x9e3779b9;
function rand() {
  rng ^= rng << 13;
  rng ^= rng >>> 17;
  rng ^= rng << 5;
  return (rng >>> 0) / 4294967296;
}

const COUNTER_WIDTH = 10; // counters start at 1e9 + random, so they keep 10 digits for years
const GAUGE_WIDTH = 8; // "0.dddddd"

// --- render the body once, remembering where each value's digits are -------------------------
const parts = [];
const slotOffset = new Uint32Array(SERIES);
const slotCounter = new Uint8Array(SERIES); // 1 = counter, 0 = gauge
const counterValue = new Float64Array(SERIES);
let bytes = 0;
let series = 0;
const perFamily = Math.ceil(SERIES / FAMILIES.length);
for (const [name, type, help, dims] of FAMILIES) {
  if (series >= SERIES) break;
  const head = `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
  parts.push(head);
  bytes += Buffer.byteLength(head);
  const dimNames = Object.keys(dims);
  const dimValues = Object.values(dims);
  const product = dimValues.reduce((p, v) => p * v.length, 1);
  const n = Math.min(perFamily, SERIES - series);
  for (let j = 0; j < n; j++) {
    let fixed = j % product;
    const rest = Math.floor(j / product);
    // Mixed-radix decomposition of j: fixed dimensions vary fastest, then service, then instance.
    let fixedLabels = '';
    for (let d = dimNames.length - 1; d >= 0; d--) {
      const vals = dimValues[d];
      fixedLabels = `,${dimNames[d]}="${vals[fixed % vals.length]}"` + fixedLabels;
      fixed = Math.floor(fixed / vals.length);
    }
    const labels = `service="svc-${rest % SERVICES}"${fixedLabels},instance_id="i-${Math.floor(rest / SERVICES)}"`;
    const prefix = `${name}{${labels}} `;
    const isCounter = type === 'counter';
    const width = isCounter ? COUNTER_WIDTH : GAUGE_WIDTH;
    parts.push(prefix + '0'.repeat(width) + '\n');
    bytes += Buffer.byteLength(prefix);
    slotOffset[series] = bytes;
    slotCounter[series] = isCounter ? 1 : 0;
    counterValue[series] = 1_000_000_000 + Math.floor(rand() * 100_000_000);
    bytes += width + 1;
    series++;
  }
}
const body = Buffer.from(parts.join(''));
if (body.length !== bytes) throw new Error(`exporter: body length ${body.length} != ${bytes}`);
parts.length = 0;

/** Rewrites every value slot in place: counters grow, gauges change. */
function update() {
  for (let i = 0; i < series; i++) {
    let o = slotOffset[i];
    if (slotCounter[i]) {
      let v = (counterValue[i] += Math.floor(rand() * 100));
      for (let k = COUNTER_WIDTH - 1; k >= 0; k--) {
        body[o + k] = 48 + (v % 10);
        v = Math.floor(v / 10);
      }
    } else {
      body[o++] = 48; // '0'
      body[o++] = 46; // '.'
      let v = Math.floor(rand() * 1_000_000);
      for (let k = GAUGE_WIDTH - 3; k >= 0; k--) {
        body[o + k] = 48 + (v % 10);
        v = Math.floor(v / 10);
      }
    }
  }
}
update();

let lastUpdate = Date.now();
let scrapes = 0;
let served = 0;
const server = http.createServer((req, res) => {
  if (req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ scrapes, bytes: served, series, bodyBytes: body.length }));
    return;
  }
  if (req.url !== '/metrics') {
    res.writeHead(404).end();
    return;
  }
  const now = Date.now();
  if (now - lastUpdate >= 1000) {
    update();
    lastUpdate = now;
  }
  scrapes++;
  served += body.length;
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: server.address().port, series, bodyBytes: body.length });
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
