import { z } from 'zod';
import { isStorableText } from './text.js';

/**
 * Version of the agent channel protocol. A peer that receives a message with another `v`
 * answers with an `error` of code `unsupported_version` naming the versions it speaks.
 */
export const PROTOCOL_VERSION = 1;

/** The message of a string refused by {@link storableText}. */
export const UNSTORABLE_TEXT_MESSAGE = 'contains a NUL character or a lone UTF-16 surrogate';

/**
 * A string of at most `max` UTF-16 units (at least `min`) that can be stored (see
 * {@link isStorableText}): the one refinement for every string an agent sends that is kept or
 * logged, so bad input is refused with the field's name instead of failing in the database.
 */
export function storableText(max: number, min = 0) {
  return z.string().min(min).max(max).refine(isStorableText, UNSTORABLE_TEXT_MESSAGE);
}

/** A counter or count: a whole number from 0 to `Number.MAX_SAFE_INTEGER` (so it fits a bigint and adds up exactly). */
export const countSchema = z.number().int('must be a whole number (a safe integer)').min(0, 'must not be negative').max(Number.MAX_SAFE_INTEGER, 'must be a safe integer');

/** A record of counts by a short key (reason, error class): at most 64 keys. */
const countsByKey = z.record(storableText(64), countSchema).refine((r) => Object.keys(r).length <= 64, 'at most 64 keys');

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const labelName = z.string().regex(LABEL_NAME, 'not a valid label name');
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'not a sha256 hex digest');
/** Sequence numbers let the server notice lost messages and ask for the full state. */
const seq = countSchema;

/**
 * Limits on the labels an agent declares for itself at enrollment (`fleet-agent enroll --label`):
 * at most 20, names by Prometheus's rule (letters, digits, `_`, not starting with a digit) of at
 * most 100 characters and not starting with the reserved `__`, values of at most 200 characters.
 */
export const SELF_DECLARED_LABEL_LIMITS = { count: 20, nameLength: 100, valueLength: 200 } as const;

/** Labels an agent declares at enrollment, checked against {@link SELF_DECLARED_LABEL_LIMITS}; each problem names its label. */
export const selfDeclaredLabelsSchema = z.record(z.string(), z.string()).superRefine((labels, ctx) => {
  const names = Object.keys(labels);
  const { count, nameLength, valueLength } = SELF_DECLARED_LABEL_LIMITS;
  if (names.length > count) ctx.addIssue({ code: 'custom', message: `at most ${count} labels (got ${names.length})` });
  for (const name of names.slice(0, count + 1)) {
    const shown = name.length > 64 ? `${name.slice(0, 63)}…` : name;
    const value = labels[name]!;
    let problem: string | undefined;
    if (name.length > nameLength) problem = `label names are at most ${nameLength} characters`;
    else if (!LABEL_NAME.test(name)) problem = 'not a valid label name: letters, digits and _, not starting with a digit';
    else if (name.startsWith('__')) problem = 'label names starting with __ are reserved';
    else if (value.length > valueLength) problem = `label values are at most ${valueLength} characters`;
    else if (!isStorableText(value)) problem = UNSTORABLE_TEXT_MESSAGE;
    if (problem) ctx.addIssue({ code: 'custom', message: problem, path: [shown] });
  }
});

/** How an agent describes itself at enrollment and in `hello`. */
export const agentDescriptionSchema = z
  .object({
    hostname: storableText(253, 1),
    version: storableText(64, 1),
    platform: z.enum(['ec2', 'eks', 'generic']),
    instanceId: storableText(64).optional(),
    region: storableText(32).optional(),
    accountId: z.string().regex(/^\d{12}$/).optional(),
    cluster: storableText(100).optional(),
    namespace: storableText(63).optional(),
    pod: storableText(253).optional(),
    /** Ignored in `hello` (labels belong to operators after enrollment); limited at enrollment (see {@link enrollDescriptionSchema}). */
    labels: z.record(labelName, storableText(1024)).default({}),
  })
  .strict();
