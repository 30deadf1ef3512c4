/* eslint-disable no-console -- a benchmark prints its table */
/**
 * Benchmark: the regex matching relabelling did before `compileRe2` (the translated backtracking
 * RegExp, "today") against `compileRe2` (what runs now) and re2js forced for every pattern, on
 * typical Prometheus relabel regexes and label values.
 *
 * Run from the repository root: `npx tsx packages/pipeline/src/regex/regex.bench.ts`
 *
 * Each figure is the best of 15 interleaved rounds (robust on a shared, loaded machine), in
 * nanoseconds per match; "ratio" is compileRe2 / today.
 */
import { compileAnchoredRegexp, compileRe2, type Re2Regexp } from './index.js';

const CASES: [pattern: string, inputs: string[]][] = [
  ['(.*)', ['node_cpu_seconds_total']],
  ['node_.*', ['node_cpu_seconds_total', 'go_gc_duration_seconds']],
  ['([^:]+)(?::\\d+)?', ['10.0.0.1:9100', 'ip-10-0-0-1.eu-west-1.compute.internal']],
  ['__meta_kubernetes_pod_label_(.+)', ['__meta_kubernetes_pod_label_app_kubernetes_io_name', '__meta_kubernetes_namespace']],
  ['up|scrape_.*', ['scrape_duration_seconds', 'http_requests_total']],
  ['go_.*|process_.*|promhttp_.*', ['process_cpu_seconds_total', 'node_load1']],
  // Not provably linear, so compileRe2 runs them on re2js:
  ['(.+):(\\d+)', ['10.0.0.1:9100']],
  ['([a-z0-9-]+\\.?)+:(\\d+)', ['node-1.example.com:9100']],
];

const ITERATIONS = 20_000;
const ROUNDS = 15;

function timeRegExp(re: RegExp, inputs: string[], exec: boolean): number {
  const t0 = performance.now();
  if (exec) for (let i = 0; i < ITERATIONS; i++) for (const s of inputs) re.exec(s);
  else for (let i = 0; i < ITERATIONS; i++) for (const s of inputs) re.test(s);
  return ((performance.now() - t0) * 1e6) / (ITERATIONS * inputs.length);
}

function timeRe2(re: Re2Regexp, inputs: string[], exec: boolean): number {
  const t0 = performance.now();
  if (exec) for (let i = 0; i < ITERATIONS; i++) for (const s of inputs) re.exec(s);
  else for (let i = 0; i < ITERATIONS; i++) for (const s of inputs) re.test(s);
  return ((performance.now() - t0) * 1e6) / (ITERATIONS * inputs.length);
}

const rows: string[] = [];
for (const [pattern, inputs] of CASES) {
  const today = compileAnchoredRegexp(pattern).regex;
  const auto = compileRe2(pattern);
  const linear = compileRe2(pattern, { engine: 'linear' });
  for (const exec of [false, true]) {
    const best = { today: Infinity, auto: Infinity, linear: Infinity };
    for (let r = 0; r < ROUNDS; r++) {
      best.today = Math.min(best.today, timeRegExp(today, inputs, exec));
      best.auto = Math.min(best.auto, timeRe2(auto, inputs, exec));
      best.linear = Math.min(best.linear, timeRe2(linear, inputs, exec));
    }
    rows.push(
      [
        pattern.padEnd(34),
        (exec ? 'exec' : 'test').padEnd(5),
        auto.engine.padEnd(7),
        best.today.toFixed(0).padStart(6),
        best.auto.toFixed(0).padStart(6),
        best.linear.toFixed(0).padStart(6),
        `${(best.auto / best.today).toFixed(2)}×`.padStart(7),
      ].join(' '),
    );
  }
}
console.log(
  `${'pattern'.padEnd(34)} ${'op'.padEnd(5)} ${'engine'.padEnd(7)} ${'today'.padStart(6)} ${'now'.padStart(6)} ${'re2js'.padStart(6)} ${'ratio'.padStart(7)}   (ns per match)`,
);
for (const row of rows) console.log(row);
