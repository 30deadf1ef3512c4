// `npm run bench:agent`: what it costs fleet-agent to deliver samples, next to Prometheus 2.42 in
// agent mode doing exactly the same work on the same machine.
//
// Method
// ------
// For each system under test (fleet-agent, then Prometheus in agent mode), on 127.0.0.1 only:
//
//  1. A synthetic exporter (bench/agent/exporter.mjs, its own child process, so its CPU is not
//     counted) serves BENCH_SERIES active series (default 100,000; ~20 metric families × label
//     combinations, 3–5 labels each) in text format 0.0.4, values changing on every scrape. The
//     body is pre-rendered and its value digits rewritten in place, so the exporter is cheap.
//  2. A counting sink (bench/agent/sink.mjs, its own child process) receives remote write 1.0,
//     snappy-decompresses each request and counts the samples by walking the protobuf; it
//     answers 204 at once. Its counts are what "delivered" means.
//  3. The system under test runs with the same config file: one scrape job on the exporter
//     (scrape_interval 5s, scrape_timeout 4s) and one remote_write to the sink (plain HTTP, no
//     auth, each system's own default queue settings), with a fresh data directory.
//        fleet-agent: node apps/agent/bin/fleet-agent.js run --config … --data-dir … --listen 127.0.0.1:0
//        Prometheus:  /usr/bin/prometheus --enable-feature=agent --config.file=… --storage.agent.path=…
//                     --web.listen-address=127.0.0.1:<free port>
//  4. After a warm-up (BENCH_WARMUP_S, default 30 s, extended until one whole scrape has been
//     delivered) comes the measurement window (BENCH_DURATION_S, default 180 s; keep it a
//     multiple of the 5 s scrape interval). Both edges of the window are placed at a quiet moment
//     — the sink has received nothing for 0.6 s, i.e. one scrape is fully delivered and the next
//     not yet begun — so the window holds whole scrape→deliver cycles (36 of them by default) and
//     the samples counted match the CPU spent. At both ends we read, in this order:
//       - the process's CPU time, utime+stime from /proc/<pid>/stat (it covers every thread of
//         the process, including threads that already exited), in clock ticks (getconf CLK_TCK);
//       - per-thread CPU from /proc/<pid>/task/*/stat, grouped by thread name (diagnostic only);
//       - the sink's counters (samples, requests, bytes) and the system's own /metrics.
//     Memory: VmRSS from /proc/<pid>/status is sampled every second, to report the peak during
//     the window apart from the start-up/warm-up peak; VmHWM (the kernel's high-water mark over
//     the whole life of the process) is read at the end.
//     The self-metrics endpoints are read only at the two ends of the window, so that polling
//     does not add to the CPU being measured.
//  5. Results per system:
//       CPU-s per million samples delivered = window CPU seconds / (sink sample delta / 1e6)
//       samples/s delivered                 = sink sample delta / window seconds
//       peak RSS                            = VmHWM (whole life) and the window's peak VmRSS
//       dropped                             = the system's drop/failure counters since start:
//         fleet-agent  fleet_agent_remote_samples_dropped_total (all reasons)
//         Prometheus   prometheus_remote_storage_samples_failed_total + …_dropped_total
//     plus, to show whether a system keeps up: samples appended to its WAL in the window, samples
//     pending at the end and the age of the newest delivered sample.
//  6. Targets of the issue for fleet-agent: CPU per sample no worse than Prometheus agent mode
//     (this run's Prometheus figure; the earlier reference 5.5 CPU-s per million when Prometheus
//     is not run) and peak RSS (VmHWM) ≤ 190 MiB. PASS/MISS is printed for each.
//
// Results are printed as a table and written to bench/agent/results.json (git-ignored).
//
// Environment:
//   BENCH_WARMUP_S (30)  BENCH_DURATION_S (180)  BENCH_SERIES (100000)
//   BENCH_ONLY=fleet|prometheus   run one system only
//   BENCH_PROFILE=1      run fleet-agent under `node --cpu-prof`, print the top 15 functions by
//                        self time with their main callers (and by file / inclusive time in
//                        project code) within the measurement window, and keep the profile as
//                        bench/agent/fleet-agent.cpuprofile (git-ignored; opens in Chrome DevTools).
//                        The profile is of the main JS thread only: GC work on V8's helper threads
//                        shows in the per-thread CPU line, not in it. Profiling adds overhead
//                        (incl. a v8:ProfEvntProc thread): its CPU figures are not the ones to judge by.
//   BENCH_PROMETHEUS     path of the Prometheus binary (/usr/bin/prometheus)
//   BENCH_NODE_FLAGS     extra node flags for fleet-agent, e.g. "--single-threaded-gc" (to see
//                        how much of the CPU on other threads is GC) or "--max-semi-space-size=32"
//
// Every child process is killed at the end, on errors and on Ctrl-C; temp dirs are removed.
/* eslint-disable no-console -- a benchmark that reports to the terminal */
/* global setTimeout, clearTimeout, setInterval, clearInterval, fetch, AbortSignal -- Node 20 globals */
import { execFileSync, fork, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

function envNumber(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${JSON.stringify(raw)}: expected a positive number`);
  return n;
}

const WARMUP_S = envNumber('BENCH_WARMUP_S', 30);
const DURATION_S = envNumber('BENCH_DURATION_S', 180);
const SERIES = Math.round(envNumber('BENCH_SERIES', 100_000));
const ONLY = process.env.BENCH_ONLY || '';
const PROFILE = process.env.BENCH_PROFILE === '1';
const PROMETHEUS_BIN = process.env.BENCH_PROMETHEUS || '/usr/bin/prometheus';
const NODE_FLAGS = (process.env.BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
if (ONLY && ONLY !== 'fleet' && ONLY !== 'prometheus') throw new Error(`BENCH_ONLY=${ONLY}: expected fleet or prometheus`);

const SCRAPE_INTERVAL_S = 5;
const SCRAPE_TIMEOUT_S = 4;
/** Synthetic series both systems add per scrape: up, scrape_duration_seconds, scrape_samples_scraped, …_post_metric_relabeling, scrape_series_added. */
const REPORT_SERIES = 5;
/** A pause in deliveries this long marks the end of one scrape's delivery (window edges). */
const QUIET_MS = 600;
/** How much longer than BENCH_WARMUP_S to wait for the first whole scrape to be delivered. */
const MAX_EXTRA_WARMUP_S = 180;
const TARGETS = { prometheusReferenceCpuPerMillion: 5.5, rssMiB: 190 };
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const RESULTS_FILE = path.join(HERE, 'results.json');
const PROFILE_COPY = path.join(HERE, 'fleet-agent.cpuprofile');

const log = (msg) => console.log(`[bench] ${msg}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Clean-up: every child and temp dir is registered here and removed on exit, error or signal.
// ---------------------------------------------------------------------------------------------

/** @type {Set<import('node:child_process').ChildProcess>} */
const children = new Set();
const tempDirs = new Set();

function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function makeTempDir(prefix) {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

function removeTempDir(dir) {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Last resort, synchronous: kill what is left (by pid) and remove temp dirs. */
function killAllNow() {
  for (const child of children) {
    try {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  children.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    console.error(`\n[bench] ${signal}: stopping child processes`);
    killAllNow();
    process.exit(130);
  });
}

/** Sends SIGTERM, waits up to `graceMs`, then SIGKILL. Resolves when the process is gone. */
async function stopChild(child, graceMs = 15_000) {
  if (child.exitCode !== null || child.signalCode !== null) return { graceful: true };
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const graceful = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!graceful) {
    child.kill('SIGKILL');
    await exited;
  }
  return { graceful };
}

// ---------------------------------------------------------------------------------------------
// Helper processes and HTTP
// ---------------------------------------------------------------------------------------------

/** Forks a helper (exporter/sink) and waits for the {port} message it sends once listening. */
async function startHelper(name, script, args = []) {
  const child = track(fork(path.join(HERE, script), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const info = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 60 s`)), 60_000);
    child.once('message', (m) => {
      clearTimeout(timer);
      resolve(m);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited early (code ${code}, signal ${signal})`));
    });
  });
  return { child, ...info, url: `http://127.0.0.1:${info.port}` };
}

