import { ampWorkspaceArn, credentialProvidersTried } from '@fleet/aws';
import { inferSigningFromHost } from '@fleet/pipeline';
import { toStorableText, type AgentMessage } from '@fleet/protocol';
import type { Agent, DestinationStatus } from '../agent.js';
import type { DestinationError } from '../queue/queue.js';
import { endpointOf, type SendStage } from '../remote-write/client.js';

/** The body of a `heartbeat` message: everything but the envelope the channel adds (`type`, `v`, `seq`, `at`). */
export type HeartbeatBody = Omit<Extract<AgentMessage, { type: 'heartbeat' }>, 'type' | 'v' | 'seq' | 'at'>;
type DestinationHealth = HeartbeatBody['destinations'][number];
type TargetHealth = HeartbeatBody['targets'][number];

/** What {@link buildHeartbeat} reads from an agent (an {@link Agent}; tests may pass a stand-in). */
export type HeartbeatSource = Pick<Agent, 'startedAt' | 'metrics' | 'counters' | 'destinationStatus' | 'targetStatus'> & Partial<Pick<Agent, 'discoveryStatus' | 'insecureTls'>>;

/** The protocol's limits (packages/protocol `agentMessageSchema`); every string is cut to them. */
const MAX = {
  destinations: 100,
  targets: 5000,
  name: 200,
  url: 2048,
  key: 64,
  code: 200,
  message: 2000,
  action: 200,
  resource: 2048,
  detail: 2000,
  source: 300,
  arn: 2048,
  service: 64,
  region: 32,
  job: 200,
  instance: 300,
} as const;

/**
 * `text` cut to `max` UTF-16 units, ending in `…` when cut (never splitting a surrogate pair), with
 * NULs and lone surrogates (a receiver's error body may hold anything) replaced by U+FFFD: the
 * protocol refuses a heartbeat carrying them.
 */
function clip(raw: string, max: number): string {
  const text = toStorableText(raw);
  if (text.length <= max) return text;
  let end = max - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/** A finite number ≥ 0 (anything else counts as 0). */
function amount(n: number | null | undefined): number {
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0;
}

/**
 * A count: a whole number ≥ 0 within `Number.MAX_SAFE_INTEGER` (the protocol's counters are
 * non-negative safe integers; anything else counts as 0, anything beyond as the maximum).
 */
function whole(n: number | null | undefined): number {
  return Math.min(Number.MAX_SAFE_INTEGER, Math.round(amount(n)));
}

function iso(d: Date | null | undefined): string | null {
  return d instanceof Date && Number.isFinite(d.getTime()) ? d.toISOString() : null;
}

/** What prom-client's `get()` returns, as far as it is read here. */
interface MetricSnapshot {
  values: ReadonlyArray<{ value: number; labels: Partial<Record<string, string | number>> }>;
}

/** Sum of a metric's values per `remote_name`. */
function perDestination(snapshot: MetricSnapshot): Map<string, number> {
  const out = new Map<string, number>();
  for (const v of snapshot.values) {
    const name = String(v.labels.remote_name ?? '');
    out.set(name, (out.get(name) ?? 0) + v.value);
  }
  return out;
}

/** Sums of a metric's values per `remote_name` and `label` (keys cut to the protocol's 64 characters). */
function perDestinationBy(snapshot: MetricSnapshot, label: string): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  for (const v of snapshot.values) {
    const name = String(v.labels.remote_name ?? '');
    const key = clip(String(v.labels[label] ?? 'unknown'), MAX.key);
    const record = out.get(name) ?? {};
    record[key] = whole((record[key] ?? 0) + v.value);
    out.set(name, record);
  }
  return out;
}

/** `host:port` of a URL (the scheme's default port when it names none). */
function endpointOfUrl(url: string): string {
  try {
    return endpointOf(new URL(url));
  } catch {
    return url;
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return url;
  }
}

const STAGE: Record<SendStage, string> = {
  credentials: 'resolving credentials',
  dns: 'DNS lookup',
  connect: 'TCP connect',
  tls: 'TLS handshake',
  request: 'waiting for the response',
  response: 'reading the response',
};

const STAGE_OF_CLASS: Partial<Record<string, SendStage>> = { dns: 'dns', connect: 'connect', tls: 'tls', timeout: 'request' };

