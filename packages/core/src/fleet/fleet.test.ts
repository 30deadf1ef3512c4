import { agents, agentStats, statsRollups, agentErrors, agentConnections, pipelineVersions, type DatabaseHandle } from '@fleet/db';
import { describeEachDatabase } from '@fleet/db/test-support';
import { and, eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { effectiveConfig, loadPublishedPipelines } from '../agents/effective-config.js';
import { enrollAgent } from '../agents/enroll.js';
import { recordAgentConnected, recordConfigStatus, recordDesiredConfig } from '../agents/sessions.js';
import type { ServiceContext } from '../context.js';
import { createEnrollmentToken } from '../enrollment/tokens.js';
import { createPipeline, publishVersion, saveDraft } from '../pipelines/pipelines.js';
import { counterDeltas, cumulativeOf, increase, type CumulativeCounters } from './counters.js';
import { remedyForFinding } from './diagnosis.js';
import { assessHeartbeat, type HealthHeartbeat } from './health.js';
import { agentDetail, fleetOverview, pipelineStats } from './overview.js';
import { applyRetention, recordHeartbeat, refreshRollups, RETENTION, type HeartbeatReport } from './stats.js';
import { freshAdmin } from '../test-support/index.js';

const AMP = 'https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-0a1b2c3d-1234/api/v1/remote_write';

function cumulative(over: Partial<CumulativeCounters> = {}): CumulativeCounters {
  return { startedAt: '2026-11-27T00:00:00.000Z', scraped: 0, sent: 0, dropped: 0, filtered: 0, retried: 0, droppedByReason: {}, destinations: {}, ...over };
}

describe('counter deltas', () => {
  it('never go negative: a counter that went down restarted, and its new value is all increase', () => {
    expect(increase(undefined, 50, false)).toBe(0);
    expect(increase(10, 50, false)).toBe(40);
    expect(increase(50, 20, false)).toBe(20);
    expect(increase(50, 70, true)).toBe(70);
    expect(increase(5, Number.NaN, false)).toBe(0);
    expect(increase(5, -3, false)).toBe(0);
  });

  it('take the first reading as the baseline and count everything since a restart', () => {
    const first = cumulative({ scraped: 1000, sent: 900, dropped: 10, droppedByReason: { http_4xx: 10 } });
    expect(counterDeltas(null, first, [])).toMatchObject({ scraped: 0, sent: 0, dropped: 0, droppedByReason: {}, reset: false });
    const later = cumulative({ scraped: 1600, sent: 1450, dropped: 15, droppedByReason: { http_4xx: 12, too_old: 3 } });
    expect(counterDeltas(first, later, [])).toMatchObject({ scraped: 600, sent: 550, dropped: 5, droppedByReason: { http_4xx: 2, too_old: 3 }, reset: false });
    // A new process (startedAt changed) starts from 0: its whole count is new, even if larger.
    const restarted = cumulative({ startedAt: '2026-11-27T01:00:00.000Z', scraped: 2000, sent: 1990, dropped: 1, droppedByReason: { http_4xx: 1 } });
    expect(counterDeltas(later, restarted, [])).toMatchObject({ scraped: 2000, sent: 1990, dropped: 1, droppedByReason: { http_4xx: 1 }, reset: true });
    // Without startedAt (older agents), a counter going down is the restart.
    const a = cumulative({ startedAt: null, scraped: 500, sent: 500 });
    const b = cumulative({ startedAt: null, scraped: 40, sent: 30 });
    expect(counterDeltas(a, b, [])).toMatchObject({ scraped: 40, sent: 30, reset: true });
  });

  it('attribute destination deltas to the pipeline version whose slug prefixes the destination', () => {
    const hb = (sent: number, dropped: number) =>
      cumulativeOf({
        counters: { samplesScraped: 0, samplesSent: sent * 2, samplesDropped: dropped, samplesRetried: 0 },
        destinations: [
          { name: 'node-metrics.amp', url: AMP, samplesSent: sent, droppedByReason: { http_4xx: dropped }, failedSendsByClass: { bad_request: dropped } },
          { name: 'other.x', url: 'http://x', samplesSent: sent, droppedByReason: {} },
        ],
      });
    const refs = [{ id: 'p1', name: 'Node Metrics', version: 3 }];
    const d = counterDeltas(hb(100, 1), hb(160, 4), refs);
    expect(d.byPipeline).toEqual({ 'p1:3': { sent: 60, dropped: 3, filtered: 0 } });
    expect(d.byDestination).toEqual({ [AMP]: { sent: 60, dropped: 3, filtered: 0, failed: 3 }, 'http://x': { sent: 60, dropped: 0, filtered: 0, failed: 0 } });
    expect(d.failedSends).toBe(3);
  });
});

describe('health', () => {
  const base = (over: Partial<HealthHeartbeat['destinations'][number]> = {}): HealthHeartbeat => ({
    at: '2026-11-27T10:00:00.000Z',
    counters: { pendingSamples: 0 },
    destinations: [{ name: 'p.amp', url: AMP, pendingSamples: 0, droppedByReason: {}, credentials: null, clockOffsetMs: null, lastError: null, ...over }],
    targets: [{ job: 'node', instance: 'a:9100', up: true, lastError: null }],
  });
  const ctx = { now: new Date('2026-11-27T10:00:05Z'), clockOffsetMs: 100, configStatus: 'applied', configError: null, droppedDelta: 0, droppedByReasonDelta: {}, lastDropAt: null };

  it('is healthy without problems, degraded on recent drops, failing when a destination stalls on an error', () => {
    expect(assessHeartbeat(base(), ctx)).toMatchObject({ health: 'healthy', findings: [] });
    expect(assessHeartbeat(base(), { ...ctx, droppedDelta: 4, droppedByReasonDelta: { http_4xx: 4 } })).toMatchObject({ health: 'degraded', findings: [{ kind: 'drops', facts: { reasons: 'http_4xx: 4' } }] });
    const denied = assessHeartbeat(
      base({
        pendingSamples: 1200,
        sigv4: { service: 'aps', region: 'us-east-1', roleArn: null },
        credentials: { source: 'EC2 instance metadata (IMDSv2)', callerArn: 'arn:aws:sts::123456789012:assumed-role/fleet-agent/i-0abc', expiresAt: null, lastError: null },
        lastError: { at: '2026-11-27T09:59:50.000Z', class: 'access_denied', code: 'AccessDeniedException', status: 403, message: 'User is not authorized to perform: aps:RemoteWrite', action: 'aps:RemoteWrite' },
      }),
      ctx,
    );
    expect(denied.health).toBe('failing');
    expect(denied.findings[0]).toMatchObject({ key: `access_denied|${AMP}`, severity: 'critical', facts: { action: 'aps:RemoteWrite', callerArn: 'arn:aws:sts::123456789012:assumed-role/fleet-agent/i-0abc', region: 'us-east-1' } });
    // The same error while samples still flow is a warning; an old one is no finding at all.
    expect(assessHeartbeat(base({ lastError: denied.findings[0] && { at: '2026-11-27T09:59:50.000Z', class: 'server_error', code: null, status: 503, message: 'x' } }), ctx).health).toBe('degraded');
    expect(assessHeartbeat(base({ lastError: { at: '2026-11-27T09:00:00.000Z', class: 'server_error', code: null, status: 503, message: 'x' } }), ctx).health).toBe('healthy');
  });

  // Regression: errors that are not retried (access denied, wrong region, 4xx) drop every batch and
  // leave nothing pending, so "nothing sent while samples wait" never held and such an agent was
  // only degraded although it delivered nothing.
  it('is failing when a destination has delivered nothing since its error and drops what it gets', () => {
    const lastError = { at: '2026-11-27T09:59:50.000Z', class: 'access_denied', code: 'AccessDeniedException', status: 403, message: 'not authorized to perform: aps:RemoteWrite' };
    const dropping = assessHeartbeat(base({ lastError, droppedByReason: { http_4xx: 60 } }), ctx);
    expect(dropping).toMatchObject({ health: 'failing', findings: [{ kind: 'access_denied', severity: 'critical' }] });
    // Delivered before the error only (the newest sample sent predates it): still failing.
    expect(assessHeartbeat(base({ lastError, droppedByReason: { http_4xx: 60 }, highestSentTimestampMs: Date.parse('2026-11-27T09:59:00.000Z') }), ctx).health).toBe('failing');
    // Delivering again since the error: a warning.
    const recovered = assessHeartbeat(base({ lastError, droppedByReason: { http_4xx: 60 }, highestSentTimestampMs: Date.parse('2026-11-27T10:00:01.000Z') }), ctx);
    expect(recovered).toMatchObject({ health: 'degraded', findings: [{ kind: 'access_denied', severity: 'warning' }] });
    // Samples waiting between batches after a recovery (the last success is after the error) do
    // not make it critical again at the next heartbeat.
    const waiting = assessHeartbeat(base({ lastError: { ...lastError, class: 'clock_skew' }, pendingSamples: 300, lastSuccessAt: '2026-11-27T09:59:58.000Z' }), ctx);
    expect(waiting).toMatchObject({ health: 'degraded', findings: [{ kind: 'clock_skew', severity: 'warning' }] });
    expect(assessHeartbeat(base({ lastError: { ...lastError, class: 'clock_skew' }, pendingSamples: 300, lastSuccessAt: '2026-11-27T09:59:40.000Z' }), ctx).health).toBe('failing');
  });

  it('keeps the reasons of the last drops while the drops finding lasts', () => {
    const later = { ...ctx, lastDropAt: new Date('2026-11-27T09:58:00Z'), previousDropReasons: 'http_4xx: 6' };
    expect(assessHeartbeat(base(), later).findings).toMatchObject([{ kind: 'drops', facts: { reasons: 'http_4xx: 6' } }]);
    expect(assessHeartbeat(base(), { ...later, droppedDelta: 2, droppedByReasonDelta: { too_old: 2 } }).findings).toMatchObject([{ kind: 'drops', facts: { reasons: 'too_old: 2' } }]);
  });

  it('flags clock offsets, a failed config, expiring credentials and targets down', () => {
    expect(assessHeartbeat(base(), { ...ctx, clockOffsetMs: -90_000 }).findings).toMatchObject([{ kind: 'clock_offset', severity: 'warning', facts: { offsetMs: -90_000 } }]);
    expect(assessHeartbeat(base(), { ...ctx, clockOffsetMs: 300_000 }).health).toBe('failing');
    expect(assessHeartbeat(base(), { ...ctx, configStatus: 'failed', configError: 'ca_file: missing' }).findings).toMatchObject([{ kind: 'config_failed', facts: { error: 'ca_file: missing' } }]);
    const expiring = assessHeartbeat(base({ credentials: { source: 'x', callerArn: null, expiresAt: '2026-11-27T10:05:00.000Z', lastError: null } }), ctx);
    expect(expiring.findings).toMatchObject([{ kind: 'credentials_expiring', severity: 'warning' }]);
    const hb = base();
    hb.targets = [{ job: 'node', instance: 'a:9100', up: false, lastError: 'connection refused' }];
    expect(assessHeartbeat(hb, ctx)).toMatchObject({ health: 'failing', findings: [{ kind: 'target_down', facts: { down: 1, targets: 1, error: 'connection refused' } }] });
  });
});

describeEachDatabase('fleet history', (backend) => {
  let handle: DatabaseHandle;
  let dispose: () => Promise<void>;
  let ctx: ServiceContext;

  beforeEach(async () => {
    ({ handle, dispose, ctx } = await freshAdmin(backend));
  });
  afterEach(async () => dispose());

  async function agentRunning(name: string, pipelineIds: string[] = []) {
    const { token } = await createEnrollmentToken(ctx, { name: `t-${name}`, expiresInHours: 1, labels: { env: 'prod' } });
    const a = await enrollAgent({ db: handle.db }, token, { hostname: name, version: 'test', platform: 'generic', labels: {} });
    await recordAgentConnected(handle.db, a.agentId, { replica: 'r1', description: { hostname: name }, runningConfigHash: null });
    if (pipelineIds.length) {
      const desired = effectiveConfig((await loadPublishedPipelines(handle.db)).pipelines, { env: 'prod' });
      await recordDesiredConfig(handle.db, a.agentId, desired);
      await recordConfigStatus(handle.db, a.agentId, { configHash: desired.configHash, status: 'applied' });
    }
    return a.agentId;
  }

  /** A heartbeat with cumulative counters (one destination of pipeline "node"). */
  function heartbeat(at: Date, startedAt: string, c: { scraped: number; sent: number; http4xx: number; tooOld?: number }): HeartbeatReport {
    const dropped = c.http4xx + (c.tooOld ?? 0);
    return {
      at: at.toISOString(),
      startedAt,
      counters: { samplesScraped: c.scraped, samplesSent: c.sent, samplesDropped: dropped, samplesRetried: 0, pendingSamples: 0, walBytes: 1000 },
      destinations: [
        { name: 'node.amp', url: AMP, pendingSamples: 0, walBytes: 1000, samplesSent: c.sent, droppedByReason: { http_4xx: c.http4xx, ...(c.tooOld ? { too_old: c.tooOld } : {}) }, credentials: null, clockOffsetMs: null, lastError: null },
      ],
      targets: [],
    };
  }

  it('reconciles: the overview totals and top lists are the sums of what agents reported, across restarts', async () => {
    const { pipeline } = await createPipeline(ctx, { name: 'node', selector: [], document: { scrape_configs: [], remote_write: [{ url: AMP, sigv4: { region: 'us-east-1' } }] }, note: 'n' });
    await publishVersion(ctx, pipeline.id, 1, 'go');
    const ids = [await agentRunning('a1', [pipeline.id]), await agentRunning('a2', [pipeline.id]), await agentRunning('a3', [pipeline.id])];
    const t0 = new Date(Date.now() - 20 * 60_000);
    t0.setUTCSeconds(0, 0);
    const expected = { scraped: 0, sent: 0, dropped: 0, http4xx: 0, tooOld: 0 };
    const perAgentDropped = new Map<string, number>();
    // Each agent reports every 15 s for 12 minutes; agent 2 restarts at minute 6 (counters from 0).
    for (const [n, id] of ids.entries()) {
      let prev: { scraped: number; sent: number; http4xx: number; tooOld: number } | null = null;
      let process = { startedAt: '2026-11-27T00:00:00.000Z', scraped: 5000, sent: 4000, http4xx: 7, tooOld: 0 };
      for (let i = 0; i < 48; i++) {
        const at = new Date(t0.getTime() + i * 15_000 + n * 1000);
        if (n === 1 && i === 24) {
          process = { startedAt: '2026-11-27T05:00:00.000Z', scraped: 0, sent: 0, http4xx: 0, tooOld: 0 };
          prev = { scraped: 0, sent: 0, http4xx: 0, tooOld: 0 };
        }
        process.scraped += 100 * (n + 1);
        process.sent += 90 * (n + 1);
        process.http4xx += n === 2 ? 3 : 0;
        process.tooOld += n === 2 && i % 2 ? 1 : 0;
        await recordHeartbeat(handle.db, id, heartbeat(at, process.startedAt, process), 0, at);
        if (prev) {
          expected.scraped += process.scraped - prev.scraped;
          expected.sent += process.sent - prev.sent;
          expected.http4xx += process.http4xx - prev.http4xx;
          expected.tooOld += process.tooOld - prev.tooOld;
          perAgentDropped.set(id, (perAgentDropped.get(id) ?? 0) + process.http4xx - prev.http4xx + process.tooOld - prev.tooOld);
        }
        prev = { ...process };
      }
    }
    expected.dropped = expected.http4xx + expected.tooOld;
    await refreshRollups(handle.db, new Date(), 30 * 60_000);
    const overview = await fleetOverview(ctx, { windowMinutes: 60 });
    expect(overview.totals).toEqual({ scraped: expected.scraped, sent: expected.sent, dropped: expected.dropped, filtered: 0, droppedByReason: { http_4xx: expected.http4xx, too_old: expected.tooOld } });
    expect(overview.series.step).toBe(60);
    expect(overview.series.points.every((p) => p.sent >= 0 && p.scraped >= 0 && p.dropped >= 0)).toBe(true);
    expect(overview.topAgentsByDrops).toEqual([{ id: ids[2], name: 'a3', dropped: perAgentDropped.get(ids[2]!), sent: expect.any(Number) }]);
    expect(overview.topDestinations).toEqual([{ url: AMP, sent: expected.sent, dropped: expected.dropped, failed: 0, agents: 3 }]);
    expect(overview.counts).toMatchObject({ total: 3, offline: 0, neverConnected: 0 });
    expect(overview.rollouts).toMatchObject([{ name: 'node', version: 1, selected: 3, summary: { applied: 3 } }]);
    // The 5-minute rollups hold the same totals; the pipeline version's rollup has its share.
    const day = await fleetOverview(ctx, { windowMinutes: 1440 });
    expect(day.series.step).toBe(300);
    expect(day.totals.sent).toBe(expected.sent);
    const stats = await pipelineStats(ctx, pipeline.id, { windowMinutes: 1440 });
    expect(stats.perVersion).toMatchObject([{ version: 1, agents: 3, sent: expected.sent, dropped: expected.dropped }]);
    expect(stats.regression).toBeNull();
    // Rolling up again changes nothing (idempotent).
    await refreshRollups(handle.db, new Date(), 30 * 60_000);
    expect((await fleetOverview(ctx, { windowMinutes: 60 })).totals).toEqual(overview.totals);
  });

  it('flags a version after whose rollout agents drop clearly more than before', async () => {
    const doc = { scrape_configs: [], remote_write: [{ url: AMP, sigv4: { region: 'us-east-1' } }] };
    const { pipeline } = await createPipeline(ctx, { name: 'node', selector: [], document: doc, note: 'n' });
    await publishVersion(ctx, pipeline.id, 1, 'go');
    const id = await agentRunning('a1', [pipeline.id]);
    await saveDraft(ctx, pipeline.id, { selector: [], document: { ...doc, global: { scrape_interval: '30s' } }, note: 'v2' });
    await publishVersion(ctx, pipeline.id, 2, 'v2');
    const publishedAt = (await handle.db.select().from(pipelineVersions).where(and(eq(pipelineVersions.pipelineId, pipeline.id), eq(pipelineVersions.version, 2))))[0]!.publishedAt!;
    // Before: v1 runs cleanly for 20 minutes; after: v2 drops a tenth of the samples.
    const at = (min: number) => new Date(publishedAt.getTime() + min * 60_000);
    await handle.db.insert(statsRollups).values([
      ...Array.from({ length: 20 }, (_, i) => ({ scope: `pipeline:${pipeline.id}:1`, stepSeconds: 60, bucket: at(-20 + i), samplesSent: 1000, samplesDropped: 1 })),
      ...Array.from({ length: 5 }, (_, i) => ({ scope: `pipeline:${pipeline.id}:2`, stepSeconds: 60, bucket: at(i), samplesSent: 900, samplesDropped: 100 })),
    ]);
    const stats = await pipelineStats(ctx, pipeline.id, { windowMinutes: 60, now: at(5) });
    expect(stats.regression).toMatchObject({ version: 2, message: 'Since v2 rolled out, 10.0% of samples are dropped (0.10% in the hour before).' });
    expect(id).toBeTruthy();
  });

  it('keeps history within its retention', async () => {
    const id = await agentRunning('a1');
    const now = new Date('2026-11-27T12:00:00Z');
    const ago = (ms: number) => new Date(now.getTime() - ms);
    await handle.db.insert(agentStats).values([
      { agentId: id, bucket: ago(RETENTION.rawMs + 60_000) },
      { agentId: id, bucket: ago(RETENTION.rawMs - 60_000) },
    ]);
    await handle.db.insert(statsRollups).values([
      { scope: 'fleet', stepSeconds: 60, bucket: ago(RETENTION.rollup1mMs + 60_000) },
      { scope: 'fleet', stepSeconds: 60, bucket: ago(60_000) },
      { scope: 'fleet', stepSeconds: 300, bucket: ago(RETENTION.rollup5mMs + 300_000) },
      { scope: 'fleet', stepSeconds: 300, bucket: ago(RETENTION.rawMs * 5) },
    ]);
    await handle.db.insert(agentErrors).values([
      { agentId: id, at: ago(RETENTION.errorsMs + 1000), destination: 'd', url: 'u', errorClass: 'connect', message: 'old' },
      { agentId: id, at: ago(1000), destination: 'd', url: 'u', errorClass: 'connect', message: 'new' },
    ]);
    await handle.db.insert(agentConnections).values([
      { agentId: id, connectedAt: ago(RETENTION.connectionsMs + 1000), disconnectedAt: ago(RETENTION.connectionsMs), replica: 'r' },
    ]);
    const before = (await handle.db.select().from(agentConnections)).length;
    expect(await applyRetention(handle.db, now)).toBe(5);
    expect((await handle.db.select().from(agentStats)).map((r) => r.bucket)).toEqual([ago(RETENTION.rawMs - 60_000)]);
    expect((await handle.db.select().from(statsRollups)).map((r) => [r.stepSeconds, r.bucket.getTime()]).sort()).toEqual([
      [300, ago(RETENTION.rawMs * 5).getTime()],
      [60, ago(60_000).getTime()],
    ].sort());
    expect((await handle.db.select().from(agentErrors)).map((r) => r.message)).toEqual(['new']);
    expect((await handle.db.select().from(agentConnections)).length).toBe(before - 1);
  });

  it('turns access denied into the policy statement to attach to the role the agent signs as', async () => {
    const id = await agentRunning('a1');
    const hb = heartbeat(new Date(), '2026-11-27T00:00:00.000Z', { scraped: 10, sent: 0, http4xx: 0 });
    hb.counters.pendingSamples = 500;
    hb.destinations[0] = {
      ...hb.destinations[0]!,
      pendingSamples: 500,
      sigv4: { service: 'aps', region: 'us-east-1', roleArn: null },
      credentials: { source: 'EC2 instance metadata (IMDSv2)', callerArn: 'arn:aws:sts::123456789012:assumed-role/fleet-agent/i-0abc', expiresAt: null, lastError: null },
      lastError: { at: new Date().toISOString(), class: 'access_denied', code: 'AccessDeniedException', status: 403, message: 'User: arn:aws:sts::123456789012:assumed-role/fleet-agent/i-0abc is not authorized to perform: aps:RemoteWrite', action: 'aps:RemoteWrite' },
    };
    await recordHeartbeat(handle.db, id, hb, 0);
    const row = (await handle.db.select().from(agents).where(eq(agents.id, id)))[0]!;
    expect(row.health).toBe('failing');
    const overview = await fleetOverview(ctx, { windowMinutes: 60 });
    expect(overview.counts).toMatchObject({ failing: 1, healthy: 0 });
    expect(overview.topAgentsByErrors).toMatchObject([{ id, errors: 1, last_class: 'access_denied' }]);
    const group = overview.findings[0]!;
    expect(group).toMatchObject({ kind: 'access_denied', severity: 'critical', agents: 1, url: AMP });
    expect(group.remedy.policy!.roleArn).toBe('arn:aws:iam::123456789012:role/fleet-agent');
    const policy = JSON.parse(group.remedy.policy!.json) as { Statement: Array<{ Action: string | string[]; Resource: string | string[] }> };
    expect(JSON.stringify(policy.Statement)).toContain('aps:RemoteWrite');
    expect(JSON.stringify(policy.Statement)).toContain('arn:aws:aps:us-east-1:123456789012:workspace/ws-0a1b2c3d-1234');
    const detail = await agentDetail(ctx, id);
    expect(detail.findings[0]!.remedy.summary).toContain('aps:RemoteWrite');
    expect(detail.errors).toMatchObject([{ errorClass: 'access_denied', status: 403 }]);
    expect(detail.connections).toEqual([]);
    // Written through a host that names no region (a proxy, a private name): the policy comes from
    // the workspace ARN of the denial, or from the signed region and the workspace in the path.
    const proxied = 'http://amp-proxy.internal:8080/workspaces/ws-0a1b2c3d-1234/api/v1/remote_write';
    const viaProxy = (facts: Record<string, string | number>) =>
      remedyForFinding(ctx, { key: `access_denied|${proxied}`, severity: 'critical', kind: 'access_denied', title: 'x', url: proxied, facts: { message: 'denied', callerArn: 'arn:aws:sts::123456789012:assumed-role/fleet-agent/i-0abc', service: 'aps', ...facts }, since: '' });
    const named: Record<string, string>[] = [{ resource: 'arn:aws:aps:eu-west-1:123456789012:workspace/ws-0a1b2c3d-1234', region: 'eu-west-1' }, { region: 'eu-west-1' }];
    for (const facts of named) {
      const remedy = await viaProxy(facts);
      expect(remedy.policy?.roleArn).toBe('arn:aws:iam::123456789012:role/fleet-agent');
      expect(JSON.stringify(JSON.parse(remedy.policy!.json))).toContain('"Resource":"arn:aws:aps:eu-west-1:123456789012:workspace/ws-0a1b2c3d-1234"');
    }
    const skew = await remedyForFinding(ctx, { key: 'clock_offset', severity: 'critical', kind: 'clock_offset', title: 'x', facts: { offsetMs: 301_000 }, since: '' });
    expect(skew.summary).toBe("The host clock is 301 s behind the control plane's.");
    expect(skew.steps.join(' ')).toContain('169.254.169.123');
  });
});
