import { describeDatabaseError, pgErrorCode } from '@fleet/db';
import pino from 'pino';

/** Structured JSON logger of the control plane. Secrets are redacted wherever they appear. */
export type Logger = pino.Logger;

const isQueryError = (e: unknown): boolean => typeof (e as { query?: unknown }).query === 'string' && Array.isArray((e as { params?: unknown }).params);

/** A query error (Drizzle's `DrizzleQueryError`: `query` text and `params`) in `err` or its causes. */
function wrapsQuery(err: Error): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) if (isQueryError(e)) return true;
  return false;
}

/** `text` up to a quoted failed query ("Failed query: … params: …"), which is left out. */
function withoutQuery(text: string): string {
  const at = text.indexOf('Failed query:');
  return at < 0 ? text : `${text.slice(0, at)}database query failed (query and parameters not logged)`;
}

/**
 * The `err` serializer: pino's standard one, except that an error that is or wraps a failed
 * query is logged as {@link describeDatabaseError} describes it — never with the query text or
 * its parameters (a failed insert would otherwise log the secret hash it carried), and with the
 * stack's frames only (its first line repeats the message). A string that quotes a failed query
 * (`String(err)`) is cut before the query.
 */
export function serializeErr(value: unknown): unknown {
  if (typeof value === 'string') return withoutQuery(value);
  if (!(value instanceof Error)) return value;
  if (!wrapsQuery(value)) return pino.stdSerializers.err(value);
  const frames = (value.stack ?? '')
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .join('\n');
  const code = pgErrorCode(value);
  // A wrapper (tRPC's error around the query error) keeps its own words, up to a quoted query.
  const own = isQueryError(value) ? '' : withoutQuery(value.message).replace(/\s*database query failed \(query and parameters not logged\)$/, '');
  const message = own ? `${own}: ${describeDatabaseError(value)}` : describeDatabaseError(value);
  return { type: value.constructor.name, message, ...(code ? { code } : {}), ...(frames ? { stack: frames } : {}) };
}

export function createLogger(level: pino.LevelWithSilent): Logger {
  return pino({
    level,
    base: { service: 'control-plane' },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: serializeErr },
    redact: {
      paths: [
        'password',
        '*.password',
        'token',
        '*.token',
        'secret',
        '*.secret',
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        'headers.cookie',
        'databaseUrl',
      ],
      censor: '[redacted]',
    },
  });
}
