/**
 * A setting that makes the database unusable (bad `DATABASE_URL`, unwritable `DATA_DIR`,
 * data directory in use by another process). `message` is one line that names the setting
 * and never contains a password; callers print it and exit non-zero.
 */
export class DatabaseSetupError extends Error {
  override readonly name = 'DatabaseSetupError';
  constructor(
    /** The environment setting at fault, e.g. `DATABASE_URL` or `DATA_DIR`. */
    readonly setting: 'DATABASE_URL' | 'DATA_DIR',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${setting}: ${message}`, options);
  }
}

/** `postgres://user:secret@host/db` → `postgres://user:***@host/db`; unparsable input is elided. */
export function redactDatabaseUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '<unparsable URL>';
  }
}

/** One-line reason of a driver or filesystem error: its code and first line of message. */
export function describeCause(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return describeCause(err.errors[0]);
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const first = (err.message.split('\n')[0] ?? '').trim();
    if (typeof code === 'string' && code && !first.includes(code)) return first ? `${code} ${first}` : code;
    return first || err.name;
  }
  return String(err);
}

/**
 * SQLSTATE of a database error (e.g. `23505` unique violation), looking through the
 * wrappers Drizzle puts around driver errors; undefined when there is none.
 */
export function pgErrorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}
