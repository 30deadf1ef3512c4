/** What went wrong with an AWS (or any remote-write) request, as an operator would act on it. */
export type AwsErrorClass =
  | 'access_denied'
  | 'signature_mismatch'
  | 'clock_skew'
  | 'expired_token'
  | 'invalid_token'
  | 'region_mismatch'
  | 'service_mismatch'
  | 'missing_auth'
  | 'unauthorized'
  | 'throttled'
  | 'server_error'
  | 'bad_request'
  | 'not_found'
  | 'no_credentials'
  | 'dns'
  | 'connect'
  | 'tls'
  | 'timeout'
  | 'unknown';

/** A classified failure. */
export interface ClassifiedError {
  class: AwsErrorClass;
  /** AWS error code when the response carried one (e.g. `AccessDeniedException`). */
  code: string | null;
  /** The service's message, one line. */
  message: string;
  /** For access_denied: the IAM action and resource named in the message, when present. */
  action?: string | undefined;
  resource?: string | undefined;
  /** Whether sending again (after a refresh/backoff) can succeed. */
  retryable: boolean;
}

function extractCodeAndMessage(headers: Headers | Record<string, string | undefined>, body: string): { code: string | null; message: string } {
  const get = (name: string) => (headers instanceof Headers ? headers.get(name) : headers[name] ?? headers[name.toLowerCase()]) ?? null;
  let code = get('x-amzn-errortype')?.split(':')[0] ?? null;
  let message: string;
  const trimmed = body.trim();
  if (trimmed.startsWith('{')) {
    try {
      const json = JSON.parse(trimmed) as Record<string, unknown>;
      message = String(json.message ?? json.Message ?? '');
      const type = json.__type ?? json.code ?? json.Code;
      if (!code && typeof type === 'string') code = type.split('#').pop() ?? null;
    } catch {
      message = trimmed;
    }
  } else if (trimmed.startsWith('<')) {
    code ??= /<Code>([^<]+)<\/Code>/.exec(trimmed)?.[1] ?? null;
    message = decodeXmlEntities(/<Message>([^<]*)<\/Message>/.exec(trimmed)?.[1] ?? trimmed);
  } else {
    message = trimmed;
  }
  return { code, message: (message.split('\n')[0] ?? '').trim().slice(0, 500) };
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeXmlEntities(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);/gi, (whole, name: string) => {
    if (name[0] === '#') return String.fromCodePoint(name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : Number(name.slice(1)));
    return XML_ENTITIES[name.toLowerCase()] ?? whole;
  });
}

/**
 * Classifies an HTTP error response from AWS or a remote-write receiver by status, the
 * `x-amzn-ErrorType` header and the JSON/XML body.
 */
