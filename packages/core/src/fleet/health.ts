import type { AgentFinding, AgentHealth } from '@fleet/db';
import { LEGACY_FILTERED_REASON } from './counters.js';
import { causeOf } from './diagnosis.js';

/** The heartbeat fields health is judged from (a subset of the protocol's heartbeat). */
export interface HealthHeartbeat {
  at: string;
  counters: { pendingSamples: number };
  destinations: Array<{
    name: string;
    url: string;
    pendingSamples: number;
    walBytes?: number | undefined;
    /** Timestamp (agent clock, ms) of the newest sample delivered since the agent started; absent until one was. */
    highestSentTimestampMs?: number | undefined;
    /** When the destination last accepted a batch (agent clock). */
    lastSuccessAt?: string | null | undefined;
    droppedByReason: Record<string, number>;
    credentials: { source: string | null; callerArn: string | null; expiresAt: string | null; lastError: string | null } | null;
    clockOffsetMs: number | null;
    sigv4?: { service: string; region: string; roleArn: string | null } | null | undefined;
    lastError: { at: string; class: string; code: string | null; status: number | null; message: string; action?: string | undefined; resource?: string | undefined; detail?: string | undefined } | null;
  }>;
  targets: Array<{ job: string; instance: string; up: boolean; lastError: string | null }>;
  /** Service discovery failing now (the job keeps its last good targets). */
  discovery?: Array<{ job: string; mechanism: string; error: string }> | undefined;
  /** Jobs and destinations with `insecure_skip_verify`. */
  insecureTls?: string[] | undefined;
}

/** Thresholds of the health judgement. */
export const HEALTH = {
  /** A destination error newer than this is current. */
  errorFreshMs: 10 * 60_000,
  /** Drops within this window make an agent degraded. */
  dropWindowMs: 15 * 60_000,
  /** Credentials expiring sooner than this, without a successful refresh, are a problem. */
  credentialsExpiryMs: 15 * 60_000,
  /** Clock offset (control plane vs agent) above which signatures are at risk. */
  clockWarnMs: 60_000,
  /** AWS refuses signatures more than 5 minutes off: critical from 4 minutes. */
  clockCriticalMs: 240_000,
} as const;

const TITLES: Record<string, string> = {
  access_denied: 'Access denied',
  signature_mismatch: 'Signature does not match',
  clock_skew: 'Clock skew: AWS refuses the signatures',
  expired_token: 'Credentials expired',
  invalid_token: 'Credentials not recognised',
  region_mismatch: 'Signed for the wrong region',
  service_mismatch: 'Signed for the wrong service',
  missing_auth: 'Requests are not signed',
  unauthorized: 'Authentication refused',
  throttled: 'Throttled by the destination',
  server_error: 'Destination server errors',
  bad_request: 'Destination refuses samples (HTTP 4xx)',
  not_found: 'Destination not found (HTTP 404)',
  no_credentials: 'No AWS credentials found',
  dns: 'Endpoint name does not resolve',
  connect: 'Cannot connect to the endpoint',
  tls: 'TLS handshake fails',
  timeout: 'Requests time out',
  unknown: 'Delivery fails',
};

/** A one-line title for a finding kind. */
export function findingTitle(kind: string): string {
  return (
    TITLES[kind] ??
    {
      config_failed: 'Config could not be applied',
      config_unbuildable: 'The control plane cannot build this agent\'s config',
      target_down: 'Scrape targets down',
      credentials_expiring: 'Credentials expire without refresh',
      credentials_refresh: 'Credentials refresh fails',
      clock_offset: 'Host clock is off',
      drops: 'Samples dropped',
      discovery_failed: 'Service discovery fails',
      tls_unverified: 'TLS certificates are not verified',
    }[kind] ??
    kind
  );
}

/**
 * Merges destination findings that share one cause — the same kind and the same remedy (see
 * {@link causeOf}), e.g. "no AWS credentials" on every destination of a host — into one finding
 * that names every destination affected (critical if any was), in place. Its key names the
 * kind and the destination URLs, so agents with the same problem still group on the fleet page.
 */
