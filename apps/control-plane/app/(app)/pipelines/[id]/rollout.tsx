'use client';
import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { plural } from '@/lib/format';
import { useTRPC } from '@/lib/trpc';
import { RelativeTime } from '@/lib/ui/relative-time';
import { ErrorState, Loading } from '@/lib/ui/states';

const STATES = [
  ['applied', 'Applied'],
  ['pending', 'Pending'],
  ['failed', 'Failed'],
  ['offline', 'Offline'],
] as const;

/**
 * Rollout of the published version: how many selected agents run it, are getting it, failed (with
 * their errors) or are offline; which agents still run older versions; per agent desired vs
 * applied and since when. Refreshes every few seconds while open.
 */
export function RolloutSection({ pipelineId }: { pipelineId: string }) {
  const trpc = useTRPC();
  const rollout = useQuery({ ...trpc.pipelines.rollout.queryOptions({ id: pipelineId }), refetchInterval: 3_000 });
  let body;
  if (rollout.isPending) body = <Loading>Loading the rollout…</Loading>;
  else if (rollout.isError) body = <ErrorState title="Could not load the rollout" error={rollout.error} onRetry={() => void rollout.refetch()} />;
  else {
    const r = rollout.data;
    const blocked = r.buildProblem ? (
      <div role="alert" className="problem" data-testid="rollout-build-problem">
        <p>
          <strong>v{r.publishedVersion} cannot be built into agent configs:</strong> <span className="error-text">{r.buildProblem}</span>
        </p>
        <p>
          Nothing was sent: the agents it selects keep running their last good config and keep their unsent samples. Fix the pipeline (publish a corrected version) or
          restore what it references, e.g. the AWS account.
          {r.blocked.length ? ` Waiting: ${r.blocked.map((a) => a.name).join(', ')}${r.blocked.length >= 20 ? ', …' : ''}.` : ''}
        </p>
      </div>
    ) : null;
    if (blocked && r.agents.length === 0) body = blocked;
    else if (r.publishedVersion === null && r.agents.length === 0) body = <p className="muted">Not published: no agent runs this pipeline. Publish a version to roll it out.</p>;
    else if (r.selected === 0 && r.agents.length === 0) {
      body = (
        <p className="muted">
          v{r.publishedVersion} is published, but no enrolled agent matches its selector. Check the selector against the labels on the <Link href="/">Fleet</Link>{' '}
          page, or enroll agents with matching labels.
        </p>
      );
    } else {
      const total = Math.max(1, r.selected);
      const failed = r.agents.filter((a) => a.state === 'failed');
      body = (
        <>
          {blocked}
          <p>
            <strong>v{r.publishedVersion}</strong> selects {plural(r.selected, 'agent')}
            {r.publishedAt ? (
              <>
                , published <RelativeTime value={r.publishedAt} />
              </>
            ) : null}
            .
          </p>
          <div className="bar" role="img" aria-label={STATES.map(([k, label]) => `${r.summary[k]} ${label.toLowerCase()}`).join(', ')}>
            {STATES.map(([k]) => (r.summary[k] ? <span key={k} className={k} style={{ width: `${(100 * r.summary[k]) / total}%` }} /> : null))}
          </div>
          <ul className="summary-tiles" data-testid="rollout-summary" aria-label="Rollout summary">
            {STATES.map(([k, label]) => (
              <li key={k}>
                <span className={`summary-tile${k === 'failed' && r.summary[k] ? ' bad' : k === 'applied' ? ' ok' : ''}`} data-testid={`rollout-${k}`}>
                  <span className="summary-value">{r.summary[k]}</span>
                  <span className="summary-label">{label}</span>
                </span>
              </li>
            ))}
          </ul>
          {failed.length ? (
            <div role="alert" className="problem">
              <p>
                <strong>{plural(failed.length, 'agent')} could not apply v{r.publishedVersion}</strong> and keep running their previous config:
              </p>
              <ul>
                {failed.slice(0, 5).map((a) => (
                  <li key={a.id}>
                    <Link href={`/agents/${a.id}`}>{a.name}</Link>: <span className="error-text">{a.configError}</span>
                  </li>
                ))}
              </ul>
            </div>
          ) : null}
          {r.running.some((x) => x.version !== r.publishedVersion) ? (
            <p className="muted">
              Still running older versions:{' '}
              {r.running
                .filter((x) => x.version !== r.publishedVersion)
                .map((x) => `v${x.version} on ${plural(x.agents, 'agent')}`)
                .join(', ')}
              .
            </p>
          ) : null}
          <details>
            <summary>Agents ({r.agents.length})</summary>
            <table className="table" aria-label="Agents in the rollout">
              <thead>
                <tr>
                  <th scope="col">Agent</th>
                  <th scope="col">State</th>
                  <th scope="col">Desired</th>
                  <th scope="col">Applied</th>
                  <th scope="col">Since</th>
                </tr>
              </thead>
              <tbody>
                {r.agents.map((a) => (
                  <tr key={a.id}>
                    <th scope="row">
                      <Link href={`/agents/${a.id}`}>{a.name}</Link>
                    </th>
                    <td>
                      <span className={`badge${a.state === 'applied' ? ' ok' : a.state === 'failed' ? ' bad' : ''}`}>{a.state}</span>
                    </td>
                    <td>{a.desiredVersion ? `v${a.desiredVersion}` : <span className="muted">not selected</span>}</td>
                    <td>{a.appliedVersion ? `v${a.appliedVersion}` : <span className="muted">—</span>}</td>
                    <td>
                      <RelativeTime value={a.state === 'offline' ? a.offlineSince : a.configStatusAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
        </>
      );
    }
  }
  return (
    <section aria-labelledby="rollout-heading" className="section card" data-testid="rollout">
      <h2 id="rollout-heading">Rollout</h2>
      {body}
    </section>
  );
}