export function classifyResponse(status: number, headers: Headers | Record<string, string | undefined>, body: string): ClassifiedError {
  const { code, message } = extractCodeAndMessage(headers, body);
  const text = `${code ?? ''} ${message}`;
  const base = { code, message: message || `HTTP ${status}` };
  if (/signature expired|signature not yet current|RequestTimeTooSkewed|RequestExpired|is now earlier than|is now later than|is still later than/i.test(text)) {
    return { ...base, class: 'clock_skew', retryable: true };
  }
  if (/ExpiredToken|security token included in the request is expired|token has expired/i.test(text)) {
    return { ...base, class: 'expired_token', retryable: true };
  }
  if (/UnrecognizedClient|InvalidClientTokenId|InvalidIdentityToken|IDPRejectedClaim|security token included in the request is invalid/i.test(text)) {
    return { ...base, class: 'invalid_token', retryable: true };
  }
  if (/scoped to correct service|scoped to a valid service/i.test(text)) {
    return { ...base, class: 'service_mismatch', retryable: false };
  }
  if (/Credential should be scoped to a valid region|AuthorizationHeaderMalformed/i.test(text)) {
    return { ...base, class: 'region_mismatch', retryable: false };
  }
  if (/MissingAuthenticationToken|Missing Authentication Token|Authorization header requires/i.test(text)) {
    return { ...base, class: 'missing_auth', retryable: false };
  }
  if (/SignatureDoesNotMatch|InvalidSignature|signature we calculated does not match|IncompleteSignature/i.test(text)) {
    return { ...base, class: 'signature_mismatch', retryable: false };
  }
  if (/AccessDenied|not authorized to perform/i.test(text) || (status === 403 && !code)) {
    const m = /not authorized to perform:?\s+([\w-]+:[\w*]+)(?:\s+on resource:?\s+(\S+?))?(?:\s|$|because)/i.exec(message);
    return { ...base, class: 'access_denied', retryable: false, action: m?.[1], resource: m?.[2]?.replace(/[.,]$/, '') };
  }
  if (status === 401) return { ...base, class: 'unauthorized', retryable: false };
  if (status === 429 || /Throttl|TooManyRequests|RateExceeded/i.test(text)) return { ...base, class: 'throttled', retryable: true };
  if (status >= 500) return { ...base, class: 'server_error', retryable: true };
  if (status === 404 || /ResourceNotFound/.test(code ?? '')) return { ...base, class: 'not_found', retryable: false };
  if (status >= 400) return { ...base, class: 'bad_request', retryable: false };
  return { ...base, class: 'unknown', retryable: false };
}

const NETWORK: Array<[RegExp, AwsErrorClass]> = [
  [/^(ENOTFOUND|EAI_AGAIN|EAI_FAIL|EAI_NONAME)$/, 'dns'],
  [/^(ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|EPIPE|UND_ERR_SOCKET|ECONNABORTED)$/, 'connect'],
  [/^(ETIMEDOUT|UND_ERR_CONNECT_TIMEOUT|UND_ERR_HEADERS_TIMEOUT|UND_ERR_BODY_TIMEOUT|ABORT_ERR|TimeoutError)$/, 'timeout'],
  [/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|HOSTNAME_MISMATCH|EPROTO/, 'tls'],
];

/** Classifies a failure to get any HTTP response (DNS, connect, TLS, timeout), looking through `cause`s. */
export function classifyNetworkError(err: unknown): ClassifiedError {
  for (let e: unknown = err, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    // DOMExceptions (fetch/undici timeouts) carry a numeric `code`; their `name` tells the kind.
    const ids = [(e as { code?: unknown }).code, (e as { name?: unknown }).name].filter((v): v is string => typeof v === 'string');
    for (const id of ids) {
      for (const [pattern, cls] of NETWORK) {
        if (pattern.test(id)) return { class: cls, code: id, message: oneLine(e), retryable: true };
      }
    }
    if ((e as { name?: string }).name === 'CredentialsProviderError' || /Could not load credentials/i.test(oneLine(e))) {
      return { class: 'no_credentials', code: 'CredentialsProviderError', message: oneLine(e), retryable: true };
    }
  }
  return { class: 'unknown', code: null, message: oneLine(err), retryable: true };
}

/**
 * Classifies any failure of an AWS call: an SDK service exception (it carries
 * `$metadata.httpStatusCode` and is named after the AWS error code, e.g. `AccessDenied` from
 * STS) by its status and code, otherwise as a network or credentials failure.
 */
export function classifyError(err: unknown): ClassifiedError {
  const e = err as { name?: unknown; Code?: unknown; message?: unknown; $metadata?: { httpStatusCode?: unknown } } | null;
  const status = e?.$metadata?.httpStatusCode;
  if (typeof status === 'number' && status >= 400) {
    const code = typeof e?.Code === 'string' ? e.Code : String(e?.name ?? '');
    return classifyResponse(status, { 'x-amzn-errortype': code }, JSON.stringify({ message: String(e?.message ?? '') }));
  }
  return classifyNetworkError(err);
}

function oneLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return (message.split('\n')[0] ?? message).trim();
}
