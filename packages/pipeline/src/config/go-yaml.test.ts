import { describe, expect, it } from 'vitest';
import { expandEnv, parseGoYaml } from './go-yaml.js';
import { parseAgentConfigYaml } from './load.js';
import { PipelineConfigError } from './model.js';

const issues = (text: string, options = {}): string[] => {
  try {
    parseAgentConfigYaml(text, undefined, options);
    return [];
  } catch (err) {
    if (err instanceof PipelineConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
};

describe('parseGoYaml (scalars as Go types them)', () => {
  it('keeps the source text of scalars, reads plain null spellings as null, resolves anchors and merge keys', () => {
    const { value, issues: problems } = parseGoYaml('a:\nb: ~\nc: 011\nd: "1.0"\ne: yes\nf: &x {k: 1}\ng: *x\nh:\n  <<: *x\n  z: 2\n  k: 3\ni: [1, null]\nj: 1.0\n');
    expect(problems).toEqual([]);
    expect(value).toEqual({ a: null, b: null, c: '011', d: '1.0', e: 'yes', f: { k: '1' }, g: { k: '1' }, h: { z: '2', k: '3' }, i: ['1', null], j: '1.0' });
  });
  it('refuses duplicate keys with the line, and bounds alias expansion', () => {
    expect(parseGoYaml('a: 1\na: 2\n').issues[0]?.path).toMatch(/^line 2/);
    const laughs = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...'bcdefg'.split('').map((c, i) => `${c}: &${c} [${Array(10).fill(`*${'abcdefg'[i]}`).join(', ')}]`)].join('\n');
    expect(parseGoYaml(laughs).issues[0]?.message).toMatch(/more than a million nodes/);
  });
});

describe('config values read as Prometheus reads them', () => {
  it('strings stay strings: numeric user names, label values 1 / true / 1.0', () => {
    const config = parseAgentConfigYaml(`
global:
  external_labels: { cluster: 1, prod: true, version: 1.0 }
scrape_configs:
  - job_name: 2024
    basic_auth: { username: 11111, password: 0042 }
    static_configs: [{ targets: ['h:9100'], labels: { rack: 07 } }]
`);
    const job = config.instances[0]!.scrapeConfigs[0]!;
    expect(config.global.externalLabels).toEqual({ cluster: '1', prod: 'true', version: '1.0' });
    expect(job.jobName).toBe('2024');
    expect(job.basicAuth).toMatchObject({ username: '11111', password: '0042' });
    expect(job.staticConfigs[0]!.labels).toEqual({ rack: '07' });
  });
  it('empty sections are empty; YAML 1.1 booleans work in boolean fields', () => {
    const config = parseAgentConfigYaml('global:\nrule_files:\nscrape_configs:\n  - job_name: a\n    honor_labels: yes\n    relabel_configs:\n    static_configs:\n      - targets: [h:1]\n');
    const job = config.instances[0]!.scrapeConfigs[0]!;
    expect(job.honorLabels).toBe(true);
    expect(job.relabelConfigs).toEqual([]);
    expect(config.global.scrapeIntervalMs).toBe(60_000);
  });
  it('bearer_token_file becomes an authorization of type Bearer; limits and sizes as Prometheus spells them', () => {
    const job = parseAgentConfigYaml(`
global: { sample_limit: 5000, body_size_limit: 10MB }
scrape_configs:
  - job_name: kubelet
    scheme: https
    bearer_token_file: /var/run/secrets/kubernetes.io/serviceaccount/token
    tls_config: { ca_file: /ca.crt, insecure_skip_verify: true }
    label_limit: 30
    static_configs: [{ targets: ['node:10250'] }]
`).instances[0]!.scrapeConfigs[0]!;
    expect(job.authorization).toEqual({ type: 'Bearer', credentials: undefined, credentialsFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' });
    expect(job).toMatchObject({ sampleLimit: 5000, bodySizeLimitBytes: 10 * 2 ** 20, labelLimit: 30, followRedirects: true, enableHttp2: true });
    expect(job.tlsConfig?.insecureSkipVerify).toBe(true);
  });
});

describe('agent mode, warnings and other dialects', () => {
  it('refuses rules and remote_read with Prometheus agent mode words; empty ones pass', () => {
    expect(issues('rule_files: [a.yml]\n')).toEqual(['rule_files: field rule_files is not allowed in agent mode (fleet-agent, like Prometheus --agent, only scrapes and remote-writes)']);
    expect(issues('rule_files: []\nalerting: { alertmanagers: [] }\n')).toEqual([]);
    expect(issues('alerting: { alertmanagers: [{ static_configs: [{ targets: [am:9093] }] }] }\n')[0]).toMatch(/^alerting: field alerting is not allowed in agent mode/);
  });
  it('accepts storage:, send_exemplars and metadata_config with warnings', () => {
    const config = parseAgentConfigYaml(`
storage: { tsdb: { out_of_order_time_window: 30m } }
remote_write:
  - url: https://rw.example.com/api/v1/write
    send_exemplars: true
    protobuf_message: prometheus.WriteRequest
    metadata_config: { send: true }
`);
    expect(config.warnings.map((w) => w.path)).toEqual(['storage', 'remote_write[0].send_exemplars', 'remote_write[0].metadata_config']);
  });
  it('names unsupported SD kinds and remote write 2.0 as not supported yet', () => {
    expect(issues('scrape_configs: [{ job_name: a, gce_sd_configs: [{ project: p, zone: z }] }]\n')).toEqual(['scrape_configs[0].gce_sd_configs: gce_sd_configs is a Prometheus feature fleet-agent does not support yet']);
    expect(issues('remote_write: [{ url: "http://h/w", protobuf_message: io.prometheus.write.v2.Request }]\n')[0]).toMatch(/remote write 2\.0 .* does not support yet/);
  });
  it('tells a pre-v0.18 Grafana Agent file what to rename, and reads a server-only file', () => {
    expect(issues('server: { log_level: info }\nprometheus: { configs: [] }\n')).toEqual(['prometheus: this is a Grafana Agent file from before v0.18: rename the top-level prometheus: to metrics: (the blocks inside keep their names)']);
    const config = parseAgentConfigYaml('server:\n  http_listen_port: 12345\n');
    expect(config.instances).toEqual([]);
    expect(config.warnings.map((w) => w.path)).toEqual(['server.http_listen_port']);
  });
  it('keeps metrics.wal_directory', () => {
    expect(parseAgentConfigYaml('metrics:\n  wal_directory: /var/lib/agent/wal\n  configs: []\n').walDirectory).toBe('/var/lib/agent/wal');
  });
  it('sigv4 {} takes the region from the environment when the URL names none', () => {
    const doc = 'remote_write:\n  - url: https://metrics.internal.example/api/v1/write\n    sigv4: {}\n';
    expect(issues(doc)).toEqual(["remote_write[0].sigv4.region: required: the URL's host metrics.internal.example names no region and AWS_REGION is not set"]);
    expect(parseAgentConfigYaml(doc, undefined, { defaultRegion: 'eu-west-1' }).instances[0]!.remoteWrite[0]!.sigv4).toMatchObject({ region: 'eu-west-1', service: 'aps' });
    // An AMP URL names its region, which wins.
    const amp = 'remote_write:\n  - url: https://aps-workspaces.us-east-2.amazonaws.com/workspaces/ws-1/api/v1/remote_write\n    sigv4: {}\n';
    expect(parseAgentConfigYaml(amp, undefined, { defaultRegion: 'eu-west-1' }).instances[0]!.remoteWrite[0]!.sigv4?.region).toBe('us-east-2');
  });
});

describe('expandEnv (--config.expand-env)', () => {
  it('expands ${VAR}, ${VAR:-default} and ${VAR-default}; $$ is $; bare $1 stays', () => {
    const env = { CLUSTER: 'prod', EMPTY: '' };
    expect(expandEnv('a: ${CLUSTER} ${EMPTY:-d} ${EMPTY-d} ${MISSING:-x} $1 $$1', env)).toEqual({ text: 'a: prod d  x $1 $1', issues: [] });
  });
  it('names an unset variable without a default and its line', () => {
    expect(expandEnv('a: 1\nb: ${NOPE}\n', {}).issues).toEqual([{ path: 'line 2', message: '${NOPE} is not set in the environment (write ${NOPE:-default} for a default)' }]);
    expect(issues('external: ${NOPE}\n', { expandEnv: true, env: {} })).toEqual(['line 1: ${NOPE} is not set in the environment (write ${NOPE:-default} for a default)']);
  });
  it('applies before parsing, so values can be whole scalars', () => {
    const config = parseAgentConfigYaml('global:\n  external_labels: { cluster: "${CLUSTER}" }\n', undefined, { expandEnv: true, env: { CLUSTER: 'eks-1' } });
    expect(config.global.externalLabels).toEqual({ cluster: 'eks-1' });
  });
});
