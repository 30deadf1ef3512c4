// Seeds a fleet for `npm run bench:dashboard` with set-based SQL (generate_series): agents with
// labels, health and findings, their latest heartbeat and config rollout; 24 h of per-minute
// agent_stats; agent_errors (7 d) and agent_connections (30 d); the 1- and 5-minute rollups of
// the last 24 h by the product's own refreshRollups, and 30 d of older 5-minute rollups.
//
// Pipelines, versions and the admin go through @fleet/core (createUser, createPipeline, saveDraft,
// publishVersion), so their documents are valid and their effective configs are what the gateway
// would push (effectiveConfig). Everything per agent or per minute is SQL.
/* global performance -- a Node 20 global */
import { createUser, createPipeline, effectiveConfig, loadPublishedPipelines, publishVersion, refreshRollups, saveDraft } from '@fleet/core';

/** The operator the bench creates (and the browser signs in as). */
export const ADMIN = { email: 'bench-admin@example.com', name: 'Bench Admin', password: 'bench-admin-password-1' };

const ENVS = ['prod', 'prod', 'prod', 'prod', 'prod', 'prod', 'staging', 'staging', 'staging', 'dev'];
const TEAMS = ['payments', 'checkout', 'search', 'platform', 'data', 'identity', 'mobile-api', 'ml'];
const REGIONS = ['us-east-1', 'us-east-1', 'us-west-2', 'eu-west-1', 'ap-southeast-2'];
const AMP = (region, ws) => `https://aps-workspaces.${region}.amazonaws.com/workspaces/${ws}/api/v1/remote_write`;
const ACCOUNT = '123456789012';

const relabelInstance = [{ source_labels: ['__address__'], regex: '([^:]+):\\d+', target_label: 'host', replacement: '$1' }];
const dropGo = [{ source_labels: ['__name__'], regex: 'go_(gc|memstats)_.*', action: 'drop' }];

/**
 * The five pipelines: name, selector and the documents of their versions (the last one is
 * published; for "node-exporter" the one before it was published until 40 minutes ago, so a
 * rollout is in progress).
 */
function pipelineSpecs() {
  const node = (interval, extra = {}) => ({
    global: { scrape_interval: interval, scrape_timeout: '10s', external_labels: { fleet: 'bench' } },
    scrape_configs: [
      { job_name: 'node', static_configs: [{ targets: ['localhost:9100'] }], relabel_configs: relabelInstance, ...extra },
      { job_name: 'process', static_configs: [{ targets: ['localhost:9256'] }] },
    ],
    remote_write: [{ name: 'amp', url: AMP('us-east-1', 'ws-1f2e3d4c-aaaa-4bbb-8ccc-000000000001'), sigv4: { region: 'us-east-1' }, queue_config: { capacity: 10000, max_samples_per_send: 2000 } }],
  });
  const apps = (ws, region, jobs) => ({
    global: { scrape_interval: '15s' },
    scrape_configs: jobs.map((job, i) => ({
      job_name: job,
      static_configs: [{ targets: Array.from({ length: 4 }, (_, t) => `10.0.${i}.${t + 10}:8080`), labels: { tier: job } }],
      metric_relabel_configs: dropGo,
    })),
    remote_write: [{ name: 'amp', url: AMP(region, ws), sigv4: { region } }],
  });
  return [
    { name: 'node-exporter', selector: [], versions: [node('30s'), node('15s'), node('15s', { metric_relabel_configs: dropGo })], rollout: true },
    { name: 'kubernetes-prod', selector: [{ name: 'env', op: '=', value: 'prod' }], versions: [apps('ws-2a2a2a2a-bbbb-4ccc-8ddd-000000000002', 'us-east-1', ['api', 'worker']), apps('ws-2a2a2a2a-bbbb-4ccc-8ddd-000000000002', 'us-east-1', ['api', 'worker', 'cron'])] },
    { name: 'staging-apps', selector: [{ name: 'env', op: '=', value: 'staging' }], versions: [apps('ws-3b3b3b3b-cccc-4ddd-8eee-000000000003', 'eu-west-1', ['api', 'worker'])] },
    {
      name: 'dev-sandbox',
      selector: [{ name: 'env', op: '=', value: 'dev' }],
      versions: [{ global: { scrape_interval: '60s' }, scrape_configs: [{ job_name: 'api', static_configs: [{ targets: ['10.9.0.10:8080', '10.9.0.11:8080'] }] }], remote_write: [{ name: 'prom', url: 'http://prometheus.dev.internal:9090/api/v1/write' }] }],
    },
    { name: 'payments-slo', selector: [{ name: 'team', op: '=', value: 'payments' }, { name: 'env', op: '!=', value: 'dev' }], versions: [apps('ws-4c4c4c4c-dddd-4eee-8fff-000000000004', 'us-west-2', ['payments-api', 'ledger']), apps('ws-4c4c4c4c-dddd-4eee-8fff-000000000004', 'us-west-2', ['payments-api', 'ledger', 'fraud'])] },
  ];
}

