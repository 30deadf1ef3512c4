import { z } from 'zod';

/**
 * Version of the agent channel protocol. A peer that receives a message with another `v`
 * answers with an `error` of code `unsupported_version` naming the versions it speaks.
 */
export const PROTOCOL_VERSION = 1;

const labelName = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'not a valid label name');
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'not a sha256 hex digest');
/** Sequence numbers let the server notice lost messages and ask for the full state. */
const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** How an agent describes itself at enrollment and in `hello`. */
export const agentDescriptionSchema = z
  .object({
    hostname: z.string().min(1).max(253),
    version: z.string().min(1).max(64),
    platform: z.enum(['ec2', 'eks', 'generic']),
    instanceId: z.string().max(64).optional(),
    region: z.string().max(32).optional(),
    accountId: z.string().regex(/^\d{12}$/).optional(),
    cluster: z.string().max(100).optional(),
    namespace: z.string().max(63).optional(),
    pod: z.string().max(253).optional(),
    labels: z.record(labelName, z.string().max(1024)).default({}),
  })
  .strict();
export type AgentDescription = z.infer<typeof agentDescriptionSchema>;

const destinationHealth = z
  .object({
    name: z.string().max(200),
    url: z.string().max(2048),
    pendingSamples: z.number().int().min(0),
    walBytes: z.number().int().min(0),
    shards: z.number().int().min(0).optional(),
    highestSentTimestampMs: z.number().min(0).optional(),
    /** When the destination last accepted a batch (agent clock); null before the first. */
    lastSuccessAt: z.iso.datetime().nullable().optional(),
    /** Cumulative since the agent process started (see heartbeat `startedAt`). */
    samplesSent: z.number().min(0).optional(),
    samplesRetried: z.number().min(0).optional(),
    /** Samples write_relabel_configs removed on purpose (not sent, not lost), cumulative; absent from older agents. */
    samplesFiltered: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    /** Failed send attempts by error class, cumulative. */
    failedSendsByClass: z.record(z.string().max(64), z.number().min(0)).optional(),
    /** The signing facts diagnosis needs (service, region, role), when the destination signs. */
    sigv4: z.object({ service: z.string().max(64), region: z.string().max(32), roleArn: z.string().max(2048).nullable() }).strict().nullable().optional(),
    droppedByReason: z.record(z.string().max(64), z.number().min(0)).default({}),
    credentials: z
      .object({ source: z.string().max(300).nullable(), callerArn: z.string().max(2048).nullable(), expiresAt: z.iso.datetime().nullable(), lastError: z.string().max(2000).nullable() })
      .strict()
      .nullable(),
    clockOffsetMs: z.number().nullable(),
    lastError: z
      .object({ at: z.iso.datetime(), class: z.string().max(64), code: z.string().max(200).nullable(), status: z.number().int().nullable(), message: z.string().max(2000), action: z.string().max(200).optional(), resource: z.string().max(2048).optional(), detail: z.string().max(2000).optional() })
      .strict()
      .nullable(),
  })
  .strict();

const targetHealth = z
  .object({
    job: z.string().max(200),
    instance: z.string().max(300),
    up: z.boolean(),
    lastScrapeAt: z.iso.datetime().nullable(),
    durationMs: z.number().min(0),
    samples: z.number().int().min(0),
    lastError: z.string().max(2000).nullable(),
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
      capabilities: z.array(z.string().max(64)).max(64).default([]),
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
      error: z.string().max(4000).optional(),
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
          samplesScraped: z.number().min(0),
          samplesSent: z.number().min(0),
          samplesDropped: z.number().min(0),
          /** Samples write_relabel_configs removed on purpose, all destinations (not lost); absent from older agents. */
          samplesFiltered: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
          samplesRetried: z.number().min(0),
          pendingSamples: z.number().min(0),
          walBytes: z.number().min(0),
        })
        .strict(),
      destinations: z.array(destinationHealth).max(100),
      targets: z.array(targetHealth).max(5000),
    })
    .strict(),
  z.object({ type: z.literal('disconnect'), v: z.literal(PROTOCOL_VERSION), seq, reason: z.string().max(500) }).strict(),
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
  z.object({ type: z.literal('error'), v: z.literal(PROTOCOL_VERSION), code: z.enum(['malformed', 'unknown_type', 'unsupported_version', 'unauthorized', 'internal']), message: z.string().max(2000) }).strict(),
  z.object({ type: z.literal('disconnect'), v: z.literal(PROTOCOL_VERSION), reason: z.string().max(500), retryAfterMs: z.number().int().min(0).optional() }).strict(),
]);
export type ServerMessage = z.infer<typeof serverMessageSchema>;

/** Result of parsing one frame: the message, or a one-line error naming the field. */
export type Parsed<T> = { ok: true; message: T } | { ok: false; code: 'malformed' | 'unknown_type' | 'unsupported_version'; error: string };

function parseWith<T>(schema: z.ZodType<T>, raw: string | Buffer, types: readonly string[], maxBytes: number): Parsed<T> {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (size > maxBytes) return { ok: false, code: 'malformed', error: `message of ${size} bytes exceeds the ${maxBytes}-byte limit` };
  let data: unknown;
  try {
    data = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch (err) {
    return { ok: false, code: 'malformed', error: `not JSON: ${(err as Error).message}` };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return { ok: false, code: 'malformed', error: 'expected a JSON object' };
  const { type, v } = data as { type?: unknown; v?: unknown };
  if (typeof type !== 'string' || !types.includes(type)) {
    return { ok: false, code: 'unknown_type', error: `unknown message type ${JSON.stringify(type)} (expected one of ${types.join(', ')})` };
  }
  if (v !== PROTOCOL_VERSION) return { ok: false, code: 'unsupported_version', error: `protocol version ${JSON.stringify(v)} is not supported (this peer speaks ${PROTOCOL_VERSION})` };
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { ok: false, code: 'malformed', error: `${type}.${issue.path.join('.') || '(message)'}: ${issue.message}` };
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
    token: z.string().min(16).max(200),
    description: agentDescriptionSchema,
    /** A presigned sts:GetCallerIdentity request (method, URL, headers, body) proving the agent's AWS identity. */
    identityProof: z
      .object({ method: z.literal('POST'), url: z.url(), headers: z.record(z.string(), z.string()), body: z.string().max(1000) })
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
