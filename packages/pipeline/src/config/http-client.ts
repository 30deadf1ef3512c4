import { z } from 'zod';
import { bool, nonEmpty, obj, str } from './fields.js';
import type { HttpClientConfig } from './model.js';
import { notYet } from './fields.js';

const tlsVersion = z.enum(['TLS10', 'TLS11', 'TLS12', 'TLS13']);

/** `tls_config` (prometheus/common): files or inline PEM, server name, skip-verify, versions. */
export const tlsSchema = obj({
  ca: str.optional(),
  ca_file: nonEmpty.optional(),
  cert: str.optional(),
  cert_file: nonEmpty.optional(),
  key: str.optional(),
  key_file: nonEmpty.optional(),
  server_name: nonEmpty.optional(),
  insecure_skip_verify: bool.default(false),
  min_version: tlsVersion.optional(),
  max_version: tlsVersion.optional(),
}).superRefine((v, ctx) => {
  const one = (a: keyof typeof v, b: keyof typeof v, what: string) => {
    if (v[a] !== undefined && v[b] !== undefined) ctx.addIssue({ code: 'custom', path: [b], message: `at most one of ${what} & ${what}_file must be configured` });
  };
  one('ca', 'ca_file', 'ca');
  one('cert', 'cert_file', 'cert');
  one('key', 'key_file', 'key');
  const hasCert = v.cert !== undefined || v.cert_file !== undefined;
  const hasKey = v.key !== undefined || v.key_file !== undefined;
  if (hasCert !== hasKey) {
    ctx.addIssue({ code: 'custom', path: [hasCert ? 'key_file' : 'cert_file'], message: hasCert ? 'client cert file specified without client key file' : 'client key file specified without client cert file' });
  }
});

const basicAuthSchema = obj({
  username: str.default(''),
  username_file: nonEmpty.optional(),
  password: str.optional(),
  password_file: nonEmpty.optional(),
}).superRefine((v, ctx) => {
  if (v.password !== undefined && v.password_file !== undefined) ctx.addIssue({ code: 'custom', path: ['password_file'], message: 'at most one of basic_auth password & password_file must be configured' });
  if (v.username !== '' && v.username_file !== undefined) ctx.addIssue({ code: 'custom', path: ['username_file'], message: 'at most one of basic_auth username & username_file must be configured' });
  if (v.username === '' && v.username_file === undefined) ctx.addIssue({ code: 'custom', path: ['username'], message: 'required' });
});

const authorizationSchema = obj({
  type: str.default('Bearer'),
  credentials: str.optional(),
  credentials_file: nonEmpty.optional(),
}).superRefine((v, ctx) => {
  if (v.credentials !== undefined && v.credentials_file !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['credentials_file'], message: 'at most one of authorization credentials & credentials_file must be configured' });
  }
  if (v.type.toLowerCase() === 'basic') ctx.addIssue({ code: 'custom', path: ['type'], message: 'authorization type cannot be set to "basic", use "basic_auth" instead' });
});

/** The HTTP client fields of prometheus/common `HTTPClientConfig`, spread into each block that has them. */
export const httpClientFields = {
  basic_auth: basicAuthSchema.optional(),
  authorization: authorizationSchema.optional(),
  bearer_token: str.optional(),
  bearer_token_file: nonEmpty.optional(),
  tls_config: tlsSchema.optional(),
  proxy_url: z.preprocess((v) => (v === '' ? undefined : v), str.refine((u) => URL.canParse(u) && ['http:', 'https:', 'socks5:'].includes(new URL(u).protocol), 'must be an http://, https:// or socks5:// URL').optional()),
  no_proxy: str.optional(),
  proxy_from_environment: bool.default(false),
  proxy_connect_header: z.record(z.string(), z.preprocess((v) => (typeof v === 'string' ? [v] : v), z.array(str))).optional(),
  follow_redirects: bool.default(true),
  enable_http2: bool.default(true),
  oauth2: notYet('oauth2 (OAuth 2.0 client credentials)').optional(),
  http_headers: notYet('http_headers').optional(),
};

