import { agentMessageSchema, PROTOCOL_VERSION } from '@fleet/protocol';
import { describe, expect, it } from 'vitest';
import type { AgentCounters, DestinationStatus } from '../agent.js';
import type { DestinationError } from '../queue/queue.js';
import type { TargetHealth } from '../scrape/loop.js';
import { AgentMetrics } from '../telemetry/metrics.js';
import { buildHeartbeat, fitToBudget, HEARTBEAT_MAX_BYTES, lastErrorDetail, type HeartbeatBody, type HeartbeatSource } from './heartbeat.js';

const COUNTERS: AgentCounters = { samplesScraped: 0, samplesSent: 0, samplesDropped: 0, samplesFiltered: 0, samplesRetried: 0, pendingSamples: 0, walBytes: 0, droppedByReason: {} };

function source(destinations: DestinationStatus[], targets: TargetHealth[] = [], counters: Partial<AgentCounters> = {}, startedAt = new Date()): HeartbeatSource & { metrics: AgentMetrics } {
  return {
    startedAt,
    metrics: new AgentMetrics(),
    counters: () => Promise.resolve({ ...COUNTERS, ...counters }),
    destinationStatus: () => destinations,
    targetStatus: () => targets,
  };
}

function destination(overrides: Partial<DestinationStatus> = {}): DestinationStatus {
  return {
    name: 'amp',
    url: 'https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-12345678-abcd-ef01-2345-6789abcdef01/api/v1/remote_write',
    sigv4: { service: 'aps', region: 'us-east-1', roleArn: null, profile: null, staticKeys: false },
    pendingSamples: 0,
    walBytes: 0,
    lastError: null,
    lastSuccessAt: null,
    credentials: null,
    clockOffsetMs: null,
    ...overrides,
  };
}

function failure(overrides: Partial<DestinationError> & Pick<DestinationError, 'class'>): DestinationError {
  return { code: null, message: 'failed', retryable: true, status: null, at: new Date(), ...overrides };
}

/** Parses a built body inside a heartbeat envelope with the protocol's own schema. */
function parse(body: HeartbeatBody) {
  const result = agentMessageSchema.safeParse({ type: 'heartbeat', v: PROTOCOL_VERSION, seq: 1, at: new Date().toISOString(), ...body });
  expect(result.success ? [] : result.error.issues).toEqual([]);
  return result.data as HeartbeatBody;
}

