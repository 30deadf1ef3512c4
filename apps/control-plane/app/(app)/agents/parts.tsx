'use client';
import { RelativeTime } from '@/lib/ui/relative-time';

/** Shared bits of the fleet list, the agent page and the pipeline rollout. */

const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });

/** `12.3K`, `—` for unknown. */
export function formatCount(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : compact.format(n);
}

/** Online / offline / never connected. */
export function StateBadge({ agent }: { agent: { state: 'online' | 'offline' | 'never_connected'; offlineSince?: Date | string | null } }) {
  if (agent.state === 'online') return <span className="badge ok">Online</span>;
  if (agent.state === 'offline') return <span className="badge bad">Offline</span>;
  return <span className="badge">Never connected</span>;
}

const CONFIG_TEXT: Record<string, string> = { none: 'No config yet', pending: 'Pending', applying: 'Applying', applied: 'Applied', failed: 'Failed' };

/** Config status; a failure shows its error (the agent keeps running its previous config). */
export function ConfigStatusBadge({ status, error, since }: { status: string; error?: string | null; since?: Date | string | null }) {
  const tone = status === 'applied' ? ' ok' : status === 'failed' ? ' bad' : '';
  return (
    <span className="config-status">
      <span className={`badge${tone}`} data-testid="config-status">
        {CONFIG_TEXT[status] ?? status}
      </span>
      {since ? (
        <span className="muted small">
          {' '}
          <RelativeTime value={since} />
        </span>
      ) : null}
      {status === 'failed' && error ? (
        <span className="error-text small" data-testid="config-error">
          {error}
        </span>
      ) : null}
    </span>
  );
}

/** `env=prod` chips. */
export function LabelChips({ labels }: { labels: Record<string, string> }) {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  if (!entries.length) return <span className="muted">none</span>;
  return (
    <ul className="chips" aria-label="Labels">
      {entries.map(([k, v]) => (
        <li key={k} className="chip">
          <code>
            {k}={v}
          </code>
        </li>
      ))}
    </ul>
  );
}

const HEALTH_TEXT: Record<string, string> = { healthy: 'Healthy', degraded: 'Degraded', failing: 'Failing' };

/**
 * Health of a connected agent (judged from its latest heartbeat); offline and never-connected
 * agents have none, their state badge says it.
 */
export function HealthBadge({ agent }: { agent: { state: string; health: string } }) {
  if (agent.state !== 'online') return <span className="muted">—</span>;
  const tone = agent.health === 'healthy' ? ' ok' : agent.health === 'failing' ? ' bad' : ' warn';
  return (
    <span className={`badge${tone}`} data-testid="health">
      {HEALTH_TEXT[agent.health] ?? agent.health}
    </span>
  );
}
