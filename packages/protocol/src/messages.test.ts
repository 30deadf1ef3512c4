import { describe, expect, it } from 'vitest';
import { enrollRequestSchema, isStorableText, MAX_ERROR_LENGTH, parseAgentMessage, parseServerMessage, PROTOCOL_VERSION, SELF_DECLARED_LABEL_LIMITS, UNSTORABLE_TEXT_MESSAGE } from './index.js';

const hash = 'a'.repeat(64);
const hello = {
  type: 'hello',
  v: PROTOCOL_VERSION,
  seq: 0,
  description: { hostname: 'ip-10-0-0-1', version: '0.1.0', platform: 'ec2', instanceId: 'i-0abc', region: 'eu-west-1', labels: { env: 'prod' } },
  capabilities: ['remote_write'],
  configHash: null,
};

describe('agent channel protocol', () => {
  it('accepts well-formed messages in both directions', () => {
    expect(parseAgentMessage(JSON.stringify(hello))).toMatchObject({ ok: true, message: { type: 'hello' } });
    expect(parseAgentMessage(JSON.stringify({ type: 'configStatus', v: 1, seq: 3, configHash: hash, status: 'applied' })).ok).toBe(true);
    expect(parseServerMessage(JSON.stringify({ type: 'config', v: 1, configHash: hash, config: { scrape_configs: [] }, pipelines: [] })).ok).toBe(true);
  });

  it('names what is wrong with a malformed message and never throws', () => {
    expect(parseAgentMessage('{not json')).toMatchObject({ ok: false, code: 'malformed' });
    expect(parseAgentMessage('[]')).toEqual({ ok: false, code: 'malformed', error: 'expected a JSON object' });
    expect(parseAgentMessage(JSON.stringify({ type: 'gossip', v: 1 }))).toMatchObject({ ok: false, code: 'unknown_type' });
    expect(parseAgentMessage(JSON.stringify({ ...hello, v: 2 }))).toMatchObject({ ok: false, code: 'unsupported_version' });
    expect(parseAgentMessage(JSON.stringify({ ...hello, description: { ...hello.description, platform: 'mainframe' } }))).toMatchObject({
      ok: false,
      code: 'malformed',
      error: expect.stringMatching(/^hello\.description\.platform: /),
    });
    expect(parseAgentMessage(JSON.stringify({ type: 'configStatus', v: 1, seq: 1, configHash: hash, status: 'failed' }))).toMatchObject({
      ok: false,
      error: 'configStatus.error: a failed status needs an error',
    });
    expect(parseAgentMessage(JSON.stringify({ ...hello, extra: 1 }))).toMatchObject({ ok: false, code: 'malformed' });
    expect(parseAgentMessage('x'.repeat((1 << 20) + 1))).toMatchObject({ ok: false, error: expect.stringContaining('exceeds') });
  });
});