function networkDetail(e: DestinationError, endpoint: string): string {
  const code = e.code ? `; error ${e.code}` : '';
  if (e.stage === 'credentials') {
    return `stage ${STAGE.credentials} (the destination ${endpoint} was not contacted)${e.address ? `; credential source ${e.address}` : ''}${code}`;
  }
  const stage = e.stage ?? STAGE_OF_CLASS[e.class] ?? 'request';
  const address = e.address && e.address !== endpoint ? ` (address ${e.address})` : '';
  const timeout = e.timeoutMs !== undefined && Number.isFinite(e.timeoutMs) ? `; no answer within remote_timeout ${e.timeoutMs / 1000} s` : '';
  return `stage ${STAGE[stage]}; endpoint ${endpoint}${address}${code}${timeout}`;
}

function noCredentialsDetail(d: DestinationStatus, env: NodeJS.ProcessEnv): string {
  const s = d.sigv4;
  const tried = s?.profile
    ? [`shared files profile ${s.profile} (${env.AWS_SHARED_CREDENTIALS_FILE ?? '~/.aws/credentials'}, ${env.AWS_CONFIG_FILE ?? '~/.aws/config'})`]
    : credentialProvidersTried(env);
  return `${s?.roleArn ? `base credentials for assuming ${s.roleArn}: ` : ''}no provider produced credentials; tried: ${tried.join('; ')}`;
}

function regionDetail(d: DestinationStatus, e: DestinationError): string {
  const host = hostOf(d.url);
  const fromHost = inferSigningFromHost(host)?.region;
  // S3-style answers name the region expected: "the region 'us-east-1' is wrong; expecting 'eu-west-1'".
  const fromAnswer = /expecting '([a-z0-9-]+)'/i.exec(e.message)?.[1];
  const endpointRegion = fromHost
    ? `${fromHost} (from the host ${host})`
    : fromAnswer
      ? `${fromAnswer} (named by the endpoint)`
      : `unknown (the host ${host} names no region; fleet-agent doctor probes it)`;
  return `signed for region ${d.sigv4?.region ?? 'unknown'} (sigv4.region); endpoint region ${endpointRegion}`;
}

function accessDeniedDetail(d: DestinationStatus, e: DestinationError): string {
  const parts: string[] = [];
  parts.push(`action ${e.action ?? 'not named in the answer'}`);
  let derived: string | undefined;
  if (!e.resource && e.stage !== 'credentials' && d.sigv4?.service === 'aps') {
    const account = /:(\d{12}):/.exec(d.credentials?.callerArn ?? d.sigv4.roleArn ?? '')?.[1];
    try {
      derived = ampWorkspaceArn(d.url, d.sigv4.region, account);
    } catch {
      derived = undefined;
    }
  }
  parts.push(e.resource ? `resource ${e.resource}` : derived ? `resource ${derived} (from the URL)` : 'resource not named in the answer');
  if (e.stage === 'credentials') parts.push('while getting credentials (the destination was not contacted)');
  else if (d.credentials?.callerArn) parts.push(`principal ${d.credentials.callerArn}`);
  return parts.join('; ');
}

function clockSkewDetail(d: DestinationStatus, e: DestinationError): string {
  const measured = e.clockOffsetMs ?? d.clockOffsetMs;
  if (measured === null || !Number.isFinite(measured)) return "clock offset not measured (the answer had no Date header); AWS rejects signatures more than 300 s off";
  const seconds = measured / 1000;
  const latest = e.clockOffsetMs === undefined ? ', latest measurement' : '';
  return `measured clock offset ${seconds >= 0 ? '+' : ''}${seconds.toFixed(1)} s (endpoint time − local time${latest}); AWS rejects signatures more than 300 s off`;
}

function credentialsDetail(d: DestinationStatus): string | undefined {
  const c = d.credentials;
  if (!c?.source) return undefined;
  const expires = iso(c.expiration);
  return `credentials from ${c.source}${expires ? `, expiring ${expires}` : ''}${c.callerArn ? `; identity ${c.callerArn}` : ''}`;
}

/**
 * One line of the facts an operator needs about a destination's last error beyond its message,
 * by class: the credential providers tried (`no_credentials`), the stage and endpoint `host:port`
 * (`dns`, `connect`, `tls`, `timeout`), the signed and the endpoint's region (`region_mismatch`),
 * the IAM action, resource and principal (`access_denied`), the measured clock offset
 * (`clock_skew`), the credential source (`expired_token`, `invalid_token`). Undefined when there
 * is no error or nothing to add. Not cut to length (see {@link buildHeartbeat}).
 */
