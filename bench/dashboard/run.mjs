// `npm run bench:dashboard`: how long the fleet dashboards' queries take on the server with
// 10,000 agents and 24 h of per-minute stats (issue 6: "pages stay fast at 10,000 agents").
//
// Method
// ------
//  0. Builds the control plane and the packages it uses (turbo; cached when nothing changed), and
//     imports @fleet/core and @fleet/db from their dist — the code production runs.
//  1. Database: BENCH_DATABASE_URL if set (it must be empty unless --reuse), else a throwaway
//     PostgreSQL 15 cluster in a temp dir (initdb/pg_ctl from /usr/lib/postgresql/15/bin, as the
//     `postgres` user when run as root, on a free loopback port; durability off, planner and
//     memory settings at PostgreSQL's defaults). Migrated with @fleet/db.
//  2. Seeds with set-based SQL (bench/dashboard/seed.mjs): BENCH_AGENTS agents (default 10,000;
//     labels env/team/region, 85 % connected, 14 % offline, 1 % never connected, 3.3 % failing and
//     7 % degraded with findings of ten kinds, a latest heartbeat with 2–3 destinations and 10
//     targets); 5 pipelines with published versions selecting them (a rollout in progress); 24 h
//     of per-minute agent_stats (one row per agent per minute connected: ~14 M rows) with
//     by_pipeline/by_destination and drops; agent_errors (7 d), agent_connections (30 d); the
//     rollups of the last 24 h by refreshRollups itself and 30 d of older 5-minute rollups.
//     Prints the seeding time and each table's rows and pg_total_relation_size.
//  3. Calls the core functions each page's tRPC procedures call, directly (what the server spends
//     on the page's queries, without HTTP): BENCH_WARMUP runs (2), then BENCH_RUNS runs (10), one
//     at a time; p50/p95/max in ms. Fleet page: fleetOverview (1 h, 24 h, 7 d) and listAgents
//     (first page, a search, a health filter, page 181 at offset 9,000); Agent page: getAgent,
//     agentDetail; Pipeline page: getPipeline, pipelineRollout, pipelineStats. Also the writers:
//     recordHeartbeat (one heartbeat of one agent) and refreshRollups (its default 10-minute
//     lookback). Verdict: PASS when p95 < 300 ms. For each slow call the slowest SQL statements it
//     ran are listed (timed by wrapping pg's Client#query); BENCH_EXPLAIN=1 also prints their
//     EXPLAIN (ANALYZE, BUFFERS).
//  4. Browser (--browser, default when /usr/bin/chromium exists): starts the built control plane
//     on the seeded database, signs in through the login page and loads the Fleet page
//     BENCH_BROWSER_LOADS times (5) in Chromium (playwright-core with /usr/bin/chromium): time from
//     navigation until the heading "Fleet", the fleet summary and the first row of the table
//     "Agents" are visible, and the tRPC requests' durations as the browser saw them; then an
//     agent page and a pipeline page.
//  5. Retention: applyRetention at now + 1 day (what it deletes, how long it takes and the memory
//     it needs), table sizes after. This empties agent_stats, so it runs last (skipped with --reuse).
//  6. The throwaway cluster and the server are stopped and removed at the end, on errors and on
//     Ctrl-C. Results also go to bench/dashboard/results.json (git-ignored).
//
// Options: --no-browser  --no-build  --no-retention
//          --keep-cluster  leave the throwaway cluster running (prints its URL, for --reuse)
//          --reuse         measure a database seeded by an earlier run (BENCH_DATABASE_URL)
// Environment: BENCH_DATABASE_URL, BENCH_AGENTS (10000), BENCH_RUNS (10), BENCH_WARMUP (2),
//          BENCH_BROWSER_LOADS (5), BENCH_EXPLAIN=1, BENCH_PG_BIN (/usr/lib/postgresql/15/bin)
/* eslint-disable no-console -- a benchmark that reports to the terminal */
/* global performance, structuredClone -- Node 20 globals */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const args = new Set(process.argv.slice(2));
for (const a of args) {
  if (!['--browser', '--no-browser', '--no-build', '--no-retention', '--keep-cluster', '--reuse'].includes(a)) {
    console.error(`unknown option ${a}`);
    process.exit(2);
  }
}

