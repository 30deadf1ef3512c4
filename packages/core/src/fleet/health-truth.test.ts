import { agentErrors, agents, agentStats, queryRows, type AgentFinding, type DatabaseHandle } from '@fleet/db';
import { describeEachDatabase } from '@fleet/db/test-support';
import { eq, sql } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { effectiveConfig, loadPublishedPipelines } from '../agents/effective-config.js';
import { enrollAgent } from '../agents/enroll.js';
import { recordAgentConnected, recordConfigStatus, recordDesiredConfig } from '../agents/sessions.js';
import type { ServiceContext } from '../context.js';
import { createEnrollmentToken } from '../enrollment/tokens.js';
import { createPipeline, publishVersion } from '../pipelines/pipelines.js';
import { counterDeltas, cumulativeOf, safeCount, storedCounters } from './counters.js';
import { remedyForFinding } from './diagnosis.js';
import { assessHeartbeat, type HealthContext, type HealthHeartbeat } from './health.js';
import { agentDetail, fleetOverview, pipelineStats } from './overview.js';
import { ERROR_HISTORY, recordHeartbeat, refreshRollups, type HeartbeatReport } from './stats.js';
import { freshAdmin } from '../test-support/index.js';

const AMP = 'https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-0a1b2c3d-1234/api/v1/remote_write';
const AMP2 = 'https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-99999999-0000/api/v1/remote_write';
const NO_CREDENTIALS = { class: 'no_credentials', code: 'CredentialsProviderError', status: null, message: 'Could not load credentials from any providers', detail: 'no provider produced credentials; tried: environment; shared files; EC2 instance metadata (IMDSv2)' };

describe('samples filtered on purpose are counted apart from drops', () => {
  const dest = (over: Record<string, unknown> = {}) => ({ name: 'node.amp', url: AMP, samplesSent: 0, droppedByReason: {} as Record<string, number>, ...over });

  it('reads samplesFiltered, and an older agent\'s write_relabel "drops", as filtered — never as dropped', () => {
    const current = cumulativeOf({ counters: { samplesScraped: 5100, samplesSent: 0, samplesDropped: 0, samplesRetried: 0, samplesFiltered: 5100 }, destinations: [dest({ samplesFiltered: 5100 })] });
    expect(current).toMatchObject({ dropped: 0, filtered: 5100, droppedByReason: {}, destinations: { 'node.amp': { dropped: 0, filtered: 5100 } } });
    // An agent from before samplesFiltered reports a keep-list as dropped{reason="write_relabel"}.
    const old = cumulativeOf({ counters: { samplesScraped: 5100, samplesSent: 0, samplesDropped: 5103, samplesRetried: 0 }, destinations: [dest({ droppedByReason: { write_relabel: 5100, http_4xx: 3 } })] });
    expect(old).toMatchObject({ dropped: 3, filtered: 5100, droppedByReason: { http_4xx: 3 }, destinations: { 'node.amp': { dropped: 3, filtered: 5100 } } });
    const d = counterDeltas(
      cumulativeOf({ counters: { samplesScraped: 0, samplesSent: 0, samplesDropped: 0, samplesRetried: 0, samplesFiltered: 0 }, destinations: [dest({ samplesFiltered: 0 })] }),
      current,
      [{ id: 'p1', name: 'node', version: 1 }],
    );
    expect(d).toMatchObject({ dropped: 0, filtered: 5100, byDestination: { [AMP]: { dropped: 0, filtered: 5100 } }, byPipeline: { 'p1:1': { dropped: 0, filtered: 5100 } }, reset: false });
  });

  it('turns a reading stored before the split into a baseline: no reset, no spike of drops', () => {
    // What the control plane stored for an older agent before (write_relabel counted in dropped).
    const stored = storedCounters({ startedAt: 's', scraped: 5000, sent: 0, dropped: 5000, retried: 0, droppedByReason: { write_relabel: 5000 }, destinations: { 'node.amp': { url: AMP, sent: 0, dropped: 5000, failed: 0 } } });
    expect(stored).toMatchObject({ dropped: 0, filtered: 5000, droppedByReason: {} });
    const next = cumulativeOf({ startedAt: 's', counters: { samplesScraped: 5100, samplesSent: 0, samplesDropped: 5100, samplesRetried: 0 }, destinations: [dest({ droppedByReason: { write_relabel: 5100 } })] });
    const d = counterDeltas(stored, next, []);
    expect(d).toMatchObject({ scraped: 100, dropped: 0, filtered: 100, droppedByReason: {}, reset: false });
    expect(d.byDestination).toEqual({});
  });

  it('keeps only non-negative safe integers', () => {
    expect([0.5, 1.9, -3, Number.NaN, Number.POSITIVE_INFINITY, 1e300, '7', null].map(safeCount)).toEqual([0, 1, 0, 0, 0, Number.MAX_SAFE_INTEGER, 0, 0]);
    const c = cumulativeOf({ counters: { samplesScraped: 10.5, samplesSent: 0.5, samplesDropped: -1, samplesRetried: Number.NaN }, destinations: [dest({ samplesSent: 0.5, droppedByReason: { http_4xx: 0.5 } })] });
    expect(c).toMatchObject({ scraped: 10, sent: 0, dropped: 0, retried: 0, droppedByReason: { http_4xx: 0 } });
    const d = counterDeltas(storedCounters({ scraped: 0.25, sent: 'x', dropped: 0, filtered: 0, retried: 0, droppedByReason: { http_4xx: 0.5 }, destinations: { 'node.amp': { url: AMP, sent: 0.5, dropped: 0, filtered: 0, failed: 0 } } }), c, []);
    for (const v of [d.scraped, d.sent, d.dropped, d.filtered, d.retried, ...Object.values(d.droppedByReason)]) expect(Number.isSafeInteger(v)).toBe(true);
  });
});

