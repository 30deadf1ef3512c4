'use client';
import Link from 'next/link';
import type { ReactNode } from 'react';
import { plural } from '@/lib/format';
import { CodeBlock } from '@/lib/ui/copy';
import { RelativeTime } from '@/lib/ui/relative-time';

/** What to do about a finding (from the API's remedies). */
export interface RemedyView {
  summary: string;
  steps: string[];
  policy?: { roleArn: string | null; json: string } | undefined;
}

/** A finding of one agent, or a group of agents sharing it (fleet overview). */
export interface FindingView {
  kind: string;
  severity: 'warning' | 'critical' | string;
  title: string;
  destination?: string | null | undefined;
  url?: string | null | undefined;
  facts: Record<string, string | number>;
  /** When the agent last saw it (the error's time; for standing conditions, the latest heartbeat). */
  since?: string | null | undefined;
  remedy: RemedyView;
  /** On the overview: how many agents have it, and one of them. */
  agents?: number | undefined;
  exampleAgent?: { id: string; name: string } | undefined;
}

const FACT_LABELS: Record<string, string> = {
  message: 'Message',
  code: 'Code',
  status: 'HTTP status',
  action: 'Action',
  resource: 'Resource',
  callerArn: 'Signed as',
  roleArn: 'Role',
  source: 'Credential source',
  region: 'Region',
  service: 'Service',
  detail: 'Detail',
  offsetMs: 'Clock offset (ms)',
  pending: 'Samples waiting',
  error: 'Error',
  expiresAt: 'Expires',
  reasons: 'Reasons',
  lastDropAt: 'Last drop',
  down: 'Targets down',
  targets: 'Targets',
  job: 'Job',
  instance: 'Instance',
  urls: 'Destination URLs',
};

/** Text with `code` spans (remedy steps quote commands in backticks). */
export function WithCode({ text }: { text: string }) {
  const parts = text.split(/`([^`]+)`/);
  return (
    <>
      {parts.map((p, i) => (i % 2 ? <code key={i}>{p}</code> : p))}
    </>
  );
}

/**
 * One finding: severity, title, where (destination), how many agents (with an example), the
 * remedy's summary and steps, the policy to attach for access denied (with the role it belongs
 * to and a copy button), and the facts the agent reported.
 */
export function Finding({ finding: f }: { finding: FindingView }) {
  const critical = f.severity === 'critical';
  const facts = Object.entries(f.facts).filter(([k]) => k !== 'detail' || !f.remedy.steps.some((s) => s.includes(String(f.facts.detail))));
  return (
    <article className={`finding ${critical ? 'critical' : 'warning'}`} data-testid="finding" data-kind={f.kind} aria-label={`${critical ? 'Critical' : 'Warning'}: ${f.title}`}>
      <header className="finding-head">
        <span className={`badge ${critical ? 'bad' : 'warn'}`}>{critical ? 'Critical' : 'Warning'}</span>
        <h3>{f.title}</h3>
        {f.destination || f.url ? (
          <span className="finding-where">
            {f.destination ? <strong>{f.destination}</strong> : null} {f.url ? <code className="break">{f.url}</code> : null}
          </span>
        ) : null}
      </header>
      {f.agents !== undefined || f.since ? (
        <p className="muted small finding-meta">
          {f.agents !== undefined ? (
            <>
              {plural(f.agents, 'agent')}
              {f.exampleAgent ? (
                <>
                  {f.agents > 1 ? ', e.g. ' : ': '}
                  <Link href={`/agents/${f.exampleAgent.id}`}>{f.exampleAgent.name}</Link>
                </>
              ) : null}
            </>
          ) : null}
          {f.agents !== undefined && f.since ? ' · ' : null}
          {f.since ? (
            <>
              last seen <RelativeTime value={f.since} />
            </>
          ) : null}
        </p>
      ) : null}
      <p className="finding-remedy" data-testid="finding-remedy">
        <WithCode text={f.remedy.summary} />
      </p>
      {f.remedy.steps.length ? (
        <ol className="finding-steps">
          {f.remedy.steps.map((s, i) => (
            <li key={i}>
              <WithCode text={s} />
            </li>
          ))}
        </ol>
      ) : null}
      {f.remedy.policy ? (
        <div className="finding-policy">
          <p className="small">
            Permissions policy for{' '}
            {f.remedy.policy.roleArn ? <code className="break">{f.remedy.policy.roleArn}</code> : 'the role the agent runs as'}:
          </p>
          <CodeBlock
            title="Permissions policy (JSON)"
            meta={f.remedy.policy.roleArn ? `role ${f.remedy.policy.roleArn.split('/').at(-1)}` : undefined}
            text={f.remedy.policy.json}
            what="the permissions policy"
            testId="finding-policy"
          />
        </div>
      ) : null}
      {facts.length ? (
        <details className="finding-facts">
          <summary>What the agent reported</summary>
          <dl className="facts small">
            {facts.map(([k, v]) => (
              <Fact key={k} label={FACT_LABELS[k] ?? k}>
                {typeof v === 'string' && (v.startsWith('arn:') || k === 'resource' || k === 'action') ? <code className="break">{v}</code> : <span className="break">{String(v)}</span>}
              </Fact>
            ))}
          </dl>
        </details>
      ) : null}
    </article>
  );
}

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </>
  );
}

/** Findings, critical first; `empty` when there are none. */
export function FindingList({ findings, empty }: { findings: FindingView[]; empty: ReactNode }) {
  if (!findings.length) return <>{empty}</>;
  const sorted = [...findings].sort((a, b) => Number(b.severity === 'critical') - Number(a.severity === 'critical'));
  return (
    <div className="finding-list">
      {sorted.map((f, i) => (
        <Finding key={`${f.kind}|${f.url ?? ''}|${i}`} finding={f} />
      ))}
    </div>
  );
}