export type AgentDescription = z.infer<typeof agentDescriptionSchema>;

/** The description of an enrolling agent: its self-declared labels within {@link SELF_DECLARED_LABEL_LIMITS}. */
export const enrollDescriptionSchema = agentDescriptionSchema.extend({ labels: selfDeclaredLabelsSchema.default({}) });

const destinationHealth = z
  .object({
    name: storableText(200),
    url: storableText(2048),
    pendingSamples: countSchema,
    walBytes: countSchema,
    shards: countSchema.optional(),
    highestSentTimestampMs: countSchema.optional(),
    /** When the destination last accepted a batch (agent clock); null before the first. */
    lastSuccessAt: z.iso.datetime().nullable().optional(),
    /** Cumulative since the agent process started (see heartbeat `startedAt`). */
    samplesSent: countSchema.optional(),
    samplesRetried: countSchema.optional(),
    /** Samples write_relabel_configs removed on purpose (not sent, not lost), cumulative; absent from older agents. */
    samplesFiltered: countSchema.optional(),
    /** Failed send attempts by error class, cumulative. */
    failedSendsByClass: countsByKey.optional(),
    /** The signing facts diagnosis needs (service, region, role), when the destination signs. */
    sigv4: z.object({ service: storableText(64), region: storableText(32), roleArn: storableText(2048).nullable() }).strict().nullable().optional(),
    droppedByReason: countsByKey.default({}),
    credentials: z
      .object({ source: storableText(300).nullable(), callerArn: storableText(2048).nullable(), expiresAt: z.iso.datetime().nullable(), lastError: storableText(2000).nullable() })
      .strict()
      .nullable(),
    /** Measured offset of the destination's clock, ms (within ±10¹² — about 30 years). */
    clockOffsetMs: z.number().min(-1e12).max(1e12).nullable(),
    lastError: z
      .object({
        at: z.iso.datetime(),
        class: storableText(64),
        code: storableText(200).nullable(),
        status: z.number().int().min(0).max(999).nullable(),
        message: storableText(2000),
        action: storableText(200).optional(),
        resource: storableText(2048).optional(),
        detail: storableText(2000).optional(),
      })
      .strict()
      .nullable(),
  })
  .strict();

const targetHealth = z
  .object({
    job: storableText(200),
    instance: storableText(300),
    up: z.boolean(),
    lastScrapeAt: z.iso.datetime().nullable(),
    /** Duration of the last scrape, ms (fractions allowed; at most a day). */
    durationMs: z.number().min(0).max(86_400_000),
    samples: countSchema,
    lastError: storableText(2000).nullable(),
  })
  .strict();

/** Messages the agent sends on the WebSocket. */
export const agentMessageSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('hello'),
      v: z.literal(PROTOCOL_VERSION),
      seq,
      description: agentDescriptionSchema,
      capabilities: z.array(storableText(64)).max(64).default([]),
      /** Hash of the config it runs now (from its state directory), or null. */
      configHash: sha256Hex.nullable(),
    })
    .strict(),
  z
    .object({
      type: z.literal('configStatus'),
      v: z.literal(PROTOCOL_VERSION),
      seq,
      configHash: sha256Hex,
      status: z.enum(['applying', 'applied', 'failed']),
      error: storableText(4000).optional(),
    })
    .strict()
    .refine((m) => m.status !== 'failed' || Boolean(m.error), { message: 'a failed status needs an error', path: ['error'] }),
  z
    .object({
      type: z.literal('heartbeat'),
      v: z.literal(PROTOCOL_VERSION),
      seq,
      at: z.iso.datetime(),
      /** When the agent process started: counters reset then (rates never go negative). */
      startedAt: z.iso.datetime().optional(),
      counters: z
        .object({
          samplesScraped: countSchema,
          samplesSent: countSchema,
          samplesDropped: countSchema,
          /** Samples write_relabel_configs removed on purpose, all destinations (not lost); absent from older agents. */
          samplesFiltered: countSchema.optional(),
          samplesRetried: countSchema,
          pendingSamples: countSchema,
          walBytes: countSchema,
        })
        .strict(),
      destinations: z.array(destinationHealth).max(100),
      targets: z.array(targetHealth).max(5000),
      /** Service discovery that currently fails, per job and mechanism (its last good targets keep being scraped); absent from older agents. */
      discovery: z
        .array(z.object({ job: storableText(200), mechanism: storableText(40), error: storableText(2000) }).strict())
        .max(500)
        .optional(),
      /** Jobs and destinations whose TLS certificates are not verified (`insecure_skip_verify`); absent from older agents. */
      insecureTls: z.array(storableText(300)).max(500).optional(),
    })
    .strict(),
  z.object({ type: z.literal('disconnect'), v: z.literal(PROTOCOL_VERSION), seq, reason: storableText(500) }).strict(),
]);
export type AgentMessage = z.infer<typeof agentMessageSchema>;