describe('findings that tell the truth', () => {
  const ctx: HealthContext = { now: new Date('2026-11-27T10:00:05Z'), clockOffsetMs: 0, configStatus: 'applied', configError: null, droppedDelta: 0, droppedByReasonDelta: {}, lastDropAt: null };
  const destination = (over: Partial<HealthHeartbeat['destinations'][number]>): HealthHeartbeat['destinations'][number] => ({
    name: 'p.amp',
    url: AMP,
    pendingSamples: 0,
    droppedByReason: {},
    credentials: { source: null, callerArn: null, expiresAt: null, lastError: null },
    clockOffsetMs: null,
    sigv4: { service: 'aps', region: 'us-east-1', roleArn: null },
    lastError: null,
    ...over,
  });
  const hb = (destinations: HealthHeartbeat['destinations']): HealthHeartbeat => ({ at: '2026-11-27T10:00:00.000Z', counters: { pendingSamples: 0 }, destinations, targets: [] });
  const at = '2026-11-27T09:59:50.000Z';

  // Regression: no credentials on the host showed as two Critical findings with the same text.
  it('merges findings of one cause into one that names every destination affected', () => {
    const r = assessHeartbeat(
      hb([destination({ name: 'a.amp', pendingSamples: 300, lastError: { at, ...NO_CREDENTIALS } }), destination({ name: 'b.amp', url: AMP2, pendingSamples: 200, lastError: { at, ...NO_CREDENTIALS } })]),
      ctx,
    );
    expect(r.health).toBe('failing');
    expect(r.findings).toHaveLength(1);
    expect(r.findings[0]).toMatchObject({ kind: 'no_credentials', severity: 'critical', destination: 'a.amp, b.amp', facts: { pending: 500, urls: [AMP, AMP2].sort().join(', ') } });
    expect(r.findings[0]!.url).toBeUndefined();
    // Different remedies (each workspace needs its own grant) stay apart.
    const denied = (name: string, url: string) => destination({ name, url, pendingSamples: 10, lastError: { at, class: 'access_denied', code: 'AccessDeniedException', status: 403, message: 'not authorized', action: 'aps:RemoteWrite' } });
    const twoGrants = assessHeartbeat(hb([denied('a.amp', AMP), denied('b.amp', AMP2)]), { ...ctx });
    expect(twoGrants.findings.map((f) => f.destination)).toEqual(['a.amp', 'b.amp']);
  });

  it('never calls filtering "drops": an older agent\'s write_relabel drops neither stall a destination nor make a drops finding', () => {
    const r = assessHeartbeat(hb([destination({ droppedByReason: { write_relabel: 5100 }, lastError: { at, class: 'server_error', code: null, status: 503, message: 'busy' } })]), ctx);
    expect(r.findings).toMatchObject([{ kind: 'server_error', severity: 'warning' }]);
  });

  it('raises a config the control plane cannot build as a critical finding whose remedy names the fix', async () => {
    const message = 'pipeline "node" v3: remote_write[0].aws_account: account 9c1f… was deleted';
    const r = assessHeartbeat(hb([]), { ...ctx, configBuildError: { message, at: new Date('2026-11-27T09:00:00Z') } });
    expect(r).toMatchObject({ health: 'failing', findings: [{ kind: 'config_unbuildable', severity: 'critical', facts: { error: message }, since: '2026-11-27T09:00:00.000Z' }] });
    const remedy = await remedyForFinding({ db: undefined as never }, r.findings[0]!);
    expect(remedy.summary).toContain(message);
    expect(remedy.summary).toContain('keeps running its last good config');
    expect(remedy.steps.join(' ')).toMatch(/roll .*back/);
    expect(assessHeartbeat(hb([]), { ...ctx, configBuildError: null }).findings).toEqual([]);
  });

  // Regression: `aws ec2 modify-instance-metadata-options` lacked the required --instance-id.
  it('names the agent\'s instance in the IMDS command, or a placeholder', async () => {
    const finding: AgentFinding = { key: `no_credentials|${AMP}`, severity: 'critical', kind: 'no_credentials', title: 'x', url: AMP, facts: { message: NO_CREDENTIALS.message }, since: at };
    const known = await remedyForFinding({ db: undefined as never }, finding, { instanceId: 'i-0123456789abcdef0' });
    expect(known.steps.join('\n')).toContain('aws ec2 modify-instance-metadata-options --instance-id i-0123456789abcdef0 --http-tokens required --http-put-response-hop-limit 2');
    const unknown = await remedyForFinding({ db: undefined as never }, finding);
    expect(unknown.steps.join('\n')).toContain('aws ec2 modify-instance-metadata-options --instance-id <instance-id> ');
  });
});

