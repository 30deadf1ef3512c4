import { createHash } from 'node:crypto';
import { z } from 'zod';
import { relabelConfigSchema, type RelabelConfig } from '../relabel/index.js';
import { durationSchema } from './duration.js';
import { checkRegionAgainstHost, inferSigningFromHost, isAwsRegionName } from './aws-endpoints.js';

// ---------------------------------------------------------------------------------------------
// Normalised model: what the agent runs. Produced by parseAgentConfig from Prometheus or
// Grafana Agent static-mode documents (YAML field names, snake_case), validated and defaulted.
// ---------------------------------------------------------------------------------------------

export interface TlsConfig {
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  serverName?: string | undefined;
  insecureSkipVerify: boolean;
  minVersion?: 'TLS10' | 'TLS11' | 'TLS12' | 'TLS13' | undefined;
}

export interface BasicAuth {
  username: string;
  password?: string | undefined;
  passwordFile?: string | undefined;
}

export interface Authorization {
  type: string;
  credentials?: string | undefined;
  credentialsFile?: string | undefined;
}

/** Forward proxy of an HTTP client (`proxy_url`, `no_proxy`, `proxy_from_environment`, `proxy_connect_header`). */
export interface ProxyConfig {
  /** `http://` or `https://` proxy URL; unset with `fromEnvironment` = HTTP(S)_PROXY. */
  url?: string | undefined;
  /** Comma-separated hosts, domains (`.example.com`) and CIDRs that bypass the proxy (with `url`). */
  noProxy?: string | undefined;
  /** Use HTTP_PROXY / HTTPS_PROXY / NO_PROXY from the environment (Go's ProxyFromEnvironment). */
  fromEnvironment: boolean;
  /** Headers sent to the proxy on CONNECT. */
  connectHeaders: Record<string, string>;
}

/** HTTP client settings shared by scrape jobs, HTTP-based discovery and remote-write destinations. */
export interface HttpClientConfig {
  basicAuth?: BasicAuth | undefined;
  /** Also what `bearer_token` / `bearer_token_file` become (type Bearer). */
  authorization?: Authorization | undefined;
  tlsConfig?: TlsConfig | undefined;
  proxy?: ProxyConfig | undefined;
  /** Follow 3xx redirects (Prometheus default: true). Unset = true. */
  followRedirects?: boolean | undefined;
  /** Offer HTTP/2 over TLS (Prometheus default: true). Unset = true. */
  enableHttp2?: boolean | undefined;
}

/** `kubernetes_sd_configs[].role`. */
export type KubernetesRole = 'pod' | 'service' | 'endpoints' | 'endpointslice' | 'node' | 'ingress';
export const KUBERNETES_ROLES: readonly KubernetesRole[] = ['pod', 'service', 'endpoints', 'endpointslice', 'node', 'ingress'];

/** A label/field selector sent with list and watch requests of one role's objects. */
export interface KubernetesSelector {
  role: KubernetesRole;
  label?: string | undefined;
  field?: string | undefined;
}

/** `kubernetes_sd_configs` entry (Prometheus semantics). */
export interface KubernetesSdConfig extends HttpClientConfig {
  role: KubernetesRole;
  /** Unset (and no kubeconfig): in-cluster (KUBERNETES_SERVICE_HOST/PORT, service-account token and CA). */
  apiServer?: string | undefined;
  kubeconfigFile?: string | undefined;
  /** Empty `names` and no `ownNamespace` = all namespaces. */
  namespaces: { ownNamespace: boolean; names: string[] };
  selectors: KubernetesSelector[];
  /** `attach_metadata.node` (roles pod, endpoints, endpointslice), `attach_metadata.namespace`. */
  attachMetadata: { node: boolean; namespace: boolean };
}

