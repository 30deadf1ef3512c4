'use client';
import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { usePathname, useSearchParams } from 'next/navigation';
import { Fragment, useState } from 'react';
import { formatTime, isoTime } from '@/lib/format';
import { useDebounced } from '@/lib/hooks';
import { useTRPC, useTRPCClient, type ApiOutputs } from '@/lib/trpc';
import { SearchField, SelectField } from '@/lib/ui/fields';
import { EmptyState, ErrorMessage, ErrorState, Loading, PageHeader } from '@/lib/ui/states';

type Entry = ApiOutputs['audit']['list']['entries'][number];

const PAGE = 50;
const KNOWN_TARGET_TYPES = ['aws_account', 'pipeline', 'policy_template', 'user'];

function json(value: unknown): string {
  return value === null || value === undefined ? '—' : JSON.stringify(value, null, 2);
}

/** The audit log: who changed what and when, newest first, with before/after snapshots. */
export function AuditView() {
  const trpc = useTRPC();
  const client = useTRPCClient();
  // Filters live in the address too (`/audit?action=pipeline.publish&search=…`): links can point at a filtered log.
  const params = useSearchParams();
  const pathname = usePathname();
  const [search, setSearchState] = useState(() => params.get('search') ?? '');
  const [action, setActionState] = useState(() => params.get('action') ?? '');
  const [targetType, setTargetTypeState] = useState(() => params.get('targetType') ?? '');
  const syncUrl = (next: { search?: string; action?: string; targetType?: string }) => {
    const merged = { search, action, targetType, ...next };
    const qs = new URLSearchParams(Object.entries(merged).filter(([, v]) => v)).toString();
    window.history.replaceState(null, '', qs ? `${pathname}?${qs}` : pathname);
  };
  const setSearch = (v: string) => {
    setSearchState(v);
    syncUrl({ search: v });
  };
  const setAction = (v: string) => {
    setActionState(v);
    syncUrl({ action: v });
  };
  const setTargetType = (v: string) => {
    setTargetTypeState(v);
    syncUrl({ targetType: v });
  };
  const [open, setOpen] = useState<ReadonlySet<number>>(new Set());
  const q = useDebounced(search.trim(), 300);
  const actions = useQuery(trpc.audit.actions.queryOptions());
  const filter = { search: q || undefined, action: action || undefined, targetType: targetType || undefined };
  const log = useInfiniteQuery({
    queryKey: [...trpc.audit.list.pathKey(), filter],
    initialPageParam: undefined as number | undefined,
    queryFn: ({ pageParam }) => client.audit.list.query({ ...filter, beforeId: pageParam, limit: PAGE }),
    getNextPageParam: (last) => last.nextBeforeId ?? undefined,
  });
  const targetTypes = [...new Set([...KNOWN_TARGET_TYPES, ...(actions.data ?? []).map((a) => a.split('.')[0]!)])].sort();
  const entries: Entry[] = log.data?.pages.flatMap((p) => p.entries) ?? [];
  const filtered = Boolean(q || action || targetType);
  const toggle = (id: number) =>
    setOpen((prev) => {
      const next = new Set(prev);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  let body;
  if (log.isPending) body = <Loading>Loading the audit log…</Loading>;
  else if (log.isError && !entries.length) body = <ErrorState title="Could not load the audit log" error={log.error} onRetry={() => void log.refetch()} />;
  else if (!entries.length) {
    body = filtered ? (
      <EmptyState
        title="No entries match these filters."
        action={
          <button
            type="button"
            className="button"
            onClick={() => {
              setSearchState('');
              setActionState('');
              setTargetTypeState('');
              window.history.replaceState(null, '', pathname);
            }}
          >
            Clear the filters
          </button>
        }
      />
    ) : (
      <EmptyState title="Nothing recorded yet.">
        <p>Every change to accounts, pipelines, policies and users appears here, with who made it and from where.</p>
      </EmptyState>
    );
  } else {
    body = (
      <>
        <table className="table audit-table" aria-label="Audit log">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Actor</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">
                <span className="visually-hidden">Details</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => {
              const expanded = open.has(e.id);
              return (
                <Fragment key={e.id}>
                  <tr data-testid="audit-row" className={expanded ? 'expanded' : undefined}>
                    <td>
                      <time dateTime={isoTime(e.at)}>{formatTime(e.at, true)}</time>
                    </td>
                    <td>
                      {e.actorId ?? e.actorType}
                      {e.actorType !== 'user' ? <span className="muted small"> ({e.actorType})</span> : null}
                    </td>
                    <td>
                      <code className="action">{e.action}</code>
                    </td>
                    <td>
                      <span className="muted small">{e.targetType}</span> {e.targetId ?? ''}
                    </td>
                    <td className="actions-cell">
                      <button
                        type="button"
                        className="button small"
                        aria-expanded={expanded}
                        aria-controls={`audit-${e.id}`}
                        aria-label={`${expanded ? 'Hide' : 'Show'} details of ${e.action} ${e.targetId ?? ''}`.trim()}
                        onClick={() => toggle(e.id)}
                      >
                        {expanded ? 'Hide' : 'Details'}
                      </button>
                    </td>
                  </tr>
                  {expanded ? (
                    <tr id={`audit-${e.id}`} className="detail-row">
                      <td colSpan={5}>
                        <div className="before-after">
                          <div>
                            <h3>Before</h3>
                            <pre tabIndex={0} aria-label="Before">
                              {json(e.before)}
                            </pre>
                          </div>
                          <div>
                            <h3>After</h3>
                            <pre tabIndex={0} aria-label="After">
                              {json(e.after)}
                            </pre>
                          </div>
                        </div>
                        <p className="muted small">
                          Entry #{e.id} · from {e.sourceIp ?? 'unknown address'} · {isoTime(e.at)}
                        </p>
                      </td>
                    </tr>
                  ) : null}
                </Fragment>
              );
            })}
          </tbody>
        </table>
        <div className="load-more">
          {log.hasNextPage ? (
            <button type="button" className="button" disabled={log.isFetchingNextPage} onClick={() => void log.fetchNextPage()}>
              {log.isFetchingNextPage ? 'Loading…' : 'Load more'}
            </button>
          ) : (
            <p className="muted">{entries.length > PAGE ? 'End of the log.' : `${entries.length} ${entries.length === 1 ? 'entry' : 'entries'}.`}</p>
          )}
          {log.isFetchNextPageError ? <ErrorMessage error={log.error} /> : null}
        </div>
      </>
    );
  }

  return (
    <>
      <PageHeader title="Audit" description="Every change, newest first: who, what, when, and the before/after of it." />
      <form className="toolbar filters" role="search" aria-label="Filter the audit log" onSubmit={(e) => e.preventDefault()}>
        <SearchField label="Search actor, action or target" value={search} onChange={setSearch} />
        <SelectField label="Action" className="inline" value={action} onChange={(e) => setAction(e.target.value)}>
          <option value="">Any action</option>
          {(actions.data ?? []).map((a) => (
            <option key={a} value={a}>
              {a}
            </option>
          ))}
        </SelectField>
        <SelectField label="Target type" className="inline" value={targetType} onChange={(e) => setTargetType(e.target.value)}>
          <option value="">Any target</option>
          {targetTypes.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </SelectField>
        {log.isFetching && !log.isPending && !log.isFetchingNextPage ? <span className="muted small">Refreshing…</span> : null}
      </form>
      {body}
    </>
  );
}
