// The browser part of `npm run bench:dashboard`: the built control plane on the seeded database,
// Chromium (playwright-core, Debian's /usr/bin/chromium) signed in through the login page, and
// the time from navigation until the Fleet page shows its heading, its summary and the first row
// of the agents table; then an agent page and a pipeline page. Selectors are the stable ones
// (headings, the table named "Agents", data-testid="fleet-summary"), not the page's layout.
/* global setTimeout, clearTimeout, performance -- Node 20 globals */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SERVER = path.join(ROOT, 'apps/control-plane/dist/server/main.js');
const WAIT_MS = 60_000;

/** Starts the built server; resolves to { url, stop() } once it listens. */
function startServer(env, onCleanup) {
  const child = spawn(process.execPath, [SERVER], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  onCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  let stdout = '';
  let buffer = '';
  const logs = [];
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`control plane exited with ${code} before it listened:\n${stdout}${stderr}`)));
    child.stdout.on('data', (d) => {
      buffer += d;
      if (stdout.length < 10_000) stdout += d;
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line);
        logs.push(entry);
        if (typeof entry.url === 'string' && String(entry.msg).startsWith('control plane listening on')) {
          resolve({
            url: entry.url,
            logs,
            stop: () =>
              new Promise((done) => {
                if (child.exitCode !== null || child.signalCode !== null) return done();
                const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
                child.once('exit', () => {
                  clearTimeout(t);
                  done();
                });
                child.kill('SIGTERM');
              }),
          });
        }
      }
    });
  });
}

/** Waits for `locator` to be visible; resolves to ms since `t0`, or null when it never shows. */
async function visibleAt(locator, t0) {
  try {
    await locator.waitFor({ state: 'visible', timeout: WAIT_MS });
    return performance.now() - t0;
  } catch {
    return null;
  }
}

/** tRPC requests of a page: procedure(s) → time to first byte and total, as the browser saw them. */
function watchTrpc(page) {
  const seen = [];
  page.on('requestfinished', (req) => {
    const url = new URL(req.url());
    if (!url.pathname.startsWith('/api/trpc/')) return;
    const t = req.timing();
    seen.push({ procedures: decodeURIComponent(url.pathname.slice('/api/trpc/'.length)), ttfbMs: t.responseStart - t.requestStart, totalMs: t.responseEnd - t.requestStart, atMs: t.startTime });
  });
  return seen;
}

const med = (xs) => {
  const s = xs.filter((x) => x !== null).sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : null;
};
const f = (v) => (v === null || v === undefined ? 'not seen' : `${Math.round(v)} ms`);

