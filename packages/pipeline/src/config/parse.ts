import { z } from 'zod';
import { durationSchema } from './duration.js';
import { bool, list, nonEmpty, notYet, obj } from './fields.js';
import { formatConfigPath, PipelineConfigError, type AgentConfig, type ConfigIssue, type MetricsInstance } from './model.js';
import { checkSigningRegion, normaliseRemoteWrite, remoteWriteSchema, remoteWriteWarnings, type ParseEnvironment, type RawRemoteWrite } from './remote-write-schema.js';
import { globalFields, globalSchema, normaliseScrape, scrapeConfigSchema, scrapeWarnings, type RawGlobal, type RawScrape } from './scrape-schema.js';

const DEFAULT_SCRAPE_TIMEOUT_MS = 10_000;

/** A section Prometheus's agent mode refuses when it has content (`rule_files`, `remote_read`, `alerting`). */
const agentModeRefuses = (field: string, hasContent: (v: unknown) => boolean) =>
  z.unknown().superRefine((v, ctx) => {
    if (v !== null && v !== undefined && hasContent(v)) {
      ctx.addIssue({ code: 'custom', message: `field ${field} is not allowed in agent mode (fleet-agent, like Prometheus --agent, only scrapes and remote-writes)` });
    }
  });
const nonEmptyList = (v: unknown) => !Array.isArray(v) || v.length > 0;
const alertingHasContent = (v: unknown) => {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return true;
  const a = v as Record<string, unknown>;
  return Object.entries(a).some(([k, x]) => x !== null && !((k === 'alertmanagers' || k === 'alert_relabel_configs') && Array.isArray(x) && x.length === 0));
};

const prometheusSchema = obj({
  global: globalSchema.default(() => globalSchema.parse({})),
  scrape_configs: list(scrapeConfigSchema).default([]),
  remote_write: list(remoteWriteSchema).default([]),
  rule_files: agentModeRefuses('rule_files', nonEmptyList).optional(),
  remote_read: agentModeRefuses('remote_read', nonEmptyList).optional(),
  alerting: agentModeRefuses('alerting', alertingHasContent).optional(),
  scrape_config_files: notYet('scrape_config_files').optional(),
  storage: z.unknown().optional(),
  tracing: z.unknown().optional(),
  runtime: z.unknown().optional(),
  otlp: z.unknown().optional(),
});

const agentInstanceSchema = obj({
  name: nonEmpty,
  scrape_configs: list(scrapeConfigSchema).default([]),
  remote_write: list(remoteWriteSchema).optional(),
  host_filter: bool.refine((v) => !v, 'host_filter is a Grafana Agent feature fleet-agent does not support yet').optional(),
  host_filter_relabel_configs: notYet('host_filter_relabel_configs', 'Grafana Agent').optional(),
  wal_truncate_frequency: durationSchema.optional(),
  min_wal_time: durationSchema.optional(),
  max_wal_time: durationSchema.optional(),
  remote_flush_deadline: durationSchema.optional(),
  write_stale_on_shutdown: bool.optional(),
});

const grafanaAgentSchema = obj({
  server: z.record(z.string(), z.unknown()).optional(),
  metrics: obj({
    global: obj({ ...globalFields, remote_write: list(remoteWriteSchema).default([]) }).default(() => ({ ...globalSchema.parse({}), remote_write: [] })),
    wal_directory: nonEmpty.optional(),
    wal_cleanup_age: durationSchema.optional(),
    wal_cleanup_period: durationSchema.optional(),
    configs: list(agentInstanceSchema).default([]),
    instance_restart_backoff: durationSchema.optional(),
    instance_mode: z.enum(['shared', 'distinct']).optional(),
    disable_keepalives: bool.optional(),
    idle_connection_timeout: durationSchema.optional(),
    scraping_service: notYet('scraping_service (clustered scraping)', 'Grafana Agent').optional(),
    scraping_service_client: notYet('scraping_service_client', 'Grafana Agent').optional(),
  }).default(() => ({ global: { ...globalSchema.parse({}), remote_write: [] }, configs: [] })),
  integrations: notYet('integrations (embedded exporters such as node_exporter)', 'Grafana Agent').optional(),
  logs: notYet('logs (Promtail-style log collection)', 'Grafana Agent').optional(),
  traces: notYet('traces', 'Grafana Agent').optional(),
  agent_management: notYet('agent_management (use this control plane)', 'Grafana Agent').optional(),
});

