/**
 * Text PostgreSQL can store (in `text` and in `jsonb`): no NUL character and no lone UTF-16
 * surrogate. JSON carries both (`\u0000`, `\ud800`), so every boundary that stores what it was
 * sent checks with these — the protocol's schemas, the API's input check, the control plane's
 * services — and producers that pass foreign text on (error bodies, typed e-mails) repair it.
 * Browser-safe.
 */

/** A UTF-16 surrogate that is not half of a pair. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE = new RegExp(`\u0000|${LONE_SURROGATE.source}`, 'g');

/** What makes `value` unstorable, as a phrase (`contains a NUL character`), or null when it is storable. */
export function storableTextProblem(value: string): string | null {
  if (value.includes('\u0000')) return 'contains a NUL character';
  if (LONE_SURROGATE.test(value)) return 'contains a lone UTF-16 surrogate (not valid Unicode)';
  return null;
}

/** True when `value` can be stored as PostgreSQL text and in jsonb. */
export function isStorableText(value: string): boolean {
  return storableTextProblem(value) === null;
}

/** `value` with every NUL and lone surrogate replaced by U+FFFD (for text passed on from elsewhere). */
export function toStorableText(value: string): string {
  return value.replace(UNSTORABLE, '\ufffd');
}
