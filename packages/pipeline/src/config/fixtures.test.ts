import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadAgentConfigFile, PipelineConfigError, type AgentConfig, type ConfigIssue, type ScrapeConfig } from './index.js';

// Every file under fixtures/good must load, every file under fixtures/unsupported must be refused
// as a Prometheus feature not supported yet (naming the kind), and every file under fixtures/bad
// must be refused for the reason Prometheus gives, at the config path its header names.
//
// Header comments (lines starting with `# key: value` before the first YAML line):
//   # expect: <substring>          bad: one issue's message must contain it (case-insensitive);
//                                  `a || b` accepts either spelling. Several lines: all, same issue.
//   # path: <config path>          bad/unsupported: the issue's path is this path or lies under it.
//   # kind: <feature>              unsupported: the feature the refusal must name.
//   # warn: <substring>            good: a warning containing it must be reported (one per line);
//                                  a good fixture without `# warn:` must load without warnings.
//   # env: NAME=value              load with expandEnv and this environment (one variable per line).
//   # source: <where it comes from> documentation only.

const ROOT = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

/** The `# key: value` comment lines at the top of a fixture. */
interface FixtureHeader {
  expect: string[][];
  path?: string | undefined;
  kind?: string | undefined;
  warn: string[];
  /** Set when the fixture has `# env:` lines: load with `expandEnv` and exactly this environment. */
  env?: Record<string, string> | undefined;
}

function readHeader(text: string): FixtureHeader {
  const header: FixtureHeader = { expect: [], warn: [] };
  for (const line of text.split('\n')) {
    if (!line.startsWith('#')) break;
    const m = /^#\s*(expect|path|kind|warn|env|source):\s?(.*)$/.exec(line);
    if (!m) continue;
    const value = m[2]!.trim();
    if (m[1] === 'expect') header.expect.push(value.split(' || ').map((s) => s.trim().toLowerCase()));
    else if (m[1] === 'path') header.path = value;
    else if (m[1] === 'kind') header.kind = value;
    else if (m[1] === 'warn') header.warn.push(value.toLowerCase());
    else if (m[1] === 'env') {
      const eq = value.indexOf('=');
      header.env = { ...header.env, [value.slice(0, eq)]: value.slice(eq + 1) };
    }
  }
  return header;
}

function fixtures(kind: 'good' | 'bad' | 'unsupported'): Array<{ name: string; file: string; header: FixtureHeader }> {
  const dir = join(ROOT, kind);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yml'))
    .sort()
    .map((f) => ({ name: f, file: join(dir, f), header: readHeader(readFileSync(join(dir, f), 'utf8')) }));
}

/** `scrape_configs[0].tls_config.ca_file` lies under `scrape_configs[0]` and `scrape_configs[0].tls_config`. */
function under(path: string, base: string): boolean {
  if (base.startsWith('line ')) return path.startsWith(base);
  return path === base || path.startsWith(`${base}.`) || path.startsWith(`${base}[`);
}

function load(file: string, header: FixtureHeader): Promise<AgentConfig> {
  return loadAgentConfigFile(file, header.env ? { expandEnv: true, env: header.env } : {});
}

async function refusal(file: string, header: FixtureHeader): Promise<PipelineConfigError> {
  let config: AgentConfig;
  try {
    config = await load(file, header);
  } catch (err) {
    expect(err).toBeInstanceOf(PipelineConfigError);
    return err as PipelineConfigError;
  }
  throw new Error(`expected the config to be refused, it loaded: ${JSON.stringify(config.instances.map((i) => i.scrapeConfigs.map((s) => s.jobName)))}`);
}

const MiB = 2 ** 20;

function job(config: AgentConfig, name: string, instance = 0): ScrapeConfig {
  const found = config.instances[instance]?.scrapeConfigs.find((s) => s.jobName === name);
  if (!found) throw new Error(`no job ${JSON.stringify(name)} in instance ${instance}`);
  return found;
}

