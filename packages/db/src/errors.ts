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

/** Fields of a driver error that hold no row values (`detail` does: "Key (x)=(…) already exists"). */
const SAFE_FIELDS = ['table', 'column', 'constraint'] as const;

/**
 * One line describing a database error for logs and answers, without the query text or its
 * parameters: Drizzle's `DrizzleQueryError` carries `query` and `params` and its message reads
 * "Failed query: … params: …" (a failed enrollment insert would log the agent's secret hash).
 * Describes the driver error it wraps instead — SQLSTATE, the first line of its message, the
 * table, column or constraint — with any parameter value the message quotes (PostgreSQL quotes
 * input in "invalid input syntax" errors) replaced by `$n`. The driver's `detail` (row values)
 * is left out. Other errors are described by {@link describeCause}.
 */
export function describeDatabaseError(err: unknown): string {
  let query: { params: readonly unknown[]; cause: unknown } | undefined;
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const candidate = e as { query?: unknown; params?: unknown; cause?: unknown };
    if (typeof candidate.query === 'string' && Array.isArray(candidate.params)) {
      query = { params: candidate.params, cause: candidate.cause };
      break;
    }
  }
  if (!query) return describeCause(err);
  const driver = query.cause;
  let text = driver === undefined || driver === null ? 'database query failed' : describeCause(driver);
  if (driver && typeof driver === 'object') {
    const facts = SAFE_FIELDS.map((f) => [f, (driver as Record<string, unknown>)[f]] as const).filter(([, v]) => typeof v === 'string' && v);
    if (facts.length) text += ` (${facts.map(([f, v]) => `${f} ${String(v)}`).join(', ')})`;
  }
  // Longest first, so a parameter that contains another is replaced whole.
  const values = query.params
    .map((p, i) => ({ i, value: typeof p === 'string' ? p : p !== null && typeof p === 'object' ? JSON.stringify(p) : String(p) }))
    .filter((p) => p.value.length >= 3)
    .sort((a, b) => b.value.length - a.value.length);
  for (const { i, value } of values) text = text.split(value).join(`$${i + 1}`);
  return `database query failed: ${text}`;
}
