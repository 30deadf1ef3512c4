'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useState } from 'react';
import { roleAtLeast } from '@/lib/format';
import { useMe } from '@/lib/session';
import { useTRPC, type ApiOutputs } from '@/lib/trpc';
import { useAnnounce } from '@/lib/ui/announcer';
import { ConfirmDialog } from '@/lib/ui/dialog';
import { SearchField } from '@/lib/ui/fields';
import { paginate, Pagination } from '@/lib/ui/pagination';
import { RelativeTime } from '@/lib/ui/relative-time';
import { EmptyState, ErrorState, Loading, PageHeader } from '@/lib/ui/states';
import styles from './enrollment.module.css';
import { useServerUrl } from './install';
import { NewTokenDialog } from './new-token';

type Token = ApiOutputs['enrollment']['list'][number];

const PAGE_SIZE = 20;

const STATE: Record<Token['state'], { text: string; badge: string }> = {
  active: { text: 'Active', badge: 'badge ok' },
  expired: { text: 'Expired', badge: 'badge bad' },
  used_up: { text: 'Used up', badge: 'badge bad' },
  revoked: { text: 'Revoked', badge: 'badge' },
};

const PLATFORM_TEXT: Record<Token['platform'], string> = { any: 'Any', ec2: 'EC2', eks: 'EKS' };

const DESCRIPTION = 'Tokens that let agents on EC2 instances and EKS clusters join this control plane. Each is shown once, when it is created.';

/** Enrollment tokens: admins create, list and revoke them; everyone else reads how enrollment works. */
export function EnrollmentView() {
  const me = useMe();
  if (!roleAtLeast(me.role, 'admin')) return <ReadOnly role={me.role} />;
  return <TokensAdmin />;
}

function ReadOnly({ role }: { role: string }) {
  const server = useServerUrl();
  return (
    <>
      <PageHeader title="Enrollment" description={DESCRIPTION} />
      <p className="notice" role="note">
        Read-only: you are {role === 'editor' ? 'an' : 'a'} {role}. Only admins create, list and revoke enrollment tokens.
      </p>
      <EmptyState title="Ask an admin for an enrollment token.">
        <p>
          Then run <code>fleet-agent enroll --server {server} --token &lt;token&gt;</code> on the host, and <code>fleet-agent run --server {server}</code>. On
          EKS, put the token in a Kubernetes Secret and set <code>FLEET_ENROLLMENT_TOKEN</code> from it.
        </p>
        <p>
          Enrolled agents show up on the <Link href="/">Fleet</Link> page with the token&apos;s labels.
        </p>
      </EmptyState>
    </>
  );
}

function matches(t: Token, q: string): boolean {
  const haystack = [
    t.name,
    t.tokenPrefix,
    t.platform,
    STATE[t.state].text,
    t.createdByEmail ?? '',
    t.allowAgentLabels ? 'agents own labels' : 'token labels only',
    ...Object.entries(t.labels).map(([k, v]) => `${k}=${v}`),
  ];
  return haystack.some((s) => s.toLowerCase().includes(q));
}

function TokensAdmin() {
  const trpc = useTRPC();
  const server = useServerUrl();
  const list = useQuery(trpc.enrollment.list.queryOptions());
  const [search, setSearch] = useState('');
  const [page, setPage] = useState(1);
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<Token | null>(null);
  const q = search.trim().toLowerCase();

  const newButton = (
    <button type="button" className="button primary" onClick={() => setCreating(true)}>
      New token
    </button>
  );

  let body;
  if (list.isPending) body = <Loading>Loading enrollment tokens…</Loading>;
  else if (list.isError) body = <ErrorState title="Could not load the enrollment tokens" error={list.error} onRetry={() => void list.refetch()} />;
  else if (!list.data.length) {
    body = (
      <EmptyState title="No enrollment tokens yet." action={newButton}>
        <p>
          Create a token, then run <code>fleet-agent enroll --server {server} --token &lt;token&gt;</code> on the host (the dialog gives you the exact
          commands, and the Kubernetes Secret for EKS). The agent joins with the token&apos;s labels, and pipelines reach it by those labels.
        </p>
      </EmptyState>
    );
  } else {
    const filtered = q ? list.data.filter((t) => matches(t, q)) : list.data;
    if (!filtered.length) {
      body = (
        <EmptyState
          title={`No token matches “${search.trim()}”.`}
          action={
            <button type="button" className="button" onClick={() => setSearch('')}>
              Clear the search
            </button>
          }
        />
      );
    } else {
      const { rows, pages, page: current } = paginate(filtered, page, PAGE_SIZE);
      body = (
        <>
          <TokensTable tokens={rows} onRevoke={setRevoking} />
          <Pagination label="Enrollment tokens" page={current} pages={pages} total={filtered.length} onPage={setPage} />
        </>
      );
    }
  }

  return (
    <>
      <PageHeader title="Enrollment" description={DESCRIPTION} actions={newButton} />
      <div className="toolbar">
        <SearchField
          label="Search tokens"
          value={search}
          onChange={(v) => {
            setSearch(v);
            setPage(1);
          }}
        />
      </div>
      {body}
      {creating ? <NewTokenDialog onClose={() => setCreating(false)} /> : null}
      {revoking ? <RevokeDialog token={revoking} onClose={() => setRevoking(null)} /> : null}
    </>
  );
}

