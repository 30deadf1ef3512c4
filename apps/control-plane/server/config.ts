import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { adminPasswordProblem, parseStsEndpoints } from '@fleet/core';
import { z } from 'zod';
import { parseTrustedProxies, type TrustedProxies } from './client-ip.js';

/** Settings of the control-plane process, all from the environment. */
export interface ServerConfig {
  host: string;
  port: number;
  /** PGlite data directory (used when `databaseUrl` is unset). */
  dataDir: string;
  databaseUrl: string | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  dev: boolean;
  /** The URL operators use (cookies, CSRF origin checks, printed links); default from HOST/PORT. */
  publicUrl: string | undefined;
  /** Signs session cookies; generated and stored in the database when unset. */
  authSecret: string | undefined;
  /** First run: create this admin instead of printing a setup link. */
  adminEmail: string | undefined;
  adminPassword: string | undefined;
  /**
   * Origins of the STS endpoints AWS identity proofs are forwarded to (`FLEET_STS_ENDPOINTS`,
   * comma-separated; http only on loopback; `aws` = the real endpoints); undefined = the real
   * AWS STS endpoints (global and every regional one).
   */
  stsEndpoints: readonly string[] | undefined;
  /** Interval agents are told to send heartbeats at (`AGENT_HEARTBEAT_INTERVAL`, default 15 s). */
  heartbeatIntervalMs: number | undefined;
  /** How often fleet stats are rolled up (`STATS_INTERVAL`, default 60 s); retention runs every 10 rollups. */
  statsIntervalMs: number;
  /**
   * Proxies (load balancers) whose `X-Forwarded-For` names the client (`TRUSTED_PROXIES`,
   * comma-separated addresses and CIDR ranges, IPv4 and IPv6); default none: the socket peer is
   * the client.
   */
  trustedProxies: TrustedProxies;
  /**
   * Origins besides the control plane's own whose pages may act for a signed-in operator
   * (`TRUSTED_ORIGINS`, comma-separated, e.g. `https://fleet.example.com`): sign-in and API calls
   * that change state.
   */
  trustedOrigins: readonly string[];
  /** Serve HTTPS with this certificate and key (`TLS_CERT_FILE`, `TLS_KEY_FILE`, PEM; both or neither). */
  tls: { cert: Buffer; key: Buffer; certFile: string; keyFile: string } | undefined;
}

/** A bad environment setting; `message` is one line naming the variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const DURATION_UNITS = { ms: 1, s: 1000, m: 60_000 } as const;
const formatMs = (ms: number) => (ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

/** An optional duration (`500ms`, `15s`, `2m`) between `min` and `max`, in milliseconds. */
function durationSetting(min: number, max: number, example: string) {
  return z
    .string()
    .trim()
    .optional()
    .transform((v) => v || undefined)
    .refine((v) => v === undefined || /^\d+(ms|s|m)$/.test(v), `must be a duration such as ${example} (ms, s or m)`)
    .transform((v) => (v === undefined ? undefined : Number(/^\d+/.exec(v)![0]) * DURATION_UNITS[/(ms|s|m)$/.exec(v)![0] as keyof typeof DURATION_UNITS]))
    .refine((v) => v === undefined || (v >= min && v <= max), `must be between ${formatMs(min)} and ${formatMs(max)}`);
}

