'use client';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { plural } from '@/lib/format';
import { useTRPC } from '@/lib/trpc';
import { ErrorState, Loading } from '@/lib/ui/states';
import { WindowPicker } from '@/lib/ui/window-picker';
import { formatPercent, formatRate, windowText, type WindowMinutes } from '@/lib/units';
import { formatCount } from '../../agents/parts';
import { DeliveryChart } from '../../delivery-chart';

/**
 * What each version of the pipeline delivers over a window: agents running it, samples/s, drop
 * rate; the published version's rate chart; and an alert when the published version drops
 * clearly more than the agents did before it rolled out.
 */
export function DeliverySection({ pipelineId }: { pipelineId: string }) {
  const trpc = useTRPC();
  const [windowMinutes, setWindowMinutes] = useState<WindowMinutes>(60);
  const stats = useQuery({ ...trpc.fleet.pipeline.queryOptions({ id: pipelineId, windowMinutes }), placeholderData: keepPreviousData, refetchInterval: 10_000 });
  const within = windowText(windowMinutes);
  let body;
  if (stats.isPending) body = <Loading>Loading the delivery…</Loading>;
  else if (stats.isError) body = <ErrorState title="Could not load the delivery" error={stats.error} onRetry={() => void stats.refetch()} />;
  else {
    const s = stats.data;
    body = (
      <>
        {s.regression ? (
          <div role="alert" className="problem regression" data-testid="regression">
            <p>
              <strong>v{s.regression.version} drops more samples than before it rolled out.</strong> {s.regression.message}
            </p>
            <p className="small">
              Look at the findings of the agents running it (drop reasons, destination errors), compare it with the previous version below, or roll back.
            </p>
          </div>
        ) : null}
        {s.perVersion.length ? (
          <table className="table compact" aria-label="Delivery per version">
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col" className="num">Agents</th>
                <th scope="col" className="num">
                  Samples/s
                </th>
                <th scope="col" className="num">Drop rate</th>
                <th scope="col" className="num">Sent</th>
                <th scope="col" className="num">Dropped</th>
                <th scope="col" className="num" title="Removed on purpose by write_relabel_configs: not sent, and not lost">
                  Filtered
                </th>
              </tr>
            </thead>
            <tbody>
              {s.perVersion.map((v) => (
                <tr key={v.version} data-testid={`delivery-v${v.version}`}>
                  <th scope="row">
                    v{v.version} {v.version === s.publishedVersion ? <span className="badge ok">Published</span> : null}
                  </th>
                  <td className="num">{v.agents}</td>
                  <td className="num">{formatRate(v.sentPerSecond)}</td>
                  <td className={`num${v.dropRate > 0 ? ' bad-text' : ''}`}>{formatPercent(v.dropRate)}</td>
                  <td className="num">{formatCount(v.sent)}</td>
                  <td className="num">{formatCount(v.dropped)}</td>
                  <td className="num muted">{formatCount(v.filtered)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p className="panel-empty">No agent runs this pipeline and nothing was delivered in {within}.</p>
        )}
        {!s.history.rollups ? (
          <p className="muted small" data-testid="pipeline-no-data">
            <strong>No data yet:</strong> no heartbeats have been rolled up in {within} (STATS_INTERVAL, a minute by default), so zeros here mean unknown, not
            nothing dropped.
          </p>
        ) : null}
        <p className="muted small">
          Samples/s are averaged over {within}; a version running for part of it shows a lower rate. The drop rate is over what was meant to be sent (sent +
          dropped); samples filtered on purpose by write relabelling are neither.
        </p>
        {s.publishedVersion !== null ? (
          <>
            <h3>
              v{s.publishedVersion}: samples per second
              {s.perVersion.find((v) => v.version === s.publishedVersion) ? `, ${plural(s.perVersion.find((v) => v.version === s.publishedVersion)!.agents, 'agent')}` : ''}
            </h3>
            <DeliveryChart
              points={s.series.points}
              stepSeconds={s.series.step}
              windowMinutes={windowMinutes}
              scraped={false}
              height={180}
              label={`Samples per second of v${s.publishedVersion}, ${within}: sent, filtered by write relabelling and dropped (stacked)`}
              testId="pipeline-chart"
              empty={s.history.rollups ? `No agent delivered samples of v${s.publishedVersion} in ${within}.` : 'No data yet: the chart starts with the first roll-up of heartbeats.'}
            />
          </>
        ) : null}
      </>
    );
  }
  return (
    <section aria-labelledby="delivery-heading" className="section card" data-testid="pipeline-delivery">
      <div className="card-head">
        <h2 id="delivery-heading">Delivery</h2>
        <WindowPicker value={windowMinutes} onChange={setWindowMinutes} label="Window of the delivery" />
      </div>
      {body}
    </section>
  );
}
