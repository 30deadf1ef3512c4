import { describe, expect, it } from 'vitest';
import { agentUrlProblems } from '../lib/agent-url.js';

describe('agentUrlProblems (the warning above the install commands)', () => {
  it.each([
    'http://localhost:3000',
    'http://LOCALHOST:3000',
    'https://fleet.localhost',
    'http://127.0.0.1:3000',
    'https://127.1.2.3',
    'http://[::1]:3000',
    'http://[::ffff:127.0.0.1]:3000',
    'http://0.0.0.0:3000',
  ])('%s is loopback: agents on other hosts cannot reach it', (url) => {
    expect(agentUrlProblems(url).loopback).toBe(true);
  });

  it.each(['https://fleet.example.com', 'http://10.0.0.5:3000', 'https://[2001:db8::1]', 'http://128.0.0.1', 'https://localhost.example.com'])('%s is not loopback', (url) => {
    expect(agentUrlProblems(url).loopback).toBe(false);
  });

  it('plain http is flagged, https is not', () => {
    expect(agentUrlProblems('http://fleet.example.com')).toEqual({ loopback: false, plainHttp: true });
    expect(agentUrlProblems('https://fleet.example.com')).toEqual({ loopback: false, plainHttp: false });
    expect(agentUrlProblems('not a url')).toEqual({ loopback: false, plainHttp: false });
  });
});
