import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCli } from './main.js';
import { AGENT_VERSION } from '../version.js';

describe('fleet-agent CLI', () => {
  afterEach(() => vi.restoreAllMocks());

  it('prints its version', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    expect(await runCli(['version'])).toBe(0);
    expect(log.mock.calls[0]?.[0]).toMatch(new RegExp(`^fleet-agent ${AGENT_VERSION.replace(/\./g, '\\.')} \\(node v\\d+`));
    expect(AGENT_VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('rejects an unknown command with usage and exit code 2', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    expect(await runCli(['frobnicate'])).toBe(2);
    expect(error.mock.calls[0]?.[0]).toMatch(/unknown command "frobnicate"[\s\S]*usage: fleet-agent/);
  });
});