async function getJson(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res.json();
}

async function getText(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res.text();
}

/** A free TCP port on 127.0.0.1 (for Prometheus, which cannot report a port 0 choice). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Sum of every sample of a metric in Prometheus text output (all label sets), optionally only
 * those whose label text contains `filter`. NaN when the metric is absent.
 */
function metricSum(text, name, filter) {
  let sum = NaN;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (filter && !rest.includes(filter)) continue;
    // `name{labels} value [timestamp]` or `name value [timestamp]`.
    const afterLabels = rest[0] === '{' ? rest.slice(rest.lastIndexOf('}') + 1) : rest;
    const value = Number(afterLabels.trim().split(' ')[0]);
    if (Number.isFinite(value)) sum = (Number.isNaN(sum) ? 0 : sum) + value;
  }
  return sum;
}

// ---------------------------------------------------------------------------------------------
// /proc readings
// ---------------------------------------------------------------------------------------------

/** utime+stime (clock ticks) of a /proc/.../stat line; fields after the `(comm)`. */
function parseStat(text) {
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const fields = text.slice(close + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return { comm, ticks: Number(fields[11]) + Number(fields[12]) };
}

/** Whole-process CPU seconds (all threads, live and exited). */
function processCpuSeconds(pid) {
  return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).ticks / CLK_TCK;
}

/** CPU ticks per live thread: Map<tid, {comm, ticks}>. */
function threadTicks(pid) {
  const out = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.set(tid, parseStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')));
    } catch {
      /* thread exited meanwhile */
    }
  }
  return out;
}

/**
 * CPU seconds per thread name between two readings (threads that exited in between are missing).
 * The main thread (tid = pid) is reported as `main`: Node's other threads (V8 GC helpers and
 * compiler, libuv pool) all inherit the name "node" on Node 20.
 */
function threadBreakdown(pid, before, after) {
  const byName = new Map();
  for (const [tid, t] of after) {
    const delta = (t.ticks - (before.get(tid)?.ticks ?? 0)) / CLK_TCK;
    const name = tid === String(pid) ? `main(${t.comm})` : t.comm;
    const e = byName.get(name) ?? { threads: 0, cpuSeconds: 0 };
    e.threads++;
    e.cpuSeconds += delta;
    byName.set(name, e);
  }
  return [...byName].map(([name, e]) => ({ name, threads: e.threads, cpuSeconds: round(e.cpuSeconds, 2) })).sort((a, b) => b.cpuSeconds - a.cpuSeconds);
}

