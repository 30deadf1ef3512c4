import { agentStats, type DatabaseHandle } from '@fleet/db';
import { describeEachDatabase } from '@fleet/db/test-support';
import { compileRelabelConfigs, parseAgentConfig, relabel } from '@fleet/pipeline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAwsAccount } from '../accounts/accounts.js';
import type { ServiceContext } from '../context.js';
import { AppError } from '../errors.js';
import { createEnrollmentToken } from '../enrollment/tokens.js';
import { createPipeline, publishVersion, saveDraft } from '../pipelines/pipelines.js';
import { getAgent, listAgents, removeAgent, setAgentLabels } from './agents.js';
import { effectiveConfig, loadPublishedPipelines, type PublishedPipeline } from './effective-config.js';
import { enrollAgent } from './enroll.js';
import { AGENT_CHANNEL, parseAgentChange } from './notify.js';
import { pipelineRollout } from './rollout.js';
import {
  authenticateAgent,
  markSilentAgentsOffline,
  recordAgentConnected,
  recordAgentDisconnected,
  recordConfigStatus,
  recordDesiredConfig,
} from './sessions.js';
import { recordHeartbeat } from '../fleet/stats.js';
import { freshAdmin } from '../test-support/index.js';

const AMP = 'https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-0a1b2c3d-1234/api/v1/remote_write';

function published(name: string, selector: PublishedPipeline['selector'], document: Record<string, unknown>, version = 1): PublishedPipeline {
  return { id: `00000000-0000-4000-8000-00000000000${name.length}`, name, version, selector, document };
}

describe('effective config', () => {
  const node = published('node metrics', [{ name: 'env', op: '=', value: 'prod' }], {
    global: { scrape_interval: '15s', external_labels: { team: 'sre' } },
    scrape_configs: [{ job_name: 'node', static_configs: [{ targets: ['localhost:9100'] }] }, { job_name: 'fast', scrape_interval: '5s', static_configs: [{ targets: ['localhost:9101'] }] }],
    remote_write: [{ url: 'http://127.0.0.1:9090/api/v1/write', write_relabel_configs: [{ source_labels: ['__name__'], regex: 'go_.*', action: 'drop' }] }],
  });
  const app = published('app', [], { scrape_configs: [{ job_name: 'node', static_configs: [{ targets: ['localhost:8080'] }] }], remote_write: [{ name: 'amp', url: AMP, sigv4: { region: 'eu-west-1' } }] });

  it('merges every selecting pipeline into one instance each, valid for the agent', () => {
    const eff = effectiveConfig([app, node], { env: 'prod' });
    expect(eff.pipelines.map((p) => p.name)).toEqual(['app', 'node metrics']);
    const parsed = parseAgentConfig(eff.config);
    expect(parsed.instances.map((i) => i.name)).toEqual(['app', 'node metrics']);
    const [, nodeInst] = parsed.instances;
    // The pipeline's global interval is folded into its jobs; a job's own interval wins.
    expect(nodeInst!.scrapeConfigs.map((j) => [j.jobName, j.scrapeIntervalMs, j.scrapeTimeoutMs])).toEqual([
      ['node', 15_000, 10_000],
      ['fast', 5_000, 5_000],
    ]);
    // Destinations are prefixed with the pipeline so two pipelines never share a WAL.
    expect(parsed.instances.flatMap((i) => i.remoteWrite.map((r) => r.name))).toEqual(['app.amp', expect.stringMatching(/^node-metrics\.[0-9a-f]{6}$/)]);
    // External labels become "set if absent" rules ahead of the pipeline's own write relabelling.
    const rules = nodeInst!.remoteWrite[0]!.writeRelabelConfigs;
    expect(rules[0]).toMatchObject({ source_labels: ['team'], target_label: 'team', replacement: 'sre', action: 'replace' });
    expect(rules[1]).toMatchObject({ action: 'drop' });
    const compiled = compileRelabelConfigs(rules);
    expect(relabel([{ name: '__name__', value: 'up' }], compiled)).toEqual([{ name: '__name__', value: 'up' }, { name: 'team', value: 'sre' }]);
    // A series that has the label keeps its own value, as with Prometheus external labels.
    expect(relabel([{ name: '__name__', value: 'up' }, { name: 'team', value: 'db' }], compiled)).toEqual([{ name: '__name__', value: 'up' }, { name: 'team', value: 'db' }]);
    expect(relabel([{ name: '__name__', value: 'go_goroutines' }], compiled)).toBeNull();
  });

  it('selects by labels and hashes stably', () => {
    const dev = effectiveConfig([app, node], { env: 'dev' });
    expect(dev.pipelines.map((p) => p.name)).toEqual(['app']);
    expect(effectiveConfig([node, app].reverse(), { env: 'dev' }).configHash).toBe(dev.configHash);
    expect(effectiveConfig([app, node], { env: 'prod' }).configHash).not.toBe(dev.configHash);
    const none = effectiveConfig([node], {});
    expect(none.pipelines).toEqual([]);
    expect(parseAgentConfig(none.config).instances).toEqual([]);
  });
});