const env = z.object({
  FLEET_STS_ENDPOINTS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return undefined;
      try {
        return parseStsEndpoints(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
  TRUSTED_PROXIES: z
    .string()
    .optional()
    .transform((v, ctx) => {
      try {
        return parseTrustedProxies(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
  TRUSTED_ORIGINS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const origins: string[] = [];
      for (const entry of (v ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
        const url = URL.canParse(entry) ? new URL(entry) : null;
        if (!url || !['http:', 'https:'].includes(url.protocol) || url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
          ctx.addIssue({ code: 'custom', message: `${JSON.stringify(entry)} is not an origin such as https://fleet.example.com (scheme, host and port only)` });
          return z.NEVER;
        }
        origins.push(url.origin);
      }
      return origins;
    }),
  TLS_CERT_FILE: z
    .string()
    .trim()
    .optional()
    .transform((v) => v || undefined),
  TLS_KEY_FILE: z
    .string()
    .trim()
    .optional()
    .transform((v) => v || undefined),
  HOST: z.string().trim().min(1, 'must not be empty').default('127.0.0.1'),
  PORT: z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number between 0 and 65535')
    .transform(Number)
    .refine((n) => n <= 65535, 'must be a whole number between 0 and 65535')
    .default(3000),
  DATA_DIR: z.string().trim().min(1, 'must not be empty').default('.data'),
  DATABASE_URL: z
    .string()
    .trim()
    .optional()
    .transform((v) => v || undefined),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  NODE_ENV: z.string().optional(),
  PUBLIC_URL: z
    .string()
    .trim()
    .optional()
    .transform((v) => v || undefined)
    .refine((v) => v === undefined || (URL.canParse(v) && ['http:', 'https:'].includes(new URL(v).protocol)), 'must be an http(s) URL such as https://fleet.example.com'),
  AUTH_SECRET: z
    .string()
    .optional()
    .transform((v) => v || undefined)
    .refine((v) => v === undefined || v.length >= 32, 'must be at least 32 characters'),
  ADMIN_EMAIL: z
    .string()
    .trim()
    .optional()
    .transform((v) => v || undefined)
    .refine((v) => v === undefined || z.email().safeParse(v).success, 'must be an e-mail address'),
  ADMIN_PASSWORD: z
    .string()
    .optional()
    .transform((v) => v || undefined)
    .refine((v) => v === undefined || v.length >= 12, 'must be at least 12 characters'),
  AGENT_HEARTBEAT_INTERVAL: durationSetting(1000, 3_600_000, '15s'),
  STATS_INTERVAL: durationSetting(1000, 600_000, '60s'),
});

/** One line for a file that cannot be read (`ENOENT: no such file or directory` → `no such file or directory`). */
function readProblem(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code} (${e.message.replace(/^\w+: /, '').replace(/, \w+ '.*'$/, '')})` : String(e.message ?? err);
}

/** Reads and checks the TLS certificate and key: each parses as PEM, and the key is the certificate's. */
function loadTls(certFile: string | undefined, keyFile: string | undefined): ServerConfig['tls'] {
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) {
    const [missing, given] = certFile ? ['TLS_KEY_FILE', 'TLS_CERT_FILE'] : ['TLS_CERT_FILE', 'TLS_KEY_FILE'];
    throw new ConfigError(`${missing}: required together with ${given}`);
  }
  const read = (name: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ConfigError(`${name}: cannot read ${file}: ${readProblem(err)}`);
    }
  };
  const cert = read('TLS_CERT_FILE', certFile);
  const key = read('TLS_KEY_FILE', keyFile);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new ConfigError(`TLS_CERT_FILE: ${certFile} is not a PEM certificate`);
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new ConfigError(`TLS_KEY_FILE: ${keyFile} is not a PEM private key (an encrypted key is not supported)`);
  }
  if (!x509.checkPrivateKey(privateKey)) throw new ConfigError(`TLS_KEY_FILE: ${keyFile} is not the key of the certificate in TLS_CERT_FILE`);
  return { cert, key, certFile, keyFile };
}

/**
 * Parses the process environment.
 * @throws ConfigError e.g. `PORT: must be a whole number between 0 and 65535 (got "http")`.
 */
export function loadConfig(source: NodeJS.ProcessEnv): ServerConfig {
  const parsed = env.safeParse(source);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    const got = source[name];
    const secret = /SECRET|PASSWORD/.test(name);
    throw new ConfigError(`${name}: ${issue.message}${got === undefined || secret ? '' : ` (got ${JSON.stringify(got)})`}`);
  }
  const e = parsed.data;
  const config: ServerConfig = {
    host: e.HOST,
    port: e.PORT,
    dataDir: e.DATA_DIR,
    databaseUrl: e.DATABASE_URL,
    logLevel: e.LOG_LEVEL,
    dev: e.NODE_ENV === 'development',
    publicUrl: e.PUBLIC_URL?.replace(/\/+$/, ''),
    authSecret: e.AUTH_SECRET,
    adminEmail: e.ADMIN_EMAIL,
    adminPassword: e.ADMIN_PASSWORD,
    stsEndpoints: e.FLEET_STS_ENDPOINTS,
    heartbeatIntervalMs: e.AGENT_HEARTBEAT_INTERVAL,
    statsIntervalMs: e.STATS_INTERVAL ?? 60_000,
    trustedProxies: e.TRUSTED_PROXIES,
    trustedOrigins: e.TRUSTED_ORIGINS,
    tls: loadTls(e.TLS_CERT_FILE, e.TLS_KEY_FILE),
  };
  if (Boolean(config.adminEmail) !== Boolean(config.adminPassword)) {
    throw new ConfigError(`${config.adminEmail ? 'ADMIN_PASSWORD' : 'ADMIN_EMAIL'}: required together with ${config.adminEmail ? 'ADMIN_EMAIL' : 'ADMIN_PASSWORD'}`);
  }
  // The first admin's password is held to the same policy as every other (never echoed).
  const weakAdmin = config.adminEmail && config.adminPassword ? adminPasswordProblem(config.adminEmail, config.adminPassword) : null;
  if (weakAdmin) throw new ConfigError(weakAdmin);
  return config;
}
