/**
 * Where and how ec2_sd talks to EC2: the region (config, environment, the profile's shared
 * config file, then IMDSv2, as the AWS SDKs resolve it), the endpoint (config,
 * AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL, else the regional endpoint) and SigV4-signed Query API
 * calls with bounded answers, failures classified by @fleet/aws like the remote-write path.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  classifyError,
  classifyNetworkError,
  classifyResponse,
  type ClassifiedError,
  type ClockOffset,
  type ManagedCredentials,
  type RequestSigner,
} from '@fleet/aws';
import type { Ec2SdConfig } from '@fleet/pipeline';
import { request, type Dispatcher } from 'undici';

/** A region code as it may appear in a host name. */
const REGION_RE = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/;
const MAX_CONFIG_FILE_BYTES = 1 << 20;
const MAX_IMDS_ANSWER_BYTES = 1024;

/** A region, and where it came from (for messages). */
export interface ResolvedRegion {
  region: string;
  source: string;
}

function checkRegion(region: string, source: string): string {
  if (!REGION_RE.test(region)) throw new Error(`${source} names ${JSON.stringify(region.slice(0, 64))}, which is not an AWS region code (e.g. us-east-1)`);
  return region;
}

/** The region of `profile` in the shared config file (`[default]` / `[profile NAME]`), if set. */
export async function profileRegion(env: NodeJS.ProcessEnv, profile: string): Promise<{ region: string; file: string } | { region: undefined; file: string }> {
  const file = env.AWS_CONFIG_FILE || path.join(env.HOME || os.homedir(), '.aws', 'config');
  let content: string;
  try {
    const buf = await readFile(file);
    content = buf.subarray(0, MAX_CONFIG_FILE_BYTES).toString('utf8');
  } catch {
    return { region: undefined, file };
  }
  const wanted = profile === 'default' ? ['default', 'profile default'] : [`profile ${profile}`];
  let inSection = false;
  for (const raw of content.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[\s*([^\]]*?)\s*\]/.exec(line);
    if (section) {
      inSection = wanted.includes(section[1]!.replace(/\s+/g, ' '));
      continue;
    }
    const kv = /^([\w-]+)\s*=\s*(.*)$/.exec(line);
    if (inSection && kv && kv[1]!.toLowerCase() === 'region' && kv[2]!.trim() !== '') return { region: kv[2]!.replace(/\s[#;].*$/, '').trim(), file };
  }
  return { region: undefined, file };
}

async function readBounded(body: AsyncIterable<Uint8Array> & { destroy(err?: Error): unknown }, limit: number, what: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      throw new Error(`${what} is larger than ${limit} bytes`);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The region from IMDSv2 (`/latest/meta-data/placement/region`), honouring AWS_EC2_METADATA_SERVICE_ENDPOINT(_MODE). */
export async function imdsRegion(env: NodeJS.ProcessEnv, options: { timeoutMs: number; signal: AbortSignal }): Promise<string> {
  if ((env.AWS_EC2_METADATA_DISABLED ?? '').toLowerCase() === 'true') throw new Error('instance metadata is disabled (AWS_EC2_METADATA_DISABLED=true)');
  const base = (env.AWS_EC2_METADATA_SERVICE_ENDPOINT || (env.AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE?.toLowerCase() === 'ipv6' ? 'http://[fd00:ec2::254]' : 'http://169.254.169.254')).replace(/\/+$/, '');
  const signal = AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)]);
  const call = async (method: 'PUT' | 'GET', urlPath: string, headers: Record<string, string>): Promise<string> => {
    const res = await request(`${base}${urlPath}`, { method, headers, signal, headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs });
    const body = await readBounded(res.body, MAX_IMDS_ANSWER_BYTES, `the answer of ${urlPath}`);
    if (res.statusCode !== 200) throw new Error(`${method} ${urlPath} answered HTTP ${res.statusCode}`);
    return body.trim();
  };
  try {
    const token = await call('PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': '21600' });
    return await call('GET', '/latest/meta-data/placement/region', { 'x-aws-ec2-metadata-token': token });
  } catch (err) {
    throw new Error(`instance metadata at ${base}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The region to use: `region` of the config, else AWS_REGION / AWS_DEFAULT_REGION, else the
 * profile's `region` in the shared config file, else the instance's region from IMDSv2. Throws
 * a message naming every place that was looked at when none has one.
 */
export async function resolveRegion(config: Pick<Ec2SdConfig, 'region' | 'profile'>, env: NodeJS.ProcessEnv, options: { imdsTimeoutMs: number; signal: AbortSignal }): Promise<ResolvedRegion> {
  if (config.region) return { region: checkRegion(config.region, 'region'), source: 'config' };
  for (const name of ['AWS_REGION', 'AWS_DEFAULT_REGION'] as const) {
    const value = env[name]?.trim();
    if (value) return { region: checkRegion(value, name), source: name };
  }
  const profile = config.profile || env.AWS_PROFILE || 'default';
  const fromFile = await profileRegion(env, profile);
  if (fromFile.region) return { region: checkRegion(fromFile.region, `profile ${profile} in ${fromFile.file}`), source: `profile ${profile}` };
  let imdsError: string;
  try {
    const region = await imdsRegion(env, { timeoutMs: options.imdsTimeoutMs, signal: options.signal });
    return { region: checkRegion(region, 'instance metadata'), source: 'instance metadata' };
  } catch (err) {
    if (options.signal.aborted) throw err;
    imdsError = (err as Error).message;
  }
  throw new Error(
    `no region: set region in the ec2_sd_config, or AWS_REGION, or region in profile ${profile} of ${fromFile.file}; the instance metadata gave none (${imdsError})`,
  );
}

/**
 * The EC2 endpoint: `endpoint` of the config, else AWS_ENDPOINT_URL_EC2, else AWS_ENDPOINT_URL
 * (both ignored with AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true), else `https://ec2.<region>.amazonaws.com`
 * (`.amazonaws.com.cn` in the China regions).
 */
export function resolveEndpoint(config: Pick<Ec2SdConfig, 'endpoint'>, region: string, env: NodeJS.ProcessEnv): URL {
  const ignoreEnv = (env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS ?? '').toLowerCase() === 'true';
  const candidates: Array<[string, string | undefined]> = [
    ['endpoint', config.endpoint],
    ['AWS_ENDPOINT_URL_EC2', ignoreEnv ? undefined : env.AWS_ENDPOINT_URL_EC2],
    ['AWS_ENDPOINT_URL', ignoreEnv ? undefined : env.AWS_ENDPOINT_URL],
  ];
  for (const [name, value] of candidates) {
    if (!value?.trim()) continue;
    let url: URL;
    try {
      url = new URL(value.trim());
    } catch {
      throw new Error(`${name} ${JSON.stringify(value.slice(0, 200))} is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${name} ${url.href} must be an http:// or https:// URL`);
    if (url.search || url.hash) throw new Error(`${name} ${url.href} must not carry a query or fragment`);
    return url;
  }
  return new URL(`https://ec2.${region}.${region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com'}/`);
}

/** A failed EC2 call, classified. */
export class Ec2CallError extends Error {
  constructor(
    /** `DescribeInstances`, `DescribeAvailabilityZones`. */
    readonly action: string,
    readonly classified: ClassifiedError,
    /** Where it failed: resolving credentials, reaching EC2, or EC2's answer. */
    readonly stage: 'credentials' | 'network' | 'response',
    readonly status: number | null,
  ) {
    super(`${action}: ${classified.code ? `${classified.code}: ` : ''}${classified.message}`);
  }
}

/** What {@link Ec2QueryClient} needs. */
export interface Ec2QueryClientOptions {
  endpoint: URL;
  signer: RequestSigner;
  credentials: ManagedCredentials;
  clock: ClockOffset;
  dispatcher: Dispatcher;
  userAgent: string;
  requestTimeoutMs: number;
  /** Largest answer read (bytes); a larger one fails the call. */
  maxResponseBytes: number;
}

/**
 * Signed EC2 Query API calls (POST, form body, service `ec2`). An expired or unrecognised token
 * (or EC2's AuthFailure) makes it resolve the credentials again and retry once; a clock-skew
 * rejection applies the offset measured from the answer's `Date` and retries once.
 */
export class Ec2QueryClient {
  constructor(private readonly options: Ec2QueryClientOptions) {}

  /** Sends one call and returns the answer's XML; throws {@link Ec2CallError} (or the abort reason when `signal` aborts). */
  async call(action: string, body: string, signal: AbortSignal): Promise<string> {
    const o = this.options;
    const bytes = Buffer.from(body, 'utf8');
    for (let attempt = 0; ; attempt++) {
      let headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', 'user-agent': o.userAgent };
      try {
        headers = await o.signer.sign({ method: 'POST', url: o.endpoint, headers, body: bytes });
      } catch (err) {
        throw new Ec2CallError(action, classifyError(err), 'credentials', null);
      }
      signal.throwIfAborted();
      const sentAt = Date.now();
      let status: number;
      let responseHeaders: Record<string, string | string[] | undefined>;
      let text: string;
      try {
        const res = await request(o.endpoint, {
          method: 'POST',
          headers,
          body: bytes,
          dispatcher: o.dispatcher,
          signal: AbortSignal.any([signal, AbortSignal.timeout(o.requestTimeoutMs)]),
          headersTimeout: o.requestTimeoutMs,
          bodyTimeout: o.requestTimeoutMs,
        });
        status = res.statusCode;
        responseHeaders = res.headers;
        text = await readBounded(res.body, o.maxResponseBytes, `the ${action} answer`);
      } catch (err) {
        signal.throwIfAborted();
        const classified = /larger than \d+ bytes/.test((err as Error).message)
          ? { class: 'bad_request' as const, code: null, message: (err as Error).message, retryable: false }
          : classifyNetworkError(err);
        throw new Ec2CallError(action, classified, 'network', null);
      }
      const header = (name: string) => {
        const v = responseHeaders[name];
        return Array.isArray(v) ? v[0] : v;
      };
      o.clock.observe(header('date'), sentAt);
      if (status >= 200 && status < 300) return text;
      const flat: Record<string, string | undefined> = {};
      for (const k of Object.keys(responseHeaders)) flat[k] = header(k);
      const classified = classifyResponse(status, flat, text.slice(0, 16_384));
      if (attempt === 0 && (classified.class === 'expired_token' || classified.class === 'invalid_token' || classified.code === 'AuthFailure')) {
        o.credentials.invalidate();
        continue;
      }
      if (attempt === 0 && classified.class === 'clock_skew') {
        o.clock.applyMeasured();
        continue;
      }
      throw new Ec2CallError(action, classified, 'response', status);
    }
  }
}
