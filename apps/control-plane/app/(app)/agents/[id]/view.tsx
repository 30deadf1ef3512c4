'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useParams, useRouter } from 'next/navigation';
import { Fragment, useState } from 'react';
import { errorCode, fieldErrorsOf } from '@/lib/api-errors';
import { formatTime, isoTime, roleAtLeast, toDate } from '@/lib/format';
import { useMe } from '@/lib/session';
import { useTRPC, type ApiOutputs } from '@/lib/trpc';
import { useAnnounce } from '@/lib/ui/announcer';
import { ConfirmDialog, Dialog, FormActions } from '@/lib/ui/dialog';
import { TextAreaField } from '@/lib/ui/fields';
import { RelativeTime, useNow } from '@/lib/ui/relative-time';
import { EmptyState, ErrorMessage, ErrorState, Loading, PageHeader } from '@/lib/ui/states';
import { UnifiedDiff, diffCounts } from '@/lib/ui/unified-diff';
import { formatClockOffset, formatDuration } from '@/lib/units';
import { DeliveryChart } from '../../delivery-chart';
import { FindingList } from '../findings';
import { ConfigStatusBadge, HealthBadge, LabelChips, StateBadge, formatCount } from '../parts';

type Agent = ApiOutputs['agents']['get'];
type Detail = ApiOutputs['fleet']['agent'];

/** A destination in the latest heartbeat as the agent reported it (see @fleet/protocol). */
interface DestinationHealth {
  name: string;
  url: string;
  pendingSamples: number;
  walBytes: number;
  shards?: number;
  highestSentTimestampMs?: number;
  samplesSent?: number;
  samplesRetried?: number;
  /** Removed on purpose by write relabelling (not lost); older agents reported these as dropped{write_relabel}. */
  samplesFiltered?: number;
  failedSendsByClass?: Record<string, number>;
  sigv4?: { service: string; region: string; roleArn: string | null } | null;
  droppedByReason: Record<string, number>;
  credentials: { source: string | null; callerArn: string | null; expiresAt: string | null; lastError: string | null } | null;
  clockOffsetMs: number | null;
  lastError: { at: string; class: string; code: string | null; status: number | null; message: string; action?: string; resource?: string; detail?: string } | null;
}

/** The latest heartbeat as the agent reported it (see @fleet/protocol). */
interface Heartbeat {
  at: string;
  receivedAt?: string;
  clockOffsetMs?: number;
  counters: Record<string, number>;
  destinations: DestinationHealth[];
  targets: { job: string; instance: string; up: boolean; lastScrapeAt: string | null; durationMs: number; samples: number; lastError: string | null }[];
}

const bytes = new Intl.NumberFormat(undefined, { style: 'unit', unit: 'megabyte', maximumFractionDigits: 1 });

/** The drop reason under which agents before `samplesFiltered` reported samples filtered on purpose. */
const LEGACY_FILTERED = 'write_relabel';

/** A destination's samples filtered on purpose, and its drops (losses) without them. */
function filteredOf(x: DestinationHealth): { filtered: number; dropped: Record<string, number> } {
  const { [LEGACY_FILTERED]: legacy, ...dropped } = x.droppedByReason;
  return { filtered: (x.samplesFiltered ?? 0) + (legacy ?? 0), dropped };
}

/** The agent's totals with samples filtered on purpose apart from the drops (also for older agents). */
function totalsOf(hb: Heartbeat): { dropped: number | undefined; filtered: number } {
  const legacy = hb.destinations.reduce((n, d) => n + (d.droppedByReason[LEGACY_FILTERED] ?? 0), 0);
  const filtered = (hb.counters.samplesFiltered ?? 0) + legacy;
  const dropped = hb.counters.samplesDropped === undefined ? undefined : Math.max(0, hb.counters.samplesDropped - legacy);
  return { dropped, filtered };
}

/**
 * One agent: its findings with remedies, delivery over the last hour and per destination, recent
 * errors, connection history, desired vs applied config (with the diff), and who it is.
 */