/** Top-level keys of Grafana Agent files from before v0.18 and what they were renamed to. */
const PRE_V018_KEYS: Record<string, string> = { prometheus: 'metrics', loki: 'logs', tempo: 'traces' };
const GRAFANA_AGENT_KEYS = ['server', 'metrics', 'integrations', 'logs', 'traces', 'agent_management'];

function issuesOf(error: z.ZodError, prefix: readonly PropertyKey[] = []): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of error.issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: formatConfigPath([...path, key]), message: unknownKeyMessage(path, key) });
    } else if (issue.code === 'invalid_key') {
      // A record key (a label name) that fails: say why, naming the key.
      for (const inner of issue.issues) out.push({ path: formatConfigPath(path), message: `${JSON.stringify(String(issue.input ?? ''))}: ${inner.message}` });
    } else {
      out.push({ path: formatConfigPath(path), message: issue.message });
    }
  }
  return out;
}

/** `unknown key`, or what the key is called where it belongs when it is a well-known misplacement. */
function unknownKeyMessage(path: readonly PropertyKey[], key: string): string {
  if (path.length === 0 && key in PRE_V018_KEYS) return `unknown key: a Grafana Agent file from before v0.18? rename ${key}: to ${PRE_V018_KEYS[key]}:`;
  if (/_sd_configs?$/.test(key)) return `unknown key: ${key} is not a service discovery kind Prometheus knows`;
  return 'unknown key';
}

const errorMap: z.core.$ZodErrorMap = (issue) => {
  if (issue.code === 'invalid_type' && issue.input === undefined) return 'required';
  if (issue.code === 'invalid_type') return `expected ${issue.expected === 'object' ? 'a mapping' : issue.expected === 'array' ? 'a list' : issue.expected}, got ${describeInput(issue.input)}`;
  if (issue.code === 'invalid_value' && 'values' in issue) return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  return undefined;
};