function envNumber(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name}=${JSON.stringify(raw)}: expected a positive whole number`);
  return n;
}
const AGENTS = envNumber('BENCH_AGENTS', 10_000);
const RUNS = envNumber('BENCH_RUNS', 10);
const WARMUP = envNumber('BENCH_WARMUP', 2);
const BROWSER_LOADS = envNumber('BENCH_BROWSER_LOADS', 5);
const EXPLAIN = process.env.BENCH_EXPLAIN === '1';
const CHROMIUM = '/usr/bin/chromium';
const BROWSER = args.has('--browser') || (!args.has('--no-browser') && existsSync(CHROMIUM));
const REUSE = args.has('--reuse');
const TARGET_MS = 300;
const RESULTS_FILE = path.join(HERE, 'results.json');

const log = (msg) => console.log(`[bench] ${msg}`);
const ms = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Clean-up: the cluster, the server and the browser go on exit, on errors and on signals.
// ---------------------------------------------------------------------------------------------
const cleanups = [];
let cleaned = false;
function cleanupNow() {
  if (cleaned) return;
  cleaned = true;
  for (const fn of cleanups.reverse()) {
    try {
      fn();
    } catch (err) {
      console.error(`[bench] clean-up: ${err.message}`);
    }
  }
}
process.on('exit', cleanupNow);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    log(`${sig}: cleaning up`);
    cleanupNow();
    process.exit(128 + (os.constants.signals[sig] ?? 1));
  });
}

// ---------------------------------------------------------------------------------------------
// Build, then import the built packages.
// ---------------------------------------------------------------------------------------------
if (!args.has('--no-build')) {
  const { ensureDependencies, turbo } = await import('../../scripts/lib.mjs');
  await ensureDependencies();
  log('building the control plane and its packages (turbo)…');
  try {
    execFileSync(turbo, ['run', 'build', '--filter=@fleet/control-plane...', '--output-logs=errors-only'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  } catch {
    // The UI may be mid-edit by someone else; the query benchmark needs only core and db.
    log('the full build failed; building @fleet/core and its dependencies only (the browser part is skipped)');
    execFileSync(turbo, ['run', 'build', '--filter=@fleet/core...', '--output-logs=errors-only'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    args.add('--no-browser-built');
  }
}

const pg = (await import('pg')).default;
const { openDatabase, queryRows } = await import('@fleet/db');
const core = await import('@fleet/core');
const { sql } = await import('drizzle-orm');
const { seed, ADMIN } = await import('./seed.mjs');
const { startCluster } = await import('./cluster.mjs');

// ---------------------------------------------------------------------------------------------
// SQL statement timing: every query a measured call runs, by statement text.
// ---------------------------------------------------------------------------------------------
let currentLabel = null;
/** @type {Map<string, Map<string, { ms: number[], params: unknown[] }>>} */
const statements = new Map();
const originalQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function query(config, values, callback) {
  const label = currentLabel;
  if (!label || (config && typeof config.submit === 'function')) return originalQuery.call(this, config, values, callback);
  let vals = values;
  let cb = callback;
  if (typeof vals === 'function') {
    cb = vals;
    vals = undefined;
  }
  const text = typeof config === 'string' ? config : config?.text;
  const params = vals ?? config?.values ?? [];
  const t0 = performance.now();
  const done = () => {
    const perLabel = statements.get(label) ?? new Map();
    statements.set(label, perLabel);
    const entry = perLabel.get(text) ?? { ms: [], params };
    entry.ms.push(performance.now() - t0);
    perLabel.set(text, entry);
  };
  if (cb) {
    return originalQuery.call(this, config, vals, (err, res) => {
      done();
      cb(err, res);
    });
  }
  const p = originalQuery.call(this, config, vals);
  p.then(done, done);
  return p;
};

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
function summarize(times) {
  const s = [...times].sort((a, b) => a - b);
  return { p50: pct(s, 50), p95: pct(s, 95), max: s.at(-1), runs: s.length };
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------
const results = { agents: AGENTS, runs: RUNS, warmup: WARMUP, startedAt: new Date().toISOString(), host: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 1024 ** 3) } };

let databaseUrl = process.env.BENCH_DATABASE_URL;
if (REUSE && !databaseUrl) throw new Error('--reuse needs BENCH_DATABASE_URL (a database seeded by an earlier run, e.g. one left by --keep-cluster)');
if (!databaseUrl) {
  const cluster = await startCluster({ pgbin: process.env.BENCH_PG_BIN, log });
  if (args.has('--keep-cluster')) {
    log(`--keep-cluster: the cluster stays up; stop it with: runuser -u postgres -- ${process.env.BENCH_PG_BIN || '/usr/lib/postgresql/15/bin'}/pg_ctl -D ${cluster.dir}/data -m immediate stop && rm -rf ${cluster.dir}`);
  } else {
    cleanups.push(cluster.stop);
  }
  databaseUrl = cluster.url;
  results.cluster = { settings: cluster.settings };
}
const redacted = databaseUrl.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
log(`database ${redacted}`);

const handle = await openDatabase({ databaseUrl });
cleanups.push(() => void handle.close().catch(() => undefined));
const pool = new pg.Pool({ connectionString: databaseUrl, max: 4, application_name: 'bench-dashboard-seed' });
pool.on('error', () => undefined);
cleanups.push(() => void pool.end().catch(() => undefined));
const db = handle.db;

const migrated = await handle.migrate();
results.pgVersion = (await pool.query('show server_version')).rows[0].server_version;
log(`migrations applied: ${migrated.applied}`);
const [{ n: existingAgents }] = await queryRows(db, sql`select count(*)::int as n from agents`);

const seedNow = new Date();
/** When the measured time windows end: now, or (--reuse) just after the data was seeded. */
let measureNow;
if (REUSE) {
  if (!existingAgents) throw new Error('--reuse: the database has no agents; run without --reuse to seed it');
  const [seeded] = await queryRows(db, sql`select value from app_settings where key = 'bench.seeded_at'`);
  measureNow = seeded ? new Date(new Date(seeded.value).getTime() + 60_000) : undefined;
  log(`--reuse: measuring the ${existingAgents} agents already seeded${measureNow ? `, with time windows ending at ${measureNow.toISOString()} (seeding time + 1 min)` : ''}`);
  await pool.query('analyze');
} else {
  if (existingAgents) throw new Error(`the database already has ${existingAgents} agents: use an empty database (or --reuse to measure it as it is)`);
  log(`seeding ${AGENTS} agents, 24 h of per-minute stats…`);
  const t0 = performance.now();
  const seeded = await seed({ pool, db, agents: AGENTS, now: seedNow, log, parallel: Math.max(1, Math.min(4, os.cpus().length)) });
  results.seed = { seconds: (performance.now() - t0) / 1000, steps: Object.fromEntries(Object.entries(seeded.timings).map(([k, v]) => [k, +(v / 1000).toFixed(2)])) };
  log(`seeded in ${results.seed.seconds.toFixed(1)} s`);
  await pool.query(`insert into app_settings (key, value) values ('bench.seeded_at', $1) on conflict (key) do update set value = excluded.value`, [seedNow.toISOString()]);
}

// --- sizes ---------------------------------------------------------------------------------------
const TABLES = ['agents', 'agent_stats', 'stats_rollups', 'agent_errors', 'agent_connections', 'pipeline_versions', 'audit_log'];
async function tableSizes() {
  const out = {};
  for (const t of TABLES) {
    const { rows } = await pool.query(`select count(*)::bigint as n, pg_total_relation_size($1::regclass) as total, pg_relation_size($1::regclass) as heap, pg_indexes_size($1::regclass) as idx from ${t}`, [t]);
    out[t] = { rows: Number(rows[0].n), totalBytes: Number(rows[0].total), heapBytes: Number(rows[0].heap), indexBytes: Number(rows[0].idx) };
  }
  const { rows } = await pool.query('select pg_database_size(current_database()) as s');
  out.database = { totalBytes: Number(rows[0].s) };
  return out;
}
function printSizes(sizes) {
  const f = (b) => (b >= 1024 ** 3 ? `${(b / 1024 ** 3).toFixed(2)} GiB` : `${(b / MiB).toFixed(1)} MiB`);
  console.log(`  ${'table'.padEnd(20)} ${'rows'.padStart(12)} ${'total'.padStart(11)} ${'heap+toast'.padStart(11)} ${'indexes'.padStart(11)}`);
  for (const t of TABLES) {
    const s = sizes[t];
    console.log(`  ${t.padEnd(20)} ${s.rows.toLocaleString('en-US').padStart(12)} ${f(s.totalBytes).padStart(11)} ${f(s.totalBytes - s.indexBytes).padStart(11)} ${f(s.indexBytes).padStart(11)}`);
  }
  console.log(`  ${'(database)'.padEnd(20)} ${''.padStart(12)} ${f(sizes.database.totalBytes).padStart(11)}`);
}
results.sizes = await tableSizes();
log('table sizes:');
printSizes(results.sizes);

// --- what to look at -----------------------------------------------------------------------------
const [failingAgent] = await queryRows(db, sql`select id, name from agents where connected and health = 'failing' and findings @> '[{"kind": "access_denied"}]' order by name limit 1`);
const [healthyAgent] = await queryRows(db, sql`select id, name from agents where connected and health = 'healthy' order by name limit 1`);
const [rollingPipeline] = await queryRows(db, sql`select p.id, p.name from pipelines p join pipeline_versions v on v.pipeline_id = p.id and v.published order by v.published_at desc limit 1`);
const [adminUser] = await queryRows(db, sql`select id, email from users where email = ${ADMIN.email}`);
if (!failingAgent || !healthyAgent || !rollingPipeline || !adminUser) throw new Error('the database does not look seeded by this benchmark (no failing agent, pipeline or bench admin)');

// --- measurements --------------------------------------------------------------------------------
const measurements = [];
async function measure(page, name, fn, { runs = RUNS, warmup = WARMUP, target = true } = {}) {
  for (let i = 0; i < warmup; i++) await fn(i);
  const label = `${page} / ${name}`;
  const times = [];
  let last;
  for (let i = 0; i < runs; i++) {
    currentLabel = label;
    const t0 = performance.now();
    last = await fn(warmup + i);
    times.push(performance.now() - t0);
    currentLabel = null;
  }
  const s = summarize(times);
  const m = { page, name, label, ...s, target, pass: !target || s.p95 < TARGET_MS };
  measurements.push(m);
  log(`${label.padEnd(58)} p50 ${ms(s.p50).padStart(6)}  p95 ${ms(s.p95).padStart(6)}  max ${ms(s.max).padStart(6)} ms${target ? (m.pass ? '' : '  MISS') : ''}`);
  return last;
}

const ctx = { db };
log(`measuring (${WARMUP} warm-up + ${RUNS} runs each; target p95 < ${TARGET_MS} ms)…`);
const overview = {};
for (const [w, label] of [[60, '1 h'], [1440, '24 h'], [10080, '7 d']]) {
  overview[label] = await measure('Fleet', `fleetOverview ${label}`, () => core.fleetOverview(ctx, { windowMinutes: w, now: measureNow }));
}
const firstPage = await measure('Fleet', 'listAgents first page (50)', () => core.listAgents(ctx, { limit: 50, offset: 0 }));
const searched = await measure('Fleet', 'listAgents search "payments" (50)', () => core.listAgents(ctx, { search: 'payments', limit: 50, offset: 0 }));
const filtered = await measure('Fleet', 'listAgents health=degraded (50)', () => core.listAgents(ctx, { health: 'degraded', limit: 50, offset: 0 }));
const deep = await measure('Fleet', 'listAgents offset 9,000 (50)', () => core.listAgents(ctx, { limit: 50, offset: 9000 }));
await measure('Agent', 'getAgent', () => core.getAgent(ctx, failingAgent.id));
const detail = await measure('Agent', 'agentDetail 1 h', () => core.agentDetail(ctx, failingAgent.id, { windowMinutes: 60, now: measureNow }));
await measure('Agent', 'agentDetail 24 h', () => core.agentDetail(ctx, healthyAgent.id, { windowMinutes: 1440, now: measureNow }));
await measure('Pipeline', 'getPipeline', () => core.getPipeline(ctx, rollingPipeline.id));
const rollout = await measure('Pipeline', 'pipelineRollout (200 agents)', () => core.pipelineRollout(ctx, rollingPipeline.id));
const pstats = await measure('Pipeline', 'pipelineStats 24 h', () => core.pipelineStats(ctx, rollingPipeline.id, { windowMinutes: 1440, now: measureNow }));

// Writers: one heartbeat of one agent (a different agent each run), and the periodic rollup.
const hbAgents = await queryRows(db, sql`select id, last_heartbeat, last_counters from agents where connected and health = 'healthy' order by id limit ${WARMUP + RUNS}`);
await measure(
  'Writers',
  'recordHeartbeat (one agent)',
  (i) => {
    const a = hbAgents[i % hbAgents.length];
    const hb = structuredClone(a.last_heartbeat);
    const at = new Date();
    hb.at = at.toISOString();
    for (const k of ['samplesScraped', 'samplesSent']) hb.counters[k] += 5000 * (i + 1);
    for (const d of hb.destinations) d.samplesSent += 2500 * (i + 1);
    delete hb.receivedAt;
    delete hb.clockOffsetMs;
    return core.recordHeartbeat(db, a.id, hb, 120, at);
  },
  { target: false },
);
await measure('Writers', 'refreshRollups (10 min lookback)', () => core.refreshRollups(db), { runs: Math.min(RUNS, 5), warmup: 1, target: false });

results.measurements = measurements.map(({ label: _l, ...m }) => m);
results.facts = {
  overview24h: { counts: overview['24 h'].counts, points: overview['24 h'].series.points.length, findings: overview['24 h'].findings.length, topDestinations: overview['24 h'].topDestinations.length, topAgentsByDrops: overview['24 h'].topAgentsByDrops.length, topAgentsByErrors: overview['24 h'].topAgentsByErrors.length, rollouts: overview['24 h'].rollouts.map((r) => ({ name: r.name, selected: r.selected, summary: r.summary })) },
  list: { total: firstPage.total, summary: firstPage.summary, searchTotal: searched.total, degradedTotal: filtered.total, deepRows: deep.agents.length },
  agent: { name: failingAgent.name, findings: detail.findings.length, errors: detail.errors.length, connections: detail.connections.length, points: detail.series.length },
  pipeline: { name: rollingPipeline.name, selected: rollout.selected, summary: rollout.summary, running: rollout.running, perVersion: pstats.perVersion.map((v) => ({ version: v.version, agents: v.agents })), regression: pstats.regression?.message ?? null },
};

// The slowest statements of each slow call.
const slow = [];
for (const m of measurements) {
  if (m.p50 < 100) continue;
  const perLabel = statements.get(m.label);
  if (!perLabel) continue;
  const top = [...perLabel.entries()]
    .map(([text, e]) => ({ text, params: e.params, ...summarize(e.ms), calls: e.ms.length / m.runs }))
    .sort((a, b) => b.p50 - a.p50)
    .slice(0, 3);
  slow.push({ label: m.label, statements: top });
}
results.slowStatements = slow.map((s) => ({ label: s.label, statements: s.statements.map(({ params: _p, text, ...r }) => ({ sql: text.replace(/\s+/g, ' ').slice(0, 300), ...r })) }));

// --- report --------------------------------------------------------------------------------------
function printReport() {
  console.log('');
  console.log(`Server time of the dashboards' queries — ${AGENTS.toLocaleString('en-US')} agents, ${results.sizes.agent_stats.rows.toLocaleString('en-US')} agent_stats rows; ${RUNS} runs after ${WARMUP} warm-up; ${results.host.cpus} CPUs`);
  console.log(`${'page'.padEnd(9)} ${'query'.padEnd(40)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)} ${'max ms'.padStart(8)}  verdict`);
  for (const m of measurements) {
    console.log(`${m.page.padEnd(9)} ${m.name.padEnd(40)} ${ms(m.p50).padStart(8)} ${ms(m.p95).padStart(8)} ${ms(m.max).padStart(8)}  ${m.target ? (m.pass ? 'PASS' : `MISS (> ${TARGET_MS} ms)`) : '(writer, no target)'}`);
  }
  const misses = measurements.filter((m) => !m.pass);
  console.log('');
  console.log(misses.length ? `Verdict: ${misses.length} page quer${misses.length === 1 ? 'y misses' : 'ies miss'} the ${TARGET_MS} ms target: ${misses.map((m) => m.label).join('; ')}` : `Verdict: every page query is under ${TARGET_MS} ms at p95.`);
  if (slow.length) {
    console.log('');
    console.log('Slowest SQL statements of the calls over 100 ms (p50 per statement):');
    for (const s of slow) {
      console.log(`  ${s.label}`);
      for (const st of s.statements) console.log(`    ${ms(st.p50).padStart(7)} ms  ${st.text.replace(/\s+/g, ' ').trim().slice(0, 150)}`);
    }
  }
}
if (EXPLAIN) {
  for (const s of slow) {
    for (const st of s.statements.filter((x) => x.p50 >= 50)) {
      console.log(`\nEXPLAIN (ANALYZE, BUFFERS) — ${s.label}\n${st.text.replace(/\s+/g, ' ').trim()}`);
      const { rows } = await pool.query(`explain (analyze, buffers) ${st.text}`, st.params);
      for (const r of rows) console.log(`  ${r['QUERY PLAN']}`);
    }
  }
}