type RawHttpClient = {
  basic_auth?: z.infer<typeof basicAuthSchema> | undefined;
  authorization?: z.infer<typeof authorizationSchema> | undefined;
  bearer_token?: string | undefined;
  bearer_token_file?: string | undefined;
  tls_config?: z.infer<typeof tlsSchema> | undefined;
  proxy_url?: string | undefined;
  no_proxy?: string | undefined;
  proxy_from_environment: boolean;
  proxy_connect_header?: Record<string, string[]> | undefined;
  follow_redirects: boolean;
  enable_http2: boolean;
};

/** prometheus/common `HTTPClientConfig.Validate`: the combinations it refuses, with its messages. */
export function checkHttpClient(v: RawHttpClient, ctx: z.RefinementCtx): void {
  const bearer = v.bearer_token !== undefined || v.bearer_token_file !== undefined;
  if (v.bearer_token !== undefined && v.bearer_token_file !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['bearer_token_file'], message: 'at most one of bearer_token & bearer_token_file must be configured' });
  }
  if (v.basic_auth && bearer) {
    ctx.addIssue({ code: 'custom', path: ['basic_auth'], message: 'at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured' });
  } else if (v.basic_auth && v.authorization) {
    ctx.addIssue({ code: 'custom', path: ['basic_auth'], message: 'at most one of basic_auth, oauth2 & authorization must be configured' });
  }
  if (v.authorization && bearer) {
    ctx.addIssue({ code: 'custom', path: ['authorization'], message: 'authorization is not compatible with bearer_token & bearer_token_file' });
  }
  if (v.proxy_from_environment && v.proxy_url) {
    ctx.addIssue({ code: 'custom', path: ['proxy_url'], message: 'if proxy_from_environment is configured, proxy_url must not be configured' });
  }
  if (v.no_proxy && !v.proxy_url) {
    ctx.addIssue({ code: 'custom', path: ['no_proxy'], message: 'if no_proxy is configured, proxy_url must also be configured' });
  }
  if (v.proxy_connect_header && Object.keys(v.proxy_connect_header).length > 0 && !v.proxy_url && !v.proxy_from_environment) {
    ctx.addIssue({ code: 'custom', path: ['proxy_connect_header'], message: 'if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured' });
  }
  if (v.proxy_url?.startsWith('socks5:')) {
    ctx.addIssue({ code: 'custom', path: ['proxy_url'], message: 'a SOCKS5 proxy is a Prometheus feature fleet-agent does not support yet (use an http:// or https:// proxy)' });
  }
}

/** Whether any client setting is given (Prometheus refuses them for in-cluster Kubernetes without api_server). */
export function hasCustomHttpClient(v: RawHttpClient): boolean {
  return Boolean(v.basic_auth || v.authorization || v.bearer_token || v.bearer_token_file || v.tls_config || v.proxy_url || v.proxy_from_environment);
}

/** The normalised client settings; `bearer_token(_file)` becomes `authorization` of type Bearer. */
export function normaliseHttpClient(raw: RawHttpClient): HttpClientConfig {
  const tls = raw.tls_config;
  const bearer = raw.bearer_token !== undefined || raw.bearer_token_file !== undefined;
  return {
    basicAuth: raw.basic_auth && {
      username: raw.basic_auth.username,
      usernameFile: raw.basic_auth.username_file,
      password: raw.basic_auth.password,
      passwordFile: raw.basic_auth.password_file,
    },
    authorization: raw.authorization
      ? { type: raw.authorization.type, credentials: raw.authorization.credentials, credentialsFile: raw.authorization.credentials_file }
      : bearer
        ? { type: 'Bearer', credentials: raw.bearer_token, credentialsFile: raw.bearer_token_file }
        : undefined,
    tlsConfig: tls && {
      ca: tls.ca,
      caFile: tls.ca_file,
      cert: tls.cert,
      certFile: tls.cert_file,
      key: tls.key,
      keyFile: tls.key_file,
      serverName: tls.server_name,
      insecureSkipVerify: tls.insecure_skip_verify,
      minVersion: tls.min_version,
      maxVersion: tls.max_version,
    },
    proxy:
      raw.proxy_url || raw.proxy_from_environment
        ? {
            url: raw.proxy_url,
            noProxy: raw.no_proxy,
            fromEnvironment: raw.proxy_from_environment,
            connectHeaders: Object.fromEntries(Object.entries(raw.proxy_connect_header ?? {}).map(([k, v]) => [k, v.join(', ')])),
          }
        : undefined,
    followRedirects: raw.follow_redirects,
    enableHttp2: raw.enable_http2,
  };
}