/** Messages the control plane sends on the WebSocket. */
export const serverMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('welcome'), v: z.literal(PROTOCOL_VERSION), agentId: z.uuid(), heartbeatIntervalMs: z.number().int().min(1000).max(3_600_000), serverTime: z.iso.datetime() }).strict(),
  z
    .object({
      type: z.literal('config'),
      v: z.literal(PROTOCOL_VERSION),
      /** Effective config: the merge of every published pipeline that selects the agent. */
      configHash: sha256Hex,
      config: z.record(z.string(), z.unknown()),
      pipelines: z.array(z.object({ id: z.uuid(), name: z.string(), version: z.number().int().positive() }).strict()),
    })
    .strict(),
  z.object({ type: z.literal('requestFullState'), v: z.literal(PROTOCOL_VERSION), reason: z.string().max(500) }).strict(),
  z.object({ type: z.literal('error'), v: z.literal(PROTOCOL_VERSION), code: z.enum(['malformed', 'unknown_type', 'unsupported_version', 'unauthorized', 'internal', 'rate_limited']), message: z.string().max(2000) }).strict(),
  z.object({ type: z.literal('disconnect'), v: z.literal(PROTOCOL_VERSION), reason: z.string().max(500), retryAfterMs: z.number().int().min(0).optional() }).strict(),
]);
export type ServerMessage = z.infer<typeof serverMessageSchema>;

/** Result of parsing one frame: the message, or a one-line error naming the field (at most {@link MAX_ERROR_LENGTH} characters). */
export type Parsed<T> = { ok: true; message: T } | { ok: false; code: 'malformed' | 'unknown_type' | 'unsupported_version'; error: string };

/** Longest parse error: an error quotes at most this much of what the peer sent, never the whole frame. */
export const MAX_ERROR_LENGTH = 500;
/** How much of an unknown message type an error quotes. */
const SHOWN_TYPE_LENGTH = 64;

/** `text` cut to `max` UTF-16 units, ending in `…` when cut (never splitting a surrogate pair). */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

function failure(code: 'malformed' | 'unknown_type' | 'unsupported_version', error: string): { ok: false; code: typeof code; error: string } {
  return { ok: false, code, error: cut(error, MAX_ERROR_LENGTH) };
}

