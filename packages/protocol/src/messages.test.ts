import { describe, expect, it } from 'vitest';
import { parseAgentMessage, parseServerMessage, PROTOCOL_VERSION } from './index.js';

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