describeEachDatabase('health truth', (backend) => {
  let handle: DatabaseHandle;
  let dispose: () => Promise<void>;
  let ctx: ServiceContext;

  beforeEach(async () => {
    ({ handle, dispose, ctx } = await freshAdmin(backend));
  });
  afterEach(async () => dispose());

  async function agentRunning(name: string, options: { pipelines?: boolean; instanceId?: string } = {}) {
    const { token } = await createEnrollmentToken(ctx, { name: `t-${name}`, expiresInHours: 1, labels: { env: 'prod' } });
    const a = await enrollAgent({ db: handle.db }, token, { hostname: name, version: 'test', platform: 'generic', labels: {} });
    await recordAgentConnected(handle.db, a.agentId, { replica: 'r1', description: { hostname: name, ...(options.instanceId ? { instanceId: options.instanceId } : {}) }, runningConfigHash: null });
    if (options.pipelines) {
      const desired = effectiveConfig((await loadPublishedPipelines(handle.db)).pipelines, { env: 'prod' });
      await recordDesiredConfig(handle.db, a.agentId, desired);
      await recordConfigStatus(handle.db, a.agentId, { configHash: desired.configHash, status: 'applied' });
    }
    return a.agentId;
  }

  const report = (at: Date, c: { scraped: number; sent: number; filtered?: number; legacyFiltered?: number }, destinations?: HeartbeatReport['destinations']): HeartbeatReport => ({
    at: at.toISOString(),
    startedAt: '2026-11-27T00:00:00.000Z',
    counters: {
      samplesScraped: c.scraped,
      samplesSent: c.sent,
      samplesDropped: c.legacyFiltered ?? 0,
      samplesRetried: 0,
      ...(c.filtered !== undefined ? { samplesFiltered: c.filtered } : {}),
      pendingSamples: 0,
      walBytes: 0,
    },
    destinations: destinations ?? [
      {
        name: 'node.amp',
        url: AMP,
        pendingSamples: 0,
        samplesSent: c.sent,
        ...(c.filtered !== undefined ? { samplesFiltered: c.filtered } : {}),
        droppedByReason: c.legacyFiltered !== undefined ? { write_relabel: c.legacyFiltered } : {},
        credentials: null,
        clockOffsetMs: null,
        lastError: null,
      },
    ],
    targets: [],
  });

  // Regression: a keep-list in write_relabel_configs showed as 5.1K "dropped (100 %)" in red.
  it('shows a keep-list as filtered everywhere — totals, charts, destinations, pipeline drop rate, findings — for new and older agents', async () => {
    const { pipeline } = await createPipeline(ctx, { name: 'node', selector: [], document: { scrape_configs: [], remote_write: [{ url: AMP, sigv4: { region: 'us-east-1' } }] }, note: 'n' });
    await publishVersion(ctx, pipeline.id, 1, 'go');
    const fresh = await agentRunning('new', { pipelines: true });
    const older = await agentRunning('old', { pipelines: true });
    const t0 = new Date(Date.now() - 5 * 60_000);
    for (let i = 0; i <= 4; i++) {
      const at = new Date(t0.getTime() + i * 30_000);
      await recordHeartbeat(handle.db, fresh, report(at, { scraped: 1000 * i, sent: 0, filtered: 1000 * i }), 0, at);
      await recordHeartbeat(handle.db, older, report(at, { scraped: 1000 * i, sent: 0, legacyFiltered: 1000 * i }), 0, at);
    }
    await refreshRollups(handle.db, new Date(), 30 * 60_000);
    const o = await fleetOverview(ctx, { windowMinutes: 60 });
    expect(o.totals).toMatchObject({ scraped: 8000, sent: 0, dropped: 0, filtered: 8000, droppedByReason: {} });
    expect(o.series.points.every((p) => p.dropped === 0)).toBe(true);
    expect(o.topAgentsByDrops).toEqual([]);
    expect(o.topDestinations).toEqual([]);
    expect(o.findings).toEqual([]);
    expect(o.counts).toMatchObject({ healthy: 2, degraded: 0, failing: 0 });
    const p = await pipelineStats(ctx, pipeline.id, { windowMinutes: 60 });
    expect(p.perVersion).toMatchObject([{ version: 1, sent: 0, dropped: 0, filtered: 8000, dropRate: 0 }]);
    const detail = await agentDetail(ctx, older);
    expect(detail.series.reduce((n, s) => n + s.filtered * 60, 0)).toBeCloseTo(4000, 6);
    expect(detail.series.every((s) => s.dropped === 0)).toBe(true);
  });

  // Regression: before the first roll-up the fleet page said "Every destination accepted what it was sent".
  it('says whether there is any history yet: none before the first roll-up', async () => {
    const id = await agentRunning('a1');
    const at = new Date(Date.now() - 2 * 60_000);
    await recordHeartbeat(handle.db, id, report(at, { scraped: 0, sent: 0 }), 0, at);
    await recordHeartbeat(handle.db, id, report(new Date(at.getTime() + 30_000), { scraped: 100, sent: 100 }), 0, new Date(at.getTime() + 30_000));
    const before = await fleetOverview(ctx, { windowMinutes: 60 });
    expect(before.history).toEqual({ rollups: false, stats: true });
    expect(before.topDestinations).toEqual([]);
    await refreshRollups(handle.db);
    expect((await fleetOverview(ctx, { windowMinutes: 60 })).history).toEqual({ rollups: true, stats: true });
    const empty = await fleetOverview(ctx, { windowMinutes: 60, now: new Date(Date.now() + 3 * 86_400_000) });
    expect(empty.history).toEqual({ rollups: false, stats: false });
  });

  it('raises config_build_error as a critical finding, and clears it when the gateway does', async () => {
    const id = await agentRunning('a1', { pipelines: true });
    const message = 'pipeline "node" v1 no longer builds: remote_write[0].aws_account names an account that was deleted';
    await handle.db.update(agents).set({ configBuildError: message, configBuildErrorAt: new Date('2026-11-27T09:00:00Z') }).where(eq(agents.id, id));
    await recordHeartbeat(handle.db, id, report(new Date(), { scraped: 0, sent: 0 }), 0);
    const row = (await handle.db.select().from(agents).where(eq(agents.id, id)))[0]!;
    expect(row.health).toBe('failing');
    expect(row.findings).toMatchObject([{ kind: 'config_unbuildable', severity: 'critical', facts: { error: message } }]);
    const overview = await fleetOverview(ctx, { windowMinutes: 60 });
    expect(overview.findings).toMatchObject([{ kind: 'config_unbuildable', agents: 1, severity: 'critical' }]);
    expect(overview.findings[0]!.remedy.summary).toContain('keeps running its last good config');
    // The gateway built a config again: the agent page no longer shows it, even before the next heartbeat.
    await handle.db.update(agents).set({ configBuildError: null, configBuildErrorAt: null }).where(eq(agents.id, id));
    expect((await agentDetail(ctx, id)).findings).toEqual([]);
    await recordHeartbeat(handle.db, id, report(new Date(), { scraped: 0, sent: 0 }), 0);
    expect((await handle.db.select().from(agents).where(eq(agents.id, id)))[0]).toMatchObject({ health: 'healthy', findings: [] });
  });

  // Regression: one heartbeat with samplesSent: 0.5 (or a bad row) made every roll-up fail its ::bigint cast.
  it('stores only safe counts, and one bad row never stops the roll-up', async () => {
    const { pipeline } = await createPipeline(ctx, { name: 'node', selector: [], document: { scrape_configs: [], remote_write: [{ url: AMP, sigv4: { region: 'us-east-1' } }] }, note: 'n' });
    await publishVersion(ctx, pipeline.id, 1, 'go');
    const good = await agentRunning('good', { pipelines: true });
    const bad = await agentRunning('bad', { pipelines: true });
    const at = new Date(Date.now() - 3 * 60_000);
    const later = new Date(at.getTime() + 30_000);
    await recordHeartbeat(handle.db, good, report(at, { scraped: 0, sent: 0 }), 0, at);
    await recordHeartbeat(handle.db, good, report(later, { scraped: 600, sent: 500 }), 0, later);
    // Fractions straight into recordHeartbeat (the protocol is bypassed): counted as whole numbers.
    await recordHeartbeat(handle.db, bad, report(at, { scraped: 0.5, sent: 0.5 }), 0, at);
    await recordHeartbeat(handle.db, bad, report(later, { scraped: 2.5, sent: 1.5 }), 0, later);
    const rows = await handle.db.select().from(agentStats).where(eq(agentStats.agentId, bad));
    for (const r of rows) {
      for (const v of [r.samplesScraped, r.samplesSent, r.pendingSamples, ...Object.values(r.byDestination).flatMap((d) => Object.values(d))]) expect(Number.isSafeInteger(v)).toBe(true);
    }
    // A row nobody should write, written anyway: fractions, strings, arrays where objects belong.
    await handle.db.execute(sql`insert into agent_stats (agent_id, bucket, samples_sent, dropped_by_reason, by_pipeline, by_destination)
      values (${bad}, ${new Date(at.getTime() - 60_000).toISOString()}::timestamptz, 0,
        '{"http_4xx": 0.5, "too_old": "many", "x": {"a": 1}, "y": 1e30}'::jsonb, '[1, 2]'::jsonb,
        ${JSON.stringify({ [AMP]: { sent: 0.5, dropped: 'x', failed: -1, filtered: 1e20 }, 'http://other': 7 })}::jsonb)`);
    await expect(refreshRollups(handle.db, new Date(), 30 * 60_000)).resolves.toBeUndefined();
    const o = await fleetOverview(ctx, { windowMinutes: 60 });
    // The good agent's 600 scraped / 500 sent, plus the bad one's 2 scraped / 1 sent (2.5 → 2, 1.5 → 1, baseline 0).
    expect(o.totals).toMatchObject({ scraped: 602, sent: 501, dropped: 0 });
    expect(o.history.rollups).toBe(true);
    expect((await pipelineStats(ctx, pipeline.id, { windowMinutes: 60 })).perVersion).toMatchObject([{ version: 1, sent: 501 }]);
  });

  // Regression: agent_errors got one row per new destination error, without bound.
  it('bounds each agent\'s error history: per minute, and in rows kept', async () => {
    const id = await agentRunning('flood');
    const other = await agentRunning('calm');
    const destinations = (at: Date) =>
      Array.from({ length: 100 }, (_, i) => ({
        name: `p.d${i}`,
        url: `http://127.0.0.1:${10_000 + i}/write`,
        pendingSamples: 1,
        droppedByReason: {},
        credentials: null,
        clockOffsetMs: null,
        lastError: { at: at.toISOString(), class: 'connect', code: 'ECONNREFUSED', status: null, message: `refused ${at.getTime()}` },
      }));
    const start = new Date('2026-11-27T10:00:00Z');
    // Ten heartbeats within one minute, each with 100 new errors.
    for (let i = 0; i < 10; i++) {
      const at = new Date(start.getTime() + i * 5_000);
      await recordHeartbeat(handle.db, id, report(at, { scraped: 0, sent: 0 }, destinations(at)), 0, at);
    }
    const count = async (agentId: string) => Number((await queryRows<{ n: string }>(handle.db, sql`select count(*) as n from agent_errors where agent_id = ${agentId}`))[0]!.n);
    const inOneMinute = await count(id);
    // eslint-disable-next-line no-console -- the measured number, to quote
    console.log(`agent_errors after 10 heartbeats × 100 new errors in one minute: ${inOneMinute} rows (limit ${ERROR_HISTORY.perMinute}/min)`);
    expect(inOneMinute).toBe(ERROR_HISTORY.perMinute);
    // Then one such heartbeat a minute for longer than the history holds.
    const minutes = Math.ceil(ERROR_HISTORY.keptPerAgent / ERROR_HISTORY.perMinute) + 5;
    for (let m = 1; m <= minutes; m++) {
      const at = new Date(start.getTime() + m * 60_000);
      await recordHeartbeat(handle.db, id, report(at, { scraped: 0, sent: 0 }, destinations(at)), 0, at);
    }
    const kept = await count(id);
    // eslint-disable-next-line no-console -- the measured number, to quote
    console.log(`agent_errors after ${minutes} more minutes of floods: ${kept} rows kept (limit ${ERROR_HISTORY.keptPerAgent})`);
    expect(kept).toBe(ERROR_HISTORY.keptPerAgent);
    // The newest are the ones kept; another agent's errors are untouched and still recorded.
    const newest = await handle.db.select({ at: agentErrors.at }).from(agentErrors).where(eq(agentErrors.agentId, id)).orderBy(sql`${agentErrors.at} desc`).limit(1);
    expect(newest[0]!.at.getTime()).toBe(start.getTime() + minutes * 60_000);
    const at = new Date(start.getTime() + 5_000);
    await recordHeartbeat(handle.db, other, report(at, { scraped: 0, sent: 0 }, destinations(at).slice(0, 2)), 0, at);
    expect(await count(other)).toBe(2);
  });

  // Regression: one root cause (no credentials) showed as two Critical findings with the same text.
  it('merges fleet findings by cause, counting each agent once, and names the instance of a single EC2 agent', async () => {
    const a = await agentRunning('a', { instanceId: 'i-0123456789abcdef0' });
    const b = await agentRunning('b');
    const dest = (name: string, url: string) => ({ name, url, pendingSamples: 100, droppedByReason: {}, credentials: null, clockOffsetMs: null, sigv4: { service: 'aps', region: 'us-east-1', roleArn: null }, lastError: { at: new Date().toISOString(), ...NO_CREDENTIALS } });
    // Agent a has two destinations without credentials: one finding on its page.
    await recordHeartbeat(handle.db, a, report(new Date(), { scraped: 0, sent: 0 }, [dest('x.amp', AMP), dest('y.amp', AMP2)]), 0);
    const detail = await agentDetail(ctx, a);
    expect(detail.findings).toHaveLength(1);
    expect(detail.findings[0]).toMatchObject({ kind: 'no_credentials', destination: 'x.amp, y.amp' });
    expect(detail.findings[0]!.remedy.steps.join('\n')).toContain('--instance-id i-0123456789abcdef0');
    let overview = await fleetOverview(ctx, { windowMinutes: 60 });
    expect(overview.findings).toHaveLength(1);
    expect(overview.findings[0]!.remedy.steps.join('\n')).toContain('--instance-id i-0123456789abcdef0');
    // Agent b has it on one of them only: still one group, of two agents, with the placeholder.
    await recordHeartbeat(handle.db, b, report(new Date(), { scraped: 0, sent: 0 }, [dest('x.amp', AMP)]), 0);
    overview = await fleetOverview(ctx, { windowMinutes: 60 });
    expect(overview.findings).toHaveLength(1);
    expect(overview.findings[0]).toMatchObject({ kind: 'no_credentials', severity: 'critical', agents: 2 });
    expect(overview.findings[0]!.remedy.steps.join('\n')).toContain('--instance-id <instance-id>');
  });
});
