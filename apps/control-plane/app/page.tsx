'use client';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '@/lib/trpc';

/** Home: what this control plane is running on and whether its database is ready. */
export default function HomePage() {
  const trpc = useTRPC();
  const status = useQuery({ ...trpc.system.status.queryOptions(), refetchInterval: 10_000 });

  return (
    <section aria-labelledby="status-heading" className="card">
      <h1 id="status-heading">System status</h1>
      {status.isPending ? (
        <p role="status">Checking the database…</p>
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
  );
}