/** VmRSS / VmHWM etc. in bytes from /proc/<pid>/status. */
function memStatus(pid) {
  const out = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^(Vm\w+|RssAnon|RssFile):\s+(\d+) kB/.exec(line);
    if (m) out[m[1]] = Number(m[2]) * 1024;
  }
  return out;
}

function round(n, digits = 2) {
  if (!Number.isFinite(n)) return n;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

// ---------------------------------------------------------------------------------------------
// Systems under test
// ---------------------------------------------------------------------------------------------

function configYaml(exporterPort, sinkPort) {
  return `# Written by bench/agent/run.mjs; identical for fleet-agent and Prometheus.
global:
  scrape_interval: ${SCRAPE_INTERVAL_S}s
  scrape_timeout: ${SCRAPE_TIMEOUT_S}s
scrape_configs:
  - job_name: bench
    static_configs:
      - targets: ['127.0.0.1:${exporterPort}']
remote_write:
  - name: sink
    url: http://127.0.0.1:${sinkPort}/api/v1/write
`;
}

/**
 * Keeps the last lines a child printed (for error reports), counts its warnings and errors by
 * message (pino JSON `"level":40/50` or logfmt `level=warn/error`), and lets callers wait for a line.
 */
function captureLines(stream, warnings, keep = 40) {
  const lines = [];
  const waiters = [];
  readline.createInterface({ input: stream }).on('line', (line) => {
    lines.push(line);
    if (lines.length > keep) lines.shift();
    if (/"level":(40|50|60)|level=(warn|error)/.test(line)) {
      const msg = line
        .replace(/"time":"[^"]*",?|ts=\S+ ?|caller=\S+ ?/g, '')
        .replace(/\d{4,}/g, 'N')
        .slice(0, 300);
      warnings.set(msg, (warnings.get(msg) ?? 0) + 1);
    }
    for (const w of [...waiters]) {
      if (w.test(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  return {
    lines,
    waitFor: (test) => new Promise((resolve) => waiters.push({ test, resolve })),
  };
}

/**
 * Waits until the sink has received nothing for QUIET_MS (polling it every 50 ms), i.e. until
 * the system has delivered its last scrape and waits for the next one. Both ends of the window
 * are put at such moments, so the window covers whole scrape→deliver cycles: the samples counted
 * and the CPU spent on them belong together (no half-delivered scrape at either edge). Gives up
 * after two scrape intervals (a system that never goes quiet is backlogged) and returns false.
 */
async function waitForQuietSink(sinkUrl) {
  const giveUpAt = Date.now() + 2 * SCRAPE_INTERVAL_S * 1000;
  let last = (await getJson(`${sinkUrl}/stats`)).samples;
  let changedAt = Date.now();
  while (Date.now() < giveUpAt) {
    await sleep(50);
    const now = (await getJson(`${sinkUrl}/stats`)).samples;
    if (now !== last) {
      last = now;
      changedAt = Date.now();
    } else if (Date.now() - changedAt >= QUIET_MS) return true;
  }
  log('note: the sink never went quiet for the window edge (backlogged system?)');
  return false;
}

/** Starts fleet-agent; resolves once it logged "agent started" (with its telemetry URL). */
async function startFleet(dir, configFile) {
  const profDir = path.join(dir, 'cpuprof');
  const nodeArgs = [...NODE_FLAGS, ...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [])];
  const args = [...nodeArgs, path.join(ROOT, 'apps/agent/bin/fleet-agent.js'), 'run', '--config', configFile, '--data-dir', path.join(dir, 'data'), '--listen', '127.0.0.1:0'];
  const child = track(spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } }));
  const warnings = new Map();
  const out = captureLines(child.stdout, warnings);
  const err = captureLines(child.stderr, warnings);
  const started = await Promise.race([
    out.waitFor((l) => l.includes('"msg":"agent started"')),
    new Promise((_, reject) => child.once('exit', (code) => reject(new Error(`fleet-agent exited during start-up (code ${code}):\n${[...out.lines, ...err.lines].join('\n')}`)))),
    sleep(60_000).then(() => {
      throw new Error('fleet-agent did not start within 60 s');
    }),
  ]);
  const telemetry = JSON.parse(started).telemetry;
  const version = execFileSync(process.execPath, [path.join(ROOT, 'apps/agent/bin/fleet-agent.js'), 'version'], { encoding: 'utf8' }).trim();
  return {
    label: 'fleet-agent',
    version,
    child,
    warnings,
    output: () => [...out.lines, ...err.lines].join('\n'),
    metricsUrl: `${telemetry}/metrics`,
    profDir: PROFILE ? profDir : null,
    readCounters(text) {
      return {
        appended: metricSum(text, 'fleet_agent_remote_samples_in_total'),
        sent: metricSum(text, 'fleet_agent_remote_samples_sent_total'),
        dropped: metricSum(text, 'fleet_agent_remote_samples_dropped_total'),
        failed: 0,
        retried: metricSum(text, 'fleet_agent_remote_samples_retried_total'),
        pending: metricSum(text, 'fleet_agent_remote_samples_pending'),
        shards: metricSum(text, 'fleet_agent_remote_shards'),
        scrapeErrors: metricSum(text, 'fleet_agent_target_scrape_errors_total'),
        dropReasons: dropReasons(text),
        memory: {
          heapUsedMiB: round(metricSum(text, 'fleet_agent_nodejs_heap_size_used_bytes') / MiB, 1),
          heapTotalMiB: round(metricSum(text, 'fleet_agent_nodejs_heap_size_total_bytes') / MiB, 1),
          externalMiB: round(metricSum(text, 'fleet_agent_nodejs_external_memory_bytes') / MiB, 1),
        },
      };
    },
  };
}

function dropReasons(text) {
  const out = {};
  for (const m of text.matchAll(/^fleet_agent_remote_samples_dropped_total\{[^}]*reason="([^"]+)"[^}]*\} (\S+)/gm)) out[m[1]] = (out[m[1]] ?? 0) + Number(m[2]);
  return out;
}

/** Starts Prometheus in agent mode; resolves once /-/ready answers 200. */
async function startPrometheus(dir, configFile) {
  const port = await freePort();
  const args = ['--enable-feature=agent', `--config.file=${configFile}`, `--storage.agent.path=${path.join(dir, 'prom-agent')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=info'];
  const child = track(spawn(PROMETHEUS_BIN, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }));
  const warnings = new Map();
  const out = captureLines(child.stdout, warnings);
  const err = captureLines(child.stderr, warnings);
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited during start-up (code ${child.exitCode}):\n${[...out.lines, ...err.lines].join('\n')}`);
    if (Date.now() > deadline) throw new Error('prometheus did not become ready within 60 s');
    const ok = await fetch(`${base}/-/ready`, { signal: AbortSignal.timeout(2_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await sleep(200);
  }
  const version = execFileSync(PROMETHEUS_BIN, ['--version'], { encoding: 'utf8' }).split('\n')[0].trim();
  return {
    label: 'prometheus --enable-feature=agent',
    version,
    child,
    base,
    warnings,
    output: () => [...out.lines, ...err.lines].join('\n'),
    metricsUrl: `${base}/metrics`,
    profDir: null,
    readCounters(text) {
      return {
        appended: metricSum(text, 'prometheus_remote_storage_samples_in_total'),
        sent: metricSum(text, 'prometheus_remote_storage_samples_total'),
        dropped: metricSum(text, 'prometheus_remote_storage_samples_dropped_total'),
        failed: metricSum(text, 'prometheus_remote_storage_samples_failed_total'),
        retried: metricSum(text, 'prometheus_remote_storage_samples_retried_total'),
        pending: metricSum(text, 'prometheus_remote_storage_samples_pending'),
        shards: metricSum(text, 'prometheus_remote_storage_shards'),
        scrapeErrors: NaN,
        dropReasons: {},
        memory: {
          heapInuseMiB: round(metricSum(text, 'go_memstats_heap_inuse_bytes') / MiB, 1),
          heapSysMiB: round(metricSum(text, 'go_memstats_heap_sys_bytes') / MiB, 1),
          sysMiB: round(metricSum(text, 'go_memstats_sys_bytes') / MiB, 1),
        },
      };
    },
  };
}

/** The effective queue_config Prometheus applied (its defaults), from /api/v1/status/config. */
async function prometheusQueueConfig(base) {
  try {
    const { data } = await getJson(`${base}/api/v1/status/config`);
    const m = /queue_config:\n((?: {4,}.*\n)+)/.exec(data.yaml);
    if (!m) return null;
    return Object.fromEntries(m[1].trim().split('\n').map((l) => l.trim().split(/:\s*/, 2)));
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// One run
// ---------------------------------------------------------------------------------------------

async function runSystem(kind) {
  const dir = makeTempDir(`fleet-bench-${kind}-`);
  log(`--- ${kind}: starting exporter (${SERIES} series) and sink`);
  const exporter = await startHelper('exporter', 'exporter.mjs', [String(SERIES)]);
  const sink = await startHelper('sink', 'sink.mjs');
  log(`exporter ${exporter.url}/metrics (${(exporter.bodyBytes / MiB).toFixed(1)} MiB body), sink ${sink.url}`);
  const configFile = path.join(dir, 'config.yml');
  writeFileSync(configFile, configYaml(exporter.port, sink.port));

  const startedAt = Date.now();
  const sys = kind === 'fleet' ? await startFleet(dir, configFile) : await startPrometheus(dir, configFile);
  const pid = sys.child.pid;
  log(`${sys.label} running (pid ${pid}, ${sys.version}); warm-up ${WARMUP_S} s`);

  // VmRSS every second, by phase.
  let phase = 'startup';
  const rssPeak = { startup: 0, window: 0 };
  const sampleRss = () => {
    try {
      const rss = memStatus(pid).VmRSS ?? 0;
      if (phase in rssPeak && rss > rssPeak[phase]) rssPeak[phase] = rss;
    } catch {
      /* process gone; noticed below */
    }
  };
  sampleRss();
  const rssTimer = setInterval(sampleRss, 1000);
  const alive = () => {
    if (sys.child.exitCode !== null || sys.child.signalCode !== null) {
      throw new Error(`${sys.label} exited (code ${sys.child.exitCode}, signal ${sys.child.signalCode}):\n${sys.output()}`);
    }
  };

  try {
    // Warm-up: BENCH_WARMUP_S, but the window only starts once one whole scrape's worth of
    // samples has reached the sink (so start-up trouble is reported, not averaged into the
    // steady state); that time is reported as `firstFullScrapeDeliveredS`.
    const warmupEnd = Date.now() + WARMUP_S * 1000;
    const gateDeadline = warmupEnd + MAX_EXTRA_WARMUP_S * 1000;
    let firstFull = null;
    let warned = false;
    let warm;
    for (;;) {
      await sleep(1000);
      alive();
      warm = await getJson(`${sink.url}/stats`);
      if (firstFull === null && warm.samples >= SERIES) firstFull = (Date.now() - startedAt) / 1000;
      if (Date.now() < warmupEnd) continue;
      if (firstFull !== null) break;
      if (Date.now() > gateDeadline) throw new Error(`no whole scrape delivered within ${WARMUP_S + MAX_EXTRA_WARMUP_S} s (sink has ${warm.samples} samples):\n${sys.output()}`);
      if (!warned) log(`warm-up over but no whole scrape delivered yet (${warm.samples} samples): waiting up to ${MAX_EXTRA_WARMUP_S} s more`);
      warned = true;
    }
    const warmupS = (Date.now() - startedAt) / 1000;
    log(`warm-up done after ${warmupS.toFixed(0)} s (first whole scrape delivered after ${firstFull.toFixed(1)} s; ${warm.samples} samples so far); measuring for ${DURATION_S} s`);

    // --- window start, at a quiet moment (see waitForQuietSink); CPU first (cheapest, most
    // time-sensitive), then counters.
    const quietStart = await waitForQuietSink(sink.url);
    sampleRss();
    phase = 'window';
    const t0 = process.hrtime.bigint();
    const cpu0 = processCpuSeconds(pid);
    const threads0 = threadTicks(pid);
    const sink0 = await getJson(`${sink.url}/stats`);
    const exp0 = await getJson(`${exporter.url}/stats`);
    const self0 = sys.readCounters(await getText(sys.metricsUrl));

    const endAt = Date.now() + DURATION_S * 1000 - QUIET_MS;
    while (Date.now() < endAt) {
      await sleep(Math.min(30_000, endAt - Date.now()));
      alive();
      if (Date.now() < endAt - 1000) {
        const s = await getJson(`${sink.url}/stats`);
        log(`  ${Math.round((DURATION_S * 1000 - (endAt - Date.now())) / 1000)} s: ${s.samples - sink0.samples} samples delivered in the window`);
      }
    }

    // --- window end, at the next quiet moment, same order.
    const quietEnd = await waitForQuietSink(sink.url);
    const t1 = process.hrtime.bigint();
    const cpu1 = processCpuSeconds(pid);
    const threads1 = threadTicks(pid);
    const sink1 = await getJson(`${sink.url}/stats`);
    const exp1 = await getJson(`${exporter.url}/stats`);
    const selfText = await getText(sys.metricsUrl);
    const self1 = sys.readCounters(selfText);
    sampleRss();
    phase = 'after';
    const mem = memStatus(pid);
    const queueConfig = kind === 'prometheus' ? await prometheusQueueConfig(sys.base) : null;
    const lagMs = sink1.maxTs ? Date.now() - sink1.maxTs : null;

    const windowS = Number(t1 - t0) / 1e9;
    const delivered = sink1.samples - sink0.samples;
    const cpuS = cpu1 - cpu0;
    const result = {
      system: sys.label,
      version: sys.version,
      pid,
      windowSeconds: round(windowS, 2),
      windowAlignedToQuietSink: quietStart && quietEnd,
      cpuSeconds: round(cpuS, 2),
      cpuCores: round(cpuS / windowS, 3),
      cpuSecondsBeforeWindow: round(cpu0, 2),
      firstFullScrapeDeliveredS: round(firstFull, 1),
      warmupSeconds: round(warmupS, 1),
      samplesDelivered: delivered,
      samplesPerSecond: round(delivered / windowS, 0),
      cpuSecondsPerMillionSamples: delivered > 0 ? round(cpuS / (delivered / 1e6), 3) : null,
      samplesAppendedToWal: self1.appended - self0.appended,
      samplesSentBySelfMetrics: self1.sent - self0.sent,
      scrapesInWindow: exp1.scrapes - exp0.scrapes,
      expectedSamplesPerScrape: SERIES + REPORT_SERIES,
      requestsInWindow: sink1.requests - sink0.requests,
      samplesPerRequest: sink1.requests > sink0.requests ? round(delivered / (sink1.requests - sink0.requests), 0) : null,
      compressedBytesPerSample: delivered > 0 ? round((sink1.bytes - sink0.bytes) / delivered, 2) : null,
      uncompressedBytesPerSample: delivered > 0 ? round((sink1.rawBytes - sink0.rawBytes) / delivered, 2) : null,
      sinkErrors: sink1.errors,
      rssPeakMiB: round((mem.VmHWM ?? 0) / MiB, 1),
      rssWindowPeakMiB: round(rssPeak.window / MiB, 1),
      rssStartupPeakMiB: round(rssPeak.startup / MiB, 1),
      rssAtEndMiB: round((mem.VmRSS ?? 0) / MiB, 1),
      droppedTotal: (self1.dropped || 0) + (self1.failed || 0),
      dropped: { dropped: self1.dropped, failed: self1.failed, reasons: self1.dropReasons },
      retriedTotal: self1.retried || 0,
      pendingAtEnd: self1.pending,
      newestDeliveredAgeMs: lagMs,
      shards: self1.shards,
      scrapeErrors: { sinceStart: self1.scrapeErrors, inWindow: self1.scrapeErrors - self0.scrapeErrors },
      memoryAtEnd: self1.memory,
      threads: threadBreakdown(pid, threads0, threads1).slice(0, 8),
      ...(queueConfig ? { queueConfig } : {}),
      profiled: kind === 'fleet' && PROFILE,
    };
    clearInterval(rssTimer);

    // Warnings logged up to here (what a system logs about its own shutdown is not counted).
    const warnings = [...sys.warnings].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([message, count]) => ({ count, message }));
    // Stop at a quiet moment: once nothing is pending (up to 15 s), so that a stop that cannot
    // complete while a send queue is full does not lose the CPU profile. After the window, so
    // this polling is not measured.
    for (const quietBy = Date.now() + 15_000; Date.now() < quietBy; await sleep(100)) {
      const pending = sys.readCounters(await getText(sys.metricsUrl)).pending;
      if (!(pending > 0)) break;
    }
    log(`stopping ${sys.label}`);
    const stopStart = Date.now();
    const { graceful } = await stopChild(sys.child, PROFILE && kind === 'fleet' ? 90_000 : 30_000);
    result.stop = { graceful, seconds: round((Date.now() - stopStart) / 1000, 1) };
    if (!graceful) log(`${sys.label} did not stop within the grace period: killed. Last output:\n${sys.output().split('\n').slice(-5).join('\n')}`);
    result.warnings = warnings;
    if (sys.profDir) {
      result.profile = analyseProfile(sys.profDir, t0, t1);
    }
    return result;
  } finally {
    clearInterval(rssTimer);
    await stopChild(sys.child, 5_000);
    await stopChild(exporter.child, 5_000);
    await stopChild(sink.child, 5_000);
    removeTempDir(dir);
    log(`${kind}: cleaned up (${Math.round((Date.now() - startedAt) / 1000)} s)`);
  }
}

// ---------------------------------------------------------------------------------------------
// CPU profile (.cpuprofile JSON: nodes with callFrame, samples + timeDeltas in µs)
// ---------------------------------------------------------------------------------------------

/**
 * Self and inclusive time per function within the window [t0, t1] (process.hrtime.bigint(),
 * CLOCK_MONOTONIC like V8's profile timestamps, so parent and child clocks agree). Each sample is
 * weighted by the time to the next sample. Falls back to the whole profile if the window does not
 * overlap it.
 */
function analyseProfile(profDir, t0, t1) {
  let files;
  try {
    files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
  } catch {
    files = [];
  }
  if (!files.length) return { error: 'no .cpuprofile written (did the agent exit cleanly?)' };
  const profile = JSON.parse(readFileSync(path.join(profDir, files[0]), 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const w0 = Number(t0 / 1000n);
  const w1 = Number(t1 / 1000n);
  let inWindow = w0 < profile.endTime && w1 > profile.startTime;
  const weights = new Map(); // node id → µs
  let total = 0;
  let t = profile.startTime;
  const addSamples = (useWindow) => {
    weights.clear();
    total = 0;
    t = profile.startTime;
    for (let i = 0; i < profile.samples.length; i++) {
      t += profile.timeDeltas[i];
      const next = profile.timeDeltas[i + 1] ?? 0;
      if (useWindow && (t < w0 || t > w1)) continue;
      const id = profile.samples[i];
      weights.set(id, (weights.get(id) ?? 0) + next);
    }
  };
  addSamples(inWindow);
  if (weights.size === 0) {
    inWindow = false;
    addSamples(false);
  }

  const shortUrl = (url) => (url ? url.replace(/^file:\/\//, '').replace(`${ROOT}/`, '').replace(/^.*\/node_modules\//, 'node_modules/') : '');
  const key = (n) => {
    const cf = n.callFrame;
    const where = cf.url ? `${shortUrl(cf.url)}:${cf.lineNumber + 1}` : '';
    return `${cf.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
  };
  const self = new Map();
  const callers = new Map(); // self key → Map(caller key → µs)
  const byFile = new Map();
  const inclusive = new Map();
  let idle = 0;
  for (const [id, us] of weights) {
    const n = nodes.get(id);
    const name = n.callFrame.functionName;
    if (name === '(idle)') {
      idle += us;
      continue;
    }
    total += us;
    const k = key(n);
    self.set(k, (self.get(k) ?? 0) + us);
    const p = parent.get(id);
    if (p !== undefined) {
      const m = callers.get(k) ?? new Map();
      const pk = key(nodes.get(p));
      m.set(pk, (m.get(pk) ?? 0) + us);
      callers.set(k, m);
    }
    const file = n.callFrame.url ? shortUrl(n.callFrame.url) : name || '(native)';
    byFile.set(file, (byFile.get(file) ?? 0) + us);
    // Inclusive: every distinct function on the stack, once.
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const ck = key(nodes.get(cur));
      if (seen.has(ck)) continue;
      seen.add(ck);
      inclusive.set(ck, (inclusive.get(ck) ?? 0) + us);
    }
  }
  const top = (map, n, filter = () => true) =>
    [...map]
      .filter(([k]) => filter(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: round(us / 1000, 0), percent: round((100 * us) / total, 1) }));
  const projectCode = (k) => / (apps|packages)\//.test(k);
  const topSelf = top(self, 15).map((f) => {
    const m = callers.get(f.name);
    const sum = m ? [...m.values()].reduce((a, b) => a + b, 0) : 0;
    const by = m ? [...m].sort((a, b) => b[1] - a[1]).slice(0, 2).map(([name, us]) => `${name} (${round((100 * us) / sum, 0)}%)`) : [];
    return { ...f, calledFrom: by };
  });
  // Keep the raw profile for Chrome DevTools / speedscope (git-ignored).
  copyFileSync(path.join(profDir, files[0]), PROFILE_COPY);
  return {
    file: path.relative(ROOT, PROFILE_COPY),
    window: inWindow ? 'measurement window' : 'whole profile (window not found in profile)',
    busyMs: round(total / 1000, 0),
    idleMs: round(idle / 1000, 0),
    topSelf,
    topFiles: top(byFile, 12),
    topInclusiveProjectCode: top(inclusive, 20, projectCode),
  };
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

function printTable(results) {
  const systems = Object.values(results);
  const fmt = (v) => (v === null || v === undefined || Number.isNaN(v) ? '–' : typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: 3 }) : String(v));
  const rows = [
    ['CPU-s per million samples delivered', (r) => r.cpuSecondsPerMillionSamples],
    ['samples/s delivered', (r) => r.samplesPerSecond],
    ['peak RSS, VmHWM (MiB)', (r) => r.rssPeakMiB],
    ['  peak VmRSS in window (MiB)', (r) => r.rssWindowPeakMiB],
    ['  peak VmRSS start-up+warm-up (MiB)', (r) => r.rssStartupPeakMiB],
    ['samples dropped/failed (since start)', (r) => (r.droppedTotal ? `YES ${fmt(r.droppedTotal)}` : 'no (0)')],
    ['CPU seconds in window', (r) => r.cpuSeconds],
    ['  average cores busy', (r) => r.cpuCores],
    ['samples delivered in window', (r) => r.samplesDelivered],
    ['samples appended to WAL in window', (r) => r.samplesAppendedToWal],
    ['scrapes in window (exporter)', (r) => r.scrapesInWindow],
    ['samples pending at end', (r) => r.pendingAtEnd],
    ['age of newest delivered sample (ms)', (r) => r.newestDeliveredAgeMs],
    ['retried samples (since start)', (r) => r.retriedTotal],
    ['requests in window', (r) => r.requestsInWindow],
    ['  samples per request', (r) => r.samplesPerRequest],
    ['  compressed bytes per sample', (r) => r.compressedBytesPerSample],
    ['  uncompressed bytes per sample', (r) => r.uncompressedBytesPerSample],
    ['shards at end', (r) => r.shards],
    ['first whole scrape delivered after (s)', (r) => r.firstFullScrapeDeliveredS],
    ['scrape errors (since start / in window)', (r) => (Number.isNaN(r.scrapeErrors.sinceStart) ? '–' : `${r.scrapeErrors.sinceStart} / ${r.scrapeErrors.inWindow}`)],
    ['warnings/errors logged', (r) => r.warnings.reduce((n, w) => n + w.count, 0)],
    ['stop on SIGTERM (s)', (r) => `${r.stop.seconds}${r.stop.graceful ? '' : ' (KILLED)'}`],
  ];
  const header = ['', ...systems.map((r) => (r.profiled ? `${r.system} (PROFILED)` : r.system))];
  const body = rows.map(([label, get]) => [label, ...systems.map((r) => fmt(get(r)))]);
  const widths = header.map((_, i) => Math.max(...[header, ...body].map((row) => row[i].length)));
  const line = (row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  │  ');
  console.log('');
  console.log(`Results: ${SERIES.toLocaleString('en-US')} series, scrape every ${SCRAPE_INTERVAL_S} s, ${DURATION_S} s window after ${WARMUP_S} s warm-up, ${os.cpus().length} cores`);
  console.log(line(header));
  console.log(widths.map((w) => '─'.repeat(w)).join('──┼──'));
  for (const row of body) console.log(line(row));
  for (const r of systems) {
    console.log(`\n${r.system} CPU by thread name in the window: ${r.threads.map((t) => `${t.name}×${t.threads} ${t.cpuSeconds}s`).join(', ')}`);
    console.log(`${r.system} memory at end (own metrics): ${JSON.stringify(r.memoryAtEnd)}`);
    for (const w of r.warnings) console.log(`${r.system} logged ${w.count}×: ${w.message}`);
    if (r.queueConfig) console.log(`${r.system} effective queue_config: ${JSON.stringify(r.queueConfig)}`);
  }
}

function verdicts(results) {
  const fleet = results.fleet;
  if (!fleet) return null;
  const prom = results.prometheus;
  const cpuRef = prom?.cpuSecondsPerMillionSamples ?? TARGETS.prometheusReferenceCpuPerMillion;
  const cpuRefSource = prom ? 'Prometheus agent mode, this run' : 'earlier Prometheus measurement (reference)';
  const cpuOk = fleet.cpuSecondsPerMillionSamples !== null && fleet.cpuSecondsPerMillionSamples <= cpuRef;
  const rssOk = fleet.rssPeakMiB <= TARGETS.rssMiB;
  const droppedOk = fleet.droppedTotal === 0;
  return {
    cpu: { value: fleet.cpuSecondsPerMillionSamples, target: cpuRef, targetSource: cpuRefSource, pass: cpuOk },
    rss: { value: fleet.rssPeakMiB, windowPeak: fleet.rssWindowPeakMiB, target: TARGETS.rssMiB, pass: rssOk },
    noDrops: { value: fleet.droppedTotal, pass: droppedOk },
    profiled: fleet.profiled,
  };
}

function printProfile(profile) {
  if (!profile) return;
  console.log('');
  if (profile.error) {
    console.log(`CPU profile: ${profile.error}`);
    return;
  }
  console.log(`fleet-agent CPU profile (${profile.file}; ${profile.window}; main thread busy ${profile.busyMs} ms, idle ${profile.idleMs} ms)`);
  console.log('Top 15 functions by self time:');
  profile.topSelf.forEach((f, i) => {
    console.log(`  ${String(i + 1).padStart(2)}. ${String(f.percent).padStart(5)}%  ${String(f.ms).padStart(7)} ms  ${f.name}`);
    if (f.calledFrom.length) console.log(`                         ← ${f.calledFrom.join(', ')}`);
  });
  console.log('Self time by file:');
  for (const f of profile.topFiles) console.log(`      ${String(f.percent).padStart(5)}%  ${String(f.ms).padStart(7)} ms  ${f.name}`);
  console.log('Inclusive time, project code (apps/, packages/):');
  for (const f of profile.topInclusiveProjectCode) console.log(`      ${String(f.percent).padStart(5)}%  ${String(f.ms).padStart(7)} ms  ${f.name}`);
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

/** Which fleet-agent was measured: commit, uncommitted changes under the agent's sources, build time. */
function provenance() {
  const git = (args) => {
    try {
      return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return null;
    }
  };
  let distBuiltAt = null;
  try {
    distBuiltAt = statSync(path.join(ROOT, 'apps/agent/dist/cli/main.js')).mtime.toISOString();
  } catch {
    /* not built */
  }
  const dirty = git(['status', '--porcelain', '--', 'apps/agent', 'packages/pipeline', 'packages/aws']);
  return { commit: git(['rev-parse', '--short', 'HEAD']), uncommittedAgentFiles: dirty === null ? null : dirty.split('\n').filter(Boolean), distBuiltAt };
}

async function main() {
  const systems = ONLY ? [ONLY] : ['fleet', 'prometheus'];
  log(`bench:agent — ${systems.join(' + ')}, ${SERIES} series, warm-up ${WARMUP_S} s, window ${DURATION_S} s${PROFILE ? ', fleet-agent CPU-profiled' : ''}${NODE_FLAGS.length ? `, fleet-agent node flags: ${NODE_FLAGS.join(' ')}` : ''}`);
  if (DURATION_S % SCRAPE_INTERVAL_S !== 0) log(`note: the window is not a multiple of the ${SCRAPE_INTERVAL_S} s scrape interval; per-sample figures get edge noise`);
  const loadBefore = os.loadavg();
  const source = provenance();
  log(`fleet-agent from commit ${source.commit}${source.uncommittedAgentFiles?.length ? ` + ${source.uncommittedAgentFiles.length} uncommitted file(s) under apps/agent, packages/` : ''}, dist built ${source.distBuiltAt}`);
  const results = {};
  for (const kind of systems) results[kind] = await runSystem(kind);

  printTable(results);
  const verdict = verdicts(results);
  if (verdict) {
    const mark = (ok) => (ok ? 'PASS' : 'MISS');
    console.log('\nTargets for fleet-agent (issue 3):');
    console.log(`  ${mark(verdict.cpu.pass)}  CPU per sample ${verdict.cpu.value} CPU-s/M ≤ ${verdict.cpu.target} CPU-s/M (${verdict.cpu.targetSource})`);
    console.log(`  ${mark(verdict.rss.pass)}  peak RSS (VmHWM) ${verdict.rss.value} MiB ≤ ${verdict.rss.target} MiB (window peak ${verdict.rss.windowPeak} MiB)`);
    console.log(`  ${mark(verdict.noDrops.pass)}  no samples dropped (${verdict.noDrops.value})`);
    if (verdict.profiled) console.log('  (fleet-agent ran under --cpu-prof: its CPU figure includes profiling overhead)');
  }
  printProfile(results.fleet?.profile);

  const doc = {
    generatedAt: new Date().toISOString(),
    settings: { nodeFlags: NODE_FLAGS, series: SERIES, warmupSeconds: WARMUP_S, windowSeconds: DURATION_S, scrapeIntervalSeconds: SCRAPE_INTERVAL_S, scrapeTimeoutSeconds: SCRAPE_TIMEOUT_S, only: ONLY || null, profile: PROFILE },
    agentSource: source,
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? null, memoryGiB: round(os.totalmem() / 1024 ** 3, 1), node: process.version, clkTck: CLK_TCK, loadAvgBefore: loadBefore.map((l) => round(l, 2)), loadAvgAfter: os.loadavg().map((l) => round(l, 2)) },
    targets: { cpuSecondsPerMillionNoWorseThan: 'prometheus (this run) or reference', prometheusReferenceCpuPerMillion: TARGETS.prometheusReferenceCpuPerMillion, rssMiB: TARGETS.rssMiB },
    results,
    verdict,
  };
  writeFileSync(RESULTS_FILE, `${JSON.stringify(doc, null, 2)}\n`);
  console.log(`\nwrote ${path.relative(process.cwd(), RESULTS_FILE) || RESULTS_FILE}`);
}

main().then(
  () => {
    killAllNow();
    process.exit(0);
  },
  (err) => {
    console.error(`[bench] failed: ${err?.stack ?? err}`);
    killAllNow();
    process.exit(1);
  },
);