export function lastErrorDetail(d: DestinationStatus, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const e = d.lastError;
  if (!e) return undefined;
  switch (e.class) {
    case 'no_credentials':
      return noCredentialsDetail(d, env);
    case 'dns':
    case 'connect':
    case 'tls':
    case 'timeout':
      return networkDetail(e, e.endpoint ?? endpointOfUrl(d.url));
    case 'region_mismatch':
      return regionDetail(d, e);
    case 'access_denied':
      return accessDeniedDetail(d, e);
    case 'clock_skew':
      return clockSkewDetail(d, e);
    case 'expired_token':
    case 'invalid_token':
      return credentialsDetail(d);
    default:
      return undefined;
  }
}

function lastErrorOf(d: DestinationStatus, env: NodeJS.ProcessEnv): DestinationHealth['lastError'] {
  const e = d.lastError;
  if (!e) return null;
  const detail = lastErrorDetail(d, env);
  return {
    at: iso(e.at) ?? new Date().toISOString(),
    class: clip(e.class, MAX.key),
    code: e.code === null ? null : clip(e.code, MAX.code),
    status: typeof e.status === 'number' && Number.isInteger(e.status) ? e.status : null,
    message: clip(e.message, MAX.message),
    ...(e.action ? { action: clip(e.action, MAX.action) } : {}),
    ...(e.resource ? { resource: clip(e.resource, MAX.resource) } : {}),
    ...(detail ? { detail: clip(detail.replace(/\s*\n\s*/g, ' '), MAX.detail) } : {}),
  };
}

/**
 * The body of the agent's `heartbeat` message (the channel adds `type`, `v`, `seq` and `at`),
 * read from the agent's prom-client self-metrics and its destination and target status:
 *
 * - `startedAt`: when the {@link Agent} started; every counter is cumulative since then, so the
 *   control plane can tell a restart (counters reset) from a drop.
 * - `counters`: {@link Agent.counters} totals over every destination.
 * - per destination (at most 100): WAL and pending samples; `shards` and
 *   `highestSentTimestampMs` (omitted until something was sent) from the
 *   `fleet_agent_remote_shards` and `fleet_agent_remote_highest_sent_timestamp_seconds` gauges;
 *   `samplesSent`, `samplesRetried`, `samplesFiltered` (removed on purpose by write relabelling,
 *   not lost), `droppedByReason` (lost) and `failedSendsByClass` from the counters labelled with
 *   its `remote_name`; its `sigv4` signing facts (null when unsigned); credentials
 *   (source, caller ARN, expiry); the measured clock offset; and the last error with a one-line
 *   `detail` ({@link lastErrorDetail}).
 * - per target (at most 5000): health of its last scrape.
 *
 * Every string is cut to the protocol's maximum length and every count is a safe integer ≥ 0,
 * so the result always passes `agentMessageSchema`. `env` is where the credential providers
 * tried are read from (default `process.env`).
 */