/** `ec2_sd_configs` entry: DescribeInstances, SigV4 service `ec2`. */
export interface Ec2SdConfig extends HttpClientConfig {
  /** Unset: AWS_REGION / AWS_DEFAULT_REGION / the profile's region / the instance metadata, as the SDK. */
  region?: string | undefined;
  /** Custom endpoint URL (else `https://ec2.<region>.amazonaws.com`, or AWS_ENDPOINT_URL_EC2). */
  endpoint?: string | undefined;
  accessKey?: string | undefined;
  secretKey?: string | undefined;
  profile?: string | undefined;
  roleArn?: string | undefined;
  refreshIntervalMs: number;
  /** Port appended to the private IP in `__address__` (default 80). */
  port: number;
  filters: Array<{ name: string; values: string[] }>;
}

/** `dns_sd_configs` entry. */
export interface DnsSdConfig {
  names: string[];
  type: 'A' | 'AAAA' | 'SRV' | 'MX' | 'NS';
  /** Required for every type except SRV (whose records carry the port). */
  port: number;
  refreshIntervalMs: number;
}

/** `http_sd_configs` entry: a URL answering the file_sd JSON list. */
export interface HttpSdConfig extends HttpClientConfig {
  url: string;
  refreshIntervalMs: number;
}

/** `consul_sd_configs` entry: the catalog API with blocking queries. */
export interface ConsulSdConfig extends HttpClientConfig {
  /** host:port (default localhost:8500). */
  server: string;
  scheme: 'http' | 'https';
  pathPrefix?: string | undefined;
  token?: string | undefined;
  datacenter?: string | undefined;
  namespace?: string | undefined;
  partition?: string | undefined;
  /** Empty = every service. */
  services: string[];
  /** A service must carry every one of these tags. */
  tags: string[];
  nodeMeta: Record<string, string>;
  tagSeparator: string;
  allowStale: boolean;
  refreshIntervalMs: number;
  filter?: string | undefined;
}

/** Exposition formats a scrape may ask for, in the order of preference (`scrape_protocols`). */
export type ScrapeProtocol = 'OpenMetricsText1.0.0' | 'OpenMetricsText0.0.1' | 'PrometheusText1.0.0' | 'PrometheusText0.0.4' | 'PrometheusProto';
export const SCRAPE_PROTOCOLS: readonly ScrapeProtocol[] = ['OpenMetricsText1.0.0', 'OpenMetricsText0.0.1', 'PrometheusText1.0.0', 'PrometheusText0.0.4', 'PrometheusProto'];

export interface StaticConfig {
  targets: string[];
  labels: Record<string, string>;
}

export interface FileSdConfig {
  files: string[];
  refreshIntervalMs: number;
}

export interface ScrapeConfig extends HttpClientConfig {
  jobName: string;
  scrapeIntervalMs: number;
  scrapeTimeoutMs: number;
  metricsPath: string;
  scheme: 'http' | 'https';
  params: Record<string, string[]>;
  honorLabels: boolean;
  honorTimestamps: boolean;
  staticConfigs: StaticConfig[];
  fileSdConfigs: FileSdConfig[];
  kubernetesSdConfigs: KubernetesSdConfig[];
  ec2SdConfigs: Ec2SdConfig[];
  dnsSdConfigs: DnsSdConfig[];
  httpSdConfigs: HttpSdConfig[];
  consulSdConfigs: ConsulSdConfig[];
  relabelConfigs: RelabelConfig[];
  metricRelabelConfigs: RelabelConfig[];
  /** Formats asked for, most preferred first (PrometheusProto is never sent: the agent parses text). */
  scrapeProtocols: ScrapeProtocol[];
  /** Ask for gzip (`enable_compression`, default true). */
  enableCompression: boolean;
  /** Limits; 0 = no limit. A scrape over a limit fails (up = 0), as in Prometheus. */
  sampleLimit: number;
  /** Uncompressed body bytes. */
  bodySizeLimitBytes: number;
  labelLimit: number;
  labelNameLengthLimit: number;
  labelValueLengthLimit: number;
  /** More targets than this after relabelling: every target of the job fails. */
  targetLimit: number;
  /** How many dropped targets status keeps (0 = all). */
  keepDroppedTargets: number;
}

