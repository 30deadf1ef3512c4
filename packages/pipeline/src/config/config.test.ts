import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration.js';
import { inferSigningFromHost } from './aws-endpoints.js';
import { parseAgentConfigYaml, PipelineConfigError } from './index.js';

function issues(yaml: string): string[] {
  try {
    parseAgentConfigYaml(yaml);
  } catch (err) {
    if (err instanceof PipelineConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  throw new Error('expected the config to be rejected');
}

const AMP = 'https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-12345678-abcd/api/v1/remote_write';

describe('Prometheus config', () => {
  it('parses a typical AMP agent config with Prometheus defaults', () => {
    const config = parseAgentConfigYaml(`
global:
  scrape_interval: 15s
  external_labels: { cluster: prod }
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['localhost:9100']
        labels: { team: sre }
remote_write:
  - url: ${AMP}
    sigv4:
      role_arn: arn:aws:iam::123456789012:role/amp-writer
      external_id: ext-123
    queue_config:
      max_samples_per_send: 1000
`);
    expect(config.global).toEqual({ scrapeIntervalMs: 15_000, scrapeTimeoutMs: 10_000, externalLabels: { cluster: 'prod' } });
    const [inst] = config.instances;
    const job = inst!.scrapeConfigs[0]!;
    expect(job).toMatchObject({ jobName: 'node', scrapeIntervalMs: 15_000, scrapeTimeoutMs: 10_000, metricsPath: '/metrics', scheme: 'http', honorLabels: false, honorTimestamps: true, sampleLimit: 0 });
    const rw = inst!.remoteWrite[0]!;
    expect(rw.sigv4).toEqual({ region: 'us-east-1', service: 'aps', accessKey: undefined, secretKey: undefined, profile: undefined, roleArn: 'arn:aws:iam::123456789012:role/amp-writer', externalId: 'ext-123' });
    expect(rw.queueConfig).toMatchObject({ capacity: 10_000, maxShards: 50, minShards: 1, maxSamplesPerSend: 1000, batchSendDeadlineMs: 5000, minBackoffMs: 30, maxBackoffMs: 5000, retryOnHttp429: true });
    expect(rw.name).toMatch(/^[0-9a-f]{6}$/);
    expect(rw.remoteTimeoutMs).toBe(30_000);
  });

  it('caps a job timeout at its interval when only the global timeout is set', () => {
    const config = parseAgentConfigYaml(`
scrape_configs:
  - job_name: fast
    scrape_interval: 5s
`);
    expect(config.instances[0]!.scrapeConfigs[0]).toMatchObject({ scrapeIntervalMs: 5000, scrapeTimeoutMs: 5000 });
  });

  it('requires a region it cannot infer, naming the path', () => {
    expect(issues(`
remote_write:
  - url: http://127.0.0.1:9090/api/v1/write
    sigv4: {}
`)).toEqual(["remote_write[0].sigv4.region: required: the URL's host 127.0.0.1 names no region and AWS_REGION is not set"]);
  });

  it('names both regions when the configured region does not match the endpoint', () => {
    const [issue] = issues(`
remote_write:
  - url: ${AMP}
    sigv4: { region: eu-west-1 }
`);
    expect(issue).toContain('remote_write[0].sigv4.region:');
    expect(issue).toContain('"eu-west-1"');
    expect(issue).toContain('"us-east-1"');
  });

  it('rejects unknown keys instead of ignoring them', () => {
    expect(issues(`
scrape_configs:
  - job_name: a
    scrape_intervall: 10s
remote_write:
  - url: http://127.0.0.1/w
    queue_config: { max_shard: 3 }
`)).toEqual(['scrape_configs[0].scrape_intervall: unknown key', 'remote_write[0].queue_config.max_shard: unknown key']);
  });

  it('reports every problem at once with its path', () => {
    expect(issues(`
global: { scrape_interval: 10x }
scrape_configs:
  - job_name: a
    scrape_interval: 10s
    scrape_timeout: 20s
    static_configs: [{ targets: ['http://host:9100'] }]
  - job_name: a
remote_write:
  - url: not-a-url
  - url: http://x/
    sigv4: { access_key: AKIAEXAMPLE, region: us-east-1 }
    basic_auth: { username: u }
`)).toEqual([
      'global.scrape_interval: not a valid duration string "10x" (expected e.g. 15s, 1m30s, 500ms)',
      'scrape_configs[0].static_configs[0].targets[0]: target "http://host:9100" must be host:port without a scheme (set scheme: and metrics_path: on the job)',
      'remote_write[0].url: must be an http:// or https:// URL',
      'remote_write[1].sigv4.secret_key: access_key and secret_key must be set together',
      'remote_write[1].sigv4: at most one of basic_auth, authorization, oauth2, sigv4, azuread or google_iam must be configured',
    ]);
    expect(issues(`
scrape_configs:
  - job_name: a
    scrape_interval: 10s
    scrape_timeout: 20s
  - job_name: a
`)).toEqual(['scrape_configs[0].scrape_timeout: scrape timeout greater than scrape interval for scrape config with job name "a"', 'scrape_configs[1].job_name: found multiple scrape configs with job name "a"']);
  });

  it('says which Prometheus features the agent does not run', () => {
    expect(issues('rule_files: [a.yml]\n')).toEqual(['rule_files: field rule_files is not allowed in agent mode (fleet-agent, like Prometheus --agent, only scrapes and remote-writes)']);
  });

  it('reports YAML syntax errors with their line', () => {
    const [issue] = issues('scrape_configs:\n  - job_name: a\n   bad: [\n');
    expect(issue).toMatch(/^line \d+, column \d+: /);
  });

  it('rejects duplicate keys', () => {
    expect(issues('global:\n  scrape_interval: 1m\n  scrape_interval: 2m\n')[0]).toMatch(/line 3.*Map keys must be unique/);
  });

  it('names a required field', () => {
    expect(issues('scrape_configs:\n  - static_configs: []\n')).toEqual(['scrape_configs[0].job_name: required']);
    expect(issues('remote_write:\n  - {}\n')).toEqual(['remote_write[0].url: required']);
  });

  it('refuses destination names that would leave the WAL directory', () => {
    expect(issues('remote_write:\n  - { url: http://127.0.0.1:9090/api/v1/write, name: .. }\n')).toEqual(['remote_write[0].name: must not be "." or ".."']);
    expect(issues('remote_write:\n  - { url: http://127.0.0.1:9090/api/v1/write, name: a/b }\n')).toEqual(['remote_write[0].name: may contain only letters, digits, _ . -']);
  });
});

describe('Grafana Agent static mode', () => {
  it('maps metrics.configs to instances, with the global remote_write as default', () => {
    const config = parseAgentConfigYaml(`
server:
  log_level: info
metrics:
  wal_directory: /tmp/wal
  global:
    scrape_interval: 30s
    external_labels: { env: dev }
    remote_write:
      - url: ${AMP}
        name: amp
        sigv4: { region: us-east-1 }
  configs:
    - name: default
      scrape_configs:
        - job_name: node
          static_configs: [{ targets: ['127.0.0.1:9100'] }]
    - name: other
      scrape_configs:
        - job_name: app
          static_configs: [{ targets: ['127.0.0.1:8080'] }]
      remote_write:
        - url: http://127.0.0.1:9090/api/v1/write
          name: local
`);
    expect(config.global.scrapeIntervalMs).toBe(30_000);
    expect(config.global.externalLabels).toEqual({ env: 'dev' });
    expect(config.instances.map((i) => [i.name, i.scrapeConfigs.map((s) => s.jobName), i.remoteWrite.map((r) => r.name)])).toEqual([
      ['default', ['node'], ['amp']],
      ['other', ['app'], ['local']],
    ]);
  });

  it('rejects sections the agent does not support, naming them', () => {
    expect(issues('metrics: { configs: [] }\nlogs: { configs: [] }\n')).toEqual(['logs: logs (Promtail-style log collection) is a Grafana Agent feature fleet-agent does not support yet']);
  });
});

describe('durations and endpoints', () => {
  it('parses and formats Prometheus durations', () => {
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration('0s')).toBe(0);
    expect(parseDuration('1.5s')).toBeUndefined();
    expect(parseDuration('30s1m')).toBeUndefined();
    expect(parseDuration('')).toBeUndefined();
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(0)).toBe('0s');
  });

  it('infers the signing service and region from AWS endpoint hosts', () => {
    expect(inferSigningFromHost('aps-workspaces.us-east-1.amazonaws.com')).toEqual({ service: 'aps', region: 'us-east-1' });
    expect(inferSigningFromHost('logs.eu-central-1.amazonaws.com')).toEqual({ service: 'logs', region: 'eu-central-1' });
    expect(inferSigningFromHost('aps-workspaces.cn-north-1.amazonaws.com.cn')).toEqual({ service: 'aps', region: 'cn-north-1' });
    expect(inferSigningFromHost('vpce-0abc-123.aps-workspaces.eu-west-1.vpce.amazonaws.com')).toEqual({ service: 'aps', region: 'eu-west-1' });
    expect(inferSigningFromHost('127.0.0.1')).toBeUndefined();
    expect(inferSigningFromHost('prometheus.example.com')).toBeUndefined();
  });
});
