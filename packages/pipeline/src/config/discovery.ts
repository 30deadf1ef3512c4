import { z } from 'zod';
import { compileRe2 } from '../regex/index.js';
import { durationSchema } from './duration.js';
import { bool, text, labelMap, list, nonEmpty, notYet, obj, port, str } from './fields.js';
import { checkHttpClient, hasCustomHttpClient, httpClientFields, normaliseHttpClient } from './http-client.js';
import {
  KUBERNETES_ROLES,
  type ConsulSdConfig,
  type DnsSdConfig,
  type Ec2SdConfig,
  type FileSdConfig,
  type HttpSdConfig,
  type KubernetesRole,
  type KubernetesSdConfig,
  type StaticConfig,
} from './model.js';

/** Service-discovery blocks of a scrape job: the ones fleet-agent runs, and every other Prometheus kind refused by name. */

const targetSchema = str.superRefine((t, ctx) => {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(t)) {
    ctx.addIssue({ code: 'custom', message: `target ${JSON.stringify(t)} must be host:port without a scheme (set scheme: and metrics_path: on the job)` });
  } else if (!/^(\[[0-9a-fA-F:.]+\]|[^\s/:[\]]+)(:\d{1,5})?$/.test(t)) {
    ctx.addIssue({ code: 'custom', message: `target ${JSON.stringify(t)} is not host[:port]` });
  }
});

const staticConfigSchema = obj({ targets: list(targetSchema).default([]), labels: labelMap.default({}) });

