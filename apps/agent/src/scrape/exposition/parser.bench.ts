/* eslint-disable no-console */
/**
 * Micro-benchmark for the exposition parser. Run from the repo root:
 *   npx tsx --conditions=@fleet/source apps/agent/src/scrape/exposition/parser.bench.ts [series=100000] [iterations=20]
 * It prints the median ns per sample line for:
 *   1. parseExposition alone (sink does trivial work),
 *   2. parseExposition + Map lookup by seriesText (the steady-state cache-hit path),
 *   3. parseExposition + parseSeriesText on every line (every line a cache miss).
 */
import { parseExposition, parseSeriesText, type SampleSink } from './parser.js';

const SERIES = Number(process.argv[2] ?? 100_000);
const ITERATIONS = Number(process.argv[3] ?? 20);

/** Deterministic PRNG so runs are comparable. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Family {
  name: string;
  type: string;
  labels: [string, string[]][];
}

const pods = Array.from({ length: 400 }, (_, i) => `api-${(i * 2654435761) % 0xffffff}-x${i % 7}`);
const families: Family[] = [
  { name: 'http_requests_total', type: 'counter', labels: [['method', ['GET', 'POST', 'PUT', 'DELETE']], ['code', ['200', '201', '404', '500', '503']], ['handler', ['/api/v1/query', '/api/v1/series', '/healthz', '/metrics', '/api/v1/write']], ['pod', pods]] },
  { name: 'http_request_duration_seconds_bucket', type: 'histogram', labels: [['method', ['GET', 'POST']], ['handler', ['/api/v1/query', '/api/v1/write', '/metrics']], ['le', ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '+Inf']], ['pod', pods]] },
  { name: 'node_cpu_seconds_total', type: 'counter', labels: [['cpu', Array.from({ length: 16 }, (_, i) => String(i))], ['mode', ['idle', 'iowait', 'irq', 'nice', 'softirq', 'steal', 'system', 'user']], ['instance', pods]] },
  { name: 'container_memory_working_set_bytes', type: 'gauge', labels: [['namespace', ['default', 'kube-system', 'monitoring', 'payments']], ['container', ['app', 'sidecar', 'istio-proxy']], ['pod', pods], ['node', ['ip-10-0-1-12.ec2.internal', 'ip-10-0-2-31.ec2.internal', 'ip-10-0-3-7.ec2.internal']], ['image', ['registry.example.com/app:1.42.0', 'docker.io/envoyproxy/envoy:v1.29']]] },
  { name: 'rpc_duration_seconds', type: 'summary', labels: [['service', ['checkout', 'cart', 'search']], ['quantile', ['0.5', '0.9', '0.99']], ['pod', pods]] },
];

function buildBody(target: number): { body: string; lines: number } {
  const r = rng(42);
  const out: string[] = [];
  const seen = new Set<string>();
  let samples = 0;
  let f = 0;
  while (samples < target) {
    const fam = families[f++ % families.length]!;
    out.push(`# HELP ${fam.name} Synthetic ${fam.type} for the benchmark.`, `# TYPE ${fam.name} ${fam.type}`);
    for (let k = 0; k < Math.min(4000, target - samples); k++) {
      const labels = fam.labels.map(([n, vals]) => `${n}="${vals[Math.floor(r() * vals.length)]!}"`).join(',');
      const series = `${fam.name}{${labels}}`;
      if (seen.has(series)) continue;
      seen.add(series);
      const x = r();
      const value =
        fam.type === 'counter' ? String(Math.floor(x * 1e9)) : x < 0.01 ? 'NaN' : x < 0.5 ? (x * 1e6).toExponential(6).replace('e+', 'e+0') : String(Math.round(x * 1e4) / 1e4);
      out.push(`${series} ${value}`);
      samples++;
    }
  }
  return { body: `${out.join('\n')}\n`, lines: samples };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function bench(label: string, body: string, lines: number, sink: SampleSink): void {
  for (let i = 0; i < 5; i++) parseExposition(body, 'prometheus-text', sink); // warm up
  const times: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const t0 = process.hrtime.bigint();
    const summary = parseExposition(body, 'prometheus-text', sink);
    times.push(Number(process.hrtime.bigint() - t0));
    if (summary.samples !== lines) throw new Error(`expected ${lines} samples, got ${summary.samples}`);
  }
  const ns = median(times) / lines;
  console.log(`${label.padEnd(48)} ${ns.toFixed(1).padStart(7)} ns/line   (median of ${ITERATIONS}, ${(median(times) / 1e6).toFixed(1)} ms per scrape)`);
}

const { body, lines } = buildBody(SERIES);
console.log(`body: ${lines} series, ${(body.length / 1e6).toFixed(1)} MB, ${(body.length / lines).toFixed(0)} chars/line; node ${process.version}`);

let sink1 = 0;
bench('parseExposition only', body, lines, {
  sample(s, v) {
    sink1 += s.length + (v === v ? 1 : 0);
  },
});

const cache = new Map<string, number>();
parseExposition(body, 'prometheus-text', { sample: (s) => void cache.set(s, cache.size) });
let sink2 = 0;
bench('parseExposition + Map.get(seriesText) (cache hit)', body, lines, {
  sample(s) {
    sink2 += cache.get(s) ?? 0;
  },
});

let sink3 = 0;
bench('parseExposition + parseSeriesText every line', body, lines, {
  sample(s) {
    sink3 += parseSeriesText(s).length;
  },
});
console.log(`(checksums ${sink1} ${sink2} ${sink3})`);