describe('numbers and strings an agent sends that are stored', () => {
  const heartbeat = (counters: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      type: 'heartbeat',
      v: PROTOCOL_VERSION,
      seq: 1,
      at: new Date().toISOString(),
      counters: { samplesScraped: 1, samplesSent: 1, samplesDropped: 0, samplesRetried: 0, pendingSamples: 0, walBytes: 0, ...counters },
      destinations: [],
      targets: [],
      ...extra,
    });
  const destination = (d: Record<string, unknown>) => ({ name: 'amp', url: 'https://x.example/api/v1/write', pendingSamples: 0, walBytes: 0, droppedByReason: {}, credentials: null, clockOffsetMs: null, lastError: null, ...d });

  it('refuses counters that are not non-negative safe integers, naming the field', () => {
    expect(parseAgentMessage(heartbeat()).ok).toBe(true);
    for (const bad of [0.5, -1, 1e300, Number.MAX_SAFE_INTEGER + 2]) {
      const parsed = parseAgentMessage(heartbeat({ samplesSent: bad }));
      expect(parsed).toMatchObject({ ok: false, code: 'malformed', error: expect.stringMatching(/^heartbeat\.counters\.samplesSent: /) });
    }
    for (const field of ['samplesScraped', 'samplesDropped', 'samplesRetried', 'pendingSamples', 'walBytes', 'samplesFiltered']) {
      expect(parseAgentMessage(heartbeat({ [field]: 2.5 }))).toMatchObject({ ok: false, error: `heartbeat.counters.${field}: must be a whole number (a safe integer)` });
    }
    expect(parseAgentMessage(heartbeat({}, { seq: 1.5 }))).toMatchObject({ ok: false, error: expect.stringMatching(/^heartbeat\.seq: /) });
    // Per destination too: counts, and counts by reason or class.
    for (const [d, path] of [
      [{ samplesSent: 0.5 }, 'destinations.0.samplesSent'],
      [{ samplesRetried: -3 }, 'destinations.0.samplesRetried'],
      [{ walBytes: 1e300 }, 'destinations.0.walBytes'],
      [{ highestSentTimestampMs: 1.5 }, 'destinations.0.highestSentTimestampMs'],
      [{ droppedByReason: { http_4xx: 0.25 } }, 'destinations.0.droppedByReason.http_4xx'],
      [{ failedSendsByClass: { timeout: -1 } }, 'destinations.0.failedSendsByClass.timeout'],
    ] as const) {
      expect(parseAgentMessage(heartbeat({}, { destinations: [destination(d)] }))).toMatchObject({ ok: false, error: expect.stringMatching(new RegExp(`^heartbeat\\.${path.replace(/\./g, '\\.')}: `)) });
    }
    expect(parseAgentMessage(heartbeat({}, { destinations: [destination({ samplesSent: 10, droppedByReason: { http_4xx: 3 } })] })).ok).toBe(true);
    const target = { job: 'node', instance: 'h:9100', up: true, lastScrapeAt: null, durationMs: 1.5, samples: 0.5, lastError: null };
    expect(parseAgentMessage(heartbeat({}, { targets: [target] }))).toMatchObject({ ok: false, error: expect.stringMatching(/^heartbeat\.targets\.0\.samples: /) });
  });

  it('refuses NUL characters and lone surrogates in every stored string, naming the field', () => {
    expect(isStorableText('ünïcödé 🎉')).toBe(true);
    for (const bad of ['a\u0000b', 'x\ud800', '\udc00y', 'z\ud83d']) expect(isStorableText(bad)).toBe(false);
    const nul = 'bad\u0000value';
    const cases: Array<[string, string]> = [
      [JSON.stringify({ ...hello, description: { ...hello.description, hostname: nul } }), 'hello.description.hostname'],
      [JSON.stringify({ ...hello, description: { ...hello.description, version: 'v\ud800' } }), 'hello.description.version'],
      [JSON.stringify({ type: 'configStatus', v: 1, seq: 1, configHash: hash, status: 'failed', error: nul }), 'configStatus.error'],
      [JSON.stringify({ type: 'disconnect', v: 1, seq: 1, reason: nul }), 'disconnect.reason'],
      [heartbeat({}, { destinations: [destination({ name: nul })] }), 'heartbeat.destinations.0.name'],
      [heartbeat({}, { destinations: [destination({ lastError: { at: new Date().toISOString(), class: 'http', code: null, status: 500, message: nul } })] }), 'heartbeat.destinations.0.lastError.message'],
      [heartbeat({}, { destinations: [destination({ droppedByReason: { [nul]: 1 } })] }), 'heartbeat.destinations.0.droppedByReason'],
      [heartbeat({}, { targets: [{ job: 'node', instance: 'i', up: false, lastScrapeAt: null, durationMs: 0, samples: 0, lastError: 'x\udfff' }] }), 'heartbeat.targets.0.lastError'],
    ];
    for (const [frame, field] of cases) {
      const parsed = parseAgentMessage(frame);
      expect(parsed, field).toMatchObject({ ok: false, code: 'malformed' });
      expect(parsed.ok ? '' : parsed.error, field).toMatch(new RegExp(`^${field.replace(/\./g, '\\.')}`));
    }
  });

  it('quotes at most 64 characters of an unknown type and never the whole frame', () => {
    const type = `gossip${'x'.repeat(500_000)}`;
    const parsed = parseAgentMessage(JSON.stringify({ type, v: 1 }));
    expect(parsed).toMatchObject({ ok: false, code: 'unknown_type' });
    const error = parsed.ok ? '' : parsed.error;
    expect(error).toMatch(/^unknown message type "gossipx+…" \(expected one of hello, configStatus, heartbeat, disconnect\)$/);
    expect(error.length).toBeLessThan(200);
    // Any error stays short, whatever the peer sent (a huge unknown key, a huge version).
    const key = `k${'y'.repeat(100_000)}`;
    for (const frame of [JSON.stringify({ ...hello, [key]: 1 }), JSON.stringify({ ...hello, v: 'z'.repeat(100_000) })]) {
      const p = parseAgentMessage(frame);
      expect(p.ok).toBe(false);
      expect((p.ok ? '' : p.error).length).toBeLessThanOrEqual(MAX_ERROR_LENGTH);
    }
  });
});