/** SigV4 signing of a destination; credentials come from the environment unless keys are given. */
export interface SigV4Config {
  region: string;
  /** Signing name: `aps` for AMP unless told otherwise. */
  service: string;
  accessKey?: string | undefined;
  secretKey?: string | undefined;
  profile?: string | undefined;
  roleArn?: string | undefined;
  externalId?: string | undefined;
}

export interface QueueConfig {
  capacity: number;
  maxShards: number;
  minShards: number;
  maxSamplesPerSend: number;
  batchSendDeadlineMs: number;
  minBackoffMs: number;
  maxBackoffMs: number;
  retryOnHttp429: boolean;
  /** 0 = no limit: samples older than this are dropped (reason `too_old`) instead of sent. */
  sampleAgeLimitMs: number;
}

export interface RemoteWriteConfig extends HttpClientConfig {
  /** Unique per agent; names the WAL directory and the `remote_name` metric label. */
  name: string;
  url: string;
  remoteTimeoutMs: number;
  headers: Record<string, string>;
  writeRelabelConfigs: RelabelConfig[];
  sigv4?: SigV4Config | undefined;
  queueConfig: QueueConfig;
}

/** A set of scrape jobs and the destinations they write to. */
export interface MetricsInstance {
  name: string;
  scrapeConfigs: ScrapeConfig[];
  remoteWrite: RemoteWriteConfig[];
}

/** Everything an agent runs, normalised. */
export interface AgentConfig {
  global: {
    scrapeIntervalMs: number;
    scrapeTimeoutMs: number;
    externalLabels: Record<string, string>;
  };
  instances: MetricsInstance[];
  /** Where the WALs live (Grafana Agent `metrics.wal_directory`); unset = `<state dir>/wal`. */
  walDirectory?: string | undefined;
  /**
   * Accepted settings the agent ignores or treats differently (e.g. `storage:`, `send_exemplars`):
   * logged at start and shown by `doctor`, never fatal.
   */
  warnings: ConfigIssue[];
}

const DEFAULT_SCRAPE_TIMEOUT_MS = 10_000;

export const DEFAULT_QUEUE_CONFIG: QueueConfig = {
  capacity: 10_000,
  maxShards: 50,
  minShards: 1,
  maxSamplesPerSend: 2_000,
  batchSendDeadlineMs: 5_000,
  minBackoffMs: 30,
  maxBackoffMs: 5_000,
  retryOnHttp429: true,
  sampleAgeLimitMs: 0,
};

// ---------------------------------------------------------------------------------------------
// Raw document schemas (Prometheus field names). Unknown keys are errors.
// ---------------------------------------------------------------------------------------------

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const labelName = z.string().regex(LABEL_NAME, 'not a valid label name (expected [a-zA-Z_][a-zA-Z0-9_]*)');
const labelMap = z.record(labelName, z.string());
const positiveInt = z.number().int('must be a whole number').min(1, 'must be at least 1');
const nonNegativeInt = z.number().int('must be a whole number').min(0, 'must not be negative');

const tlsSchema = z
  .object({
    ca_file: z.string().min(1).optional(),
    cert_file: z.string().min(1).optional(),
    key_file: z.string().min(1).optional(),
    server_name: z.string().min(1).optional(),
    insecure_skip_verify: z.boolean().default(false),
    min_version: z.enum(['TLS10', 'TLS11', 'TLS12', 'TLS13']).optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (Boolean(v.cert_file) !== Boolean(v.key_file)) {
      ctx.addIssue({ code: 'custom', path: [v.cert_file ? 'key_file' : 'cert_file'], message: 'cert_file and key_file must be set together' });
    }
  });

const basicAuthSchema = z
  .object({
    username: z.string().min(1, 'must not be empty'),
    password: z.string().optional(),
    password_file: z.string().min(1).optional(),
  })
  .strict()
  .refine((v) => !(v.password && v.password_file), { message: 'set at most one of password and password_file', path: ['password_file'] });

const authorizationSchema = z
  .object({
    type: z.string().min(1).default('Bearer'),
    credentials: z.string().optional(),
    credentials_file: z.string().min(1).optional(),
  })
  .strict()
  .refine((v) => !(v.credentials && v.credentials_file), {
    message: 'set at most one of credentials and credentials_file',
    path: ['credentials_file'],
  })
  .refine((v) => v.type.toLowerCase() !== 'basic', { message: 'use basic_auth instead of authorization type Basic', path: ['type'] });

