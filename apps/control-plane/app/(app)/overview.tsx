'use client';
import Link from 'next/link';
import type { ReactNode } from 'react';
import { plural } from '@/lib/format';
import type { ApiOutputs } from '@/lib/trpc';
import { RelativeTime } from '@/lib/ui/relative-time';
import { formatClockOffset, formatPercent, windowText } from '@/lib/units';
import { formatCount } from './agents/parts';
import { FindingList, type FindingView } from './agents/findings';
import { DeliveryChart } from './delivery-chart';

export type Overview = ApiOutputs['fleet']['overview'];

/** The overview's findings in the shape of the shared finding component. */
export function overviewFindings(o: Overview): FindingView[] {
  return o.findings.map((g) => ({
    kind: g.kind,
    severity: g.severity,
    title: g.title,
    destination: g.finding.destination ?? null,
    url: g.url,
    facts: g.finding.facts,
    remedy: g.remedy,
    agents: g.agents,
    exampleAgent: g.exampleAgent,
  }));
}

function Panel({ id, title, note, children, className }: { id: string; title: string; note?: ReactNode; children: ReactNode; className?: string }) {
  return (
    <section className={`card panel${className ? ` ${className}` : ''}`} aria-labelledby={`${id}-heading`} data-testid={id}>
      <div className="card-head">
        <h2 id={`${id}-heading`}>{title}</h2>
        {note ? <span className="muted small">{note}</span> : null}
      </div>
      {children}
    </section>
  );
}

/** An agent's name (hosts often share one) with the start of its id. */
function AgentLink({ agent }: { agent: { id: string; name: string } }) {
  return (
    <>
      <Link href={`/agents/${agent.id}`}>{agent.name}</Link> <code className="muted small">{agent.id.slice(0, 8)}</code>
    </>
  );
}

function Empty({ children }: { children: ReactNode }) {
  return <p className="panel-empty">{children}</p>;
}

/**
 * The fleet at a glance, for the selected window: delivery (chart and totals), findings with
 * remedies, the agents and destinations that drop or fail most, credentials and clocks at risk,
 * and the rollout of the latest published versions.
 */