describe('enrollment requests', () => {
  const description = { hostname: 'ip-10-0-0-1', version: '0.1.0', platform: 'ec2' as const, labels: {} };
  const token = `fet_${'A'.repeat(43)}`;
  const issue = (body: unknown) => {
    const r = enrollRequestSchema.safeParse(body);
    return r.success ? undefined : { path: r.error.issues[0]!.path.join('.'), message: r.error.issues[0]!.message };
  };

  it('refuses NUL characters and lone surrogates in every string, naming the field', () => {
    expect(issue({ token, description })).toBeUndefined();
    expect(issue({ token, description: { ...description, hostname: 'web\u0000' } })).toEqual({ path: 'description.hostname', message: UNSTORABLE_TEXT_MESSAGE });
    expect(issue({ token, description: { ...description, pod: 'p\ud800' } })).toEqual({ path: 'description.pod', message: UNSTORABLE_TEXT_MESSAGE });
    expect(issue({ token: `${token}\u0000`, description })).toEqual({ path: 'token', message: UNSTORABLE_TEXT_MESSAGE });
    expect(issue({ token, description: { ...description, labels: { role: 'w\u0000' } } })).toEqual({ path: 'description.labels.role', message: UNSTORABLE_TEXT_MESSAGE });
  });

  it('limits self-declared labels: 20 at most, Prometheus names of ≤ 100 characters, no __ prefix, values ≤ 200 characters', () => {
    const labels = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`l${i}`, 'v']));
    expect(SELF_DECLARED_LABEL_LIMITS).toEqual({ count: 20, nameLength: 100, valueLength: 200 });
    expect(issue({ token, description: { ...description, labels: labels(20) } })).toBeUndefined();
    expect(issue({ token, description: { ...description, labels: labels(3000) } })).toEqual({ path: 'description.labels', message: 'at most 20 labels (got 3000)' });
    expect(issue({ token, description: { ...description, labels: { __meta: 'x' } } })).toEqual({ path: 'description.labels.__meta', message: 'label names starting with __ are reserved' });
    expect(issue({ token, description: { ...description, labels: { 'team-name': 'x' } } })?.path).toBe('description.labels.team-name');
    expect(issue({ token, description: { ...description, labels: { ['n'.repeat(101)]: 'x' } } })?.message).toBe('label names are at most 100 characters');
    expect(issue({ token, description: { ...description, labels: { role: 'v'.repeat(201) } } })).toEqual({ path: 'description.labels.role', message: 'label values are at most 200 characters' });
    expect(issue({ token, description: { ...description, labels: { role: 'v'.repeat(200), ['n'.repeat(100)]: 'x' } } })).toBeUndefined();
  });
});