/** ISO-8601 (UTC, milliseconds, Z) of a timestamptz SQL expression, as JS's toISOString writes it. */
const iso = (expr) => `to_char((${expr}) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * Drops the indexes and constraints of `table` (returns the SQL that recreates them), so a bulk
 * load does not maintain them row by row; the caller recreates them afterwards.
 */
async function dropIndexes(pool, table) {
  const { rows: cons } = await pool.query(
    `select conname, contype, pg_get_constraintdef(oid) as def from pg_constraint where conrelid = $1::regclass and contype in ('p', 'f', 'u') order by contype desc`,
    [table],
  );
  const { rows: idx } = await pool.query(
    `select indexname, indexdef from pg_indexes where schemaname = 'public' and tablename = $1 and indexname not in (select conname from pg_constraint where conrelid = $1::regclass)`,
    [table],
  );
  // Foreign keys first (they may depend on the primary key), then the rest.
  for (const c of cons.filter((c) => c.contype === 'f')) await pool.query(`alter table ${table} drop constraint ${c.conname}`);
  for (const c of cons.filter((c) => c.contype !== 'f')) await pool.query(`alter table ${table} drop constraint ${c.conname}`);
  for (const i of idx) await pool.query(`drop index ${i.indexname}`);
  return [
    ...cons.filter((c) => c.contype !== 'f').map((c) => `alter table ${table} add constraint ${c.conname} ${c.def}`),
    ...idx.map((i) => i.indexdef),
    ...cons.filter((c) => c.contype === 'f').map((c) => `alter table ${table} add constraint ${c.conname} ${c.def}`),
  ];
}

/** Runs `tasks` (functions returning promises) at most `n` at a time. */
async function limited(n, tasks) {
  const out = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, tasks.length) }, async () => {
      while (next < tasks.length) {
        const i = next++;
        out[i] = await tasks[i]();
      }
    }),
  );
  return out;
}

/**
 * Seeds the database (migrated, empty). `pool` is a pg.Pool on it, `db` the @fleet/db handle's
 * Drizzle instance. Returns facts the measurements need (ids, times) and the seeding timings.
 */
export async function seed({ pool, db, agents: N, now, log, parallel = 2 }) {
  const timings = {};
  const step = async (name, fn) => {
    const t0 = performance.now();
    const r = await fn();
    timings[name] = performance.now() - t0;
    log(`  ${name}: ${(timings[name] / 1000).toFixed(1)} s`);
    return r;
  };
  const nowIso = now.toISOString();
  const publishedAt = new Date(now.getTime() - 40 * 60_000);

  // --- operator, pipelines, versions (through core) -------------------------------------------
  const { admin, pipelines, combos } = await step('pipelines and effective configs (core)', async () => {
    const admin = await createUser({ db, actor: { type: 'system' } }, { ...ADMIN, role: 'admin' });
    const ctx = { db, actor: { type: 'user', id: admin.id, email: admin.email, role: 'admin' } };
    const pipelines = [];
    for (const spec of pipelineSpecs()) {
      const { pipeline } = await createPipeline(ctx, { name: spec.name, selector: spec.selector, document: spec.versions[0], note: 'first version' });
      for (const [i, doc] of spec.versions.slice(1).entries()) await saveDraft(ctx, pipeline.id, { selector: spec.selector, document: doc, note: `v${i + 2}` });
      pipelines.push({ ...spec, id: pipeline.id, latest: spec.versions.length });
    }
    // "Old" configs: what agents ran before the node-exporter rollout (its previous version published).
    const rolling = pipelines.find((p) => p.rollout);
    for (const p of pipelines) await publishVersion(ctx, p.id, p.rollout ? p.latest - 1 : p.latest, 'bench');
    const old = (await loadPublishedPipelines(db)).pipelines;
    await publishVersion(ctx, rolling.id, rolling.latest, 'bench: rollout in progress');
    const current = (await loadPublishedPipelines(db)).pipelines;
    // Publication times: the rollout began 40 minutes ago; the rest were published weeks ago.
    for (const p of pipelines) {
      await pool.query(`update pipeline_versions set published_at = $3 where pipeline_id = $1 and version = $2`, [p.id, p.latest, p.rollout ? publishedAt : new Date(now.getTime() - (10 + pipelines.indexOf(p)) * 86_400_000)]);
      if (p.rollout) await pool.query(`update pipeline_versions set published_at = $3 where pipeline_id = $1 and version = $2`, [p.id, p.latest - 1, new Date(now.getTime() - 20 * 86_400_000)]);
    }
    // One effective config per label combination that selectors distinguish (env × payments team).
    const combos = [];
    for (const env of ['prod', 'staging', 'dev']) {
      for (const payments of [false, true]) {
        const labels = { env, team: payments ? 'payments' : 'search' };
        const now_ = effectiveConfig(current, labels);
        const before = effectiveConfig(old, labels);
        const instances = now_.config.metrics.configs;
        const dests = instances.flatMap((inst) => inst.remote_write.map((rw) => ({ name: rw.name, url: rw.url, pipeline: inst.name })));
        const keyOf = (cfg, pipelineName) => {
          const ref = cfg.pipelines.find((r) => r.name === pipelineName);
          return `${ref.id}:${ref.version}`;
        };
        combos.push({
          env,
          payments,
          newHash: now_.configHash,
          newPipelines: now_.pipelines,
          newConfig: now_.config,
          oldHash: before.configHash,
          oldPipelines: before.pipelines,
          oldConfig: before.config,
          destNames: dests.map((d) => d.name),
          destUrls: dests.map((d) => d.url),
          keysNew: dests.map((d) => keyOf(now_, d.pipeline)),
          keysOld: dests.map((d) => keyOf(before, d.pipeline)),
        });
      }
    }
    return { admin, pipelines, combos };
  });

  await pool.query(`drop table if exists bench_seed_combos, bench_seed_agents`);
  await pool.query(`create unlogged table bench_seed_combos (env text, payments boolean, new_hash text, new_pipelines jsonb, new_config jsonb, old_hash text, old_pipelines jsonb, old_config jsonb,
                    dest_names text[], dest_urls text[], keys_new text[], keys_old text[])`);
  for (const c of combos) {
    await pool.query(`insert into bench_seed_combos values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, [
      c.env, c.payments, c.newHash, JSON.stringify(c.newPipelines), JSON.stringify(c.newConfig), c.oldHash, JSON.stringify(c.oldPipelines), JSON.stringify(c.oldConfig), c.destNames, c.destUrls, c.keysNew, c.keysOld,
    ]);
  }

  // --- the agents' plan: who is connected, healthy, rolling out, failing since when -------------
  // slot = n % 100: 0–84 connected (85 %), 85–98 offline (went offline 2 min – 20 h ago), 99 never connected.
  // h = hash % 1000 picks a health scenario: 3.3 % failing (5 kinds), 7 % degraded (5 kinds), the rest healthy.
  await step('agent plan', () =>
    pool.query(
      `create unlogged table bench_seed_agents as
       with base as (
         select n,
           overlay(overlay(md5('fleet-bench-agent-' || n) placing '4' from 13) placing '8' from 17)::uuid as id,
           ($3::text[])[1 + abs(hashint4(n + 11)) % ${ENVS.length}] as env,
           ($4::text[])[1 + abs(hashint4(n + 23)) % ${TEAMS.length}] as team,
           ($5::text[])[1 + abs(hashint4(n + 37)) % ${REGIONS.length}] as region,
           case when abs(hashint4(n + 41)) % 10 < 7 then 'ec2' else 'eks' end as platform,
           n % 100 as slot,
           abs(hashint4(n + 53)) % 1000 as h,
           abs(hashint4(n + 67)) % 100 as h2,
           abs(hashint4(n + 71)) as r
         from generate_series(1, $1::int) n
       ), planned as (
         select b.*,
           case when slot = 99 then 'never'
                when h < 12 then 'access_denied' when h < 18 then 'clock_skew' when h < 24 then 'targets_down'
                when h < 30 then 'config_failed' when h < 33 then 'credentials_refresh'
                when h < 63 then 'drops' when h < 78 then 'some_targets_down' when h < 88 then 'credentials_expiring'
                when h < 95 then 'clock_drift' when h < 103 then 'throttled' else 'healthy' end as scenario,
           slot < 85 as connected,
           case when slot between 85 and 94 then $2::timestamptz - ((2 + r % 178) * interval '1 minute')
                when slot between 95 and 98 then $2::timestamptz - ((180 + r % 1020) * interval '1 minute') end as offline_at,
           $2::timestamptz - ((2 + r % 88) * interval '1 day') - ((r % 86400) * interval '1 second') as enrolled_at,
           $2::timestamptz - ((10 + abs(hashint4(n + 83)) % 1430) * interval '1 minute') as fail_since,
           12000 + abs(hashint4(n + 97)) % 16000 as base
         from base b
       )
       select p.*,
         case when p.scenario in ('access_denied', 'clock_skew', 'targets_down', 'config_failed', 'credentials_refresh') then 'failing'
              when p.scenario in ('drops', 'some_targets_down', 'credentials_expiring', 'clock_drift', 'throttled') then 'degraded' else 'healthy' end as health,
         -- Runs the published node-exporter version (switched to it up to 10 minutes after it was published)?
         case when p.scenario = 'never' then false
              when p.connected then p.scenario <> 'config_failed' and p.h2 >= 5
              else p.offline_at > $6::timestamptz + interval '10 minutes' end as applied_new,
         $6::timestamptz + ((p.n % 600) * interval '1 second') as switch_at,
         case when p.connected then $2::timestamptz - ((p.r % 2880) * interval '1 minute') end as session_start,
         coalesce(p.offline_at, $2::timestamptz - ((p.r % 15) * interval '1 second')) as last_seen,
         array_length(c.dest_urls, 1) as ndest,
         c.dest_names, c.dest_urls, c.keys_new, c.keys_old, c.env as combo_env, c.payments as combo_payments
       from planned p join bench_seed_combos c on c.env = p.env and c.payments = (p.team = 'payments')`,
      [N, nowIso, ENVS, TEAMS, REGIONS, publishedAt.toISOString()],
    ),
  );
  await pool.query(`create unique index on bench_seed_agents (n)`);
  await pool.query(`analyze bench_seed_agents`);

  // --- agents rows ------------------------------------------------------------------------------
  const agentTime = (a) => `coalesce(${a}.offline_at, $1::timestamptz)`;
  // One destination of the latest heartbeat (index i of the agent's destinations).
  const destinationJson = `jsonb_build_object(
      'name', a.dest_names[i], 'url', a.dest_urls[i],
      'pendingSamples', case when a.scenario in ('access_denied', 'credentials_refresh') and i = 2 then 250000 + a.r % 100000 else a.r % 3000 end,
      'walBytes', 4000000 + (a.r % 60000000),
      'shards', 1 + a.r % 4,
      'highestSentTimestampMs', (extract(epoch from ${agentTime('a')}) * 1000)::bigint - 15000,
      'samplesSent', (a.base::bigint * 60 * 24 * 2) - i * 1000,
      'samplesRetried', case when a.scenario = 'throttled' then 40000 + a.r % 1000 else a.r % 50 end,
      'failedSendsByClass', case when a.scenario = 'access_denied' and i = 2 then jsonb_build_object('access_denied', 5000 + a.r % 500)
                                 when a.scenario = 'clock_skew' and i = 1 then jsonb_build_object('clock_skew', 3000 + a.r % 500)
                                 when a.scenario = 'throttled' and i = 2 then jsonb_build_object('throttled', 800 + a.r % 100)
                                 else '{}'::jsonb end,
      'sigv4', case when a.dest_urls[i] like 'https://aps-workspaces.%' then jsonb_build_object('service', 'aps', 'region', split_part(a.dest_urls[i], '.', 2), 'roleArn', null) else 'null'::jsonb end,
      'droppedByReason', case when a.scenario = 'access_denied' and i = 2 then jsonb_build_object('http_4xx', 900000 + a.r % 10000)
                              when a.scenario = 'drops' and i = 1 then jsonb_build_object('too_old', 1200 + a.r % 100, 'wal_full', 300)
                              else '{}'::jsonb end,
      'credentials', case when a.dest_urls[i] like 'https://aps-workspaces.%' then jsonb_build_object(
          'source', case a.platform when 'ec2' then 'EC2 instance metadata (IMDSv2)' else 'web identity token file (IRSA)' end,
          'callerArn', 'arn:aws:sts::${ACCOUNT}:assumed-role/fleet-agent-' || a.team || '/i-0' || substr(md5(a.n::text), 1, 16),
          'expiresAt', ${iso(`${agentTime('a')} + case when a.scenario = 'credentials_expiring' then interval '6 minutes' else interval '5 hours' end`)},
          'lastError', case when a.scenario = 'credentials_refresh' then 'Could not load credentials from any providers: WebIdentityToken file /var/run/secrets/eks.amazonaws.com/serviceaccount/token: ENOENT' end)
        else 'null'::jsonb end,
      'clockOffsetMs', case a.scenario when 'clock_skew' then 312000 when 'clock_drift' then 74000 else (a.r % 400) - 200 end,
      'lastError', case
        when a.scenario = 'access_denied' and i = 2 then jsonb_build_object('at', ${iso(`${agentTime('a')} - interval '4 seconds'`)}, 'class', 'access_denied', 'code', 'AccessDeniedException', 'status', 403,
          'message', 'User: arn:aws:sts::${ACCOUNT}:assumed-role/fleet-agent-' || a.team || '/i-0' || substr(md5(a.n::text), 1, 16) || ' is not authorized to perform: aps:RemoteWrite on resource: arn:aws:aps:us-east-1:${ACCOUNT}:workspace/ws-2a2a2a2a-bbbb-4ccc-8ddd-000000000002',
          'action', 'aps:RemoteWrite', 'resource', 'arn:aws:aps:us-east-1:${ACCOUNT}:workspace/ws-2a2a2a2a-bbbb-4ccc-8ddd-000000000002')
        when a.scenario = 'clock_skew' and i = 1 then jsonb_build_object('at', ${iso(`${agentTime('a')} - interval '3 seconds'`)}, 'class', 'clock_skew', 'code', 'InvalidSignatureException', 'status', 403,
          'message', 'Signature expired: is now earlier than (- 5 min.)', 'detail', 'host clock 312 s behind the server''s Date header')
        when a.scenario = 'throttled' and i = 2 then jsonb_build_object('at', ${iso(`${agentTime('a')} - interval '40 seconds'`)}, 'class', 'throttled', 'code', 'ThrottlingException', 'status', 429, 'message', 'Rate exceeded')
        when a.scenario = 'credentials_refresh' then jsonb_build_object('at', ${iso(`${agentTime('a')} - interval '2 seconds'`)}, 'class', 'no_credentials', 'code', null, 'status', null, 'message', 'Could not load credentials from any providers')
        else 'null'::jsonb end)`;
  const targetsJson = `(select jsonb_agg(jsonb_build_object(
      'job', case when t = 1 then 'node' when t = 2 then 'process' else 'app' end,
      'instance', case when t = 1 then 'localhost:9100' when t = 2 then 'localhost:9256' else '10.' || (a.n % 250) || '.' || t || '.' || (10 + a.r % 200) || ':8080' end,
      'up', not (a.scenario = 'targets_down' or (a.scenario = 'some_targets_down' and t > 8)),
      'lastScrapeAt', ${iso(`${agentTime('a')} - (t * interval '1 second')`)},
      'durationMs', 3 + (a.r + t) % 40,
      'samples', 400 + ((a.r + t * 37) % 900),
      'lastError', case when a.scenario = 'targets_down' or (a.scenario = 'some_targets_down' and t > 8) then 'Get "http://10.0.3.' || t || ':8080/metrics": dial tcp 10.0.3.' || t || ':8080: connect: connection refused' end)
    order by t) from generate_series(1, 10) t)`;
  const sinceExpr = iso(`greatest(a.fail_since, ${agentTime('a')} - interval '10 minutes')`);
  const findingsJson = `case a.scenario
      when 'access_denied' then jsonb_build_array(jsonb_build_object('key', 'access_denied|' || a.dest_urls[2], 'severity', 'critical', 'kind', 'access_denied', 'title', 'Access denied', 'destination', a.dest_names[2], 'url', a.dest_urls[2],
          'facts', jsonb_build_object('message', 'User is not authorized to perform: aps:RemoteWrite', 'code', 'AccessDeniedException', 'status', 403, 'action', 'aps:RemoteWrite',
            'callerArn', 'arn:aws:sts::${ACCOUNT}:assumed-role/fleet-agent-' || a.team || '/i-0' || substr(md5(a.n::text), 1, 16), 'region', split_part(a.dest_urls[2], '.', 2), 'service', 'aps', 'pending', 250000),
          'since', ${sinceExpr}))
      when 'clock_skew' then jsonb_build_array(
          jsonb_build_object('key', 'clock_skew|' || a.dest_urls[1], 'severity', 'critical', 'kind', 'clock_skew', 'title', 'Clock skew: AWS refuses the signatures', 'destination', a.dest_names[1], 'url', a.dest_urls[1],
            'facts', jsonb_build_object('message', 'Signature expired', 'code', 'InvalidSignatureException', 'status', 403, 'offsetMs', 312000, 'pending', 40000), 'since', ${sinceExpr}),
          jsonb_build_object('key', 'clock_offset', 'severity', 'critical', 'kind', 'clock_offset', 'title', 'Host clock is off', 'facts', jsonb_build_object('offsetMs', 312000), 'since', ${sinceExpr}))
      when 'targets_down' then jsonb_build_array(jsonb_build_object('key', 'target_down|node', 'severity', 'critical', 'kind', 'target_down', 'title', 'Scrape targets down',
          'facts', jsonb_build_object('down', 10, 'targets', 10, 'job', 'node', 'instance', 'localhost:9100', 'error', 'connection refused'), 'since', ${sinceExpr}))
      when 'config_failed' then jsonb_build_array(jsonb_build_object('key', 'config_failed', 'severity', 'critical', 'kind', 'config_failed', 'title', 'Config could not be applied',
          'facts', jsonb_build_object('error', 'scrape_configs[0].tls_config.ca_file: /etc/ssl/private/ca.pem: no such file'), 'since', ${sinceExpr}))
      when 'credentials_refresh' then jsonb_build_array(jsonb_build_object('key', 'credentials_refresh|' || a.dest_urls[1], 'severity', 'critical', 'kind', 'credentials_refresh', 'title', 'Credentials refresh fails', 'destination', a.dest_names[1], 'url', a.dest_urls[1],
          'facts', jsonb_build_object('error', 'Could not load credentials from any providers', 'source', 'web identity token file (IRSA)'), 'since', ${sinceExpr}))
      when 'drops' then jsonb_build_array(jsonb_build_object('key', 'drops', 'severity', 'warning', 'kind', 'drops', 'title', 'Samples dropped',
          'facts', jsonb_build_object('lastDropAt', ${iso(`${agentTime('a')} - interval '3 minutes'`)}, 'reasons', 'too_old: 120, wal_full: 30'), 'since', ${iso(`${agentTime('a')} - interval '3 minutes'`)}))
      when 'some_targets_down' then jsonb_build_array(jsonb_build_object('key', 'target_down|app', 'severity', 'warning', 'kind', 'target_down', 'title', 'Scrape targets down',
          'facts', jsonb_build_object('down', 2, 'targets', 10, 'job', 'app', 'instance', '10.0.3.9:8080', 'error', 'connection refused'), 'since', ${sinceExpr}))
      when 'credentials_expiring' then jsonb_build_array(jsonb_build_object('key', 'credentials_expiring|' || a.dest_urls[1], 'severity', 'warning', 'kind', 'credentials_expiring', 'title', 'Credentials expire without refresh', 'destination', a.dest_names[1], 'url', a.dest_urls[1],
          'facts', jsonb_build_object('expiresAt', ${iso(`${agentTime('a')} + interval '6 minutes'`)}, 'source', 'EC2 instance metadata (IMDSv2)'), 'since', ${sinceExpr}))
      when 'clock_drift' then jsonb_build_array(jsonb_build_object('key', 'clock_offset', 'severity', 'warning', 'kind', 'clock_offset', 'title', 'Host clock is off', 'facts', jsonb_build_object('offsetMs', 74000), 'since', ${sinceExpr}))
      when 'throttled' then jsonb_build_array(jsonb_build_object('key', 'throttled|' || a.dest_urls[2], 'severity', 'warning', 'kind', 'throttled', 'title', 'Throttled by the destination', 'destination', a.dest_names[2], 'url', a.dest_urls[2],
          'facts', jsonb_build_object('message', 'Rate exceeded', 'code', 'ThrottlingException', 'status', 429, 'pending', 1800), 'since', ${sinceExpr}))
      else '[]'::jsonb end`;
  const names = `case when a.platform = 'ec2' then 'ip-10-' || (a.n * 7 % 256) || '-' || (a.n * 13 % 256) || '-' || (a.n % 254 + 1) || '.' || a.region || '.compute.internal'
                      else 'fleet-agent-' || substr(md5('pod' || a.n), 1, 5) || '-' || a.env || '-' || a.team end`;
  await step('agents', () =>
    pool.query(
      `insert into agents (id, name, secret_hash, labels, platform, description, enrolled_at, last_seen_at, connected, offline_since,
         desired_config_hash, applied_config_hash, config_status, config_error, config_status_at, desired_pipelines, applied_pipelines,
         connected_at, connected_replica, last_heartbeat, last_counters, health, findings, last_drop_at, desired_config, applied_config)
       select a.id, ${names}, encode(sha256(('bench-secret-' || a.n)::bytea), 'hex'),
         jsonb_build_object('env', a.env, 'team', a.team, 'region', a.region) || case when a.platform = 'eks' then jsonb_build_object('cluster', a.env || '-' || a.region) else '{}'::jsonb end,
         a.platform,
         jsonb_build_object('hostname', ${names}, 'version', '0.4.' || (a.r % 3), 'region', a.region)
           || case when a.platform = 'ec2' then jsonb_build_object('instanceId', 'i-0' || substr(md5(a.n::text), 1, 16)) else jsonb_build_object('cluster', a.env || '-' || a.region, 'namespace', 'observability', 'pod', 'fleet-agent-' || substr(md5('pod' || a.n), 1, 5)) end,
         a.enrolled_at,
         case when a.scenario = 'never' then null else a.last_seen end,
         a.connected, a.offline_at,
         case when a.scenario = 'never' then null when a.applied_new or a.connected then c.new_hash else c.old_hash end,
         case when a.scenario = 'never' then null when a.applied_new then c.new_hash else c.old_hash end,
         case when a.scenario = 'never' then 'none' when a.scenario = 'config_failed' and a.connected then 'failed'
              when a.connected and not a.applied_new then case when a.h2 < 1 then 'applying' else 'pending' end else 'applied' end,
         case when a.scenario = 'config_failed' and a.connected then 'scrape_configs[0].tls_config.ca_file: /etc/ssl/private/ca.pem: no such file' end,
         case when a.scenario = 'never' then null when a.applied_new then a.switch_at else $2::timestamptz end,
         case when a.scenario = 'never' then '[]'::jsonb when a.applied_new or a.connected then c.new_pipelines else c.old_pipelines end,
         case when a.scenario = 'never' then '[]'::jsonb when a.applied_new then c.new_pipelines else c.old_pipelines end,
         case when a.scenario = 'never' then null else coalesce(a.session_start, a.offline_at - interval '1 day') end,
         case when a.scenario <> 'never' then 'bench-replica-' || (a.n % 2) end,
         case when a.scenario = 'never' then null else jsonb_build_object(
           'at', ${iso('a.last_seen')}, 'startedAt', ${iso('a.last_seen - interval \'2 days\'')}, 'receivedAt', ${iso('a.last_seen')},
           'clockOffsetMs', case a.scenario when 'clock_skew' then 312000 when 'clock_drift' then 74000 else (a.r % 400) - 200 end,
           'counters', jsonb_build_object('samplesScraped', a.base::bigint * 2880, 'samplesSent', a.base::bigint * 2880 * 2, 'samplesDropped', case when a.scenario in ('access_denied', 'drops') then 900000 else 0 end,
                                          'samplesRetried', a.r % 5000, 'pendingSamples', a.r % 3000, 'walBytes', 4000000 + (a.r % 60000000)),
           'destinations', (select jsonb_agg(${destinationJson} order by i) from generate_series(1, a.ndest) i),
           'targets', ${targetsJson}) end,
         case when a.scenario = 'never' then null else jsonb_build_object(
           'startedAt', ${iso('a.last_seen - interval \'2 days\'')}, 'scraped', a.base::bigint * 2880, 'sent', a.base::bigint * 2880 * 2,
           'dropped', case when a.scenario in ('access_denied', 'drops') then 900000 else 0 end, 'retried', a.r % 5000,
           'droppedByReason', case when a.scenario = 'access_denied' then jsonb_build_object('http_4xx', 900000) when a.scenario = 'drops' then jsonb_build_object('too_old', 900000) else '{}'::jsonb end,
           'destinations', (select jsonb_object_agg(a.dest_names[i], jsonb_build_object('url', a.dest_urls[i], 'sent', a.base::bigint * 2880, 'dropped', 0, 'failed', 0)) from generate_series(1, a.ndest) i)) end,
         case when a.scenario = 'never' then 'healthy' else a.health end,
         case when a.scenario = 'never' then '[]'::jsonb else ${findingsJson} end,
         case when a.scenario = 'drops' then ${agentTime('a')} - interval '3 minutes' when a.scenario = 'access_denied' then ${agentTime('a')} end,
         case when a.scenario = 'never' then null when a.applied_new or a.connected then c.new_config else c.old_config end,
         case when a.scenario = 'never' then null when a.applied_new then c.new_config else c.old_config end
       from bench_seed_agents a join bench_seed_combos c on c.env = a.combo_env and c.payments = a.combo_payments
       order by a.n`,
      [nowIso, new Date(now.getTime() - 20 * 86_400_000).toISOString()],
    ),
  );

  // --- agent_stats: one row per agent per minute it was connected, 24 h --------------------------
  const restore = await dropIndexes(pool, 'agent_stats');
  const minutes = 1440;
  const chunk = 60;
  const first = new Date(Math.floor(now.getTime() / 60_000) * 60_000 - (minutes - 1) * 60_000);
  // Per row: s = scraped; d1..d3 dropped and f1..f3 failed sends per destination.
  const statsSql = `
    insert into agent_stats (agent_id, bucket, samples_scraped, samples_sent, samples_dropped, samples_retried, dropped_by_reason, failed_sends, pending_samples, wal_bytes, by_pipeline, by_destination)
    select id, bucket, s, (s - d1) + (s - d2) + case when ndest = 3 then s - d3 else 0 end, d1 + d2 + d3, retried,
      case when d1 + d2 + d3 = 0 then '{}'::jsonb
           when scenario in ('access_denied', 'clock_skew') then jsonb_build_object('http_4xx', d1 + d2 + d3)
           when scenario = 'credentials_refresh' then jsonb_build_object('too_old', d1 + d2 + d3)
           when scenario = 'throttled' then jsonb_build_object('http_429', d1 + d2 + d3)
           when x < 0.5 then jsonb_build_object('too_old', d1 + d2 + d3)
           when x < 0.8 then jsonb_build_object('wal_full', d1 + d2 + d3)
           else jsonb_build_object('too_old', (d1 + d2 + d3) / 2, 'http_4xx', d1 + d2 + d3 - (d1 + d2 + d3) / 2) end,
      f1 + f2 + f3, pending, wal,
      jsonb_build_object(k1, jsonb_build_object('sent', s - d1, 'dropped', d1), k2, jsonb_build_object('sent', s - d2, 'dropped', d2))
        || case when ndest = 3 then jsonb_build_object(k3, jsonb_build_object('sent', s - d3, 'dropped', d3)) else '{}'::jsonb end,
      jsonb_build_object(u1, jsonb_build_object('sent', s - d1, 'dropped', d1, 'failed', f1), u2, jsonb_build_object('sent', s - d2, 'dropped', d2, 'failed', f2))
        || case when ndest = 3 then jsonb_build_object(u3, jsonb_build_object('sent', s - d3, 'dropped', d3, 'failed', f3)) else '{}'::jsonb end
    from (
      select v.*,
        case when failing_now and scenario = 'clock_skew' then s
             when failing_now and scenario = 'credentials_refresh' then (s * 0.3)::bigint
             when scenario = 'drops' and (x < 0.05 or recent) then (s * 0.02 * y)::bigint + 1
             when scenario <> 'healthy' and x > 0.999 then 1 + (y * 500)::bigint
             when scenario = 'healthy' and x > 0.999 and not recent then 1 + (y * 500)::bigint
             else 0 end as d1,
        case when failing_now and scenario = 'access_denied' then s
             when failing_now and scenario = 'credentials_refresh' then (s * 0.3)::bigint
             when scenario = 'throttled' and x < 0.01 then (s * 0.01 * y)::bigint + 1
             else 0 end as d2,
        case when failing_now and scenario = 'credentials_refresh' and ndest = 3 then (s * 0.3)::bigint else 0 end as d3,
        case when failing_now and scenario = 'clock_skew' then 20 + (y * 10)::int when scenario = 'drops' and x < 0.05 then 3 else 0 end as f1,
        case when failing_now and scenario = 'access_denied' then 20 + (y * 10)::int when scenario = 'throttled' then (y * 6)::int else 0 end as f2,
        0 as f3,
        case when failing_now and scenario in ('access_denied', 'credentials_refresh') then least(250000, (extract(epoch from bucket - fail_since) / 60)::bigint * base / 2) else (y * 3000)::bigint end as pending,
        4000000 + (y * 60000000)::bigint as wal,
        case when scenario = 'throttled' then (s * 0.05 * y)::bigint when x > 0.99 then (y * 2000)::bigint else 0 end as retried
      from (
        select a.id, a.scenario, a.ndest, a.base, a.fail_since, b.bucket,
          a.scenario in ('access_denied', 'clock_skew', 'targets_down', 'credentials_refresh') and b.bucket >= a.fail_since as failing_now,
          b.bucket >= $1::timestamptz - interval '15 minutes' as recent,
          case when a.scenario = 'targets_down' and b.bucket >= a.fail_since then 0 else (a.base * (0.95 + 0.1 * random()))::bigint end as s,
          random() as x, random() as y,
          case when a.applied_new and b.bucket >= a.switch_at then a.keys_new[1] else a.keys_old[1] end as k1,
          case when a.applied_new and b.bucket >= a.switch_at then a.keys_new[2] else a.keys_old[2] end as k2,
          case when a.applied_new and b.bucket >= a.switch_at then a.keys_new[3] else a.keys_old[3] end as k3,
          a.dest_urls[1] as u1, a.dest_urls[2] as u2, a.dest_urls[3] as u3
        from generate_series($2::timestamptz, $3::timestamptz, interval '1 minute') b(bucket)
        cross join bench_seed_agents a
        where a.scenario <> 'never' and (a.offline_at is null or b.bucket < a.offline_at) and b.bucket >= a.enrolled_at
        order by b.bucket, a.n
      ) v
    ) w`;
  await step(`agent_stats (${parallel} connections)`, () =>
    limited(
      parallel,
      Array.from({ length: Math.ceil(minutes / chunk) }, (_, i) => async () => {
        const from = new Date(first.getTime() + i * chunk * 60_000);
        const to = new Date(Math.min(first.getTime() + ((i + 1) * chunk - 1) * 60_000, first.getTime() + (minutes - 1) * 60_000));
        await pool.query(statsSql, [nowIso, from.toISOString(), to.toISOString()]);
      }),
    ),
  );
  await step('agent_stats indexes and constraints', async () => {
    // Independent index builds in parallel; foreign keys after the indexes they need.
    const [indexes, fks] = [restore.filter((s) => !/FOREIGN KEY/.test(s)), restore.filter((s) => /FOREIGN KEY/.test(s))];
    await limited(parallel, indexes.map((s) => () => pool.query(s)));
    for (const s of fks) await pool.query(s);
  });

  // --- agent_errors (7 d) ------------------------------------------------------------------------
  await step('agent_errors', async () => {
    // Failing destinations report a new error every minute since they began failing; throttled
    // agents every few minutes; every agent a few transient errors a day (5xx, timeouts, resets).
    await pool.query(
      `insert into agent_errors (agent_id, at, destination, url, error_class, code, status, message, detail)
       select a.id, t + ((a.r % 50) * interval '1 second'),
         a.dest_names[case when a.scenario in ('access_denied', 'throttled') then 2 else 1 end], a.dest_urls[case when a.scenario in ('access_denied', 'throttled') then 2 else 1 end],
         case a.scenario when 'access_denied' then 'access_denied' when 'clock_skew' then 'clock_skew' when 'throttled' then 'throttled' else 'no_credentials' end,
         case a.scenario when 'access_denied' then 'AccessDeniedException' when 'clock_skew' then 'InvalidSignatureException' when 'throttled' then 'ThrottlingException' end,
         case a.scenario when 'access_denied' then 403 when 'clock_skew' then 403 when 'throttled' then 429 end,
         case a.scenario when 'access_denied' then 'User: arn:aws:sts::${ACCOUNT}:assumed-role/fleet-agent-' || a.team || '/i-0' || substr(md5(a.n::text), 1, 16) || ' is not authorized to perform: aps:RemoteWrite'
                         when 'clock_skew' then 'Signature expired: is now earlier than (- 5 min.)' when 'throttled' then 'Rate exceeded' else 'Could not load credentials from any providers' end,
         case a.scenario when 'access_denied' then 'signed as assumed-role/fleet-agent-' || a.team || ' in us-east-1 (aps); endpoint region us-east-1' when 'clock_skew' then 'host clock 312 s behind the server''s Date header' end
       from bench_seed_agents a
       cross join lateral generate_series(case when a.scenario = 'throttled' then $1::timestamptz - interval '24 hours' else a.fail_since end, coalesce(a.offline_at, $1::timestamptz),
                                          case when a.scenario = 'throttled' then interval '3 minutes' else interval '1 minute' end) t
       where a.scenario in ('access_denied', 'clock_skew', 'credentials_refresh', 'throttled')`,
      [nowIso],
    );
    await pool.query(
      `insert into agent_errors (agent_id, at, destination, url, error_class, code, status, message, detail)
       select a.id, t, a.dest_names[1 + k % a.ndest], a.dest_urls[1 + k % a.ndest],
         (array['server_error', 'timeout', 'connect', 'server_error'])[1 + k % 4], null,
         case when k % 4 in (0, 3) then 503 end,
         (array['HTTP 503 Service Unavailable', 'request timed out after 30s (remote_timeout)', 'connect ECONNRESET', 'HTTP 502 Bad Gateway'])[1 + k % 4],
         case when k % 4 = 2 then 'stage connect to ' || split_part(a.dest_urls[1 + k % a.ndest], '/', 3) || ':443' end
       from bench_seed_agents a
       cross join lateral generate_series(1, 21) k
       cross join lateral (select $1::timestamptz - ((abs(hashint4(a.n * 31 + k)) % 604800) * interval '1 second') as t) x
       where a.scenario <> 'never' and t < coalesce(a.offline_at, $1::timestamptz) and t > a.enrolled_at`,
      [nowIso],
    );
  });

  // --- agent_connections (30 d) -----------------------------------------------------------------
  await step('agent_connections', () =>
    pool.query(
      `insert into agent_connections (agent_id, connected_at, disconnected_at, replica, source_ip, close_reason)
       select a.id, start, case when k = 0 then a.offline_at else next_start - interval '3 seconds' end,
         'bench-replica-' || ((a.n + k) % 2), '10.' || (a.n % 250) || '.' || (a.n * 7 % 250) || '.' || (10 + a.r % 200),
         case when k = 0 and a.offline_at is null then null
              when k = 0 then case when a.r % 3 = 0 then 'silent: missed its heartbeats' else '1001 going away' end
              when k % 5 = 0 then 'replica stopped' else '1006 connection lost' end
       from bench_seed_agents a
       cross join lateral generate_series(0, 14) k
       cross join lateral (select coalesce(a.session_start, a.offline_at - interval '1 day') - (k * interval '2 days') - ((a.r + k * 977) % 7200) * interval '1 second' * sign(k) as start,
                                  coalesce(a.session_start, a.offline_at - interval '1 day') - ((k - 1) * interval '2 days') - ((a.r + (k - 1) * 977) % 7200) * interval '1 second' * sign(k - 1) as next_start) s
       where a.scenario <> 'never' and start > a.enrolled_at and start > $1::timestamptz - interval '30 days'`,
      [nowIso],
    ),
  );

  await pool.query(`drop table bench_seed_agents, bench_seed_combos`);
  await step('vacuum analyze', () => pool.query(`vacuum analyze`));

  // --- rollups: the last 24 h by the product's refreshRollups, 30 d of older 5-minute ones by SQL --
  await step('refreshRollups (24 h lookback)', () => refreshRollups(db, now, 24 * 3_600_000 + 5 * 60_000));
  await step('older 5-minute rollups (30 d)', async () => {
    // Each scope's average 5-minute bucket of the last 24 h, with a daily swing and noise; the
    // rolling pipeline's history is all its previous version.
    const rolling = pipelines.find((p) => p.rollout);
    await pool.query(
      `insert into stats_rollups (scope, step_seconds, bucket, samples_scraped, samples_sent, samples_dropped, samples_retried, dropped_by_reason, agents)
       select avgs.scope, 300, b,
         (avgs.sc * f)::bigint, (avgs.se * f)::bigint, (avgs.dr * f * (0.5 + random()))::bigint, (avgs.re * f)::bigint,
         case when avgs.scope = 'fleet' then jsonb_build_object('http_4xx', (avgs.dr * f * 0.6)::bigint, 'too_old', (avgs.dr * f * 0.3)::bigint, 'wal_full', (avgs.dr * f * 0.1)::bigint) else '{}'::jsonb end,
         avgs.ag
       from (select replace(scope, $2, $3) as scope, avg(samples_scraped) as sc, avg(samples_sent) as se, avg(samples_dropped) as dr, avg(samples_retried) as re, max(agents) as ag
             from (select replace(scope, $2, $3) as scope, bucket, sum(samples_scraped) as samples_scraped, sum(samples_sent) as samples_sent, sum(samples_dropped) as samples_dropped,
                          sum(samples_retried) as samples_retried, sum(agents) as agents
                   from stats_rollups where step_seconds = 300 group by 1, 2) per_bucket
             group by 1) avgs
       cross join generate_series(date_bin('5 minutes', $1::timestamptz - interval '30 days', '2000-01-01'), (select min(bucket) from stats_rollups where step_seconds = 300) - interval '5 minutes', interval '5 minutes') b
       cross join lateral (select 1 + 0.15 * sin(extract(epoch from b) / 86400 * 2 * pi()) + 0.05 * (random() - 0.5) as f) ff`,
      [nowIso, `pipeline:${rolling.id}:${rolling.latest}`, `pipeline:${rolling.id}:${rolling.latest - 1}`],
    );
    await pool.query(`analyze stats_rollups`);
  });

  return { admin, pipelines, publishedAt, timings };
}