function parseWith<T>(schema: z.ZodType<T>, raw: string | Buffer, types: readonly string[], maxBytes: number): Parsed<T> {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (size > maxBytes) return failure('malformed', `message of ${size} bytes exceeds the ${maxBytes}-byte limit`);
  let data: unknown;
  try {
    data = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch (err) {
    return failure('malformed', `not JSON: ${(err as Error).message}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return failure('malformed', 'expected a JSON object');
  const { type, v } = data as { type?: unknown; v?: unknown };
  if (typeof type !== 'string' || !types.includes(type)) {
    // Quote at most the start of what was sent: the type may be the whole (1 MiB) frame.
    const shown = typeof type === 'string' ? JSON.stringify(cut(type, SHOWN_TYPE_LENGTH)) : type === undefined ? 'missing' : `of JSON type ${type === null ? 'null' : typeof type}`;
    return failure('unknown_type', `unknown message type ${shown} (expected one of ${types.join(', ')})`);
  }
  if (v !== PROTOCOL_VERSION) {
    const shown = typeof v === 'number' || typeof v === 'boolean' || v === null ? String(v) : v === undefined ? 'missing' : typeof v === 'string' ? JSON.stringify(cut(v, 16)) : `of JSON type ${typeof v}`;
    return failure('unsupported_version', `protocol version ${shown} is not supported (this peer speaks ${PROTOCOL_VERSION})`);
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.map((p) => cut(String(p), SHOWN_TYPE_LENGTH)).join('.');
    return failure('malformed', `${type}.${path || '(message)'}: ${issue.message}`);
  }
  return { ok: true, message: parsed.data };
}

const AGENT_TYPES = ['hello', 'configStatus', 'heartbeat', 'disconnect'] as const;
const SERVER_TYPES = ['welcome', 'config', 'requestFullState', 'error', 'disconnect'] as const;

/** Parses a frame from an agent (≤ 1 MiB). Never throws. */
export function parseAgentMessage(raw: string | Buffer): Parsed<AgentMessage> {
  return parseWith(agentMessageSchema, raw, AGENT_TYPES, 1 << 20);
}

/** Parses a frame from the control plane (≤ 8 MiB: configs can be large). Never throws. */
export function parseServerMessage(raw: string | Buffer): Parsed<ServerMessage> {
  return parseWith(serverMessageSchema, raw, SERVER_TYPES, 8 << 20);
}

/** Enrollment request (`POST /agent/v1/enroll`). */
export const enrollRequestSchema = z
  .object({
    token: storableText(200, 16),
    /** Its self-declared `labels` are limited (see {@link SELF_DECLARED_LABEL_LIMITS}); the token's labels win over them. */
    description: enrollDescriptionSchema,
    /** A presigned sts:GetCallerIdentity request (method, URL, headers, body) proving the agent's AWS identity. */
    identityProof: z
      .object({
        method: z.literal('POST'),
        url: z.url().max(2048),
        headers: z.record(storableText(200), storableText(8192)).refine((h) => Object.keys(h).length <= 64, 'at most 64 headers'),
        body: storableText(1000),
      })
      .strict()
      .optional(),
  })
  .strict();
export type EnrollRequest = z.infer<typeof enrollRequestSchema>;

/** Enrollment response: the agent keeps the secret in its state directory (mode 0600). */
export const enrollResponseSchema = z.object({ agentId: z.uuid(), agentSecret: z.string().min(32), heartbeatIntervalMs: z.number().int() }).strict();
export type EnrollResponse = z.infer<typeof enrollResponseSchema>;

/**
 * Header that carries an identity challenge inside the signed sts:GetCallerIdentity request of
 * an `identityProof`; it must be one of the signed headers (listed in SignedHeaders).
 */
export const IDENTITY_CHALLENGE_HEADER = 'x-fleet-challenge';
/** The exact body of an `identityProof` request. */
export const GET_CALLER_IDENTITY_BODY = 'Action=GetCallerIdentity&Version=2011-06-15';

/**
 * Answer of `POST /agent/v1/enroll/challenge`: a single-use challenge (32 random bytes,
 * base64url) for an AWS identity proof, valid until `expiresAt` (5 minutes).
 */
export const enrollChallengeResponseSchema = z
  .object({ challenge: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'not a challenge (43 base64url characters)'), expiresAt: z.iso.datetime() })
  .strict();
export type EnrollChallengeResponse = z.infer<typeof enrollChallengeResponseSchema>;

/**
 * Body of a refused enrollment (or challenge) request: the reason for operators, the offending
 * field, and for identity-proof refusals a machine-readable `code` — `identity_proof_required`
 * tells the agent to fetch a challenge and send an `identityProof`.
 */
export const enrollErrorSchema = z.object({ error: z.string(), field: z.string().optional(), code: z.string().optional() });
export type EnrollError = z.infer<typeof enrollErrorSchema>;