export function FleetOverview({ overview: o }: { overview: Overview }) {
  const findings = overviewFindings(o);
  const critical = findings.filter((f) => f.severity === 'critical').length;
  const within = windowText(o.windowMinutes);
  // Per-agent history is kept 24 hours: the "top" lists never look further back.
  const longWindow = o.windowMinutes > 1440;
  const recent = longWindow ? 'the last 24 hours' : within;
  const recentNote = longWindow ? 'the last 24 hours (per-agent history is kept a day)' : within;
  const reasons = Object.entries(o.totals.droppedByReason).sort(([, a], [, b]) => b - a);
  // Drop rates are over what was meant to be sent: samples filtered on purpose are neither.
  const handled = o.totals.sent + o.totals.dropped;
  const connected = o.counts.healthy + o.counts.degraded + o.counts.failing;
  // Before the first roll-up (or with nothing recorded in the window) an empty list proves nothing.
  const noRollups = !o.history.rollups;
  const noStats = !o.history.stats;
  const noDataYet = (
    <>
      <strong>No data yet.</strong>{' '}
      {connected
        ? 'Heartbeats are rolled up periodically (STATS_INTERVAL, a minute by default): the first numbers appear after the first roll-up of a complete minute.'
        : 'Numbers appear once agents connect, send heartbeats and those are rolled up (STATS_INTERVAL, a minute by default).'}
    </>
  );

  return (
    <div className="overview">
      <Panel id="delivery" title="Delivery" note={`samples per second, ${within}`}>
        <p className="totals" data-testid="fleet-totals">
          <span>
            <strong>{formatCount(o.totals.scraped)}</strong> scraped
          </span>
          <span>
            <strong>{formatCount(o.totals.sent)}</strong> sent
          </span>
          <span className={o.totals.dropped ? 'bad-text' : undefined}>
            <strong>{formatCount(o.totals.dropped)}</strong> dropped{handled ? ` (${formatPercent(o.totals.dropped / handled)})` : ''}
          </span>
          {o.totals.filtered ? (
            <span className="muted" data-testid="fleet-filtered" title="Removed on purpose by write_relabel_configs: not sent, and not lost">
              <strong>{formatCount(o.totals.filtered)}</strong> filtered by write relabelling
            </span>
          ) : null}
          {reasons.length ? (
            <span className="muted small">
              {reasons.map(([r, n]) => (
                <span key={r} className="reason">
                  <code>{r}</code> {formatCount(n)}
                </span>
              ))}
            </span>
          ) : null}
        </p>
        <DeliveryChart
          points={o.series.points}
          stepSeconds={o.series.step}
          windowMinutes={o.windowMinutes}
          label={`Fleet-wide samples per second, ${within}: sent, filtered by write relabelling and dropped by reason (stacked), and scraped`}
          testId="fleet-chart"
          empty={
            noRollups ? (
              <span data-testid="no-data-yet">{noDataYet}</span>
            ) : (
              <>
                Nothing delivered in {within}. Rates appear once connected agents run a published <Link href="/pipelines">pipeline</Link>.
              </>
            )
          }
        />
      </Panel>

      <Panel
        id="findings"
        title="Findings"
        note={findings.length ? `${plural(findings.length, 'problem')}${critical ? `, ${critical} critical` : ''} on connected agents` : undefined}
      >
        <FindingList
          findings={findings}
          empty={
            connected ? (
              <Empty>
                <strong>No findings: every connected agent delivers.</strong> When an agent cannot deliver, its credentials lapse, its clock drifts or a config fails
                to apply, the problem shows here with what to do about it.
              </Empty>
            ) : (
              <Empty>
                <strong>No agent is connected</strong>, so nothing is known yet: findings come from the heartbeats of connected agents.
              </Empty>
            )
          }
        />
      </Panel>

      <div className="panel-grid">
        <Panel id="top-drops" title="Agents dropping most" note={recentNote}>
          {o.topAgentsByDrops.length ? (
            <table className="table compact" aria-label="Agents dropping most">
              <thead>
                <tr>
                  <th scope="col">Agent</th>
                  <th scope="col" className="num">Dropped</th>
                  <th scope="col" className="num">Sent</th>
                  <th scope="col" className="num">Drop rate</th>
                </tr>
              </thead>
              <tbody>
                {o.topAgentsByDrops.map((a) => (
                  <tr key={a.id}>
                    <th scope="row">
                      <AgentLink agent={a} />
                    </th>
                    <td className="num bad-text">{formatCount(a.dropped)}</td>
                    <td className="num">{formatCount(a.sent)}</td>
                    <td className="num">{formatPercent(a.dropped / Math.max(1, a.dropped + a.sent))}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : noStats ? (
            <Empty>{noDataYet}</Empty>
          ) : (
            <Empty>No agent dropped samples in {recent}.</Empty>
          )}
        </Panel>

        <Panel id="top-errors" title="Agents with most errors" note={within}>
          {o.topAgentsByErrors.length ? (
            <table className="table compact" aria-label="Agents with most errors">
              <thead>
                <tr>
                  <th scope="col">Agent</th>
                  <th scope="col" className="num">Errors</th>
                  <th scope="col">Latest</th>
                </tr>
              </thead>
              <tbody>
                {o.topAgentsByErrors.map((a) => (
                  <tr key={a.id}>
                    <th scope="row">
                      <AgentLink agent={a} />
                    </th>
                    <td className="num">{formatCount(a.errors)}</td>
                    <td className="small">
                      <div className="clamp-2" title={a.last_message}>
                        <code>{a.last_class}</code> <span className="error-text">{a.last_message}</span>
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : noStats ? (
            <Empty>{noDataYet}</Empty>
          ) : (
            <Empty>No agent reported a delivery error in {within}.</Empty>
          )}
        </Panel>

        <Panel id="top-destinations" title="Destinations dropping or failing" note={recentNote}>
          {o.topDestinations.length ? (
            <div className="table-scroll">
              <table className="table compact" aria-label="Destinations dropping or failing">
                <thead>
                  <tr>
                    <th scope="col">Destination</th>
                    <th scope="col" className="num">Agents</th>
                    <th scope="col" className="num">Sent</th>
                    <th scope="col" className="num">Dropped</th>
                    <th scope="col" className="num">
                      Failed<span className="visually-hidden"> sends</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {o.topDestinations.map((d) => (
                    <tr key={d.url}>
                      <th scope="row" className="url-cell">
                        <code>{d.url}</code>
                      </th>
                      <td className="num">{d.agents}</td>
                      <td className="num">{formatCount(d.sent)}</td>
                      <td className={`num${d.dropped ? ' bad-text' : ''}`}>{formatCount(d.dropped)}</td>
                      <td className={`num${d.failed ? ' bad-text' : ''}`}>{formatCount(d.failed)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : noRollups ? (
            <Empty>{noDataYet}</Empty>
          ) : (
            <Empty>Every destination accepted what it was sent.</Empty>
          )}
        </Panel>

        <Panel id="credentials" title="Credentials at risk" note="now">
          {o.credentials.length ? (
            <ul className="plain-list risk-list" aria-label="Credentials at risk">
              {o.credentials.map((c, i) => (
                <li key={`${c.id}-${c.destination ?? ''}-${i}`}>
                  <span className={`badge ${c.severity === 'critical' ? 'bad' : 'warn'}`}>{c.kind === 'credentials_refresh' ? 'Refresh fails' : 'Expiring'}</span>{' '}
                  <AgentLink agent={c} />
                  {c.destination ? <span className="muted"> → {c.destination}</span> : null}
                  <div className="small">
                    {c.kind === 'credentials_refresh' ? (
                      <span className="error-text">{String(c.facts.error ?? '')}</span>
                    ) : (
                      <>
                        expires <RelativeTime value={String(c.facts.expiresAt ?? '')} /> without a refresh
                      </>
                    )}
                    {c.facts.source ? <span className="muted"> · from {String(c.facts.source)}</span> : null}
                  </div>
                </li>
              ))}
            </ul>
          ) : (
            <Empty>No credentials expiring or failing to refresh.</Empty>
          )}
        </Panel>

        <Panel id="clock-skew" title="Clock skew" note="now">
          {o.clockSkew.length ? (
            <ul className="plain-list risk-list" aria-label="Agents with clock skew">
              {o.clockSkew.map((c) => (
                <li key={c.id}>
                  <span className={`badge ${Math.abs(c.offsetMs) >= 240_000 ? 'bad' : 'warn'}`}>{formatClockOffset(c.offsetMs)}</span> <AgentLink agent={c} />
                </li>
              ))}
            </ul>
          ) : (
            <Empty>Every connected agent&apos;s clock is within a minute of the control plane&apos;s.</Empty>
          )}
        </Panel>

        <Panel id="rollouts" title="Latest rollouts">
          {o.rollouts.length ? (
            <ul className="plain-list rollout-list" aria-label="Latest rollouts">
              {o.rollouts.map((r) => {
                const total = Math.max(1, r.selected);
                return (
                  <li key={r.pipelineId} data-testid={`overview-rollout-${r.pipelineId}`}>
                    <div>
                      <Link href={`/pipelines/${r.pipelineId}`} className="strong-link">
                        {r.name}
                      </Link>{' '}
                      {r.version !== null ? `v${r.version}` : ''}{' '}
                      {r.publishedAt ? (
                        <span className="muted small">
                          published <RelativeTime value={r.publishedAt} />
                        </span>
                      ) : null}
                    </div>
                    <div className="bar" role="img" aria-label={`${r.summary.applied} applied, ${r.summary.pending} pending, ${r.summary.failed} failed, ${r.summary.offline} offline of ${r.selected} selected`}>
                      {(['applied', 'pending', 'failed', 'offline'] as const).map((k) => (r.summary[k] ? <span key={k} className={k} style={{ width: `${(100 * r.summary[k]) / total}%` }} /> : null))}
                    </div>
                    <div className="small">
                      {r.selected === 0 ? (
                        <span className="muted">No agent matches its selector.</span>
                      ) : (
                        <>
                          {r.summary.applied} of {r.selected} applied
                          {r.summary.pending ? `, ${r.summary.pending} pending` : ''}
                          {r.summary.failed ? <span className="bad-text">, {r.summary.failed} failed</span> : ''}
                          {r.summary.offline ? `, ${r.summary.offline} offline` : ''}
                        </>
                      )}
                    </div>
                  </li>
                );
              })}
            </ul>
          ) : (
            <Empty>
              Nothing published yet. <Link href="/pipelines">Publish a pipeline</Link> to roll it out to the agents its selector matches.
            </Empty>
          )}
        </Panel>
      </div>
    </div>
  );
}