const httpClientFields = {
  basic_auth: basicAuthSchema.optional(),
  authorization: authorizationSchema.optional(),
  tls_config: tlsSchema.optional(),
};

const targetSchema = z.string().superRefine((t, ctx) => {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(t)) {
    ctx.addIssue({ code: 'custom', message: `target ${JSON.stringify(t)} must be host:port without a scheme (set scheme: and metrics_path: on the job)` });
  } else if (!/^(\[[0-9a-fA-F:.]+\]|[^\s/:[\]]+)(:\d{1,5})?$/.test(t)) {
    ctx.addIssue({ code: 'custom', message: `target ${JSON.stringify(t)} is not host[:port]` });
  }
});

const staticConfigSchema = z
  .object({ targets: z.array(targetSchema).default([]), labels: labelMap.default({}) })
  .strict();

const fileSdSchema = z
  .object({
    files: z.array(z.string().min(1)).min(1, 'list at least one file'),
    refresh_interval: durationSchema.default(300_000),
  })
  .strict()
  .superRefine((v, ctx) => {
    v.files.forEach((f, i) => {
      if (!/\.(json|ya?ml)$/.test(f)) {
        ctx.addIssue({ code: 'custom', path: ['files', i], message: `${JSON.stringify(f)} must end in .json, .yml or .yaml` });
      }
    });
  });

const scrapeConfigSchema = z
  .object({
    job_name: z.string().min(1, 'must not be empty'),
    scrape_interval: durationSchema.optional(),
    scrape_timeout: durationSchema.optional(),
    metrics_path: z.string().startsWith('/', 'must start with /').default('/metrics'),
    scheme: z.enum(['http', 'https']).default('http'),
    params: z.record(z.string(), z.array(z.string())).default({}),
    honor_labels: z.boolean().default(false),
    honor_timestamps: z.boolean().default(true),
    static_configs: z.array(staticConfigSchema).default([]),
    file_sd_configs: z.array(fileSdSchema).default([]),
    relabel_configs: z.array(relabelConfigSchema).default([]),
    metric_relabel_configs: z.array(relabelConfigSchema).default([]),
    sample_limit: nonNegativeInt.default(0),
    ...httpClientFields,
  })
  .strict();

const sigv4Schema = z
  .object({
    region: z.string().min(1).optional(),
    access_key: z.string().min(1).optional(),
    secret_key: z.string().min(1).optional(),
    profile: z.string().min(1).optional(),
    role_arn: z
      .string()
      .regex(/^arn:aws(-cn|-us-gov)?:iam::\d{12}:role\/[\w+=,.@/-]+$/, 'not an IAM role ARN (arn:aws:iam::123456789012:role/name)')
      .optional(),
    external_id: z.string().min(2).max(1224).optional(),
    service: z.string().regex(/^[a-z0-9-]+$/, 'not an AWS signing name (e.g. aps)').optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (Boolean(v.access_key) !== Boolean(v.secret_key)) {
      ctx.addIssue({ code: 'custom', path: [v.access_key ? 'secret_key' : 'access_key'], message: 'access_key and secret_key must be set together' });
    }
    if (v.profile && v.access_key) {
      ctx.addIssue({ code: 'custom', path: ['profile'], message: 'set either profile or access_key/secret_key, not both' });
    }
    if (v.external_id && !v.role_arn) {
      ctx.addIssue({ code: 'custom', path: ['external_id'], message: 'external_id needs role_arn (it is passed to sts:AssumeRole)' });
    }
    if (v.region && !isAwsRegionName(v.region)) {
      ctx.addIssue({ code: 'custom', path: ['region'], message: `${JSON.stringify(v.region)} is not an AWS region name (e.g. us-east-1)` });
    }
  });

