'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useParams, useRouter } from 'next/navigation';
import { useState } from 'react';
import { errorCode, fieldErrorsOf } from '@/lib/api-errors';
import { formatTime, roleAtLeast } from '@/lib/format';
import { useMe } from '@/lib/session';
import { useTRPC, type ApiOutputs } from '@/lib/trpc';
import { useAnnounce } from '@/lib/ui/announcer';
import { ConfirmDialog, Dialog, FormActions } from '@/lib/ui/dialog';
import { TextAreaField } from '@/lib/ui/fields';
import { RelativeTime } from '@/lib/ui/relative-time';
import { EmptyState, ErrorMessage, ErrorState, Loading, PageHeader } from '@/lib/ui/states';
import { ConfigStatusBadge, LabelChips, StateBadge, formatCount } from '../parts';

type Agent = ApiOutputs['agents']['get'];

/** The latest heartbeat as the agent reported it (see @fleet/protocol). */
interface Heartbeat {
  at: string;
  receivedAt?: string;
  clockOffsetMs?: number;
  counters: Record<string, number>;
  destinations: {
    name: string;
    url: string;
    pendingSamples: number;
    walBytes: number;
    droppedByReason: Record<string, number>;
    credentials: { source: string | null; callerArn: string | null; expiresAt: string | null; lastError: string | null } | null;
    clockOffsetMs: number | null;
    lastError: { at: string; class: string; code: string | null; status: number | null; message: string } | null;
  }[];
  targets: { job: string; instance: string; up: boolean; lastScrapeAt: string | null; durationMs: number; samples: number; lastError: string | null }[];
}

const bytes = new Intl.NumberFormat(undefined, { style: 'unit', unit: 'megabyte', maximumFractionDigits: 1 });

/** One agent: who it is, what config it should run and runs, and what it delivers. */
export function AgentView() {
  const { id } = useParams<{ id: string }>();
  const trpc = useTRPC();
  const me = useMe();
  const agent = useQuery({ ...trpc.agents.get.queryOptions({ id }), refetchInterval: 5_000 });
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

  return (
    <>
      <p className="breadcrumb">
        <Link href="/">Fleet</Link> /
      </p>
      <PageHeader
        title={
          <>
            {a.name} <StateBadge agent={a} />
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
          <dt>Enrolled</dt>
          <dd>{formatTime(a.enrolledAt)}</dd>
        </dl>
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
      </section>

      <section className="section" aria-labelledby="delivery-heading">
        <h2 id="delivery-heading">Delivery</h2>
        {!hb ? (
          <EmptyState title="No heartbeat yet.">
            <p>Counters appear after the agent&apos;s first heartbeat.</p>
          </EmptyState>
        ) : (
          <>
            <dl className="facts" data-testid="agent-counters">
              <dt>Samples scraped</dt>
              <dd>{formatCount(hb.counters.samplesScraped)}</dd>
              <dt>Samples sent</dt>
              <dd data-testid="agent-samples-sent">{formatCount(hb.counters.samplesSent)}</dd>
              <dt>Samples dropped</dt>
              <dd className={(hb.counters.samplesDropped ?? 0) > 0 ? 'bad-text' : undefined}>{formatCount(hb.counters.samplesDropped)}</dd>
              <dt>Pending</dt>
              <dd>{formatCount(hb.counters.pendingSamples)}</dd>
              <dt>Clock offset</dt>
              <dd>{hb.clockOffsetMs === undefined ? '—' : `${(hb.clockOffsetMs / 1000).toFixed(1)} s`}</dd>
              <dt>Reported</dt>
              <dd>
                <RelativeTime value={hb.receivedAt ?? hb.at} />
              </dd>
            </dl>
            <h3>Destinations</h3>
            {hb.destinations.length ? (
              <table className="table" aria-label="Destinations">
                <thead>
                  <tr>
                    <th scope="col">Destination</th>
                    <th scope="col" className="num">Pending</th>
                    <th scope="col" className="num">WAL</th>
                    <th scope="col">Dropped</th>
                    <th scope="col">Credentials</th>
                    <th scope="col">Last error</th>
                  </tr>
                </thead>
                <tbody>
                  {hb.destinations.map((x) => (
                    <tr key={x.name}>
                      <th scope="row">
                        {x.name}
                        <div className="muted small break">{x.url}</div>
                      </th>
                      <td className="num">{formatCount(x.pendingSamples)}</td>
                      <td className="num">{bytes.format(x.walBytes / 1e6)}</td>
                      <td>
                        {Object.keys(x.droppedByReason).length ? (
                          <ul className="plain-list">
                            {Object.entries(x.droppedByReason).map(([reason, n]) => (
                              <li key={reason}>
                                <code>{reason}</code> {formatCount(n)}
                              </li>
                            ))}
                          </ul>
                        ) : (
                          <span className="muted">none</span>
                        )}
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
                      <td className="small">
                        {x.lastError ? (
                          <span className="error-text">
                            {x.lastError.status ? `HTTP ${x.lastError.status} ` : ''}
                            {x.lastError.code ? `${x.lastError.code}: ` : ''}
                            {x.lastError.message} (<RelativeTime value={x.lastError.at} />)
                          </span>
                        ) : (
                          <span className="muted">none</span>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : (
              <p className="muted">No destinations: no published pipeline selects this agent.</p>
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
      {editing ? <LabelsDialog agent={a} onClose={() => setEditing(false)} /> : null}
      {removing ? <RemoveDialog agent={a} onClose={() => setRemoving(false)} /> : null}
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
