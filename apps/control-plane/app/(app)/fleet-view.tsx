'use client';
import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { roleAtLeast } from '@/lib/format';
import { useMe } from '@/lib/session';
import { useTRPC } from '@/lib/trpc';
import { EmptyState, Loading, PageHeader } from '@/lib/ui/states';

/** Fleet: agents (none yet: enrollment comes in the next release) and the control plane's own health. */
export function FleetView() {
  const trpc = useTRPC();
  const me = useMe();
  const status = useQuery({ ...trpc.system.status.queryOptions(), refetchInterval: 10_000 });

  return (
    <>
      <PageHeader title="Fleet" description="Agents enrolled in this control plane and their health." />
      <section aria-labelledby="agents-heading" className="section">
        <h2 id="agents-heading">Agents</h2>
        <EmptyState title="No agents enrolled yet.">
          <p>Enrollment tokens arrive in the next release of this control plane.</p>
          <p>
            Meanwhile, {roleAtLeast(me.role, 'admin') ? <Link href="/accounts">register the AWS accounts</Link> : 'see the AWS accounts'} your agents write
            into and <Link href="/pipelines">prepare pipelines</Link> for them.
          </p>
        </EmptyState>
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