function describeInput(v: unknown): string {
  if (v === null) return 'null (an empty value)';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function crossChecks(instances: MetricsInstance[], rawPaths: (i: number) => readonly PropertyKey[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const destinations = new Map<string, string>();
  instances.forEach((inst, i) => {
    const base = rawPaths(i);
    const jobs = new Set<string>();
    inst.scrapeConfigs.forEach((job, j) => {
      const p = [...base, 'scrape_configs', j];
      if (jobs.has(job.jobName)) issues.push({ path: formatConfigPath([...p, 'job_name']), message: `found multiple scrape configs with job name ${JSON.stringify(job.jobName)}` });
      jobs.add(job.jobName);
      if (job.scrapeTimeoutMs > job.scrapeIntervalMs) {
        issues.push({ path: formatConfigPath([...p, 'scrape_timeout']), message: `scrape timeout greater than scrape interval for scrape config with job name ${JSON.stringify(job.jobName)}` });
      }
      if (job.scrapeIntervalMs <= 0) issues.push({ path: formatConfigPath([...p, 'scrape_interval']), message: 'must be greater than 0' });
    });
    const urls = new Set<string>();
    inst.remoteWrite.forEach((rw, j) => {
      const seen = destinations.get(rw.name);
      // Grafana Agent's global remote_write is shared by instances: same URL + name is one destination.
      if (seen !== undefined && seen !== rw.url) issues.push({ path: formatConfigPath([...base, 'remote_write', j, 'name']), message: `found multiple remote write configs with the name ${JSON.stringify(rw.name)}` });
      destinations.set(rw.name, rw.url);
      if (urls.has(rw.url) && seen === undefined) {
        issues.push({ path: formatConfigPath([...base, 'remote_write', j, 'url']), message: `duplicate remote write configs are not allowed, found duplicate for URL: ${rw.url} (give each a different name)` });
      }
      urls.add(rw.url);
    });
  });
  return issues;
}

function globalTimeoutOf(g: RawGlobal): number {
  return g.scrape_timeout ?? Math.min(DEFAULT_SCRAPE_TIMEOUT_MS, g.scrape_interval);
}

function scrapeJobs(raw: RawScrape[], g: RawGlobal, path: readonly PropertyKey[], warnings: ConfigIssue[]) {
  const timeoutMs = globalTimeoutOf(g);
  raw.forEach((s, j) => warnings.push(...scrapeWarnings(s, formatConfigPath([...path, j]))));
  return raw.map((s) => normaliseScrape(s, { intervalMs: g.scrape_interval, timeoutMs, global: g }));
}

function destinations(raw: RawRemoteWrite[], path: readonly PropertyKey[], env: ParseEnvironment, issues: ConfigIssue[], warnings: ConfigIssue[]) {
  raw.forEach((rw, j) => {
    issues.push(...checkSigningRegion(rw, env, [...path, j], formatConfigPath));
    warnings.push(...remoteWriteWarnings(rw, formatConfigPath([...path, j])));
  });
  return raw.map((rw) => normaliseRemoteWrite(rw, env));
}

function globalChecks(g: RawGlobal, path: string): ConfigIssue[] {
  return globalTimeoutOf(g) > g.scrape_interval ? [{ path: `${path}.scrape_timeout`, message: 'global scrape timeout greater than scrape interval' }] : [];
}

/**
 * The signing-region problems of the `remote_write` entries that parse on their own, so a
 * document with other mistakes still reports every problem at once.
 */
function regionIssuesOf(raw: unknown, path: readonly PropertyKey[], env: ParseEnvironment): ConfigIssue[] {
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((entry, j) => {
    const one = remoteWriteSchema.safeParse(entry);
    return one.success ? checkSigningRegion(one.data, env, [...path, j], formatConfigPath) : [];
  });
}

/** Options of {@link parseAgentConfig}. */
export interface ParseOptions extends ParseEnvironment {
  /** Names the document in error messages (e.g. the file path). */
  source?: string | undefined;
}

/**
 * Validates and normalises a configuration document: a Prometheus config (`global`,
 * `scrape_configs`, `remote_write`; agent mode rules) or a Grafana Agent static-mode config
 * (`metrics.configs`). Values may be YAML text (from {@link parseGoYaml}) or JSON types.
 * @param sourceOrOptions names the document in error messages (e.g. the file path), or options.
 * @throws PipelineConfigError listing every problem with its path.
 */
export function parseAgentConfig(document: unknown, sourceOrOptions?: string | ParseOptions): AgentConfig {
  const options: ParseOptions = typeof sourceOrOptions === 'string' ? { source: sourceOrOptions } : (sourceOrOptions ?? {});
  const { source } = options;
  const doc = document ?? {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new PipelineConfigError([{ path: '', message: `expected a mapping at the top level, got ${describeInput(doc)}` }], source);
  }
  const keys = Object.keys(doc);
  const old = keys.filter((k) => k in PRE_V018_KEYS);
  if (old.length > 0 && !keys.includes('scrape_configs')) {
    throw new PipelineConfigError(
      old.map((k) => ({ path: k, message: `this is a Grafana Agent file from before v0.18: rename the top-level ${k}: to ${PRE_V018_KEYS[k]}: (the blocks inside keep their names)` })),
      source,
    );
  }
  if (keys.some((k) => GRAFANA_AGENT_KEYS.includes(k)) && !keys.includes('scrape_configs') && !keys.includes('global')) return parseGrafanaAgent(doc, options);
  const parsed = prometheusSchema.safeParse(doc, { error: errorMap });
  if (!parsed.success) throw new PipelineConfigError([...issuesOf(parsed.error), ...regionIssuesOf((doc as Record<string, unknown>).remote_write, ['remote_write'], options)], source);
  const g = parsed.data.global;
  const issues: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = scrapeWarnings(g, 'global');
  if (parsed.data.storage !== undefined && parsed.data.storage !== null) {
    warnings.push({ path: 'storage', message: 'ignored: the agent keeps only a write-ahead log (its size and age bounds are --wal-max-bytes and --wal-max-age)' });
  }
  for (const k of ['tracing', 'runtime', 'otlp'] as const) {
    if (parsed.data[k] !== undefined && parsed.data[k] !== null) warnings.push({ path: k, message: 'ignored by fleet-agent' });
  }
  const instance: MetricsInstance = {
    name: 'default',
    scrapeConfigs: scrapeJobs(parsed.data.scrape_configs, g, ['scrape_configs'], warnings),
    remoteWrite: destinations(parsed.data.remote_write, ['remote_write'], options, issues, warnings),
  };
  issues.push(...crossChecks([instance], () => []), ...globalChecks(g, 'global'));
  if (issues.length) throw new PipelineConfigError(issues, source);
  return {
    global: { scrapeIntervalMs: g.scrape_interval, scrapeTimeoutMs: globalTimeoutOf(g), externalLabels: g.external_labels },
    instances: [instance],
    warnings,
  };
}

const SERVER_LISTEN_KEYS = ['http_listen_address', 'http_listen_port', 'grpc_listen_address', 'grpc_listen_port', 'http_tls_config', 'grpc_tls_config'];

function parseGrafanaAgent(doc: object, options: ParseOptions): AgentConfig {
  const { source } = options;
  const parsed = grafanaAgentSchema.safeParse(doc, { error: errorMap });
  if (!parsed.success) throw new PipelineConfigError(issuesOf(parsed.error), source);
  const { global, configs, wal_directory: walDirectory } = parsed.data.metrics;
  const issues: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = scrapeWarnings(global, 'metrics.global');
  const server = parsed.data.server ?? {};
  for (const k of Object.keys(server)) {
    if (SERVER_LISTEN_KEYS.includes(k)) warnings.push({ path: `server.${k}`, message: 'ignored: the agent serves /metrics and its health on --listen' });
    else if (!['log_level', 'log_format'].includes(k)) warnings.push({ path: `server.${k}`, message: 'ignored by fleet-agent' });
  }
  if (server.log_level !== undefined) warnings.push({ path: 'server.log_level', message: 'ignored: set LOG_LEVEL in the environment' });
  const m = parsed.data.metrics;
  for (const k of ['wal_cleanup_age', 'wal_cleanup_period', 'instance_restart_backoff', 'instance_mode', 'disable_keepalives', 'idle_connection_timeout'] as const) {
    if (m[k] !== undefined) warnings.push({ path: `metrics.${k}`, message: 'ignored by fleet-agent' });
  }
  const globalRemote = destinations(global.remote_write, ['metrics', 'global', 'remote_write'], options, issues, warnings);
  const names = new Set<string>();
  const instances = configs.map((c, i) => {
    if (names.has(c.name)) issues.push({ path: `metrics.configs[${i}].name`, message: `duplicate instance name ${JSON.stringify(c.name)}` });
    names.add(c.name);
    for (const k of ['wal_truncate_frequency', 'min_wal_time', 'max_wal_time', 'remote_flush_deadline', 'write_stale_on_shutdown'] as const) {
      if (c[k] !== undefined) warnings.push({ path: `metrics.configs[${i}].${k}`, message: 'ignored: WAL bounds are --wal-max-bytes and --wal-max-age' });
    }
    return {
      name: c.name,
      scrapeConfigs: scrapeJobs(c.scrape_configs, global, ['metrics', 'configs', i, 'scrape_configs'], warnings),
      // Grafana Agent: an instance without remote_write uses metrics.global.remote_write.
      remoteWrite: c.remote_write ? destinations(c.remote_write, ['metrics', 'configs', i, 'remote_write'], options, issues, warnings) : globalRemote,
    };
  });
  issues.push(...crossChecks(instances, (i) => ['metrics', 'configs', i]), ...globalChecks(global, 'metrics.global'));
  if (issues.length) throw new PipelineConfigError(issues, source);
  return {
    global: { scrapeIntervalMs: global.scrape_interval, scrapeTimeoutMs: globalTimeoutOf(global), externalLabels: global.external_labels },
    instances,
    walDirectory,
    warnings,
  };
}
