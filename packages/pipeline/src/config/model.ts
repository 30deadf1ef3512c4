import type { RelabelConfig } from '../relabel/index.js';

// ---------------------------------------------------------------------------------------------
// Normalised model: what the agent runs. Produced by parseAgentConfig from Prometheus or
// Grafana Agent static-mode documents (YAML field names, snake_case), validated and defaulted.
// ---------------------------------------------------------------------------------------------

/** `tls_config`: PEM inline (`ca`, `cert`, `key`) or in files (re-read when a dispatcher is made). */
export interface TlsConfig {
  ca?: string | undefined;
  caFile?: string | undefined;
  cert?: string | undefined;
  certFile?: string | undefined;
  key?: string | undefined;
  keyFile?: string | undefined;
  serverName?: string | undefined;
  insecureSkipVerify: boolean;
  minVersion?: 'TLS10' | 'TLS11' | 'TLS12' | 'TLS13' | undefined;
  maxVersion?: 'TLS10' | 'TLS11' | 'TLS12' | 'TLS13' | undefined;
}

export interface BasicAuth {
  username: string;
  usernameFile?: string | undefined;
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