const queueConfigSchema = z
  .object({
    capacity: positiveInt.default(DEFAULT_QUEUE_CONFIG.capacity),
    max_shards: positiveInt.default(DEFAULT_QUEUE_CONFIG.maxShards),
    min_shards: positiveInt.default(DEFAULT_QUEUE_CONFIG.minShards),
    max_samples_per_send: positiveInt.default(DEFAULT_QUEUE_CONFIG.maxSamplesPerSend),
    batch_send_deadline: durationSchema.default(DEFAULT_QUEUE_CONFIG.batchSendDeadlineMs),
    min_backoff: durationSchema.default(DEFAULT_QUEUE_CONFIG.minBackoffMs),
    max_backoff: durationSchema.default(DEFAULT_QUEUE_CONFIG.maxBackoffMs),
    retry_on_http_429: z.boolean().default(DEFAULT_QUEUE_CONFIG.retryOnHttp429),
    sample_age_limit: durationSchema.default(DEFAULT_QUEUE_CONFIG.sampleAgeLimitMs),
    max_retries: z.unknown().optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.max_retries !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['max_retries'], message: 'no longer supported by Prometheus: retries continue until success or a non-retryable error' });
    }
    if (v.min_shards > v.max_shards) ctx.addIssue({ code: 'custom', path: ['min_shards'], message: 'must not exceed max_shards' });
    if (v.min_backoff > v.max_backoff) ctx.addIssue({ code: 'custom', path: ['min_backoff'], message: 'must not exceed max_backoff' });
  });

const metadataConfigSchema = z
  .object({ send: z.boolean().default(true), send_interval: durationSchema.default(60_000), max_samples_per_send: positiveInt.optional() })
  .strict();

const remoteWriteSchema = z
  .object({
    url: z
      .string()
      .refine((u) => URL.canParse(u) && ['http:', 'https:'].includes(new URL(u).protocol), 'must be an http:// or https:// URL'),
    // Names the WAL directory: `.` and `..` would point outside it.
    name: z
      .string()
      .regex(/^[a-zA-Z0-9_.-]+$/, 'may contain only letters, digits, _ . -')
      .refine((n) => n !== '.' && n !== '..', 'must not be "." or ".."')
      .optional(),
    remote_timeout: durationSchema.default(30_000),
    headers: z.record(z.string(), z.string()).default({}),
    write_relabel_configs: z.array(relabelConfigSchema).default([]),
    sigv4: sigv4Schema.optional(),
    queue_config: queueConfigSchema.default(() => queueConfigSchema.parse({})),
    metadata_config: metadataConfigSchema.optional(),
    send_exemplars: z.boolean().optional(),
    ...httpClientFields,
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.sigv4 && (v.basic_auth || v.authorization)) {
      ctx.addIssue({ code: 'custom', path: ['sigv4'], message: 'cannot be combined with basic_auth or authorization' });
    }
    for (const h of Object.keys(v.headers)) {
      const lower = h.toLowerCase();
      if (['authorization', 'host', 'content-encoding', 'content-type', 'content-length', 'user-agent', 'x-prometheus-remote-write-version'].includes(lower) || lower.startsWith('x-amz-')) {
        ctx.addIssue({ code: 'custom', path: ['headers', h], message: 'is set by the agent and cannot be overridden' });
      }
    }
    if (v.sigv4 && URL.canParse(v.url)) {
      const host = new URL(v.url).hostname;
      const inferred = inferSigningFromHost(host);
      const region = v.sigv4.region ?? inferred?.region;
      if (!region) {
        ctx.addIssue({ code: 'custom', path: ['sigv4', 'region'], message: `required (it cannot be inferred from the host ${host})` });
      } else {
        const mismatch = checkRegionAgainstHost(region, host);
        if (mismatch) ctx.addIssue({ code: 'custom', path: ['sigv4', 'region'], message: mismatch });
      }
    }
  });

const globalSchema = z
  .object({
    scrape_interval: durationSchema.default(60_000),
    // Unset: min(10s, scrape_interval), as Prometheus does.
    scrape_timeout: durationSchema.optional(),
    evaluation_interval: durationSchema.optional(),
    external_labels: labelMap.default({}),
  })
  .strict();

