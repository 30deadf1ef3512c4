/**
 * Reading API errors the same way everywhere: tRPC client errors (`error.data.code`,
 * `error.data.fieldErrors`) and the errors of the plain fetch helpers (auth.ts) share the shape
 * {@link ApiErrorLike}.
 */

/** One problem with one input field, as the API reports it (`path` is the input field name). */
export interface FieldError {
  path: string;
  message: string;
}

/** What every API error in the UI looks like. */
export interface ApiErrorLike {
  message: string;
  data?: { code?: string; httpStatus?: number; fieldErrors?: FieldError[] | null } | null;
}

/** An API error raised by the fetch helpers (sign-in, sign-out). */
export class ApiError extends Error implements ApiErrorLike {
  override readonly name = 'ApiError';
  constructor(
    message: string,
    readonly data: { code?: string; httpStatus?: number; fieldErrors?: FieldError[] | null } | null,
  ) {
    super(message);
  }
}

function asApiError(err: unknown): ApiErrorLike | null {
  if (err && typeof err === 'object' && 'message' in err) return err as ApiErrorLike;
  return null;
}

/** `UNAUTHORIZED`, `FORBIDDEN`, `BAD_REQUEST`, `CONFLICT`, `NOT_FOUND`…; undefined when the API did not answer. */
export function errorCode(err: unknown): string | undefined {
  return asApiError(err)?.data?.code ?? undefined;
}

/** The field errors of an error, first message per field (several are joined). */
export function fieldErrorsOf(err: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const fe of asApiError(err)?.data?.fieldErrors ?? []) {
    out[fe.path] = out[fe.path] ? `${out[fe.path]}; ${fe.message}` : fe.message;
  }
  return out;
}

/** True when a procedure does not exist on this server (an older or newer API). */
export function isMissingProcedure(err: unknown): boolean {
  const e = asApiError(err);
  return e?.data?.code === 'NOT_FOUND' && /no procedure found/i.test(e.message);
}

/**
 * One sentence for an error, for a form or page alert. Field errors the form shows next to its
 * inputs (`shownFields`) are left out; the others are spelled out with their field name.
 */
export function errorText(err: unknown, shownFields: readonly string[] = []): string {
  const e = asApiError(err);
  if (!e) return String(err);
  if (!e.data?.code) {
    return `The control plane did not answer (${e.message || 'network error'}). Check that it is running, then try again.`;
  }
  const fields = e.data.fieldErrors ?? [];
  if (fields.length) {
    const others = fields.filter((f) => !shownFields.includes(f.path));
    if (!others.length) return 'Fix the fields marked above, then try again.';
    return others.map((f) => (f.path ? `${f.path}: ${f.message}` : f.message)).join('; ');
  }
  if (e.data.code === 'FORBIDDEN') return `Not allowed: ${e.message}.`;
  if (e.data.code === 'UNAUTHORIZED') return 'Your session has ended. Sign in again.';
  return e.message;
}