export async function buildHeartbeat(agent: HeartbeatSource, env: NodeJS.ProcessEnv = process.env): Promise<HeartbeatBody> {
  const m = agent.metrics;
  const [totals, sent, retried, dropped, filtered, failed, shards, highest] = await Promise.all([
    agent.counters(),
    m.samplesSent.get(),
    m.samplesRetried.get(),
    m.samplesDropped.get(),
    m.samplesFiltered.get(),
    m.failedSends.get(),
    m.shards.get(),
    m.highestSent.get(),
  ]);
  const sentBy = perDestination(sent);
  const retriedBy = perDestination(retried);
  const filteredBy = perDestination(filtered);
  const shardsBy = perDestination(shards);
  const highestBy = perDestination(highest);
  const droppedBy = perDestinationBy(dropped, 'reason');
  const failedBy = perDestinationBy(failed, 'class');

  const destinations = agent
    .destinationStatus()
    .slice(0, MAX.destinations)
    .map((d): DestinationHealth => {
      const shardCount = shardsBy.get(d.name);
      const highestSeconds = amount(highestBy.get(d.name));
      const clockOffsetMs = d.clockOffsetMs;
      return {
        name: clip(d.name, MAX.name),
        url: clip(d.url, MAX.url),
        pendingSamples: whole(d.pendingSamples),
        walBytes: whole(d.walBytes),
        lastSuccessAt: iso(d.lastSuccessAt),
        ...(shardCount !== undefined ? { shards: whole(shardCount) } : {}),
        ...(highestSeconds > 0 ? { highestSentTimestampMs: Math.round(highestSeconds * 1000) } : {}),
        samplesSent: whole(sentBy.get(d.name)),
        samplesRetried: whole(retriedBy.get(d.name)),
        samplesFiltered: whole(filteredBy.get(d.name)),
        failedSendsByClass: failedBy.get(d.name) ?? {},
        sigv4: d.sigv4 ? { service: clip(d.sigv4.service, MAX.service), region: clip(d.sigv4.region, MAX.region), roleArn: d.sigv4.roleArn ? clip(d.sigv4.roleArn, MAX.arn) : null } : null,
        droppedByReason: droppedBy.get(d.name) ?? {},
        credentials: d.credentials
          ? {
              source: d.credentials.source === null ? null : clip(d.credentials.source, MAX.source),
              callerArn: d.credentials.callerArn === null ? null : clip(d.credentials.callerArn, MAX.arn),
              expiresAt: iso(d.credentials.expiration),
              lastError: d.credentials.lastError === null ? null : clip(d.credentials.lastError, MAX.message),
            }
          : null,
        clockOffsetMs: clockOffsetMs !== null && Number.isFinite(clockOffsetMs) ? clockOffsetMs : null,
        lastError: lastErrorOf(d, env),
      };
    });

  const targets = agent
    .targetStatus()
    .slice(0, MAX.targets)
    .map(
      (t): TargetHealth => ({
        job: clip(t.job, MAX.job),
        instance: clip(t.instance, MAX.instance),
        up: t.up,
        lastScrapeAt: iso(t.lastScrapeAt),
        durationMs: amount(t.lastDurationMs),
        samples: whole(t.samples),
        lastError: t.lastError ? clip(t.lastError, MAX.message) : null,
      }),
    );

  return fitToBudget({
    startedAt: iso(agent.startedAt) ?? new Date().toISOString(),
    counters: {
      samplesScraped: whole(totals.samplesScraped),
      samplesSent: whole(totals.samplesSent),
      samplesDropped: whole(totals.samplesDropped),
      samplesFiltered: whole(totals.samplesFiltered),
      samplesRetried: whole(totals.samplesRetried),
      pendingSamples: whole(totals.pendingSamples),
      walBytes: whole(totals.walBytes),
    },
    destinations,
    targets,
    discovery: (agent.discoveryStatus?.() ?? [])
      .slice(0, 500)
      .map((d) => ({ job: clip(d.job, MAX.job), mechanism: clip(d.mechanism, 40), error: clip(d.error, MAX.message) })),
    insecureTls: (agent.insecureTls?.() ?? [])
      .slice(0, 500)
      .map((w) => clip(w, 300)),
  });
}

/** The gateway refuses agent messages over 1 MiB; heartbeats stay under this. */
export const HEARTBEAT_MAX_BYTES = 900 * 1024;

/**
 * Keeps a heartbeat within {@link HEARTBEAT_MAX_BYTES}: with thousands of targets failing with
 * long errors it would not fit. Target errors are shortened first, then healthy targets are left
 * out (down targets are kept, they matter), then down ones beyond what fits.
 */
export function fitToBudget(body: HeartbeatBody, maxBytes = HEARTBEAT_MAX_BYTES): HeartbeatBody {
  const size = (b: HeartbeatBody) => Buffer.byteLength(JSON.stringify(b));
  if (size(body) <= maxBytes) return body;
  let targets = body.targets.map((t) => (t.lastError && t.lastError.length > 200 ? { ...t, lastError: `${t.lastError.slice(0, 199)}…` } : t));
  targets = [...targets.filter((t) => !t.up), ...targets.filter((t) => t.up)];
  let out = { ...body, targets };
  while (out.targets.length && size(out) > maxBytes) {
    const over = size(out) - maxBytes;
    const per = Math.max(1, Math.ceil(size(out) / Math.max(1, out.targets.length)));
    out = { ...out, targets: out.targets.slice(0, Math.max(0, out.targets.length - Math.ceil(over / per) - 1)) };
  }
  return out;
}
