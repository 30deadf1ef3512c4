/**
 * Sign-in and sign-out through better-auth (`/api/auth/*`, same origin, cookie sessions). Errors
 * are {@link ApiError}s with a sentence an operator can act on.
 */
import { ApiError } from './api-errors';

async function post(path: string, body: unknown): Promise<Response> {
  try {
    return await fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch (err) {
    throw new ApiError(`The control plane did not answer (${(err as Error).message}). Check that it is running, then try again.`, null);
  }
}

/** Signs in with e-mail and password; the session cookie is set by the response. */
export async function signIn(email: string, password: string): Promise<void> {
  const res = await post('/api/auth/sign-in/email', { email, password });
  if (res.ok) {
    endingSession = false;
    return;
  }
  const body = (await res.json().catch(() => ({}))) as { message?: string; code?: string };
  if (res.status === 401) throw new ApiError('Wrong e-mail or password.', { code: 'INVALID_CREDENTIALS', httpStatus: 401 });
  if (res.status === 429) {
    throw new ApiError('Too many sign-in attempts from this address. Wait a minute, then try again.', { code: 'TOO_MANY_REQUESTS', httpStatus: 429 });
  }
  if (res.status === 403) throw new ApiError(body.message ?? 'This account may not sign in. Ask an admin.', { code: 'FORBIDDEN', httpStatus: 403 });
  if (res.status === 503) throw new ApiError('The control plane is still starting. Try again in a moment.', { code: 'SERVICE_UNAVAILABLE', httpStatus: 503 });
  throw new ApiError(body.message ?? `Sign-in failed (HTTP ${res.status}).`, { code: body.code ?? 'BAD_REQUEST', httpStatus: res.status });
}

let endingSession = false;

/**
 * True from the moment the operator signs out until they sign in again: answers of queries that
 * were in flight then are 401 by design and must not send the page to `/login?next=…`.
 */
export function sessionEnding(): boolean {
  return endingSession;
}

/** Ends the session (the cookie is cleared by the response). */
export async function signOut(): Promise<void> {
  endingSession = true;
  const res = await post('/api/auth/sign-out', {});
  if (!res.ok) {
    endingSession = false;
    throw new ApiError(`Sign-out failed (HTTP ${res.status}).`, { httpStatus: res.status, code: 'BAD_REQUEST' });
  }
}