describeEachDatabase('agent channel state', (backend) => {
  let handle: DatabaseHandle;
  let dispose: () => Promise<void>;
  let ctx: ServiceContext;

  beforeEach(async () => {
    ({ handle, dispose, ctx } = await freshAdmin(backend));
  });
  afterEach(async () => dispose());

  async function enrollOne(hostname: string, labels: Record<string, string> = {}) {
    const { token } = await createEnrollmentToken(ctx, { name: `t-${hostname}`, expiresInHours: 1, labels });
    return enrollAgent({ db: handle.db }, token, { hostname, version: 'test', platform: 'generic', labels: {} });
  }

  it('authenticates with the secret only, and not after removal', async () => {
    const a = await enrollOne('h1');
    expect((await authenticateAgent(handle.db, a.agentId, a.agentSecret)).id).toBe(a.agentId);
    const wrong = await authenticateAgent(handle.db, a.agentId, `${a.agentSecret.slice(0, -1)}x`).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(AppError);
    expect((wrong as AppError).code).toBe('UNAUTHENTICATED');
    await expect(authenticateAgent(handle.db, '00000000-0000-4000-8000-000000000000', a.agentSecret)).rejects.toThrow(/unknown agent or wrong secret/);
    await expect(authenticateAgent(handle.db, 'not-a-uuid', a.agentSecret)).rejects.toThrow(/unknown agent/);
    await removeAgent(ctx, a.agentId);
    await expect(authenticateAgent(handle.db, a.agentId, a.agentSecret)).rejects.toThrow(/unknown agent or wrong secret/);
    await expect(getAgent(ctx, a.agentId)).rejects.toThrow(/no such agent/);
  });

  it('tracks desired vs applied config through a rollout, a failure and offline', async () => {
    await createAwsAccount(ctx, { accountId: '123456789012', name: 'prod', defaultRegion: 'eu-west-1', roleArn: 'arn:aws:iam::123456789012:role/fleet-writer' });
    const { pipeline } = await createPipeline(ctx, {
      name: 'node',
      selector: [{ name: 'env', op: '=', value: 'prod' }],
      document: { scrape_configs: [{ job_name: 'node', static_configs: [{ targets: ['localhost:9100'] }] }], remote_write: [{ url: AMP, aws_account: 'prod' }] },
      note: 'first',
    });
    await publishVersion(ctx, pipeline.id, 1, 'go');
    const a = await enrollOne('prod-1', { env: 'prod' });
    const b = await enrollOne('prod-2', { env: 'prod' });
    const c = await enrollOne('dev-1', { env: 'dev' });

    const { pipelines: pubs, broken } = await loadPublishedPipelines(handle.db);
    expect(broken).toEqual([]);
    // aws_account was resolved into sigv4 with the role and ExternalId.
    const rw = (pubs[0]!.document.remote_write as Record<string, unknown>[])[0]!;
    expect(rw.sigv4).toMatchObject({ region: 'eu-west-1', role_arn: 'arn:aws:iam::123456789012:role/fleet-writer', external_id: expect.any(String) });

    for (const id of [a.agentId, b.agentId, c.agentId]) {
      await recordAgentConnected(handle.db, id, { replica: 'r1', description: { hostname: 'x', labels: { env: 'ignored' } }, runningConfigHash: null });
    }
    const labelsOf = async (id: string) => (await getAgent(ctx, id)).labels;
    expect(await labelsOf(a.agentId)).toEqual({ env: 'prod' });
    const desiredA = effectiveConfig(pubs, await labelsOf(a.agentId));
    const desiredB = effectiveConfig(pubs, await labelsOf(b.agentId));
    const desiredC = effectiveConfig(pubs, await labelsOf(c.agentId));
    expect(desiredC.pipelines).toEqual([]);
    expect(await recordDesiredConfig(handle.db, a.agentId, desiredA)).toBe('pending');
    await recordDesiredConfig(handle.db, b.agentId, desiredB);
    await recordDesiredConfig(handle.db, c.agentId, desiredC);

    let rollout = await pipelineRollout(ctx, pipeline.id);
    expect(rollout).toMatchObject({ publishedVersion: 1, selected: 2, summary: { applied: 0, pending: 2, failed: 0, offline: 0 } });

    await recordConfigStatus(handle.db, a.agentId, { configHash: desiredA.configHash, status: 'applied' });
    await recordConfigStatus(handle.db, b.agentId, { configHash: desiredB.configHash, status: 'failed', error: 'tls_config.ca_file: no such file' });
    rollout = await pipelineRollout(ctx, pipeline.id);
    expect(rollout.summary).toEqual({ applied: 1, pending: 0, failed: 1, offline: 0 });
    expect(rollout.agents.find((x) => x.id === b.agentId)).toMatchObject({ state: 'failed', configError: 'tls_config.ca_file: no such file' });
    expect(rollout.running).toEqual([{ version: 1, agents: 1 }]);

    // A stale report about a config no longer desired does not overwrite the status.
    await recordConfigStatus(handle.db, b.agentId, { configHash: 'f'.repeat(64), status: 'applying' });
    expect((await getAgent(ctx, b.agentId)).configStatus).toBe('failed');

    // Reconnecting with the applied hash needs no push: status stays applied.
    await recordAgentConnected(handle.db, a.agentId, { replica: 'r2', description: { hostname: 'prod-1' }, runningConfigHash: desiredA.configHash });
    expect(await recordDesiredConfig(handle.db, a.agentId, desiredA)).toBe('applied');

    // A disconnect from an old replica does not mark an agent offline that reconnected elsewhere.
    await recordAgentDisconnected(handle.db, a.agentId, 'r1');
    expect((await getAgent(ctx, a.agentId)).state).toBe('online');
    await recordAgentDisconnected(handle.db, a.agentId, 'r2');
    expect(await getAgent(ctx, a.agentId)).toMatchObject({ state: 'offline', offlineSince: expect.any(Date) });
    rollout = await pipelineRollout(ctx, pipeline.id);
    expect(rollout.summary).toEqual({ applied: 0, pending: 0, failed: 1, offline: 1 });

    const listed = await listAgents(ctx, { state: 'online' });
    expect(listed.agents.map((x) => x.name).sort()).toEqual(['x', 'x']);
    expect(listed.summary).toMatchObject({ online: 2, offline: 1, failed: 1 });
    expect((await listAgents(ctx, { search: 'prod-1' })).total).toBe(1);
  });

  it('records heartbeats as per-minute deltas and marks silent agents offline at their last heartbeat', async () => {
    const a = await enrollOne('h1');
    await recordAgentConnected(handle.db, a.agentId, { replica: 'r1', description: { hostname: 'h1' }, runningConfigHash: null });
    const hb = (sent: number, dropped: number) => ({
      at: new Date().toISOString(),
      startedAt: '2026-11-27T00:00:00.000Z',
      counters: { samplesScraped: sent + dropped, samplesSent: sent, samplesDropped: dropped, samplesRetried: 1, pendingSamples: 7, walBytes: 4096 },
      destinations: [{ name: 'p.amp', url: 'http://amp', pendingSamples: 7, walBytes: 4096, droppedByReason: { http_4xx: dropped }, samplesSent: sent, credentials: null, clockOffsetMs: null, lastError: null }],
      targets: [],
    });
    const minute = new Date('2026-11-27T10:00:10Z');
    // The first heartbeat is the baseline; the second adds its increase to the minute's row.
    await recordHeartbeat(handle.db, a.agentId, hb(100, 3), -120, minute);
    await recordHeartbeat(handle.db, a.agentId, hb(190, 5), -120, new Date(minute.getTime() + 15_000));
    const stats = await handle.db.select().from(agentStats);
    expect(stats).toHaveLength(1);
    expect(stats[0]).toMatchObject({ bucket: new Date('2026-11-27T10:00:00Z'), samplesScraped: 92, samplesSent: 90, samplesDropped: 2, droppedByReason: { http_4xx: 2 }, pendingSamples: 7, walBytes: 4096, byDestination: { 'http://amp': { sent: 90, dropped: 2, failed: 0 } } });
    const seen = (await getAgent(ctx, a.agentId)).lastSeenAt!;
    expect(await markSilentAgentsOffline(handle.db, 60_000, new Date(seen.getTime() + 30_000))).toEqual([]);
    expect(await markSilentAgentsOffline(handle.db, 60_000, new Date(seen.getTime() + 61_000))).toEqual([a.agentId]);
    const after = await getAgent(ctx, a.agentId);
    expect(after.state).toBe('offline');
    expect(after.offlineSince!.getTime()).toBe(seen.getTime());
  });

  it('announces label changes, removals and publications to listeners', async () => {
    const got: unknown[] = [];
    const stop = await handle.listen(AGENT_CHANNEL, (p) => got.push(parseAgentChange(p)));
    try {
      const a = await enrollOne('h1');
      await setAgentLabels(ctx, a.agentId, { env: 'prod' });
      await expect(setAgentLabels(ctx, a.agentId, { 'bad-name': 'x' })).rejects.toThrow(/labels\.bad-name: not a valid label name/);
      const { pipeline } = await createPipeline(ctx, { name: 'p', selector: [], document: { scrape_configs: [] }, note: 'n' });
      await saveDraft(ctx, pipeline.id, { selector: [], document: { scrape_configs: [{ job_name: 'x', static_configs: [{ targets: ['localhost:1'] }] }] }, note: 'n2' });
      // The unpublished v1 draft was replaced by the save: the document is still v1.
      await publishVersion(ctx, pipeline.id, 1, 'go');
      await removeAgent(ctx, a.agentId);
      const expected = [{ kind: 'agent', id: a.agentId }, { kind: 'config' }, { kind: 'agent', id: a.agentId, removed: true }];
      for (let i = 0; i < 200 && got.length < expected.length; i++) await handle.ping();
      expect(got).toEqual(expected);
    } finally {
      await stop();
    }
  });
});