// --- browser -------------------------------------------------------------------------------------
if (BROWSER) {
  const server = path.join(ROOT, 'apps/control-plane/dist/server/main.js');
  if (!existsSync(server) || args.has('--no-browser-built')) {
    log(`browser: ${server} is missing (the control plane did not build): skipped`);
  } else {
    const { browserRun } = await import('./browser.mjs');
    try {
      results.browser = await browserRun({ databaseUrl, admin: ADMIN, loads: BROWSER_LOADS, chromium: CHROMIUM, agent: failingAgent, pipeline: rollingPipeline, log, onCleanup: (fn) => cleanups.push(fn) });
    } catch (err) {
      log(`browser: failed: ${err.stack ?? err}`);
      results.browser = { error: String(err.message ?? err) };
    }
  }
}

// --- retention -----------------------------------------------------------------------------------
if (!REUSE && !args.has('--no-retention') && !args.has('--keep-cluster')) {
  log('retention: applyRetention at now + 1 day (in a child process, to measure its memory)…');
  const before = await core.historySizes(db);
  const at = new Date(Date.now() + 86_400_000);
  const child = await new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--max-old-space-size=16384', path.join(HERE, 'retention.mjs')], { cwd: ROOT, env: { ...process.env, DATABASE_URL: databaseUrl, RETENTION_AT: at.toISOString() }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1))) : reject(new Error(`retention.mjs exited with ${code}: ${out}`))));
  });
  const after = await core.historySizes(db);
  await pool.query('vacuum analyze');
  results.retention = { at: at.toISOString(), ...child, before, after, sizesAfterVacuum: await tableSizes() };
  log(`applyRetention(now + 1 day) deleted ${child.deleted.toLocaleString('en-US')} rows in ${(child.ms / 1000).toFixed(1)} s (child peak RSS ${Math.round(child.maxRssMiB)} MiB)`);
  for (const k of Object.keys(before)) log(`  ${k.padEnd(18)} ${before[k].toLocaleString('en-US').padStart(12)} → ${after[k].toLocaleString('en-US').padStart(12)}`);
  log('table sizes after retention and VACUUM (space is reused, not returned to the OS):');
  printSizes(results.retention.sizesAfterVacuum);
}

