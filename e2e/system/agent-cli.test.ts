import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runAgentToExit, startAgent } from '../support/agent.js';

describe('fleet-agent command line', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-cli-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('refuses an invalid config, naming every bad path, with exit code 1', async () => {
    const file = path.join(dir, 'bad.yml');
    await writeFile(file, 'scrape_configs:\n  - job_name: a\n    scrape_intervall: 5s\nremote_write:\n  - url: http://127.0.0.1:9/write\n    sigv4: {}\n');
    const r = await runAgentToExit(['run', '--config', file, '--data-dir', path.join(dir, 'data')], {});
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`fleet-agent: ${file}: invalid configuration:`);
    expect(r.stderr).toContain('scrape_configs[0].scrape_intervall: unknown key');
    expect(r.stderr).toContain('remote_write[0].sigv4.region: required');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('reports a missing config file and bad flags clearly', async () => {
    const missing = await runAgentToExit(['run', '--config', path.join(dir, 'nope.yml')], {});
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nope.yml: cannot read the configuration:\n  no such file');
    const flag = await runAgentToExit(['run', '--config', 'x.yml', '--bogus'], {});
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/^fleet-agent: Unknown option '--bogus'/);
  });

  it('serves /metrics, /-/ready and /-/healthy, and stops cleanly on SIGTERM', async () => {
    const file = path.join(dir, 'ok.yml');
    await writeFile(file, 'global: { scrape_interval: 1m }\nremote_write:\n  - url: http://127.0.0.1:9/write\n    name: sink\n');
    const agent = await startAgent(['run', '--config', file, '--data-dir', path.join(dir, 'data'), '--listen', '127.0.0.1:0'], {});
    expect((await fetch(`${agent.url}/-/ready`)).status).toBe(200);
    expect(await (await fetch(`${agent.url}/-/healthy`)).text()).toContain('healthy');
    const metrics = await (await fetch(`${agent.url}/metrics`)).text();
    expect(metrics).toContain('fleet_agent_remote_shards{remote_name="sink"} 1');
    expect(metrics).toContain('# TYPE fleet_agent_remote_samples_dropped_total counter');
    expect(await agent.stop()).toBe(0);
    expect(agent.logs.at(-1)?.msg).toBe('stopped');
  });
});