describe('buildHeartbeat', () => {
  it('cuts every string to the protocol limits and keeps every number finite and ≥ 0, so the message always parses', async () => {
    const long = (c: string, n: number) => c.repeat(n);
    const bad = destination({
      name: long('n', 500),
      url: `https://example.com/${long('u', 5000)}`,
      sigv4: { service: long('s', 100), region: long('r', 100), roleArn: `arn:aws:iam::123456789012:role/${long('x', 3000)}`, profile: null, staticKeys: false },
      pendingSamples: Number.NaN,
      walBytes: -5,
      clockOffsetMs: Number.POSITIVE_INFINITY,
      credentials: { source: long('s', 400), callerArn: long('a', 3000), expiration: new Date(Number.NaN), lastRefreshAt: null, lastError: long('e', 3000) },
      lastError: failure({
        class: 'access_denied',
        code: long('C', 300),
        status: 403.5,
        message: `${long('m', 2999)}😀`,
        action: long('a', 300),
        resource: long('r', 3000),
        at: new Date(Number.NaN),
      }),
    });
    const many = Array.from({ length: 150 }, (_, i) => destination({ name: `d${i}` }));
    const targets: TargetHealth[] = [
      { job: long('j', 300), instance: long('i', 400), url: 'http://127.0.0.1:1/metrics', up: false, lastScrapeAt: new Date(Number.NaN), lastDurationMs: Number.NaN, samples: -1, lastError: long('e', 3000) },
    ];
    const agent = source([bad, ...many], targets, { samplesSent: Number.NaN, walBytes: -1, pendingSamples: Number.POSITIVE_INFINITY });
    agent.metrics.samplesSent.inc({ remote_name: bad.name }, 1e300);
    agent.metrics.failedSends.inc({ remote_name: bad.name, class: long('k', 100) });
    agent.metrics.highestSent.set({ remote_name: bad.name }, Number.NaN);
    const hb = parse(await buildHeartbeat(agent));
    expect(hb.destinations).toHaveLength(100);
    const d = hb.destinations[0]!;
    expect(d.name).toHaveLength(200);
    expect(d.name.endsWith('…')).toBe(true);
    expect(d.url).toHaveLength(2048);
    expect(d.pendingSamples).toBe(0);
    expect(d.walBytes).toBe(0);
    expect(d.clockOffsetMs).toBeNull();
    expect(d.highestSentTimestampMs).toBeUndefined();
    // Counters are safe integers (the protocol refuses anything else): a runaway value is capped.
    expect(d.samplesSent).toBe(Number.MAX_SAFE_INTEGER);
    expect(Object.keys(d.failedSendsByClass!)[0]).toHaveLength(64);
    expect(d.credentials!.expiresAt).toBeNull();
    expect(d.lastError!.status).toBeNull();
    expect(d.lastError!.message).toHaveLength(2000);
    expect(d.lastError!.detail!.length).toBeLessThanOrEqual(2000);
    expect(hb.counters).toMatchObject({ samplesSent: 0, walBytes: 0, pendingSamples: 0 });
    expect(hb.targets[0]).toMatchObject({ lastScrapeAt: null, durationMs: 0, samples: 0 });
  });

  it('replaces NULs and lone surrogates (a receiver answered with them) instead of sending a heartbeat the protocol refuses', async () => {
    const ugly = 'bad\u0000body \uD800 tail \uDC00 😀';
    const d = destination({ lastError: failure({ class: 'unknown', code: ugly, message: ugly }) });
    const targets: TargetHealth[] = [{ job: 'j', instance: 'i', url: 'http://127.0.0.1:1/metrics', up: false, lastScrapeAt: null, lastDurationMs: 1, samples: 0, lastError: ugly }];
    const hb = parse(await buildHeartbeat(source([d], targets, {})));
    expect(hb.destinations[0]!.lastError!.message).toBe('bad\uFFFDbody \uFFFD tail \uFFFD 😀');
    expect(hb.targets[0]!.lastError).toBe('bad\uFFFDbody \uFFFD tail \uFFFD 😀');
  });

  it('fills shards, highest sent timestamp, sent, retried, dropped and failed sends from the metrics labelled with each destination', async () => {
    const startedAt = new Date('2030-01-02T03:04:05.678Z');
    const agent = source([destination({ name: 'a' }), destination({ name: 'b', sigv4: null, url: 'http://127.0.0.1:9090/api/v1/write' })], [], {}, startedAt);
    const m = agent.metrics;
    m.samplesSent.inc({ remote_name: 'a' }, 120);
    m.samplesSent.inc({ remote_name: 'b' }, 7);
    m.samplesRetried.inc({ remote_name: 'a' }, 30);
    m.failedSends.inc({ remote_name: 'a', class: 'server_error' }, 2);
    m.failedSends.inc({ remote_name: 'a', class: 'connect' });
    m.samplesDropped.inc({ remote_name: 'a', reason: 'http_4xx' }, 4);
    m.samplesFiltered.inc({ remote_name: 'a' }, 5100);
    m.shards.set({ remote_name: 'a' }, 3);
    m.shards.set({ remote_name: 'b' }, 1);
    m.highestSent.set({ remote_name: 'a' }, 1_900_000_000.123);
    const hb = parse(await buildHeartbeat(agent));
    expect(hb.startedAt).toBe('2030-01-02T03:04:05.678Z');
    const [a, b] = hb.destinations;
    expect(a).toMatchObject({
      shards: 3,
      highestSentTimestampMs: 1_900_000_000_123,
      samplesSent: 120,
      samplesRetried: 30,
      failedSendsByClass: { server_error: 2, connect: 1 },
      // Samples write relabelling removed on purpose are counted apart: not among the drops.
      samplesFiltered: 5100,
      droppedByReason: { http_4xx: 4 },
      sigv4: { service: 'aps', region: 'us-east-1', roleArn: null },
    });
    // Nothing sent yet to b: no highest timestamp, zeros, and null sigv4 for an unsigned destination.
    expect(b).toMatchObject({ shards: 1, samplesSent: 7, samplesRetried: 0, samplesFiltered: 0, failedSendsByClass: {}, droppedByReason: {}, sigv4: null });
    expect(b).not.toHaveProperty('highestSentTimestampMs');
  });
});