const unsupported = (what: string) =>
  z.unknown().superRefine((_v, ctx) => ctx.addIssue({ code: 'custom', message: `${what} is not supported by fleet-agent` }));

const prometheusSchema = z
  .object({
    global: globalSchema.default(() => globalSchema.parse({})),
    scrape_configs: z.array(scrapeConfigSchema).default([]),
    remote_write: z.array(remoteWriteSchema).default([]),
    rule_files: unsupported('rule_files (recording and alerting rules)').optional(),
    alerting: unsupported('alerting').optional(),
    remote_read: unsupported('remote_read').optional(),
    storage: unsupported('storage (the agent keeps only a write-ahead log)').optional(),
  })
  .strict();

const agentInstanceSchema = z
  .object({
    name: z.string().min(1, 'must not be empty'),
    scrape_configs: z.array(scrapeConfigSchema).default([]),
    remote_write: z.array(remoteWriteSchema).optional(),
    host_filter: z.literal(false, 'host_filter is not supported by fleet-agent').optional(),
    wal_truncate_frequency: durationSchema.optional(),
  })
  .strict();

const grafanaAgentSchema = z
  .object({
    server: z
      .object({ log_level: z.string().optional(), log_format: z.string().optional(), http_listen_port: z.number().optional() })
      .strict()
      .optional(),
    metrics: z
      .object({
        global: z
          .object({
            scrape_interval: durationSchema.default(60_000),
            scrape_timeout: durationSchema.optional(),
            external_labels: labelMap.default({}),
            remote_write: z.array(remoteWriteSchema).default([]),
          })
          .strict()
          .default(() => ({ scrape_interval: 60_000, scrape_timeout: undefined, external_labels: {}, remote_write: [] })),
        wal_directory: z.string().optional(),
        wal_cleanup_age: durationSchema.optional(),
        wal_cleanup_period: durationSchema.optional(),
        configs: z.array(agentInstanceSchema).default([]),
      })
      .strict(),
    logs: unsupported('logs (Promtail-style log collection)').optional(),
    traces: unsupported('traces').optional(),
    integrations: unsupported('integrations').optional(),
  })
  .strict();

// ---------------------------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------------------------

type RawScrape = z.infer<typeof scrapeConfigSchema>;
type RawRemoteWrite = z.infer<typeof remoteWriteSchema>;

function httpClient(raw: { basic_auth?: z.infer<typeof basicAuthSchema> | undefined; authorization?: z.infer<typeof authorizationSchema> | undefined; tls_config?: z.infer<typeof tlsSchema> | undefined }): HttpClientConfig {
  return {
    basicAuth: raw.basic_auth && { username: raw.basic_auth.username, password: raw.basic_auth.password, passwordFile: raw.basic_auth.password_file },
    authorization: raw.authorization && {
      type: raw.authorization.type,
      credentials: raw.authorization.credentials,
      credentialsFile: raw.authorization.credentials_file,
    },
    tlsConfig: raw.tls_config && {
      caFile: raw.tls_config.ca_file,
      certFile: raw.tls_config.cert_file,
      keyFile: raw.tls_config.key_file,
      serverName: raw.tls_config.server_name,
      insecureSkipVerify: raw.tls_config.insecure_skip_verify,
      minVersion: raw.tls_config.min_version,
    },
  };
}

function normaliseScrape(raw: RawScrape, global: { interval: number; timeout: number }): ScrapeConfig {
  const interval = raw.scrape_interval ?? global.interval;
  return {
    jobName: raw.job_name,
    scrapeIntervalMs: interval,
    // Prometheus: a job without scrape_timeout uses min(global timeout, its interval).
    scrapeTimeoutMs: raw.scrape_timeout ?? Math.min(global.timeout, interval),
    metricsPath: raw.metrics_path,
    scheme: raw.scheme,
    params: raw.params,
    honorLabels: raw.honor_labels,
    honorTimestamps: raw.honor_timestamps,
    staticConfigs: raw.static_configs,
    fileSdConfigs: raw.file_sd_configs.map((f) => ({ files: f.files, refreshIntervalMs: f.refresh_interval })),
    relabelConfigs: raw.relabel_configs,
    metricRelabelConfigs: raw.metric_relabel_configs,
    kubernetesSdConfigs: [],
    ec2SdConfigs: [],
    dnsSdConfigs: [],
    httpSdConfigs: [],
    consulSdConfigs: [],
    scrapeProtocols: ['OpenMetricsText1.0.0', 'OpenMetricsText0.0.1', 'PrometheusText0.0.4'],
    enableCompression: true,
    sampleLimit: raw.sample_limit,
    bodySizeLimitBytes: 0,
    labelLimit: 0,
    labelNameLengthLimit: 0,
    labelValueLengthLimit: 0,
    targetLimit: 0,
    keepDroppedTargets: 0,
    ...httpClient(raw),
  };
}