function TokensTable({ tokens, onRevoke }: { tokens: Token[]; onRevoke(t: Token): void }) {
  return (
    <table className="table" aria-label="Enrollment tokens">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Prefix</th>
          <th scope="col">State</th>
          <th scope="col">Platform</th>
          <th scope="col">Labels</th>
          <th scope="col">Uses</th>
          <th scope="col">Expires</th>
          <th scope="col">Created by</th>
          <th scope="col">Last used</th>
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {tokens.map((t) => {
          const labels = Object.entries(t.labels);
          const revoked = t.state === 'revoked';
          return (
            <tr key={t.id} data-testid={`token-${t.name}`} data-state={t.state} className={revoked ? styles.revoked : undefined}>
              <th scope="row" className={styles.nameCell}>
                {t.name}
                {t.awsBinding ? <div className="muted small">AWS identity required</div> : null}
              </th>
              <td className={styles.nowrap}>
                <code title="The token's first characters">{t.tokenPrefix}…</code>
              </td>
              <td>
                <span className={STATE[t.state].badge} data-testid="token-state">
                  {STATE[t.state].text}
                </span>
                {revoked ? (
                  <div className="small">
                    <RelativeTime value={t.revokedAt} />
                  </div>
                ) : null}
              </td>
              <td>{PLATFORM_TEXT[t.platform]}</td>
              <td>
                {labels.length ? (
                  <div className={styles.labels}>
                    {labels.map(([k, v]) => (
                      <span key={k} className={styles.label} title={`${k}=${v}`}>
                        {k}={v}
                      </span>
                    ))}
                  </div>
                ) : (
                  <span className="muted">none</span>
                )}
                <div className="muted small" data-testid="token-agent-labels" title={t.allowAgentLabels ? 'Agents may add labels of their own at enrollment (the token’s labels win)' : 'Agents that declare labels of their own are refused'}>
                  {t.allowAgentLabels ? '+ agents’ own labels' : 'token labels only'}
                </div>
              </td>
              <td className={styles.nowrap} data-testid="token-uses" title={t.maxUses === null ? 'Unlimited uses until it expires' : undefined}>
                {t.useCount} / {t.maxUses ?? '∞'}
              </td>
              <td className={styles.nowrap}>
                <RelativeTime value={t.expiresAt} />
              </td>
              <td>
                {t.createdByEmail ? <Email address={t.createdByEmail} /> : <span className="muted">a removed user</span>}
                <div className="muted small">
                  <RelativeTime value={t.createdAt} />
                </div>
              </td>
              <td className={styles.nowrap}>
                <RelativeTime value={t.lastUsedAt} none="never" />
              </td>
              <td className="actions-cell">
                {revoked ? null : (
                  <button type="button" className="button small danger-outline" onClick={() => onRevoke(t)} aria-label={`Revoke ${t.name}`}>
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** An e-mail address that may wrap after its `@` (and nowhere else). */
function Email({ address }: { address: string }) {
  const at = address.lastIndexOf('@');
  if (at < 0) return <>{address}</>;
  return (
    <>
      {address.slice(0, at + 1)}
      <wbr />
      {address.slice(at + 1)}
    </>
  );
}

function RevokeDialog({ token, onClose }: { token: Token; onClose(): void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const announce = useAnnounce();
  const revoke = useMutation(
    trpc.enrollment.revoke.mutationOptions({
      onSuccess: async () => {
        await queryClient.invalidateQueries({ queryKey: trpc.enrollment.list.pathKey() });
        announce(`Revoked enrollment token ${token.name}`);
        onClose();
      },
    }),
  );
  return (
    <ConfirmDialog
      open
      title={`Revoke ${token.name}?`}
      confirmLabel="Revoke token"
      danger
      pending={revoke.isPending}
      error={revoke.error}
      onClose={onClose}
      onConfirm={() => revoke.mutate({ id: token.id })}
    >
      <p>
        No agent can enroll with <code>{token.tokenPrefix}…</code> any more.{' '}
        {token.useCount === 0
          ? 'No agent has enrolled with it yet.'
          : `The ${token.useCount === 1 ? 'agent' : `${token.useCount} agents`} already enrolled with it stay enrolled and keep running.`}{' '}
        This cannot be undone.
      </p>
    </ConfirmDialog>
  );
}