describe('fitToBudget', () => {
  it('keeps a heartbeat of thousands of failing targets under the gateway limit, down targets first', () => {
    const targets = Array.from({ length: 5000 }, (_, i) => ({
      job: `job-${i % 20}`,
      instance: `10.0.${Math.floor(i / 250)}.${i % 250}:9100`,
      up: i % 3 !== 0,
      lastScrapeAt: '2026-11-27T10:00:00.000Z',
      durationMs: 12,
      samples: 100,
      lastError: i % 3 === 0 ? `Get "http://10.0.0.1:9100/metrics": ${'x'.repeat(1900)}` : null,
    }));
    const body: HeartbeatBody = {
      startedAt: '2026-11-27T00:00:00.000Z',
      counters: { samplesScraped: 1, samplesSent: 1, samplesDropped: 0, samplesRetried: 0, pendingSamples: 0, walBytes: 0 },
      destinations: [],
      targets,
    };
    const fitted = fitToBudget(body);
    const message = { type: 'heartbeat', v: PROTOCOL_VERSION, seq: 1, at: '2026-11-27T10:00:00.000Z', ...fitted };
    expect(Buffer.byteLength(JSON.stringify(message))).toBeLessThanOrEqual(HEARTBEAT_MAX_BYTES + 200);
    expect(agentMessageSchema.safeParse(message).success).toBe(true);
    // Every down target fits once their errors are shortened; healthy ones fill the rest.
    expect(fitted.targets.filter((t) => !t.up)).toHaveLength(targets.filter((t) => !t.up).length);
    expect(fitted.targets.slice(0, 10).every((t) => !t.up)).toBe(true);
    expect(fitToBudget({ ...body, targets: targets.slice(0, 10) }).targets).toHaveLength(10);
  });
});

