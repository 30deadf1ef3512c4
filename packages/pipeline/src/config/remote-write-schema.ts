import { createHash } from 'node:crypto';
import { z } from 'zod';
import { relabelConfigSchema } from '../relabel/index.js';
import { checkRegionAgainstHost, inferSigningFromHost, isAwsRegionName } from './aws-endpoints.js';
import { durationSchema } from './duration.js';
import { bool, list, nonEmpty, notYet, obj, positiveInt, str, text } from './fields.js';
import { checkHttpClient, httpClientFields, normaliseHttpClient } from './http-client.js';
import { DEFAULT_QUEUE_CONFIG, type ConfigIssue, type RemoteWriteConfig } from './model.js';

/** `remote_write` entries (Prometheus field names) and their normalisation. */

const sigv4Schema = obj({
  region: nonEmpty.optional(),
  access_key: nonEmpty.optional(),
  secret_key: nonEmpty.optional(),
  profile: nonEmpty.optional(),
  role_arn: text(z.string().regex(/^arn:aws(-cn|-us-gov)?:iam::\d{12}:role\/[\w+=,.@/-]+$/, 'not an IAM role ARN (arn:aws:iam::123456789012:role/name)')).optional(),
  external_id: text(z.string().min(2).max(1224)).optional(),
  service: text(z.string().regex(/^[a-z0-9-]+$/, 'not an AWS signing name (e.g. aps)')).optional(),
  use_fips_sts_endpoint: bool.optional(),
}).superRefine((v, ctx) => {
  if (Boolean(v.access_key) !== Boolean(v.secret_key)) {
    ctx.addIssue({ code: 'custom', path: [v.access_key ? 'secret_key' : 'access_key'], message: 'access_key and secret_key must be set together' });
  }
  if (v.profile && v.access_key) ctx.addIssue({ code: 'custom', path: ['profile'], message: 'set either profile or access_key/secret_key, not both' });
  if (v.external_id && !v.role_arn) ctx.addIssue({ code: 'custom', path: ['external_id'], message: 'external_id needs role_arn (it is passed to sts:AssumeRole)' });
  if (v.region && !isAwsRegionName(v.region)) ctx.addIssue({ code: 'custom', path: ['region'], message: `${JSON.stringify(v.region)} is not an AWS region name (e.g. us-east-1)` });
  if (v.use_fips_sts_endpoint) ctx.addIssue({ code: 'custom', path: ['use_fips_sts_endpoint'], message: 'use_fips_sts_endpoint is a Prometheus feature fleet-agent does not support yet' });
});

const queueConfigSchema = obj({
  capacity: positiveInt.default(DEFAULT_QUEUE_CONFIG.capacity),
  max_shards: positiveInt.default(DEFAULT_QUEUE_CONFIG.maxShards),
  min_shards: positiveInt.default(DEFAULT_QUEUE_CONFIG.minShards),
  max_samples_per_send: positiveInt.default(DEFAULT_QUEUE_CONFIG.maxSamplesPerSend),
  batch_send_deadline: durationSchema.default(DEFAULT_QUEUE_CONFIG.batchSendDeadlineMs),
  min_backoff: durationSchema.default(DEFAULT_QUEUE_CONFIG.minBackoffMs),
  max_backoff: durationSchema.default(DEFAULT_QUEUE_CONFIG.maxBackoffMs),
  retry_on_http_429: bool.default(DEFAULT_QUEUE_CONFIG.retryOnHttp429),
  sample_age_limit: durationSchema.default(DEFAULT_QUEUE_CONFIG.sampleAgeLimitMs),
  max_retries: z.unknown().optional(),
}).superRefine((v, ctx) => {
  if (v.max_retries !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['max_retries'], message: 'no longer supported by Prometheus: retries continue until success or a non-retryable error' });
  }
  if (v.min_shards > v.max_shards) ctx.addIssue({ code: 'custom', path: ['min_shards'], message: 'must not exceed max_shards' });
  if (v.min_backoff > v.max_backoff) ctx.addIssue({ code: 'custom', path: ['min_backoff'], message: 'must not exceed max_backoff' });
});

const metadataConfigSchema = obj({
  send: bool.default(true),
  send_interval: durationSchema.default(60_000),
  max_samples_per_send: positiveInt.optional(),
});