function normaliseRemoteWrite(raw: RawRemoteWrite): RemoteWriteConfig {
  const host = new URL(raw.url).hostname;
  const inferred = inferSigningFromHost(host);
  const q = raw.queue_config;
  return {
    name: raw.name ?? createHash('sha256').update(raw.url).digest('hex').slice(0, 6),
    url: raw.url,
    remoteTimeoutMs: raw.remote_timeout,
    headers: raw.headers,
    writeRelabelConfigs: raw.write_relabel_configs,
    sigv4: raw.sigv4 && {
      region: (raw.sigv4.region ?? inferred?.region)!,
      service: raw.sigv4.service ?? inferred?.service ?? 'aps',
      accessKey: raw.sigv4.access_key,
      secretKey: raw.sigv4.secret_key,
      profile: raw.sigv4.profile,
      roleArn: raw.sigv4.role_arn,
      externalId: raw.sigv4.external_id,
    },
    queueConfig: {
      capacity: q.capacity,
      maxShards: q.max_shards,
      minShards: q.min_shards,
      maxSamplesPerSend: q.max_samples_per_send,
      batchSendDeadlineMs: q.batch_send_deadline,
      minBackoffMs: q.min_backoff,
      maxBackoffMs: q.max_backoff,
      retryOnHttp429: q.retry_on_http_429,
      sampleAgeLimitMs: q.sample_age_limit,
    },
    ...httpClient(raw),
  };
}

/** One problem in a config document: where (`remote_write[0].sigv4.region`) and what. */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** A config document that cannot run; `message` lists every issue, one per line, path first. */
export class PipelineConfigError extends Error {
  override readonly name = 'PipelineConfigError';
  constructor(
    readonly issues: ConfigIssue[],
    source?: string,
    headline = 'invalid configuration',
  ) {
    super(`${source ? `${source}: ` : ''}${headline}:\n${issues.map((i) => `  ${i.path ? `${i.path}: ` : ''}${i.message}`).join('\n')}`);
  }
}

/** `['remote_write', 0, 'sigv4', 'region']` → `remote_write[0].sigv4.region`. */
export function formatConfigPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

function issuesOf(error: z.ZodError, prefix: readonly PropertyKey[] = []): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of error.issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: formatConfigPath([...path, key]), message: 'unknown key' });
    } else if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      out.push({ path: formatConfigPath(path), message: issue.message });
    } else {
      out.push({ path: formatConfigPath(path), message: issue.message });
    }
  }
  return out;
}

const errorMap: z.core.$ZodErrorMap = (issue) => {
  if (issue.code === 'invalid_type' && issue.input === undefined) return 'required';
  if (issue.code === 'invalid_type') return `expected ${issue.expected}, got ${describeInput(issue.input)}`;
  if (issue.code === 'invalid_value' && 'values' in issue) return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  return undefined;
};

