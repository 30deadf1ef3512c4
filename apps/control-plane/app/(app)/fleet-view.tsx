'use client';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useState } from 'react';
import { plural, roleAtLeast } from '@/lib/format';
import { useDebounced } from '@/lib/hooks';
import { useMe } from '@/lib/session';
import { useTRPC, type ApiOutputs } from '@/lib/trpc';
import { SearchField, SelectField } from '@/lib/ui/fields';
import { Pagination } from '@/lib/ui/pagination';
import { RelativeTime } from '@/lib/ui/relative-time';
import { EmptyState, ErrorState, Loading, PageHeader } from '@/lib/ui/states';
import { ConfigStatusBadge, LabelChips, StateBadge, formatCount } from './agents/parts';

type AgentRow = ApiOutputs['agents']['list']['agents'][number];
type StateFilter = '' | 'online' | 'offline' | 'never_connected';
type ConfigFilter = '' | 'pending' | 'applied' | 'failed';

const PAGE_SIZE = 50;

/** Fleet: every enrolled agent with its connection, config status and live counters. */
export function FleetView() {
  const trpc = useTRPC();
  const me = useMe();
  const [search, setSearch] = useState('');
  const [state, setState] = useState<StateFilter>('');
  const [configStatus, setConfigStatus] = useState<ConfigFilter>('');
  const [page, setPage] = useState(1);
  const q = useDebounced(search.trim(), 250);
  const input = { limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE, ...(q ? { search: q } : {}), ...(state ? { state } : {}), ...(configStatus ? { configStatus } : {}) };
  const list = useQuery({ ...trpc.agents.list.queryOptions(input), placeholderData: keepPreviousData, refetchInterval: 5_000 });
  const status = useQuery({ ...trpc.system.status.queryOptions(), refetchInterval: 30_000 });
  const filtered = Boolean(q || state || configStatus);
  const resetTo = <T,>(set: (v: T) => void) => (v: T) => {
    set(v);
    setPage(1);
  };

  let body;
  if (list.isPending) body = <Loading>Loading agents…</Loading>;
  else if (list.isError) body = <ErrorState title="Could not load the agents" error={list.error} onRetry={() => void list.refetch()} />;
  else if (list.data.total === 0 && !filtered) {
    body = (
      <EmptyState
        title="No agents enrolled yet."
        action={
          roleAtLeast(me.role, 'admin') ? (
            <Link className="button primary" href="/enrollment">
              Create an enrollment token
            </Link>
          ) : null
        }
      >
        <p>
          Create an enrollment token, then run <code>fleet-agent enroll --server … --token …</code> and <code>fleet-agent run --server …</code> on each host.
          Agents appear here as soon as they connect, and receive every published <Link href="/pipelines">pipeline</Link> whose selector matches their
          labels.
        </p>
        {!roleAtLeast(me.role, 'admin') ? <p>Ask an admin for an enrollment token.</p> : null}
      </EmptyState>
    );
  } else if (list.data.total === 0) {
    body = (
      <EmptyState
        title="No agent matches these filters."
        action={
          <button
            type="button"
            className="button"
            onClick={() => {
              setSearch('');
              setState('');
              setConfigStatus('');
              setPage(1);
            }}
          >
            Clear the filters
          </button>
        }
      />
    );
  } else {
    body = (
      <>
        <AgentTable agents={list.data.agents} />
        <Pagination page={page} pages={Math.max(1, Math.ceil(list.data.total / PAGE_SIZE))} total={list.data.total} onPage={setPage} label="Agents" />
      </>
    );
  }

  const s = list.data?.summary;
  return (
    <>
      <PageHeader title="Fleet" description="Agents enrolled in this control plane: connection, configuration and what they deliver." />
      {s ? (
        <ul className="summary-tiles" aria-label="Fleet summary" data-testid="fleet-summary">
          <SummaryTile label="Online" value={s.online} tone="ok" onClick={() => resetTo(setState)('online')} />
          <SummaryTile label="Offline" value={s.offline} tone={s.offline ? 'bad' : undefined} onClick={() => resetTo(setState)('offline')} />
          <SummaryTile label="Never connected" value={s.neverConnected} onClick={() => resetTo(setState)('never_connected')} />
          <SummaryTile label="Config failed" value={s.failed} tone={s.failed ? 'bad' : undefined} onClick={() => resetTo(setConfigStatus)('failed')} />
          <SummaryTile label="Config pending" value={s.pending} onClick={() => resetTo(setConfigStatus)('pending')} />
        </ul>
      ) : null}
      <div className="toolbar">
        <SearchField label="Search agents (name, id, label)" value={search} onChange={resetTo(setSearch)} />
        <SelectField label="Connection" value={state} onChange={(e) => resetTo(setState)(e.target.value as StateFilter)}>
          <option value="">Any</option>
          <option value="online">Online</option>
          <option value="offline">Offline</option>
          <option value="never_connected">Never connected</option>
        </SelectField>
        <SelectField label="Config" value={configStatus} onChange={(e) => resetTo(setConfigStatus)(e.target.value as ConfigFilter)}>
          <option value="">Any</option>
          <option value="applied">Applied</option>
          <option value="pending">Pending</option>
          <option value="failed">Failed</option>
        </SelectField>
      </div>
      {body}

      <section aria-labelledby="status-heading" className="card section">
        <h2 id="status-heading">System status</h2>
        {status.isPending ? (
          <Loading>Checking the database…</Loading>
        ) : status.isError ? (
          <div role="alert" className="problem">
            <p>
              <strong>The API did not answer:</strong> {status.error.message}
            </p>
            <p>Check that the control-plane process is running and look at its log, then reload this page.</p>
          </div>
        ) : (
          <dl className="facts" data-testid="database-status">
            <dt>Database</dt>
            <dd>
              <span className={status.data.ready ? 'pill ok' : 'pill bad'} data-testid="database-state">
                {status.data.ready ? 'Ready' : 'Not ready'}
              </span>
            </dd>
            <dt>Engine</dt>
            <dd>{status.data.database.kind === 'pglite' ? 'PGlite (embedded)' : 'PostgreSQL'}</dd>
            <dt>Location</dt>
            <dd>
              <code>{status.data.database.location}</code>
            </dd>
            <dt>Migrations</dt>
            <dd>
              {status.data.database.migrations
                ? `${status.data.database.migrations.applied} of ${status.data.database.migrations.expected} applied`
                : 'unknown'}
            </dd>
            {status.data.database.problem ? (
              <>
                <dt>Problem</dt>
                <dd role="alert">{status.data.database.problem}</dd>
              </>
            ) : null}
            <dt>Version</dt>
            <dd>{status.data.version}</dd>
          </dl>
        )}
      </section>
    </>
  );
}