export function mergeByCause(findings: AgentFinding[]): void {
  const groups = new Map<string, number[]>();
  findings.forEach((f, i) => {
    if (!f.destination) return;
    const cause = causeOf(f);
    groups.set(cause, [...(groups.get(cause) ?? []), i]);
  });
  const remove = new Set<number>();
  for (const indexes of groups.values()) {
    if (indexes.length < 2) continue;
    const members = indexes.map((i) => findings[i]!);
    const urls = [...new Set(members.map((f) => f.url ?? ''))].filter(Boolean).sort();
    const first = members[0]!;
    const facts: Record<string, string | number> = { ...first.facts, pending: members.reduce((n, f) => n + (typeof f.facts.pending === 'number' ? f.facts.pending : 0), 0) };
    if (urls.length > 1) facts.urls = urls.join(', ');
    const { url: _url, ...rest } = first;
    findings[indexes[0]!] = {
      ...rest,
      key: `${first.kind}|${urls.join(',')}`,
      severity: members.some((f) => f.severity === 'critical') ? 'critical' : 'warning',
      destination: members.map((f) => f.destination).join(', '),
      ...(urls.length === 1 ? { url: urls[0]! } : {}),
      facts,
      since: members.map((f) => f.since).sort().at(-1)!,
    };
    for (const i of indexes.slice(1)) remove.add(i);
  }
  for (const i of [...remove].sort((a, b) => b - a)) findings.splice(i, 1);
}