export async function browserRun({ databaseUrl, admin, loads, chromium: executablePath, agent, pipeline, log, onCleanup }) {
  log('browser: starting the control plane on the seeded database…');
  const server = await startServer(
    {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      DATABASE_URL: databaseUrl,
      ADMIN_EMAIL: admin.email,
      ADMIN_PASSWORD: admin.password,
      // The seeded agents have no sockets: a long heartbeat interval keeps the watchdog from marking
      // them offline (it waits 3 intervals) while the pages are measured.
      AGENT_HEARTBEAT_INTERVAL: '60m',
    },
    onCleanup,
  );
  log(`browser: control plane at ${server.url}`);
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  onCleanup(() => void browser.close().catch(() => undefined));
  try {
    const context = await browser.newContext({ baseURL: server.url, viewport: { width: 1440, height: 900 } });
    // Sign in through the login page, as an operator does.
    const login = await context.newPage();
    await login.goto('/login');
    await login.getByLabel('E-mail').fill(admin.email);
    await login.getByLabel('Password').fill(admin.password);
    await login.getByRole('button', { name: 'Sign in' }).click();
    await login.waitForURL((u) => !u.pathname.startsWith('/login'), { timeout: WAIT_MS });
    await login.close();

    const fleet = [];
    for (let i = 0; i < loads; i++) {
      const page = await context.newPage();
      const trpc = watchTrpc(page);
      const t0 = performance.now();
      const nav = page.goto('/', { waitUntil: 'commit' });
      const [heading, summary, row] = await Promise.all([
        visibleAt(page.getByRole('heading', { name: 'Fleet', exact: true }), t0),
        visibleAt(page.locator('[data-testid="fleet-summary"]').first(), t0),
        visibleAt(page.getByRole('table', { name: 'Agents' }).locator('tbody tr').first(), t0),
        nav,
      ]);
      const rows = await page.getByRole('table', { name: 'Agents' }).locator('tbody tr').count().catch(() => 0);
      fleet.push({ heading, summary, firstRow: row, rows, trpc: [...trpc] });
      log(`browser: Fleet page load ${i + 1}: heading ${f(heading)}, summary ${f(summary)}, first agent row ${f(row)} (${rows} rows)`);
      await page.close();
    }

    // An agent page and a pipeline page, once each (warm).
    const agentPage = await context.newPage();
    const agentTrpc = watchTrpc(agentPage);
    let t0 = performance.now();
    void agentPage.goto(`/agents/${agent.id}`, { waitUntil: 'commit' }).catch(() => undefined);
    const agentHeading = await visibleAt(agentPage.getByRole('heading', { name: agent.name }).first(), t0);
    const agentDestinations = await visibleAt(agentPage.getByRole('table', { name: 'Destinations' }), t0);
    await agentPage.close();
    const pipelinePage = await context.newPage();
    const pipelineTrpc = watchTrpc(pipelinePage);
    t0 = performance.now();
    void pipelinePage.goto(`/pipelines/${pipeline.id}`, { waitUntil: 'commit' }).catch(() => undefined);
    const pipelineHeading = await visibleAt(pipelinePage.getByRole('heading', { name: pipeline.name }).first(), t0);
    await pipelinePage.waitForLoadState('networkidle', { timeout: 15_000 }).catch(() => undefined);
    await pipelinePage.close();
    await context.close();

    // tRPC calls of the warm Fleet loads, by procedure: median time to first byte.
    const byProc = new Map();
    for (const l of fleet.slice(1).length ? fleet.slice(1) : fleet) {
      for (const r of l.trpc) byProc.set(r.procedures, [...(byProc.get(r.procedures) ?? []), r.ttfbMs]);
    }
    const lines = [
      `Fleet page, first load: heading ${f(fleet[0].heading)}, summary ${f(fleet[0].summary)}, first row of "Agents" ${f(fleet[0].firstRow)}`,
      `Fleet page, warm loads (median of ${Math.max(1, fleet.length - 1)}): heading ${f(med(fleet.slice(1).map((l) => l.heading)))}, summary ${f(med(fleet.slice(1).map((l) => l.summary)))}, first row of "Agents" ${f(med(fleet.slice(1).map((l) => l.firstRow)))}; worst first row ${f(Math.max(...fleet.map((l) => l.firstRow ?? Infinity)))}`,
      ...[...byProc.entries()].map(([p, xs]) => `  tRPC ${p}: time to first byte median ${f(med(xs))}, max ${f(Math.max(...xs))}`),
      `Agent page: heading ${f(agentHeading)}, "Destinations" table ${f(agentDestinations)}; tRPC ${agentTrpc.map((r) => `${r.procedures} ${f(r.ttfbMs)}`).join(', ')}`,
      `Pipeline page: heading ${f(pipelineHeading)}; tRPC ${pipelineTrpc.map((r) => `${r.procedures} ${f(r.ttfbMs)}`).join(', ')}`,
    ];
    for (const l of lines) log(`browser: ${l}`);
    return { fleet, agentPage: { heading: agentHeading, destinations: agentDestinations, trpc: agentTrpc }, pipelinePage: { heading: pipelineHeading, trpc: pipelineTrpc }, lines };
  } finally {
    await browser.close().catch(() => undefined);
    await server.stop();
  }
}
