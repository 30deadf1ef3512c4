import { adminPasswordProblem, parseStsEndpoints } from '@fleet/core';
import { z } from 'zod';

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
  };
  if (Boolean(config.adminEmail) !== Boolean(config.adminPassword)) {
    throw new ConfigError(`${config.adminEmail ? 'ADMIN_PASSWORD' : 'ADMIN_EMAIL'}: required together with ${config.adminEmail ? 'ADMIN_EMAIL' : 'ADMIN_PASSWORD'}`);
  }
  // The first admin's password is held to the same policy as every other (never echoed).
  const weakAdmin = config.adminEmail && config.adminPassword ? adminPasswordProblem(config.adminEmail, config.adminPassword) : null;
  if (weakAdmin) throw new ConfigError(weakAdmin);
  return config;
}