export function AgentView() {
  const { id } = useParams<{ id: string }>();
  const trpc = useTRPC();
  const me = useMe();
  const agent = useQuery({ ...trpc.agents.get.queryOptions({ id }), refetchInterval: 5_000 });
  const detail = useQuery({ ...trpc.fleet.agent.queryOptions({ id, windowMinutes: 60 }), refetchInterval: 10_000, enabled: agent.isSuccess });
  const [editing, setEditing] = useState(false);
  const [removing, setRemoving] = useState(false);

  if (agent.isPending) return <Loading>Loading the agent…</Loading>;
  if (agent.isError) {
    if (errorCode(agent.error) === 'NOT_FOUND' || errorCode(agent.error) === 'BAD_REQUEST') {
      return (
        <EmptyState title="No such agent." action={<Link href="/">Back to the fleet</Link>}>
          <p>It may have been removed, or the link is wrong.</p>
        </EmptyState>
      );
    }
    return <ErrorState title="Could not load the agent" error={agent.error} onRetry={() => void agent.refetch()} />;
  }
  const a = agent.data;
  const d = a.description as Record<string, string | undefined>;
  const hb = a.lastHeartbeat as Heartbeat | null;
  const totals = hb ? totalsOf(hb) : { dropped: undefined, filtered: 0 };
  const actions = (
    <div className="button-row">
      {roleAtLeast(me.role, 'editor') ? (
        <button type="button" className="button" onClick={() => setEditing(true)}>
          Edit labels
        </button>
      ) : null}
      {roleAtLeast(me.role, 'admin') ? (
        <button type="button" className="button danger-outline" onClick={() => setRemoving(true)}>
          Remove agent
        </button>
      ) : null}
    </div>
  );
  const detailState = (what: string) =>
    detail.isPending ? <Loading>Loading {what}…</Loading> : detail.isError ? <ErrorState title={`Could not load ${what}`} error={detail.error} onRetry={() => void detail.refetch()} /> : null;

  return (
    <>
      <p className="breadcrumb">
        <Link href="/">Fleet</Link> /
      </p>
      <PageHeader
        title={
          <>
            {a.name} <StateBadge agent={a} /> {a.state === 'online' ? <HealthBadge agent={a} /> : null}
          </>
        }
        description={
          a.state === 'online' ? (
            <>
              Connected <RelativeTime value={a.connectedAt} />, last heard <RelativeTime value={a.lastSeenAt} />.
            </>
          ) : a.state === 'offline' ? (
            <>
              Offline since <RelativeTime value={a.offlineSince ?? a.lastSeenAt} /> ({formatTime(a.offlineSince ?? a.lastSeenAt)}). It keeps running its last config
              while away.
            </>
          ) : (
            <>Enrolled <RelativeTime value={a.enrolledAt} />; it has not connected yet. Start it with <code>fleet-agent run --server …</code>.</>
          )
        }
        actions={actions}
      />

      <section className="section" aria-labelledby="findings-heading">
        <h2 id="findings-heading">Findings</h2>
        {a.state === 'offline' && detail.data?.findings.length ? (
          <p className="notice warn">
            Offline: these findings are from its last heartbeat (<RelativeTime value={hb?.receivedAt ?? a.lastSeenAt} />).
          </p>
        ) : null}
        {detailState('the findings') ?? (
          <FindingList
            findings={detail.data!.findings}
            empty={
              <p className="panel-empty">
                {a.state === 'never_connected' ? (
                  'No findings yet: the agent is judged from its heartbeats once it connects.'
                ) : a.state === 'offline' ? (
                  <>No findings in its last heartbeat; it is offline, so nothing current is known.</>
                ) : (
                  <>
                    <strong>No findings: this agent delivers.</strong> Its destinations accept what it sends, its credentials and clock are fine and its config
                    applied.
                  </>
                )}
              </p>
            }
          />
        )}
      </section>

      <section className="section" aria-labelledby="delivery-heading">
        <h2 id="delivery-heading">Delivery</h2>
        {!hb ? (
          <EmptyState title="No heartbeat yet.">
            <p>Counters appear after the agent&apos;s first heartbeat.</p>
          </EmptyState>
        ) : (
          <>
            <div className="card chart-card">
              <div className="card-head">
                <h3>Samples per second, the last hour</h3>
                <span className="muted small">per minute; each minute is drawn once complete</span>
              </div>
              {detailState('the delivery history') ?? (
                <DeliveryChart
                  points={detail.data!.series}
                  stepSeconds={60}
                  windowMinutes={60}
                  pending
                  label={`${a.name}: samples per second over the last hour, sent, filtered by write relabelling and dropped by reason (stacked), scraped, and samples pending (right axis)`}
                  testId="agent-chart"
                  empty="Nothing recorded in the last hour: the agent sent no heartbeat with counters."
                />
              )}
            </div>
            <dl className="facts" data-testid="agent-counters">
              <dt>Samples scraped</dt>
              <dd>{formatCount(hb.counters.samplesScraped)}</dd>
              <dt>Samples sent</dt>
              <dd data-testid="agent-samples-sent">{formatCount(hb.counters.samplesSent)}</dd>
              <dt>Samples dropped</dt>
              <dd className={(totals.dropped ?? 0) > 0 ? 'bad-text' : undefined} data-testid="agent-samples-dropped">
                {formatCount(totals.dropped)}
              </dd>
              <dt>Samples filtered</dt>
              <dd className="muted" data-testid="agent-samples-filtered" title="Removed on purpose by write_relabel_configs: not sent, and not lost">
                {formatCount(totals.filtered)} <span className="small">by write relabelling (intended, not lost)</span>
              </dd>
              <dt>Pending</dt>
              <dd>{formatCount(hb.counters.pendingSamples)}</dd>
              <dt>Clock offset</dt>
              <dd>{hb.clockOffsetMs === undefined ? '—' : `${(hb.clockOffsetMs / 1000).toFixed(1)} s (${formatClockOffset(hb.clockOffsetMs)})`}</dd>
              <dt>Reported</dt>
              <dd>
                <RelativeTime value={hb.receivedAt ?? hb.at} />
              </dd>
            </dl>
            <h3>Destinations</h3>
            {hb.destinations.length ? (
              <DestinationsTable heartbeat={hb} />
            ) : (
              <p className="muted">{a.desiredPipelines.length ? 'No destinations in its latest heartbeat: it has not applied the config it should run yet (see Configuration).' : 'No destinations: no published pipeline selects this agent.'}</p>
            )}
            <h3>Scrape targets</h3>
            {hb.targets.length ? (
              <table className="table" aria-label="Scrape targets">
                <thead>
                  <tr>
                    <th scope="col">Job</th>
                    <th scope="col">Instance</th>
                    <th scope="col">Health</th>
                    <th scope="col" className="num">Duration</th>
                    <th scope="col" className="num">Samples</th>
                    <th scope="col">Last scrape</th>
                  </tr>
                </thead>
                <tbody>
                  {hb.targets.map((t) => (
                    <tr key={`${t.job}/${t.instance}`}>
                      <th scope="row">{t.job}</th>
                      <td>
                        <code>{t.instance}</code>
                      </td>
                      <td>
                        {t.up ? <span className="badge ok">Up</span> : <span className="badge bad">Down</span>}
                        {t.lastError ? <div className="error-text small">{t.lastError}</div> : null}
                      </td>
                      <td className="num">{t.durationMs.toFixed(0)} ms</td>
                      <td className="num">{formatCount(t.samples)}</td>
                      <td>
                        <RelativeTime value={t.lastScrapeAt} none="never" />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : (
              <p className="muted">No scrape targets.</p>
            )}
          </>
        )}
      </section>

      <section className="section" aria-labelledby="errors-heading">
        <h2 id="errors-heading">Recent errors</h2>
        {detailState('the errors') ?? <ErrorsTable errors={detail.data!.errors} />}
      </section>

      <section className="section" aria-labelledby="connections-heading">
        <h2 id="connections-heading">Connection history</h2>
        {detailState('the connection history') ?? <ConnectionsTable connections={detail.data!.connections} />}
      </section>

      <section className="card section" aria-labelledby="config-heading">
        <h2 id="config-heading">Configuration</h2>
        <dl className="facts">
          <dt>Status</dt>
          <dd>
            <ConfigStatusBadge status={a.configStatus} error={a.configError} since={a.configStatusAt} />
          </dd>
          <dt>Desired</dt>
          <dd>
            <PipelineRefs refs={a.desiredPipelines} /> <span className="hash muted" title={a.desiredConfigHash ?? ''}>{a.desiredConfigHash?.slice(0, 12) ?? '—'}</span>
          </dd>
          <dt>Applied</dt>
          <dd>
            <PipelineRefs refs={a.appliedPipelines} /> <span className="hash muted" title={a.appliedConfigHash ?? ''}>{a.appliedConfigHash?.slice(0, 12) ?? '—'}</span>
          </dd>
        </dl>
        {a.configStatus === 'failed' ? <p className="muted">The agent keeps running the config it applied last. Fix the pipeline and publish again, or roll back.</p> : null}
        <h3>Desired vs applied</h3>
        {detailState('the config diff') ?? <ConfigDiff agent={a} diff={detail.data!.configDiff} />}
      </section>

      <section className="card section" aria-labelledby="identity-heading">
        <h2 id="identity-heading">Identity</h2>
        <dl className="facts">
          <dt>Agent id</dt>
          <dd>
            <code>{a.id}</code>
          </dd>
          <dt>Labels</dt>
          <dd>
            <LabelChips labels={a.labels} />
          </dd>
          <dt>Platform</dt>
          <dd>{a.platform}</dd>
          {d.version ? (
            <>
              <dt>Version</dt>
              <dd>{d.version}</dd>
            </>
          ) : null}
          {(['instanceId', 'region', 'accountId', 'cluster', 'namespace', 'pod'] as const).map((k) =>
            d[k] ? (
              <Fact key={k} label={{ instanceId: 'Instance', region: 'Region', accountId: 'AWS account', cluster: 'Cluster', namespace: 'Namespace', pod: 'Pod' }[k]}>
                <code>{d[k]}</code>
              </Fact>
            ) : null,
          )}
          {a.awsIdentityArn ? (
            <Fact label="Proven AWS identity">
              <code>{a.awsIdentityArn}</code>
            </Fact>
          ) : null}
          {a.connectedReplica ? (
            <Fact label="Connected to replica">
              <code>{a.connectedReplica}</code>
            </Fact>
          ) : null}
          <dt>Enrolled</dt>
          <dd>{formatTime(a.enrolledAt)}</dd>
        </dl>
      </section>
      {editing ? <LabelsDialog agent={a} onClose={() => setEditing(false)} /> : null}
      {removing ? <RemoveDialog agent={a} onClose={() => setRemoving(false)} /> : null}
    </>
  );
}

/** How far the newest sample sent lags the heartbeat that reported it (both on the agent's clock). */
function sendLag(hb: Heartbeat, x: DestinationHealth): string {
  if (!x.highestSentTimestampMs) return 'nothing sent yet';
  return `${formatDuration(Math.max(0, Date.parse(hb.at) - x.highestSentTimestampMs))} behind`;
}

function Counts({ counts, none }: { counts: Record<string, number> | undefined; none: string }) {
  const entries = Object.entries(counts ?? {}).filter(([, n]) => n > 0);
  if (!entries.length) return <span className="muted">{none}</span>;
  return (
    <ul className="plain-list">
      {entries.map(([k, n]) => (
        <li key={k}>
          <code>{k}</code> {formatCount(n)}
        </li>
      ))}
    </ul>
  );
}

/** Per destination: queue (pending, WAL, shards), delivery (sent, retries, lag), drops and failures, signing, credentials and the last error. */
function DestinationsTable({ heartbeat: hb }: { heartbeat: Heartbeat }) {
  return (
    <div className="table-scroll">
      <table className="table destinations" aria-label="Destinations">
        <thead>
          <tr>
            <th scope="col">Destination</th>
            <th scope="col">Queue</th>
            <th scope="col">Sent</th>
            <th scope="col">Dropped</th>
            <th scope="col">Failed sends</th>
            <th scope="col">Credentials</th>
          </tr>
        </thead>
        <tbody>
          {hb.destinations.map((x) => (
            <Fragment key={x.name}>
              <tr>
                <th scope="row">
                  {x.name}
                  <div className="muted small break">{x.url}</div>
                  {x.sigv4 ? (
                    <div className="small" data-testid="sigv4">
                      SigV4 <code>{x.sigv4.service}</code> in <code>{x.sigv4.region}</code>
                      {x.sigv4.roleArn ? (
                        <>
                          , role <code className="break">{x.sigv4.roleArn}</code>
                        </>
                      ) : null}
                    </div>
                  ) : null}
                </th>
                <td className="small">
                  <dl className="mini-facts">
                    <dt>Pending</dt>
                    <dd>{formatCount(x.pendingSamples)}</dd>
                    <dt>WAL</dt>
                    <dd>{bytes.format(x.walBytes / 1e6)}</dd>
                    <dt>Shards</dt>
                    <dd>{x.shards ?? '—'}</dd>
                  </dl>
                </td>
                <td className="small">
                  <dl className="mini-facts">
                    <dt>Samples</dt>
                    <dd>{formatCount(x.samplesSent)}</dd>
                    <dt>Retried</dt>
                    <dd>{formatCount(x.samplesRetried)}</dd>
                    <dt>Filtered</dt>
                    <dd className="muted" title="Removed on purpose by write_relabel_configs: not sent, and not lost">
                      {formatCount(filteredOf(x).filtered)}
                    </dd>
                    <dt>Lag</dt>
                    <dd data-testid="send-lag" title="Time between the newest sample sent and the heartbeat that reported it">
                      {sendLag(hb, x)}
                    </dd>
                  </dl>
                </td>
                <td className="small">
                  <Counts counts={filteredOf(x).dropped} none="none" />
                </td>
                <td className="small">
                  <Counts counts={x.failedSendsByClass} none="none" />
                </td>
                <td className="small">
                  {x.credentials ? (
                    <>
                      <div>{x.credentials.source ?? 'not resolved yet'}</div>
                      {x.credentials.callerArn ? <code className="break">{x.credentials.callerArn}</code> : null}
                      {x.credentials.expiresAt ? (
                        <div className="muted">
                          expires <RelativeTime value={x.credentials.expiresAt} />
                        </div>
                      ) : null}
                      {x.credentials.lastError ? <div className="error-text">{x.credentials.lastError}</div> : null}
                    </>
                  ) : (
                    <span className="muted">unsigned</span>
                  )}
                </td>
              </tr>
              <tr className="detail-row">
                <td colSpan={6} className="small">
                  <span className="muted">Last error of {x.name}: </span>
                  {x.lastError ? (
                    <>
                      <span className="error-text">
                        {x.lastError.status ? `HTTP ${x.lastError.status} ` : ''}
                        {x.lastError.code ? `${x.lastError.code}: ` : ''}
                        {x.lastError.message}
                      </span>{' '}
                      <span className="muted">
                        (<code>{x.lastError.class}</code>, <RelativeTime value={x.lastError.at} />)
                      </span>
                      {x.lastError.detail ? <div className="error-detail">{x.lastError.detail}</div> : null}
                    </>
                  ) : (
                    <span className="muted">none</span>
                  )}
                </td>
              </tr>
            </Fragment>
          ))}
        </tbody>
      </table>
    </div>
  );
}

type AgentError = Detail['errors'][number];

/** Runs of the same error (destination, class, status, code, message, detail) as one row with a count; newest first. */
function groupErrors(errors: AgentError[]): Array<{ latest: AgentError; earliest: AgentError; count: number }> {
  const key = (e: AgentError) => JSON.stringify([e.destination, e.errorClass, e.status, e.code, e.message, e.detail]);
  const groups: Array<{ latest: AgentError; earliest: AgentError; count: number; key: string }> = [];
  for (const e of errors) {
    const g = groups.at(-1);
    if (g && g.key === key(e)) {
      g.count++;
      g.earliest = e;
    } else groups.push({ latest: e, earliest: e, count: 1, key: key(e) });
  }
  return groups;
}

/** Errors the agent reported, newest first (one per new error of a destination); repeats of one error fold into a row with a count. */
function ErrorsTable({ errors }: { errors: Detail['errors'] }) {
  if (!errors.length) return <p className="panel-empty">No errors reported in the last 7 days: every send succeeded or was retried successfully.</p>;
  const groups = groupErrors(errors);
  return (
    <div className="table-scroll">
      <table className="table compact" aria-label="Recent errors">
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Destination</th>
            <th scope="col">Class</th>
            <th scope="col">Status / code</th>
            <th scope="col">Message</th>
            <th scope="col">Detail</th>
          </tr>
        </thead>
        <tbody>
          {groups.map(({ latest: e, earliest, count }) => (
            <tr key={e.id}>
              <td className="nowrap">
                <time dateTime={isoTime(e.at)}>{formatTime(e.at, true)}</time>
                {count > 1 ? (
                  <div className="muted small">
                    <span className="badge">×{count}</span> since <time dateTime={isoTime(earliest.at)}>{formatTime(earliest.at, true)}</time>
                  </div>
                ) : null}
              </td>
              <th scope="row" title={e.url}>
                {e.destination}
              </th>
              <td>
                <code>{e.errorClass}</code>
              </td>
              <td className="nowrap">
                {e.status ? `HTTP ${e.status}` : ''}
                {e.status && e.code ? <br /> : null}
                {e.code ? <code>{e.code}</code> : null}
                {!e.status && !e.code ? <span className="muted">—</span> : null}
              </td>
              <td className="error-text small">{e.message}</td>
              <td className="small break">{e.detail ?? <span className="muted">—</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** WebSocket sessions, newest first: when, how long, which replica, from where, why it ended. */
function ConnectionsTable({ connections }: { connections: Detail['connections'] }) {
  const now = useNow();
  if (!connections.length) return <p className="panel-empty">Never connected. Start the agent with <code>fleet-agent run --server …</code>.</p>;
  return (
    <table className="table compact" aria-label="Connection history">
      <thead>
        <tr>
          <th scope="col">Connected at</th>
          <th scope="col">Duration</th>
          <th scope="col">Replica</th>
          <th scope="col">Source IP</th>
          <th scope="col">Close reason</th>
        </tr>
      </thead>
      <tbody>
        {connections.map((c) => {
          const from = toDate(c.connectedAt)?.getTime() ?? now;
          const open = !c.disconnectedAt;
          const until = open ? Math.max(now, from) : (toDate(c.disconnectedAt)?.getTime() ?? from);
          return (
            <tr key={c.id} data-testid={open ? 'connection-open' : 'connection-closed'}>
              <th scope="row" className="nowrap">
                <time dateTime={isoTime(c.connectedAt)}>{formatTime(c.connectedAt, true)}</time>
              </th>
              <td>
                {open ? <span className="badge ok">Open</span> : null} {formatDuration(until - from)}
                {open ? <span className="muted small"> so far</span> : null}
              </td>
              <td>
                <code>{c.replica}</code>
              </td>
              <td>{c.sourceIp ? <code>{c.sourceIp}</code> : <span className="muted">—</span>}</td>
              <td className="small">{open ? <span className="muted">connected</span> : (c.closeReason ?? <span className="muted">—</span>)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** The effective config the agent should run vs the one it applied, as a diff when they differ. */
function ConfigDiff({ agent: a, diff }: { agent: Agent; diff: Detail['configDiff'] }) {
  if (!a.desiredConfigHash) {
    // The desired config is computed when the agent connects (and again on every change while it is).
    if (a.state === 'never_connected') {
      return (
        <p className="muted" data-testid="config-not-computed">
          No config yet: the agent has not connected. The config it will receive is computed when it connects, from the published pipelines whose selector
          matches its labels.
        </p>
      );
    }
    return <p className="muted">No config computed for this agent: when it is connected, the control plane computes one from the published pipelines that select it (see Findings if it cannot).</p>;
  }
  if (diff.identical) return <p className="ok-text" data-testid="config-identical">The agent runs exactly the desired config.</p>;
  if (!diff.hunks.length) return <p className="muted">The applied config has the same content as the desired one; its status updates with the agent&apos;s next report.</p>;
  const { added, removed } = diffCounts(diff.hunks);
  return (
    <>
      <p className="muted small">
        What applying the desired config changes: <span className="diff-add-count">+{added}</span> <span className="diff-del-count">−{removed}</span> lines.
      </p>
      <UnifiedDiff hunks={diff.hunks} from="applied" to="desired" label="Changes from the applied to the desired config" testId="config-diff" />
    </>
  );
}

function Fact({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </>
  );
}

function PipelineRefs({ refs }: { refs: { id: string; name: string; version: number }[] }) {
  if (!refs.length) return <span className="muted">no pipeline</span>;
  return (
    <>
      {refs.map((p, i) => (
        <span key={p.id}>
          {i ? ', ' : ''}
          <Link href={`/pipelines/${p.id}`}>{p.name}</Link> v{p.version}
        </span>
      ))}
    </>
  );
}

function parseLabels(text: string): { labels: Record<string, string>; error: string | null } {
  const labels: Record<string, string> = {};
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line) continue;
    const m = /^([^=\s]+)\s*=\s*(.*)$/.exec(line);
    if (!m) return { labels, error: `line ${i + 1}: expected name=value` };
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(m[1]!)) return { labels, error: `line ${i + 1}: ${JSON.stringify(m[1])} is not a valid label name` };
    if (m[1]! in labels) return { labels, error: `line ${i + 1}: ${m[1]} is given twice` };
    labels[m[1]!] = m[2]!;
  }
  return { labels, error: null };
}

/** Labels as name=value lines; the agent gets the config its new labels select at once. */
function LabelsDialog({ agent, onClose }: { agent: Agent; onClose(): void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const announce = useAnnounce();
  const [text, setText] = useState(
    Object.entries(agent.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n'),
  );
  const parsed = parseLabels(text);
  const [touched, setTouched] = useState(false);
  const save = useMutation(
    trpc.agents.setLabels.mutationOptions({
      onSuccess: async () => {
        await queryClient.invalidateQueries({ queryKey: trpc.agents.pathKey() });
        announce(`Saved the labels of ${agent.name}`);
        onClose();
      },
    }),
  );
  const serverErrors = fieldErrorsOf(save.error);
  return (
    <Dialog open onClose={onClose} title={`Labels of ${agent.name}`} description="Pipelines select agents by these labels. A change applies at once.">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setTouched(true);
          if (!parsed.error) save.mutate({ id: agent.id, labels: parsed.labels });
        }}
      >
        <TextAreaField
          label="Labels, one name=value per line"
          rows={6}
          value={text}
          onChange={(e) => setText(e.target.value)}
          error={(touched || text !== '' ? parsed.error : null) ?? serverErrors.labels}
          autoFocus
          spellCheck={false}
        />
        {save.error && !serverErrors.labels ? <ErrorMessage error={save.error} /> : null}
        <FormActions onCancel={onClose} pending={save.isPending} label="Save labels" pendingLabel="Saving…" />
      </form>
    </Dialog>
  );
}

/** Removal revokes the agent's secret and closes its connection. */
function RemoveDialog({ agent, onClose }: { agent: Agent; onClose(): void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const announce = useAnnounce();
  const router = useRouter();
  const remove = useMutation(
    trpc.agents.remove.mutationOptions({
      onSuccess: async () => {
        await queryClient.invalidateQueries({ queryKey: trpc.agents.list.pathKey() });
        announce(`Removed ${agent.name}`);
        router.push('/');
      },
    }),
  );
  return (
    <ConfirmDialog
      open
      title={`Remove ${agent.name}?`}
      confirmLabel="Remove agent"
      danger
      pending={remove.isPending}
      error={remove.error}
      onConfirm={() => remove.mutate({ id: agent.id })}
      onClose={onClose}
    >
      <p>
        Its secret stops working at once and its connection is closed. The process keeps running its last config but gets no new one; to bring it back,
        enroll it again with a token.
      </p>
    </ConfirmDialog>
  );
}