/** Facts of the agent beyond the heartbeat. */
export interface HealthContext {
  now: Date;
  /** Control-plane time minus agent time when the heartbeat arrived. */
  clockOffsetMs: number;
  configStatus: string;
  configError: string | null;
  /**
   * Why the control plane could not build the agent's config (`agents.config_build_error`, set by
   * the gateway, null again once a config builds), and since when.
   */
  configBuildError?: { message: string; at: Date | null } | null | undefined;
  /** Samples dropped since the previous heartbeat, and the last time drops were seen before. */
  droppedDelta: number;
  droppedByReasonDelta: Record<string, number>;
  lastDropAt: Date | null;
  /** The reasons of the drops finding of the previous heartbeat (kept while no new drops arrive). */
  previousDropReasons?: string | undefined;
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/**
 * Judges an agent from its heartbeat: every problem becomes a finding with the facts its remedy
 * needs; `failing` when a finding is critical (a destination stalled on an error, config failed,
 * credentials lapsed or not refreshing, every target down, clock beyond AWS's tolerance),
 * `degraded` on warnings (recent drops, some targets down, errors while samples still flow,
 * clock drifting).
 */
export function assessHeartbeat(hb: HealthHeartbeat, ctx: HealthContext): { health: AgentHealth; findings: AgentFinding[]; lastDropAt: Date | null } {
  const findings: AgentFinding[] = [];
  const now = ctx.now.getTime();
  const since = (at: string | undefined) => at ?? ctx.now.toISOString();

  for (const d of hb.destinations) {
    const e = d.lastError;
    if (e && now - Date.parse(e.at) <= HEALTH.errorFreshMs) {
      // Stalled: nothing delivered since the error while samples wait or are dropped (errors that
      // are not retried, e.g. access denied or a wrong region, drop every batch and leave nothing
      // pending). Judged from when the destination last accepted a batch (or, from agents that do
      // not report it, the newest sample it accepted), so it does not flap between heartbeats.
      const lastOk = d.lastSuccessAt ? Date.parse(d.lastSuccessAt) : d.highestSentTimestampMs;
      const deliveredSinceError = lastOk !== undefined && lastOk >= Date.parse(e.at);
      // Samples write relabelling removed on purpose (reported as drops by older agents) are not lost.
      const dropping = Object.entries(d.droppedByReason).some(([reason, n]) => reason !== LEGACY_FILTERED_REASON && n > 0);
      const stalled = !deliveredSinceError && (d.pendingSamples > 0 || dropping);
      const severity = stalled ? 'critical' : 'warning';
      const facts: Record<string, string | number> = { message: e.message };
      if (e.code) facts.code = e.code;
      if (e.status !== null) facts.status = e.status;
      for (const [k, v] of Object.entries({ action: e.action, resource: e.resource, detail: e.detail, callerArn: d.credentials?.callerArn, source: d.credentials?.source, region: d.sigv4?.region, service: d.sigv4?.service, roleArn: d.sigv4?.roleArn })) {
        const s = str(v);
        if (s) facts[k] = s;
      }
      if (d.clockOffsetMs !== null) facts.offsetMs = Math.round(d.clockOffsetMs);
      facts.pending = d.pendingSamples;
      findings.push({ key: `${e.class}|${d.url}`, severity, kind: e.class, title: findingTitle(e.class), destination: d.name, url: d.url, facts, since: since(e.at) });
    }
    const creds = d.credentials;
    if (creds?.lastError) {
      findings.push({ key: `credentials_refresh|${d.url}`, severity: 'critical', kind: 'credentials_refresh', title: findingTitle('credentials_refresh'), destination: d.name, url: d.url, facts: { error: creds.lastError, ...(creds.source ? { source: creds.source } : {}) }, since: since(undefined) });
    } else if (creds?.expiresAt && Date.parse(creds.expiresAt) - now < HEALTH.credentialsExpiryMs) {
      findings.push({ key: `credentials_expiring|${d.url}`, severity: Date.parse(creds.expiresAt) <= now ? 'critical' : 'warning', kind: 'credentials_expiring', title: findingTitle('credentials_expiring'), destination: d.name, url: d.url, facts: { expiresAt: creds.expiresAt, ...(creds.source ? { source: creds.source } : {}) }, since: since(undefined) });
    }
  }

  mergeByCause(findings);

  const down = hb.targets.filter((t) => !t.up);
  if (down.length) {
    const first = down[0]!;
    findings.push({
      key: `target_down|${first.job}`,
      severity: down.length === hb.targets.length ? 'critical' : 'warning',
      kind: 'target_down',
      title: findingTitle('target_down'),
      facts: { down: down.length, targets: hb.targets.length, job: first.job, instance: first.instance, ...(first.lastError ? { error: first.lastError } : {}) },
      since: since(undefined),
    });
  }

  const failing = hb.discovery ?? [];
  if (failing.length) {
    const first = failing[0]!;
    findings.push({
      key: `discovery_failed|${first.mechanism}`,
      // The job keeps its last good targets: degraded, unless nothing is scraped at all.
      severity: hb.targets.length === 0 ? 'critical' : 'warning',
      kind: 'discovery_failed',
      title: findingTitle('discovery_failed'),
      facts: { failing: failing.length, job: first.job, mechanism: first.mechanism, error: first.error },
      since: since(undefined),
    });
  }
  const insecure = hb.insecureTls ?? [];
  if (insecure.length) {
    findings.push({ key: 'tls_unverified', severity: 'warning', kind: 'tls_unverified', title: findingTitle('tls_unverified'), facts: { where: insecure.slice(0, 10).join(', '), count: insecure.length }, since: since(undefined) });
  }

  const offset = Math.abs(ctx.clockOffsetMs);
  if (offset >= HEALTH.clockWarnMs) {
    findings.push({ key: 'clock_offset', severity: offset >= HEALTH.clockCriticalMs ? 'critical' : 'warning', kind: 'clock_offset', title: findingTitle('clock_offset'), facts: { offsetMs: Math.round(ctx.clockOffsetMs) }, since: since(undefined) });
  }

  if (ctx.configStatus === 'failed') {
    findings.push({ key: 'config_failed', severity: 'critical', kind: 'config_failed', title: findingTitle('config_failed'), facts: { error: ctx.configError ?? 'unknown' }, since: since(undefined) });
  }

  const build = ctx.configBuildError;
  if (build?.message) {
    findings.push({ key: 'config_unbuildable', severity: 'critical', kind: 'config_unbuildable', title: findingTitle('config_unbuildable'), facts: { error: build.message }, since: build.at ? build.at.toISOString() : since(undefined) });
  }

  const lastDropAt = ctx.droppedDelta > 0 ? ctx.now : ctx.lastDropAt;
  if (lastDropAt && now - lastDropAt.getTime() <= HEALTH.dropWindowMs) {
    const reasons =
      Object.entries(ctx.droppedByReasonDelta)
        .map(([r, n]) => `${r}: ${n}`)
        .join(', ') || (ctx.droppedDelta > 0 ? '' : (ctx.previousDropReasons ?? ''));
    findings.push({ key: 'drops', severity: 'warning', kind: 'drops', title: findingTitle('drops'), facts: { lastDropAt: lastDropAt.toISOString(), ...(reasons ? { reasons } : {}) }, since: lastDropAt.toISOString() });
  }

  const health: AgentHealth = findings.some((f) => f.severity === 'critical') ? 'failing' : findings.length ? 'degraded' : 'healthy';
  return { health, findings, lastDropAt };
}
