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
import { WindowPicker } from '@/lib/ui/window-picker';
import type { WindowMinutes } from '@/lib/units';
import { ConfigStatusBadge, HealthBadge, LabelChips, StateBadge, formatCount } from './agents/parts';
import { FleetOverview, type Overview } from './overview';

type AgentRow = ApiOutputs['agents']['list']['agents'][number];
type StateFilter = '' | 'online' | 'offline' | 'never_connected';
type ConfigFilter = '' | 'pending' | 'applied' | 'failed';
type HealthFilter = '' | 'healthy' | 'degraded' | 'failing';

const PAGE_SIZE = 50;

/**
 * Fleet: the health overview over a window (tiles that filter the list, delivery chart, findings
 * with remedies, top offenders, credentials, clocks, rollouts), then every enrolled agent with
 * its connection, health, config status and live counters.
 */
export function FleetView() {
  const trpc = useTRPC();
  const me = useMe();
  const [search, setSearch] = useState('');
  const [state, setState] = useState<StateFilter>('');
  const [configStatus, setConfigStatus] = useState<ConfigFilter>('');
  const [health, setHealth] = useState<HealthFilter>('');
  const [windowMinutes, setWindowMinutes] = useState<WindowMinutes>(60);
  const [page, setPage] = useState(1);
  const q = useDebounced(search.trim(), 250);
  const input = {
    limit: PAGE_SIZE,
    offset: (page - 1) * PAGE_SIZE,
    ...(q ? { search: q } : {}),
    ...(state ? { state } : {}),
    ...(configStatus ? { configStatus } : {}),
    ...(health ? { health } : {}),
  };
  const list = useQuery({ ...trpc.agents.list.queryOptions(input), placeholderData: keepPreviousData, refetchInterval: 5_000 });
  const overview = useQuery({ ...trpc.fleet.overview.queryOptions({ windowMinutes }), placeholderData: keepPreviousData, refetchInterval: 10_000 });
  const status = useQuery({ ...trpc.system.status.queryOptions(), refetchInterval: 30_000 });
  const filtered = Boolean(q || state || configStatus || health);
  const resetTo = <T,>(set: (v: T) => void) => (v: T) => {
    set(v);
    setPage(1);
  };
  /** A health tile: show the agents in that state (other filters but search and config are replaced). */
  const showOnly = (next: { state: StateFilter; health: HealthFilter }) => {
    const same = state === next.state && health === next.health;
    setState(same ? '' : next.state);
    setHealth(same ? '' : next.health);
    setPage(1);
  };
  const noAgents = list.data?.total === 0 && !filtered && (overview.data?.counts.total ?? 0) === 0;

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
              setHealth('');
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
      <PageHeader
        title="Fleet"
        description="Agents enrolled in this control plane: health, connection, configuration and what they deliver."
        actions={noAgents ? null : <WindowPicker value={windowMinutes} onChange={setWindowMinutes} label="Window of the overview" />}
      />
      {noAgents ? null : overview.isPending ? (
        <Loading>Loading the fleet overview…</Loading>
      ) : overview.isError ? (
        <ErrorState title="Could not load the fleet overview" error={overview.error} onRetry={() => void overview.refetch()} />
      ) : (
        <>
          <HealthTiles counts={overview.data.counts} state={state} health={health} onShow={showOnly} />
          <FleetOverview overview={overview.data} />
        </>
      )}

      <section aria-labelledby="agents-heading" className="section">
        <h2 id="agents-heading">Agents</h2>
        {s ? (
          <ul className="summary-tiles" aria-label="Fleet summary" data-testid="fleet-summary">
            <SummaryTile label="Online" value={s.online} tone="ok" onClick={() => resetTo(setState)('online')} />
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
          <SelectField label="Health" value={health} onChange={(e) => resetTo(setHealth)(e.target.value as HealthFilter)}>
            <option value="">Any</option>
            <option value="healthy">Healthy</option>
            <option value="degraded">Degraded</option>
            <option value="failing">Failing</option>
          </SelectField>
          <SelectField label="Config" value={configStatus} onChange={(e) => resetTo(setConfigStatus)(e.target.value as ConfigFilter)}>
            <option value="">Any</option>
            <option value="applied">Applied</option>
            <option value="pending">Pending</option>
            <option value="failed">Failed</option>
          </SelectField>
        </div>
        {body}
      </section>

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

const HEALTH_TILES = [
  { key: 'healthy', label: 'Healthy', count: 'healthy', filter: { state: 'online', health: 'healthy' }, tone: 'ok' },
  { key: 'degraded', label: 'Degraded', count: 'degraded', filter: { state: 'online', health: 'degraded' }, tone: 'warn' },
  { key: 'failing', label: 'Failing', count: 'failing', filter: { state: 'online', health: 'failing' }, tone: 'bad' },
  { key: 'offline', label: 'Offline', count: 'offline', filter: { state: 'offline', health: '' }, tone: 'bad' },
  { key: 'never-connected', label: 'Never connected', count: 'neverConnected', filter: { state: 'never_connected', health: '' }, tone: undefined },
] as const;

/** Agents by health; a tile filters the list below to those agents (pressed again, clears it). */
function HealthTiles({ counts, state, health, onShow }: { counts: Overview['counts']; state: StateFilter; health: HealthFilter; onShow(f: { state: StateFilter; health: HealthFilter }): void }) {
  return (
    <ul className="summary-tiles health-tiles" aria-label="Fleet health">
      {HEALTH_TILES.map((t) => {
        const value = counts[t.count];
        const pressed = state === t.filter.state && health === t.filter.health;
        return (
          <li key={t.key}>
            <button
              type="button"
              className={`summary-tile${value && t.tone ? ` ${t.tone}` : t.key === 'healthy' ? ' ok' : ''}`}
              data-testid={`health-${t.key}`}
              aria-pressed={pressed}
              onClick={() => onShow(t.filter)}
              aria-label={`${plural(value, 'agent')} ${t.label.toLowerCase()}: ${pressed ? 'show all agents' : 'show them in the list'}`}
            >
              <span className="summary-value">{value}</span>
              <span className="summary-label">{t.label}</span>
            </button>
          </li>
        );
      })}
    </ul>
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
          <th scope="col">Health</th>
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
            <td className="health-cell">
              <HealthBadge agent={a} />
              {a.state === 'online' && a.findings.length ? (
                <ul className="plain-list small finding-titles" aria-label="Findings">
                  {a.findings.map((f, i) => (
                    <li key={i} className={f.severity === 'critical' ? 'error-text' : undefined}>
                      {f.title}
                    </li>
                  ))}
                </ul>
              ) : null}
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