/** Normalised values a good fixture must produce (what the agent runs, not just "it parsed"). */
const GOOD_CHECKS: Record<string, (config: AgentConfig) => void> = {
  'operator-servicemonitor.yml': (c) => {
    expect(c.global.externalLabels).toEqual({ prometheus: 'observability/agent', prometheus_replica: '$(POD_NAME)' });
    const j = job(c, 'serviceMonitor/observability/checkout-api/0');
    expect(j).toMatchObject({
      scrapeIntervalMs: 15_000, scrapeTimeoutMs: 10_000, metricsPath: '/internal/metrics', scheme: 'https', followRedirects: true, enableHttp2: true,
      scrapeProtocols: ['OpenMetricsText1.0.0', 'OpenMetricsText0.0.1', 'PrometheusText0.0.4'],
      sampleLimit: 20_000, labelLimit: 64, labelNameLengthLimit: 128, labelValueLengthLimit: 1024, targetLimit: 50, keepDroppedTargets: 10,
      authorization: { type: 'Bearer', credentialsFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' },
      tlsConfig: { caFile: '/etc/prometheus/certs/configmap_shop_checkout-ca_ca.crt', serverName: 'checkout-api.shop.svc', insecureSkipVerify: false },
    });
    expect(j.kubernetesSdConfigs[0]).toMatchObject({ role: 'endpoints', namespaces: { ownNamespace: false, names: ['shop'] } });
    expect(j.relabelConfigs.find((r) => r.action === 'hashmod')).toMatchObject({ modulus: 1, target_label: '__tmp_hash' });
    expect(c.instances[0]!.remoteWrite[0]).toMatchObject({
      name: 'mimir', basicAuth: { username: 'tenant-42', passwordFile: '/etc/prometheus/secrets/mimir/password' },
      queueConfig: { maxSamplesPerSend: 2000, batchSendDeadlineMs: 5000, minBackoffMs: 50, maxBackoffMs: 10_000 },
    });
  },
  'relabel-actions.yml': (c) => {
    const rules = job(c, 'relabel-all').relabelConfigs;
    expect(rules.map((r) => r.action)).toEqual(['replace', 'replace', 'replace', 'replace', 'keepequal', 'dropequal', 'hashmod', 'keep', 'labelmap', 'labeldrop', 'labelkeep', 'lowercase', 'uppercase']);
    expect(rules[0]).toMatchObject({ source_labels: ['job', '__meta_dns_name'], separator: ';', regex: '(.*)shop-[a-z]+', replacement: 'store-${1}', target_label: 'job' });
    expect(rules[2]).toMatchObject({ regex: '(.*)', replacement: 'payments' });
    expect(rules[3]).toMatchObject({ regex: '', replacement: 'payments' });
    expect(rules[6]).toMatchObject({ modulus: 4, target_label: '__tmp_shard' });
    expect(c.instances[0]!.remoteWrite[0]!.writeRelabelConfigs).toHaveLength(1);
  },
  'agent-minimal.yml': (c) => {
    expect(c.global).toEqual({ scrapeIntervalMs: 20_000, scrapeTimeoutMs: 10_000, externalLabels: {} });
    expect(job(c, 'fleet-agent-self')).toMatchObject({
      scrapeIntervalMs: 20_000, scrapeTimeoutMs: 10_000, metricsPath: '/metrics', scheme: 'http', honorLabels: false, honorTimestamps: true,
      enableCompression: true, sampleLimit: 0, bodySizeLimitBytes: 0, labelLimit: 0, targetLimit: 0, keepDroppedTargets: 0,
      staticConfigs: [{ targets: ['127.0.0.1:9464'], labels: {} }],
    });
    expect(job(c, 'fleet-agent-self').followRedirects).not.toBe(false);
    expect(job(c, 'fleet-agent-self').enableHttp2).not.toBe(false);
    const [rw] = c.instances[0]!.remoteWrite;
    expect(rw).toMatchObject({ url: 'http://metrics-store.internal:9009/api/v1/push', remoteTimeoutMs: 30_000, sigv4: undefined });
    expect(rw!.name).toMatch(/^[0-9a-f]{6}$/);
  },
  'empty-global.yml': (c) => expect(c.global).toEqual({ scrapeIntervalMs: 60_000, scrapeTimeoutMs: 10_000, externalLabels: {} }),
  'kubernetes-example.yml': (c) => {
    const api = job(c, 'k8s-api');
    expect(api.kubernetesSdConfigs).toHaveLength(1);
    expect(api.kubernetesSdConfigs[0]).toMatchObject({ role: 'endpoints', apiServer: undefined, kubeconfigFile: undefined, namespaces: { ownNamespace: false, names: [] }, selectors: [] });
    expect(api.authorization).toMatchObject({ type: 'Bearer', credentialsFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' });
    expect(api.tlsConfig).toMatchObject({ caFile: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt', insecureSkipVerify: true });
    expect(api.scheme).toBe('https');
    expect(job(c, 'k8s-kubelets').kubernetesSdConfigs[0]!.role).toBe('node');
    expect(job(c, 'k8s-probed-services')).toMatchObject({ metricsPath: '/probe', params: { module: ['http_2xx'] } });
    expect(job(c, 'k8s-probed-ingresses').kubernetesSdConfigs[0]!.role).toBe('ingress');
    expect(job(c, 'k8s-annotated-pods').relabelConfigs[2]).toMatchObject({ action: 'labelmap', replacement: '__param_$1' });
  },
  'kubernetes-selectors.yml': (c) => {
    expect(job(c, 'sel-endpoints').kubernetesSdConfigs[0]!.selectors).toEqual([
      { role: 'pod', label: 'app.kubernetes.io/part-of=shop', field: 'status.phase=Running' },
      { role: 'service', label: 'tier in (web,api)', field: undefined },
      { role: 'endpoints', label: undefined, field: 'metadata.namespace!=kube-system' },
    ]);
    expect(job(c, 'sel-pod').kubernetesSdConfigs[0]!.namespaces).toEqual({ ownNamespace: false, names: ['shop', 'payments'] });
    expect(job(c, 'sel-endpointslice').kubernetesSdConfigs[0]!.selectors.map((s) => s.role)).toEqual(['endpointslice', 'pod']);
  },
  'kubernetes-api-access.yml': (c) => {
    expect(job(c, 'in-cluster-empty-api-server').kubernetesSdConfigs[0]!.apiServer).toBeUndefined();
    expect(job(c, 'own-namespace-only').kubernetesSdConfigs[0]!.namespaces).toEqual({ ownNamespace: true, names: ['shared-tools'] });
    expect(job(c, 'via-kubeconfig').kubernetesSdConfigs[0]).toMatchObject({ kubeconfigFile: '/etc/fleet-agent/cluster-b.kubeconfig', apiServer: undefined });
    const explicit = job(c, 'explicit-api-server').kubernetesSdConfigs[0]!;
    expect(explicit.apiServer).toMatch(/^https:\/\/k8s-api\.cluster-c\.example\.org:6443\/?$/);
    expect(explicit.authorization).toMatchObject({ type: 'Bearer', credentialsFile: '/etc/fleet-agent/cluster-c.token' });
    expect(explicit.tlsConfig).toMatchObject({ caFile: '/etc/fleet-agent/cluster-c-ca.pem', serverName: 'kubernetes.default.svc' });
    expect(job(c, 'with-metadata').kubernetesSdConfigs[0]!.attachMetadata).toEqual({ node: true, namespace: false });
  },
  'ec2.yml': (c) => {
    expect(job(c, 'ec2-node-exporters').ec2SdConfigs[0]).toMatchObject({
      region: 'eu-west-3', port: 9100, refreshIntervalMs: 120_000,
      filters: [{ name: 'tag:Service', values: ['billing', 'ledger'] }, { name: 'instance-state-name', values: ['running'] }],
    });
    const [keys, profile] = job(c, 'ec2-other-account').ec2SdConfigs;
    expect(keys).toMatchObject({ region: 'ap-southeast-2', accessKey: 'AKIAEXAMPLEFLEET0001', roleArn: 'arn:aws:iam::210987654321:role/fleet-discovery', port: 80, refreshIntervalMs: 60_000, filters: [] });
    expect(profile).toMatchObject({ region: 'us-west-2', profile: 'discovery' });
  },
  'dns.yml': (c) => {
    expect(job(c, 'srv-records').dnsSdConfigs[0]).toMatchObject({ type: 'SRV', refreshIntervalMs: 45_000, names: ['_metrics._tcp.orders.service.example.net', '_metrics._tcp.carts.service.example.net'] });
    expect(job(c, 'a-records').dnsSdConfigs.map((d) => [d.type, d.port, d.refreshIntervalMs])).toEqual([['A', 9100, 30_000], ['AAAA', 9100, 30_000]]);
    expect(job(c, 'mail-and-ns').dnsSdConfigs.map((d) => d.type)).toEqual(['MX', 'NS']);
  },
  'http-sd.yml': (c) => {
    const [a, b] = job(c, 'from-inventory').httpSdConfigs;
    expect(a).toMatchObject({ url: 'https://inventory.example.org/prometheus/targets', refreshIntervalMs: 90_000, basicAuth: { username: 'fleet', passwordFile: '/etc/fleet-agent/inventory.pass' } });
    expect(b).toMatchObject({ url: 'http://127.0.0.1:8600/targets.json', refreshIntervalMs: 60_000, authorization: { type: 'Bearer', credentials: 'static-inventory-token' } });
  },
  'consul.yml': (c) => {
    expect(job(c, 'consul-services').consulSdConfigs[0]).toMatchObject({
      server: 'consul.service.dc2.example.com:8500', scheme: 'https', datacenter: 'dc2', token: 'not-a-real-consul-token', services: ['payments', 'invoices'],
      tags: ['metrics'], nodeMeta: { rack: 'r12' }, tagSeparator: ';', allowStale: false, refreshIntervalMs: 20_000,
      tlsConfig: { caFile: '/etc/consul/ca.pem', certFile: '/etc/consul/agent.pem', keyFile: '/etc/consul/agent-key.pem' },
    });
    expect(job(c, 'consul-everything').consulSdConfigs[0]).toMatchObject({ server: 'localhost:8500', scheme: 'http', services: [], tags: [], tagSeparator: ',', allowStale: true, refreshIntervalMs: 30_000 });
  },
  'helm-chart-amp.yml': (c) => {
    expect(c.global).toEqual({ scrapeIntervalMs: 60_000, scrapeTimeoutMs: 10_000, externalLabels: { cluster: 'shop-prod-eu' } });
    const [rw] = c.instances[0]!.remoteWrite;
    expect(rw!.sigv4).toMatchObject({ region: 'eu-central-1', service: 'aps', roleArn: 'arn:aws:iam::123456789012:role/amp-ingest' });
    expect(rw!.queueConfig).toMatchObject({ maxSamplesPerSend: 1000, maxShards: 200, capacity: 2500, minShards: 1 });
    expect(job(c, 'apiservers').authorization).toMatchObject({ type: 'Bearer', credentialsFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' });
    expect(job(c, 'service-endpoints-slow')).toMatchObject({ scrapeIntervalMs: 300_000, scrapeTimeoutMs: 30_000, honorLabels: true });
    expect(c.instances[0]!.scrapeConfigs.map((s) => s.jobName)).toHaveLength(7);
  },
  'grafana-agent-static.yml': (c) => {
    expect(c.walDirectory).toBe('/var/lib/fleet-agent/wal');
    expect(c.global).toEqual({ scrapeIntervalMs: 10_000, scrapeTimeoutMs: 5000, externalLabels: { site: 'lab-2' } });
    expect(c.instances.map((i) => i.name)).toEqual(['infra', 'apps']);
    expect(c.instances[0]!.remoteWrite.map((r) => r.name)).toEqual(['lab-mimir']);
    expect(c.instances[1]!.remoteWrite[0]!.sigv4).toMatchObject({ region: 'us-east-2', service: 'aps' });
    expect(job(c, 'api', 1)).toMatchObject({ scrapeIntervalMs: 30_000, scrapeTimeoutMs: 5000 });
    expect(job(c, 'node', 0).staticConfigs[0]!.labels).toEqual({ role: 'hypervisor' });
  },
  'grafana-agent-minimal.yml': (c) => {
    expect(c.global).toEqual({ scrapeIntervalMs: 60_000, scrapeTimeoutMs: 10_000, externalLabels: {} });
    expect(c.instances.map((i) => [i.name, i.remoteWrite.length])).toEqual([['only', 1]]);
  },
  'go-yaml-scalars.yml': (c) => {
    expect(c.global.externalLabels).toEqual({ replica: '1', primary: 'true', rack: '012' });
    const j = job(c, '2024');
    expect(j).toMatchObject({ honorLabels: true, honorTimestamps: false, relabelConfigs: [], metricRelabelConfigs: [] });
    expect(j.staticConfigs[0]!.labels).toEqual({ shard: '7', canary: 'false', empty: '' });
    expect(j.basicAuth).toMatchObject({ username: '11111', password: '0123' });
    expect(c.instances[0]!.remoteWrite[0]!.headers).toEqual({ 'X-Tenant': '42' });
  },
  'http-client-options.yml': (c) => {
    const tokenFile = job(c, 'token-file');
    expect(tokenFile.authorization).toMatchObject({ type: 'Bearer', credentialsFile: '/run/secrets/scrape-token' });
    expect(tokenFile.tlsConfig).toMatchObject({ caFile: '/etc/ssl/private-ca.pem', serverName: 'secure-app.internal', insecureSkipVerify: false, minVersion: 'TLS12' });
    expect(job(c, 'inline-token').authorization).toMatchObject({ type: 'Bearer', credentials: 'not-a-real-token' });
    const proxied = job(c, 'behind-proxy');
    expect(proxied.proxy).toMatchObject({ url: 'http://egress-proxy.corp.example:3128', noProxy: 'localhost,127.0.0.0/8,.svc.cluster.local', fromEnvironment: false, connectHeaders: { 'Proxy-Authorization': 'Basic Zm9vOmJhcg==' } });
    expect(proxied).toMatchObject({ followRedirects: false, enableHttp2: false });
    expect(job(c, 'env-proxy').proxy).toMatchObject({ url: undefined, fromEnvironment: true });
    expect(job(c, 'client-cert').tlsConfig).toMatchObject({ certFile: '/etc/fleet-agent/client.pem', keyFile: '/etc/fleet-agent/client-key.pem' });
  },
  'limits-protocols.yml': (c) => {
    expect(job(c, 'inherits-limits')).toMatchObject({
      bodySizeLimitBytes: 15 * MiB, sampleLimit: 1500, targetLimit: 30, labelLimit: 30, labelNameLengthLimit: 200, labelValueLengthLimit: 200,
      scrapeProtocols: ['PrometheusText0.0.4', 'OpenMetricsText1.0.0'],
    });
    expect(job(c, 'own-limits')).toMatchObject({
      scrapeIntervalMs: 50_000, scrapeTimeoutMs: 5000, bodySizeLimitBytes: 10 * MiB, sampleLimit: 1000, targetLimit: 35, labelLimit: 35,
      labelNameLengthLimit: 210, labelValueLengthLimit: 210, keepDroppedTargets: 5, honorTimestamps: false, enableCompression: false,
      scrapeProtocols: ['PrometheusText0.0.4'], metricsPath: '/custom/metrics', scheme: 'https', params: { 'collect[]': ['cpu', 'meminfo'] },
    });
  },
  'timeouts.yml': (c) => {
    expect(c.global).toMatchObject({ scrapeIntervalMs: 120_000, scrapeTimeoutMs: 90_000 });
    expect(job(c, 'faster-than-global-timeout')).toMatchObject({ scrapeIntervalMs: 20_000, scrapeTimeoutMs: 20_000 });
    expect(job(c, 'uses-global')).toMatchObject({ scrapeIntervalMs: 120_000, scrapeTimeoutMs: 90_000 });
    expect(job(c, 'timeout-equals-interval')).toMatchObject({ scrapeIntervalMs: 30_000, scrapeTimeoutMs: 30_000 });
  },
  'file-sd.yml': (c) => {
    const j = job(c, 'from-files');
    expect(j.fileSdConfigs).toEqual([
      { files: ['/etc/fleet-agent/targets/*.json', '/etc/fleet-agent/targets/*.yml', '/etc/fleet-agent/one-file.yaml'], refreshIntervalMs: 600_000 },
      { files: ['/srv/targets/*.yaml'], refreshIntervalMs: 300_000 },
    ]);
    expect(j.staticConfigs).toEqual([{ targets: ['127.0.0.1:9090', '127.0.0.1:9191'], labels: { my: 'label' } }]);
  },
  'env-expansion.yml': (c) => {
    expect(c.global.externalLabels).toEqual({ cluster: 'blue-7', region: 'eu-west-1', literal: '$HOME' });
    const j = job(c, 'env-job');
    expect(j.basicAuth).toMatchObject({ username: 'svc-7', passwordFile: '/etc/fleet-agent/secrets/pw' });
    expect(j.staticConfigs[0]!.targets).toEqual(['app-7.internal:9100']);
    expect(j.relabelConfigs[0]).toMatchObject({ replacement: 'node-$1' });
    expect(c.instances[0]!.remoteWrite[0]!.url).toBe('https://receiver.blue-7.example/api/v1/write');
  },
  'yaml-anchors.yml': (c) => {
    expect(job(c, 'shared-a')).toMatchObject({ scrapeIntervalMs: 45_000, scheme: 'https', tlsConfig: { insecureSkipVerify: true } });
    expect(job(c, 'shared-b')).toMatchObject({ scrapeIntervalMs: 10_000, scheme: 'https', tlsConfig: { insecureSkipVerify: true } });
  },
};

const show = (issues: readonly ConfigIssue[]): string => issues.map((i) => `${i.path}: ${i.message}`).join('\n');

describe('good fixtures load', () => {
  for (const { name, file, header } of fixtures('good')) {
    it(name, async () => {
      const config = await load(file, header);
      expect(config.instances.length).toBeGreaterThan(0);
      const warnings = config.warnings.map((w) => `${w.path}: ${w.message}`.toLowerCase());
      if (header.warn.length === 0) expect(warnings).toEqual([]);
      for (const w of header.warn) expect(warnings.some((x) => x.includes(w)), `warning containing ${JSON.stringify(w)} in ${JSON.stringify(warnings)}`).toBe(true);
      GOOD_CHECKS[name]?.(config);
    });
  }

  it('every normalised-value check names a good fixture', () => {
    const names = new Set(fixtures('good').map((f) => f.name));
    expect(Object.keys(GOOD_CHECKS).filter((n) => !names.has(n))).toEqual([]);
  });
});

describe('unsupported fixtures are refused as not supported yet, naming the kind', () => {
  for (const { name, file, header } of fixtures('unsupported')) {
    it(name, async () => {
      expect(header.kind, `${name} needs a "# kind:" header`).toBeTruthy();
      expect(header.path, `${name} needs a "# path:" header`).toBeTruthy();
      const err = await refusal(file, header);
      const hit = err.issues.find((i) => under(i.path, header.path!) && i.message.includes(header.kind!) && /does not support yet/.test(i.message));
      expect(hit, `an issue under ${header.path} naming ${header.kind} as not supported yet; got:\n${show(err.issues)}`).toBeDefined();
    });
  }
});

describe('bad fixtures are refused for the reason Prometheus gives', () => {
  for (const { name, file, header } of fixtures('bad')) {
    it(name, async () => {
      expect(header.expect.length, `${name} needs a "# expect:" header`).toBeGreaterThan(0);
      expect(header.path, `${name} needs a "# path:" header`).toBeDefined();
      const err = await refusal(file, header);
      const hit = err.issues.find((i) => {
        const message = i.message.toLowerCase();
        return under(i.path, header.path!) && header.expect.every((alternatives) => alternatives.some((a) => message.includes(a)));
      });
      expect(hit, `an issue under ${JSON.stringify(header.path)} containing ${JSON.stringify(header.expect)}; got:\n${show(err.issues)}`).toBeDefined();
      // The message a person reads names the file and the same issue.
      expect(err.message).toContain(file);
    });
  }
});