function SummaryTile({ label, value, tone, onClick }: { label: string; value: number; tone?: 'ok' | 'bad' | undefined; onClick(): void }) {
  return (
    <li>
      <button type="button" className={`summary-tile${tone ? ` ${tone}` : ''}`} onClick={onClick} aria-label={`${plural(value, 'agent')} ${label.toLowerCase()}: show them`}>
        <span className="summary-value">{value}</span>
        <span className="summary-label">{label}</span>
      </button>
    </li>
  );
}

function AgentTable({ agents }: { agents: AgentRow[] }) {
  return (
    <table className="table" aria-label="Agents">
      <thead>
        <tr>
          <th scope="col">Agent</th>
          <th scope="col">Connection</th>
          <th scope="col">Labels</th>
          <th scope="col">Config</th>
          <th scope="col">Pipelines</th>
          <th scope="col" className="num">
            Samples sent
          </th>
          <th scope="col" className="num">
            Dropped
          </th>
          <th scope="col" className="num">
            Pending
          </th>
        </tr>
      </thead>
      <tbody>
        {agents.map((a) => (
          <tr key={a.id} data-testid={`agent-${a.id}`}>
            <th scope="row">
              <Link href={`/agents/${a.id}`}>{a.name}</Link>
              <div className="muted small">
                <code>{a.id.slice(0, 8)}</code> · {a.platform}
              </div>
            </th>
            <td>
              <StateBadge agent={a} />
              <div className="muted small">
                {a.state === 'online' ? (
                  <>
                    seen <RelativeTime value={a.lastSeenAt} />
                  </>
                ) : a.state === 'offline' ? (
                  <>
                    since <RelativeTime value={a.offlineSince ?? a.lastSeenAt} />
                  </>
                ) : (
                  <>
                    enrolled <RelativeTime value={a.enrolledAt} />
                  </>
                )}
              </div>
            </td>
            <td>
              <LabelChips labels={a.labels} />
            </td>
            <td>
              <ConfigStatusBadge status={a.configStatus} error={a.configError} />
            </td>
            <td>
              {a.appliedPipelines.length ? (
                <ul className="plain-list">
                  {a.appliedPipelines.map((p) => (
                    <li key={p.id}>
                      <Link href={`/pipelines/${p.id}`}>{p.name}</Link> <span className="muted">v{p.version}</span>
                    </li>
                  ))}
                </ul>
              ) : (
                <span className="muted">none</span>
              )}
            </td>
            <td className="num" data-testid="samples-sent">
              {formatCount(a.counters?.samplesSent)}
            </td>
            <td className={`num${(a.counters?.samplesDropped ?? 0) > 0 ? ' bad-text' : ''}`}>{formatCount(a.counters?.samplesDropped)}</td>
            <td className="num">{formatCount(a.counters?.pendingSamples)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