function describeInput(v: unknown): string {
  if (v === null) return 'null';
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
      if (jobs.has(job.jobName)) issues.push({ path: formatConfigPath([...p, 'job_name']), message: `duplicate job_name ${JSON.stringify(job.jobName)}` });
      jobs.add(job.jobName);
      if (job.scrapeTimeoutMs > job.scrapeIntervalMs) {
        issues.push({ path: formatConfigPath([...p, 'scrape_timeout']), message: 'must not be greater than scrape_interval' });
      }
      if (job.scrapeIntervalMs <= 0) issues.push({ path: formatConfigPath([...p, 'scrape_interval']), message: 'must be greater than 0' });
    });
    inst.remoteWrite.forEach((rw, j) => {
      const where = formatConfigPath([...base, 'remote_write', j, 'name']);
      const seen = destinations.get(rw.name);
      // Grafana Agent's global remote_write is shared by instances: same URL + name is one destination.
      if (seen !== undefined && seen !== rw.url) issues.push({ path: where, message: `duplicate remote_write name ${JSON.stringify(rw.name)}` });
      destinations.set(rw.name, rw.url);
    });
  });
  return issues;
}

/**
 * Validates and normalises a configuration document: a Prometheus config (`global`,
 * `scrape_configs`, `remote_write`) or a Grafana Agent static-mode config (`metrics.configs`).
 * @param source names the document in error messages (e.g. the file path).
 * @throws PipelineConfigError listing every problem with its path.
 */
export function parseAgentConfig(document: unknown, source?: string): AgentConfig {
  const doc = document ?? {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new PipelineConfigError([{ path: '', message: `expected a mapping at the top level, got ${describeInput(doc)}` }], source);
  }
  if ('metrics' in doc) return parseGrafanaAgent(doc, source);
  const parsed = prometheusSchema.safeParse(doc, { error: errorMap });
  if (!parsed.success) throw new PipelineConfigError(issuesOf(parsed.error), source);
  const g = parsed.data.global;
  const globalTimeout = g.scrape_timeout ?? Math.min(DEFAULT_SCRAPE_TIMEOUT_MS, g.scrape_interval);
  const instance: MetricsInstance = {
    name: 'default',
    scrapeConfigs: parsed.data.scrape_configs.map((s) => normaliseScrape(s, { interval: g.scrape_interval, timeout: globalTimeout })),
    remoteWrite: parsed.data.remote_write.map(normaliseRemoteWrite),
  };
  const issues = [
    ...crossChecks([instance], () => []),
    ...(globalTimeout > g.scrape_interval ? [{ path: 'global.scrape_timeout', message: 'must not be greater than scrape_interval' }] : []),
  ];
  if (issues.length) throw new PipelineConfigError(issues, source);
  return {
    global: { scrapeIntervalMs: g.scrape_interval, scrapeTimeoutMs: globalTimeout, externalLabels: g.external_labels },
    instances: [instance],
    warnings: [],
  };
}

function parseGrafanaAgent(doc: object, source?: string): AgentConfig {
  const parsed = grafanaAgentSchema.safeParse(doc, { error: errorMap });
  if (!parsed.success) throw new PipelineConfigError(issuesOf(parsed.error), source);
  const { global, configs } = parsed.data.metrics;
  const globalTimeout = global.scrape_timeout ?? Math.min(DEFAULT_SCRAPE_TIMEOUT_MS, global.scrape_interval);
  const globalRemote = global.remote_write.map(normaliseRemoteWrite);
  const names = new Set<string>();
  const issues: ConfigIssue[] = [];
  const instances = configs.map((c, i) => {
    if (names.has(c.name)) issues.push({ path: `metrics.configs[${i}].name`, message: `duplicate instance name ${JSON.stringify(c.name)}` });
    names.add(c.name);
    return {
      name: c.name,
      scrapeConfigs: c.scrape_configs.map((s) => normaliseScrape(s, { interval: global.scrape_interval, timeout: globalTimeout })),
      // Grafana Agent: an instance without remote_write uses metrics.global.remote_write.
      remoteWrite: c.remote_write ? c.remote_write.map(normaliseRemoteWrite) : globalRemote,
    };
  });
  issues.push(...crossChecks(instances, (i) => ['metrics', 'configs', i]));
  if (issues.length) throw new PipelineConfigError(issues, source);
  return {
    global: { scrapeIntervalMs: global.scrape_interval, scrapeTimeoutMs: globalTimeout, externalLabels: global.external_labels },
    instances,
    warnings: [],
  };
}