describe('lastErrorDetail', () => {
  const env = { AWS_SHARED_CREDENTIALS_FILE: '/nowhere/credentials', AWS_CONFIG_FILE: '/nowhere/config', AWS_EC2_METADATA_DISABLED: 'true' };

  it('no_credentials: the providers of the SDK chain that were tried (as doctor reports them)', () => {
    const detail = lastErrorDetail(destination({ lastError: failure({ class: 'no_credentials', code: 'CredentialsProviderError', stage: 'credentials' }) }), env);
    expect(detail).toBe(
      'no provider produced credentials; tried: environment (AWS_ACCESS_KEY_ID): not set; shared files (/nowhere/credentials, profile default); ' +
        'web identity / IRSA (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN): not set; container / Pod Identity (AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI): not set; ' +
        'EC2 instance metadata (IMDSv2): disabled',
    );
    const role = 'arn:aws:iam::210987654321:role/amp-writer';
    expect(lastErrorDetail(destination({ sigv4: { service: 'aps', region: 'us-east-1', roleArn: role, profile: null, staticKeys: false }, lastError: failure({ class: 'no_credentials' }) }), env)).toMatch(
      new RegExp(`^base credentials for assuming ${role}: no provider produced credentials; tried: environment`),
    );
    expect(lastErrorDetail(destination({ sigv4: { service: 'aps', region: 'us-east-1', roleArn: null, profile: 'metrics', staticKeys: false }, lastError: failure({ class: 'no_credentials' }) }), env)).toBe(
      'no provider produced credentials; tried: shared files profile metrics (/nowhere/credentials, /nowhere/config)',
    );
  });

  it('network classes: the stage and the endpoint host:port (the URL default port when it names none)', () => {
    const at = (e: Partial<DestinationError> & Pick<DestinationError, 'class'>, url?: string) => lastErrorDetail(destination({ lastError: failure(e), ...(url ? { url } : {}) }), env);
    expect(at({ class: 'connect', code: 'ECONNREFUSED', stage: 'connect', endpoint: '127.0.0.1:4000', address: '127.0.0.1:4000' })).toBe('stage TCP connect; endpoint 127.0.0.1:4000; error ECONNREFUSED');
    expect(at({ class: 'dns', code: 'ENOTFOUND', stage: 'dns', endpoint: 'aps.example.invalid:443' })).toBe('stage DNS lookup; endpoint aps.example.invalid:443; error ENOTFOUND');
    expect(at({ class: 'tls', code: 'DEPTH_ZERO_SELF_SIGNED_CERT', stage: 'tls', endpoint: 'amp.internal:8443', address: '10.0.0.7:8443' })).toBe(
      'stage TLS handshake; endpoint amp.internal:8443 (address 10.0.0.7:8443); error DEPTH_ZERO_SELF_SIGNED_CERT',
    );
    expect(at({ class: 'timeout', code: 'TimeoutError', stage: 'request', endpoint: 'amp.internal:443', timeoutMs: 30_000 })).toBe(
      'stage waiting for the response; endpoint amp.internal:443; error TimeoutError; no answer within remote_timeout 30 s',
    );
    // Without the client's facts (an error recorded elsewhere): the stage from the class, host:port from the URL.
    expect(at({ class: 'connect', code: 'ECONNRESET' }, 'https://amp.internal/api/v1/write')).toBe('stage TCP connect; endpoint amp.internal:443; error ECONNRESET');
    // A credential source that could not be reached is not the destination.
    expect(at({ class: 'connect', code: 'ECONNREFUSED', stage: 'credentials', endpoint: 'amp.internal:443', address: '169.254.169.254:80' })).toBe(
      'stage resolving credentials (the destination amp.internal:443 was not contacted); credential source 169.254.169.254:80; error ECONNREFUSED',
    );
  });

  it('region_mismatch: the signed region and the endpoint region (from the host, the answer, or unknown)', () => {
    const signedWest = { service: 'aps', region: 'us-west-2', roleArn: null, profile: null, staticKeys: false };
    const mismatch = failure({ class: 'region_mismatch', message: "Credential should be scoped to a valid region, not 'us-west-2'." });
    expect(lastErrorDetail(destination({ sigv4: signedWest, lastError: mismatch }))).toBe(
      'signed for region us-west-2 (sigv4.region); endpoint region us-east-1 (from the host aps-workspaces.us-east-1.amazonaws.com)',
    );
    expect(lastErrorDetail(destination({ sigv4: signedWest, url: 'https://proxy.internal/w', lastError: failure({ class: 'region_mismatch', message: "the region 'us-west-2' is wrong; expecting 'eu-west-1'" }) }))).toBe(
      'signed for region us-west-2 (sigv4.region); endpoint region eu-west-1 (named by the endpoint)',
    );
    expect(lastErrorDetail(destination({ sigv4: signedWest, url: 'http://127.0.0.1:8080/w', lastError: mismatch }))).toBe(
      'signed for region us-west-2 (sigv4.region); endpoint region unknown (the host 127.0.0.1 names no region; fleet-agent doctor probes it)',
    );
  });

  it('access_denied: the action and resource from the answer, or the workspace from the URL, and the principal', () => {
    const callerArn = 'arn:aws:sts::123456789012:assumed-role/fleet-agent/i-0abc';
    const credentials = { source: 'EC2 instance metadata (IMDSv2)', callerArn, expiration: null, lastRefreshAt: null, lastError: null };
    const named = failure({ class: 'access_denied', action: 'aps:RemoteWrite', resource: 'arn:aws:aps:us-east-1:123456789012:workspace/ws-1' });
    expect(lastErrorDetail(destination({ credentials, lastError: named }))).toBe(`action aps:RemoteWrite; resource arn:aws:aps:us-east-1:123456789012:workspace/ws-1; principal ${callerArn}`);
    expect(lastErrorDetail(destination({ credentials, lastError: failure({ class: 'access_denied', action: 'aps:RemoteWrite' }) }))).toBe(
      `action aps:RemoteWrite; resource arn:aws:aps:us-east-1:123456789012:workspace/ws-12345678-abcd-ef01-2345-6789abcdef01 (from the URL); principal ${callerArn}`,
    );
    expect(lastErrorDetail(destination({ lastError: failure({ class: 'access_denied', action: 'sts:AssumeRole', resource: 'arn:aws:iam::210987654321:role/amp-writer', stage: 'credentials' }) }))).toBe(
      'action sts:AssumeRole; resource arn:aws:iam::210987654321:role/amp-writer; while getting credentials (the destination was not contacted)',
    );
    expect(lastErrorDetail(destination({ sigv4: null, url: 'http://127.0.0.1:1/w', lastError: failure({ class: 'access_denied' }) }))).toBe('action not named in the answer; resource not named in the answer');
  });

  it('clock_skew: the offset measured from the rejecting answer (else the latest measurement)', () => {
    expect(lastErrorDetail(destination({ clockOffsetMs: 2_000, lastError: failure({ class: 'clock_skew', clockOffsetMs: -600_400 }) }))).toBe(
      'measured clock offset -600.4 s (endpoint time − local time); AWS rejects signatures more than 300 s off',
    );
    expect(lastErrorDetail(destination({ clockOffsetMs: 360_000, lastError: failure({ class: 'clock_skew' }) }))).toBe(
      'measured clock offset +360.0 s (endpoint time − local time, latest measurement); AWS rejects signatures more than 300 s off',
    );
  });

  it('has nothing to add for classes whose message says it all', () => {
    expect(lastErrorDetail(destination({ lastError: failure({ class: 'server_error', status: 503 }) }))).toBeUndefined();
    expect(lastErrorDetail(destination())).toBeUndefined();
  });
});