const RESERVED_HEADERS = ['authorization', 'host', 'content-encoding', 'content-type', 'content-length', 'user-agent', 'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'www-authenticate', 'transfer-encoding', 'upgrade', 'x-prometheus-remote-write-version'];

/** One `remote_write` entry. */
export const remoteWriteSchema = obj({
  url: text(z.string()).refine((u) => URL.canParse(u) && ['http:', 'https:'].includes(new URL(u).protocol), 'must be an http:// or https:// URL'),
  // Names the WAL directory: `.` and `..` would point outside it.
  name: text(
    z
      .string()
      .regex(/^[a-zA-Z0-9_.-]+$/, 'may contain only letters, digits, _ . -')
      .refine((n) => n !== '.' && n !== '..', 'must not be "." or ".."'),
  ).optional(),
  remote_timeout: durationSchema.default(30_000),
  headers: z.record(z.string(), str).default({}),
  write_relabel_configs: list(relabelConfigSchema).default([]),
  sigv4: z.preprocess((v) => (v === null ? {} : v), sigv4Schema).optional(),
  queue_config: queueConfigSchema.default(() => queueConfigSchema.parse({})),
  metadata_config: metadataConfigSchema.optional(),
  send_exemplars: bool.default(false),
  send_native_histograms: bool.default(false),
  round_robin_dns: bool.default(false),
  protobuf_message: str.optional(),
  azuread: notYet('azuread (Azure AD authentication)').optional(),
  google_iam: notYet('google_iam (Google Cloud authentication)').optional(),
  ...httpClientFields,
}).superRefine((v, ctx) => {
  checkHttpClient(v, ctx);
  if (v.sigv4 && (v.basic_auth || v.authorization || v.bearer_token || v.bearer_token_file)) {
    ctx.addIssue({ code: 'custom', path: ['sigv4'], message: 'at most one of basic_auth, authorization, oauth2, sigv4, azuread or google_iam must be configured' });
  }
  for (const h of Object.keys(v.headers)) {
    const lower = h.toLowerCase();
    if (RESERVED_HEADERS.includes(lower) || lower.startsWith('x-amz-')) ctx.addIssue({ code: 'custom', path: ['headers', h], message: `${h} is a reserved header. It must not be changed` });
  }
  if (v.protobuf_message !== undefined && v.protobuf_message !== 'prometheus.WriteRequest') {
    ctx.addIssue({
      code: 'custom',
      path: ['protobuf_message'],
      message:
        v.protobuf_message === 'io.prometheus.write.v2.Request'
          ? 'remote write 2.0 (io.prometheus.write.v2.Request) is a Prometheus feature fleet-agent does not support yet; use prometheus.WriteRequest'
          : `unknown remote write protobuf message ${JSON.stringify(v.protobuf_message)} (prometheus.WriteRequest or io.prometheus.write.v2.Request)`,
    });
  }
});

/** A parsed `remote_write` entry. */
export type RawRemoteWrite = z.infer<typeof remoteWriteSchema>;

/** What the agent knows of its environment when it reads a config (the control plane knows none of it). */
export interface ParseEnvironment {
  /**
   * The region `sigv4` blocks use when they name none and the URL does not tell one: the agent
   * passes AWS_REGION / AWS_DEFAULT_REGION / its profile's region, as the SDK resolves it.
   */
  defaultRegion?: string | undefined;
}

/** Checks that a `sigv4` destination has a region (given, from the URL, or from the environment). */
export function checkSigningRegion(raw: RawRemoteWrite, env: ParseEnvironment, path: readonly PropertyKey[], format: (p: readonly PropertyKey[]) => string): ConfigIssue[] {
  if (!raw.sigv4) return [];
  const host = new URL(raw.url).hostname;
  const inferred = inferSigningFromHost(host);
  const region = raw.sigv4.region ?? inferred?.region ?? env.defaultRegion;
  if (!region) {
    return [{ path: format([...path, 'sigv4', 'region']), message: `required: the URL's host ${host} names no region and AWS_REGION is not set` }];
  }
  const mismatch = checkRegionAgainstHost(region, host);
  return mismatch ? [{ path: format([...path, 'sigv4', 'region']), message: mismatch }] : [];
}

/** Settings accepted but not acted on, as warnings. */
export function remoteWriteWarnings(raw: RawRemoteWrite, path: string): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  if (raw.send_exemplars) out.push({ path: `${path}.send_exemplars`, message: 'exemplars are not sent yet: fleet-agent reads only samples' });
  if (raw.send_native_histograms) out.push({ path: `${path}.send_native_histograms`, message: 'native histograms are not sent: fleet-agent scrapes text formats, which carry classic histograms only' });
  if (raw.metadata_config && raw.metadata_config.send) out.push({ path: `${path}.metadata_config`, message: 'metric metadata is not sent yet (set send: false to silence this)' });
  if (raw.round_robin_dns) out.push({ path: `${path}.round_robin_dns`, message: 'ignored: connections use the resolver order' });
  return out;
}

/** The normalised destination. */
export function normaliseRemoteWrite(raw: RawRemoteWrite, env: ParseEnvironment = {}): RemoteWriteConfig {
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
      region: (raw.sigv4.region ?? inferred?.region ?? env.defaultRegion)!,
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
    ...normaliseHttpClient(raw),
  };
}