const fileSdSchema = obj({
  files: list(nonEmpty).default([]),
  refresh_interval: durationSchema.default(300_000),
}).superRefine((v, ctx) => {
  if (v.files.length === 0) ctx.addIssue({ code: 'custom', path: ['files'], message: 'file service discovery config must contain at least one path name' });
  v.files.forEach((f, i) => {
    if (!/\.(json|ya?ml)$/.test(f)) ctx.addIssue({ code: 'custom', path: ['files', i], message: `path name ${JSON.stringify(f)} is not valid for file discovery (it must end in .json, .yml or .yaml)` });
    if (/[*?[]/.test(f.slice(0, f.lastIndexOf('/') + 1))) ctx.addIssue({ code: 'custom', path: ['files', i], message: `path name ${JSON.stringify(f)} is not valid for file discovery (patterns only in the last path element)` });
  });
});

const kubernetesRole = z.string().superRefine((r, ctx) => {
  if (!(KUBERNETES_ROLES as readonly string[]).includes(r)) ctx.addIssue({ code: 'custom', message: `unknown Kubernetes SD role ${JSON.stringify(r)} (one of: ${KUBERNETES_ROLES.join(', ')})` });
});

/**
 * Which selector roles each discovery role accepts (Prometheus's allowedSelectors): the
 * endpoints roles also filter the pods and services they read.
 */
export const KUBERNETES_ALLOWED_SELECTORS: Readonly<Record<KubernetesRole, readonly KubernetesRole[]>> = {
  pod: ['pod'],
  service: ['service'],
  endpoints: ['pod', 'service', 'endpoints'],
  endpointslice: ['pod', 'service', 'endpointslice'],
  node: ['node'],
  ingress: ['ingress'],
};

/** Checks a label or field selector the way the Kubernetes parsers do, roughly: `k=v`, `k!=v`, `k in (a,b)`, `!k`, `k`, comma-separated. */
function selectorProblem(text: string, kind: 'label' | 'field'): string | undefined {
  if (text.trim() === '') return undefined;
  const key = String.raw`(?:[A-Za-z0-9][-A-Za-z0-9_./]*)?[A-Za-z0-9]`;
  const value = String.raw`[-A-Za-z0-9_.:/]*`;
  // Linear-time matching (RE2, anchored): a selector is operator input of any length.
  const term = compileRe2(
    kind === 'field'
      ? String.raw`\s*${key}\s*(==|=|!=)\s*${value}\s*`
      : String.raw`\s*(?:!?\s*${key}|${key}\s*(?:==|=|!=)\s*${value}|${key}\s*(?:in|notin)\s*\(\s*${value}(?:\s*,\s*${value})*\s*\)|${key}\s*[<>]\s*\d+)\s*`,
  );
  // Split on commas outside parentheses.
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  const bad = parts.find((p) => !term.test(p));
  return bad === undefined ? undefined : `invalid ${kind} selector ${JSON.stringify(text)} (at ${JSON.stringify(bad.trim())})`;
}

const kubernetesSdSchema = obj({
  api_server: text(z.string()).refine((u) => URL.canParse(u) && ['http:', 'https:'].includes(new URL(u).protocol), 'must be an http:// or https:// URL').optional(),
  role: kubernetesRole.optional(),
  kubeconfig_file: nonEmpty.optional(),
  namespaces: obj({ own_namespace: bool.default(false), names: list(nonEmpty).default([]) }).optional(),
  selectors: list(obj({ role: kubernetesRole, label: str.optional(), field: str.optional() })).default([]),
  attach_metadata: obj({ node: bool.default(false), namespace: bool.default(false) }).optional(),
  ...httpClientFields,
}).superRefine((v, ctx) => {
  checkHttpClient(v, ctx);
  if (v.role === undefined) {
    ctx.addIssue({ code: 'custom', path: ['role'], message: `role missing (one of: ${KUBERNETES_ROLES.join(', ')})` });
    return;
  }
  if (v.api_server && v.kubeconfig_file) ctx.addIssue({ code: 'custom', path: ['kubeconfig_file'], message: "cannot use 'kubeconfig_file' and 'api_server' simultaneously" });
  if (v.kubeconfig_file && hasCustomHttpClient(v)) ctx.addIssue({ code: 'custom', path: ['kubeconfig_file'], message: "cannot use a custom HTTP client configuration together with 'kubeconfig_file'" });
  if (!v.api_server && !v.kubeconfig_file && hasCustomHttpClient(v)) {
    ctx.addIssue({ code: 'custom', path: ['api_server'], message: "to use custom HTTP client configuration please provide the 'api_server' URL explicitly" });
  }
  if (v.kubeconfig_file && v.namespaces?.own_namespace) {
    ctx.addIssue({ code: 'custom', path: ['namespaces', 'own_namespace'], message: "cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously" });
  }
  if (v.api_server && v.namespaces?.own_namespace) {
    ctx.addIssue({ code: 'custom', path: ['namespaces', 'own_namespace'], message: 'cannot use own_namespace outside a cluster (with api_server): the pod namespace is only known in-cluster' });
  }
  const role = v.role as KubernetesRole;
  const seen = new Set<string>();
  v.selectors.forEach((s, i) => {
    if (seen.has(s.role)) ctx.addIssue({ code: 'custom', path: ['selectors', i, 'role'], message: `duplicated selector role: ${s.role}` });
    seen.add(s.role);
    if (!KUBERNETES_ALLOWED_SELECTORS[role].includes(s.role as KubernetesRole)) {
      ctx.addIssue({ code: 'custom', path: ['selectors', i, 'role'], message: `${role} role supports only ${KUBERNETES_ALLOWED_SELECTORS[role].join(', ')} selectors` });
    }
    for (const kind of ['label', 'field'] as const) {
      const problem = s[kind] === undefined ? undefined : selectorProblem(s[kind], kind);
      if (problem) ctx.addIssue({ code: 'custom', path: ['selectors', i, kind], message: problem });
    }
  });
});

const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

const ec2SdSchema = obj({
  endpoint: text(z.string()).refine((u) => URL.canParse(u), 'must be a URL').optional(),
  region: text(z.string().refine((r) => REGION.test(r), { error: (issue) => `${JSON.stringify(issue.input)} is not an AWS region name (e.g. us-east-1)` })).optional(),
  access_key: nonEmpty.optional(),
  secret_key: nonEmpty.optional(),
  profile: nonEmpty.optional(),
  role_arn: text(z.string().regex(/^arn:aws(-cn|-us-gov)?:iam::\d{12}:role\/[\w+=,.@/-]+$/, 'not an IAM role ARN (arn:aws:iam::123456789012:role/name)')).optional(),
  refresh_interval: durationSchema.default(60_000),
  port: port.default(80),
  filters: list(obj({ name: str.default(''), values: list(str).default([]) })).default([]),
  ...httpClientFields,
}).superRefine((v, ctx) => {
  checkHttpClient(v, ctx);
  if (Boolean(v.access_key) !== Boolean(v.secret_key)) ctx.addIssue({ code: 'custom', path: [v.access_key ? 'secret_key' : 'access_key'], message: 'access_key and secret_key must be set together' });
  v.filters.forEach((f, i) => {
    if (f.name === '') ctx.addIssue({ code: 'custom', path: ['filters', i, 'name'], message: 'EC2 SD configuration filter name must not be empty' });
    if (f.values.length === 0) ctx.addIssue({ code: 'custom', path: ['filters', i, 'values'], message: 'EC2 SD configuration filter values must not be empty' });
  });
});

const dnsSdSchema = obj({
  names: list(nonEmpty).default([]),
  type: z.preprocess((v) => (typeof v === 'string' ? v.toUpperCase() : v), z.string()).default('SRV'),
  port: port.default(0),
  refresh_interval: durationSchema.default(30_000),
}).superRefine((v, ctx) => {
  if (v.names.length === 0) ctx.addIssue({ code: 'custom', path: ['names'], message: 'DNS-SD config must contain at least one SRV record name' });
  if (!['SRV', 'A', 'AAAA', 'MX', 'NS'].includes(v.type)) ctx.addIssue({ code: 'custom', path: ['type'], message: `invalid DNS-SD records type ${v.type} (one of: SRV, A, AAAA, MX, NS)` });
  else if (v.type !== 'SRV' && v.port === 0) ctx.addIssue({ code: 'custom', path: ['port'], message: 'a port is required in DNS-SD configs for all record types except SRV' });
});

const httpSdSchema = obj({
  url: str.optional(),
  refresh_interval: durationSchema.default(60_000),
  ...httpClientFields,
}).superRefine((v, ctx) => {
  checkHttpClient(v, ctx);
  if (!v.url) ctx.addIssue({ code: 'custom', path: ['url'], message: 'URL is missing' });
  else if (!URL.canParse(v.url)) ctx.addIssue({ code: 'custom', path: ['url'], message: `invalid URL ${JSON.stringify(v.url)}` });
  // WHATWG URLs read `http:///x` as host "x"; Go (and so Prometheus) sees no host.
  else if (/^[a-z][a-z0-9+.-]*:\/\/(\/|$)/i.test(v.url)) ctx.addIssue({ code: 'custom', path: ['url'], message: 'host is missing in URL' });
  else {
    const u = new URL(v.url);
    if (!['http:', 'https:'].includes(u.protocol)) ctx.addIssue({ code: 'custom', path: ['url'], message: "URL scheme must be 'http' or 'https'" });
    else if (!u.hostname) ctx.addIssue({ code: 'custom', path: ['url'], message: 'host is missing in URL' });
  }
});

const consulSdSchema = obj({
  server: str.default('localhost:8500'),
  path_prefix: str.optional(),
  token: str.optional(),
  datacenter: str.optional(),
  namespace: str.optional(),
  partition: str.optional(),
  tag_separator: str.default(','),
  scheme: z.enum(['http', 'https']).default('http'),
  username: str.optional(),
  password: str.optional(),
  allow_stale: bool.default(true),
  refresh_interval: durationSchema.default(30_000),
  services: list(str).default([]),
  service: notYet('consul_sd_configs.service (use services)').optional(),
  tags: list(str).default([]),
  node_meta: labelMap.default({}),
  filter: str.optional(),
  ...httpClientFields,
}).superRefine((v, ctx) => {
  checkHttpClient(v, ctx);
  if (v.server.trim() === '') ctx.addIssue({ code: 'custom', path: ['server'], message: 'consul SD configuration requires a server address' });
  if (v.token && (v.authorization || v.bearer_token || v.bearer_token_file)) {
    ctx.addIssue({ code: 'custom', path: ['token'], message: 'at most one of consul SD configuration token, authorization or oauth2 can be configured' });
  }
  if ((v.username || v.password) && v.basic_auth) {
    ctx.addIssue({ code: 'custom', path: ['username'], message: 'at most one of consul SD configuration username and password and basic auth can be configured' });
  }
});

/** Every Prometheus service-discovery kind fleet-agent does not run, refused by name. */
const UNSUPPORTED_SD = [
  'azure_sd_configs', 'digitalocean_sd_configs', 'docker_sd_configs', 'dockerswarm_sd_configs', 'eureka_sd_configs', 'gce_sd_configs',
  'hetzner_sd_configs', 'ionos_sd_configs', 'kuma_sd_configs', 'lightsail_sd_configs', 'linode_sd_configs', 'marathon_sd_configs',
  'nerve_sd_configs', 'nomad_sd_configs', 'openstack_sd_configs', 'ovhcloud_sd_configs', 'puppetdb_sd_configs', 'scaleway_sd_configs',
  'serverset_sd_configs', 'triton_sd_configs', 'uyuni_sd_configs', 'vultr_sd_configs', 'stackit_sd_configs',
] as const;

/** The discovery fields of a scrape config, spread into its schema. */
export const discoveryFields = {
  static_configs: list(staticConfigSchema).default([]),
  file_sd_configs: list(fileSdSchema).default([]),
  kubernetes_sd_configs: list(kubernetesSdSchema).default([]),
  ec2_sd_configs: list(ec2SdSchema).default([]),
  dns_sd_configs: list(dnsSdSchema).default([]),
  http_sd_configs: list(httpSdSchema).default([]),
  consul_sd_configs: list(consulSdSchema).default([]),
  ...Object.fromEntries(UNSUPPORTED_SD.map((k) => [k, notYet(k).optional()])),
};

type Raw<T extends z.ZodType> = z.infer<T>;

/** The normalised discovery blocks of a parsed scrape config. */
export function normaliseDiscovery(raw: {
  static_configs: Raw<typeof staticConfigSchema>[];
  file_sd_configs: Raw<typeof fileSdSchema>[];
  kubernetes_sd_configs: Raw<typeof kubernetesSdSchema>[];
  ec2_sd_configs: Raw<typeof ec2SdSchema>[];
  dns_sd_configs: Raw<typeof dnsSdSchema>[];
  http_sd_configs: Raw<typeof httpSdSchema>[];
  consul_sd_configs: Raw<typeof consulSdSchema>[];
}): {
  staticConfigs: StaticConfig[];
  fileSdConfigs: FileSdConfig[];
  kubernetesSdConfigs: KubernetesSdConfig[];
  ec2SdConfigs: Ec2SdConfig[];
  dnsSdConfigs: DnsSdConfig[];
  httpSdConfigs: HttpSdConfig[];
  consulSdConfigs: ConsulSdConfig[];
} {
  return {
    staticConfigs: raw.static_configs,
    fileSdConfigs: raw.file_sd_configs.map((f) => ({ files: f.files, refreshIntervalMs: f.refresh_interval })),
    kubernetesSdConfigs: raw.kubernetes_sd_configs.map((k) => ({
      ...normaliseHttpClient(k),
      role: k.role as KubernetesRole,
      apiServer: k.api_server,
      kubeconfigFile: k.kubeconfig_file,
      namespaces: { ownNamespace: k.namespaces?.own_namespace ?? false, names: k.namespaces?.names ?? [] },
      selectors: k.selectors.map((s) => ({ role: s.role as KubernetesRole, label: s.label, field: s.field })),
      attachMetadata: { node: k.attach_metadata?.node ?? false, namespace: k.attach_metadata?.namespace ?? false },
    })),
    ec2SdConfigs: raw.ec2_sd_configs.map((e) => ({
      ...normaliseHttpClient(e),
      region: e.region,
      endpoint: e.endpoint,
      accessKey: e.access_key,
      secretKey: e.secret_key,
      profile: e.profile,
      roleArn: e.role_arn,
      refreshIntervalMs: e.refresh_interval,
      port: e.port,
      filters: e.filters,
    })),
    dnsSdConfigs: raw.dns_sd_configs.map((d) => ({ names: d.names, type: d.type as DnsSdConfig['type'], port: d.port, refreshIntervalMs: d.refresh_interval })),
    httpSdConfigs: raw.http_sd_configs.map((h) => ({ ...normaliseHttpClient(h), url: h.url!, refreshIntervalMs: h.refresh_interval })),
    consulSdConfigs: raw.consul_sd_configs.map((c) => {
      const client = normaliseHttpClient(c);
      return {
        ...client,
        basicAuth: client.basicAuth ?? (c.username ? { username: c.username, password: c.password } : undefined),
        server: c.server,
        scheme: c.scheme,
        pathPrefix: c.path_prefix,
        token: c.token,
        datacenter: c.datacenter,
        namespace: c.namespace,
        partition: c.partition,
        services: c.services,
        tags: c.tags,
        nodeMeta: c.node_meta,
        tagSeparator: c.tag_separator,
        allowStale: c.allow_stale,
        refreshIntervalMs: c.refresh_interval,
        filter: c.filter,
      };
    }),
  };
}