writeFileSync(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);

// --- the report ----------------------------------------------------------------------------------
console.log('');
console.log('='.repeat(100));
console.log(`bench:dashboard — ${new Date().toISOString()} — ${results.host.cpus} CPUs (${results.host.cpu}), ${results.host.memGiB} GiB; PostgreSQL ${results.pgVersion}`);
if (results.seed) {
  console.log(`Seeding: ${results.seed.seconds.toFixed(1)} s (${Object.entries(results.seed.steps).map(([k, v]) => `${k} ${v} s`).join(', ')})`);
}
console.log('Table sizes after seeding:');
printSizes(results.sizes);
printReport();
if (results.browser) {
  console.log('');
  if (results.browser.error) console.log(`Browser: failed: ${results.browser.error}`);
  else {
    console.log('Browser (Chromium, time from navigation start):');
    for (const line of results.browser.lines) console.log(`  ${line}`);
  }
}
if (results.retention) {
  const r = results.retention;
  console.log('');
  console.log(`Retention: applyRetention(now + 1 day) deleted ${r.deleted.toLocaleString('en-US')} rows in ${(r.ms / 1000).toFixed(1)} s (its process peaked at ${Math.round(r.maxRssMiB)} MiB RSS)`);
  for (const k of Object.keys(r.before)) console.log(`  ${k.padEnd(18)} ${r.before[k].toLocaleString('en-US').padStart(12)} → ${r.after[k].toLocaleString('en-US').padStart(12)} rows`);
  console.log('Table sizes after retention and VACUUM (freed space is reused by new rows, not returned to the OS):');
  printSizes(r.sizesAfterVacuum);
}
console.log(`Results: ${path.relative(ROOT, RESULTS_FILE)}`);
await handle.close();
await pool.end();
cleanupNow();
process.exit(0);
