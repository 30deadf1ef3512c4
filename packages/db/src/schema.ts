/**
 * The control plane's relational schema (Drizzle). Every change here is followed by
 * `npm run db:generate`, which writes a new SQL migration under `packages/db/migrations`;
 * migrations are committed and applied at start-up by {@link migrateDatabase}.
 *
 * Conventions: snake_case columns, `timestamptz` everywhere, secrets only ever as hashes,
 * JSON documents in `jsonb`, constraints in the database rather than only in code.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();

/** Operator roles, from most to least privileged. */
export const USER_ROLES = ['admin', 'editor', 'viewer'] as const;
export type UserRole = (typeof USER_ROLES)[number];

/** Platforms an agent can run on; enrollment tokens may also say `any`. */
export const AGENT_PLATFORMS = ['ec2', 'eks', 'generic'] as const;
export type AgentPlatform = (typeof AGENT_PLATFORMS)[number];
export const TOKEN_PLATFORMS = ['ec2', 'eks', 'any'] as const;
export type TokenPlatform = (typeof TOKEN_PLATFORMS)[number];

/** Config rollout state of one agent, as it last reported it. */
export const CONFIG_STATUSES = ['none', 'pending', 'applying', 'applied', 'failed'] as const;

/** How an agent is doing, judged from its latest heartbeat. */
export const AGENT_HEALTH = ['healthy', 'degraded', 'failing'] as const;
export type AgentHealth = (typeof AGENT_HEALTH)[number];

/**
 * One problem found in an agent's heartbeat, with the facts its remedy needs. `key` groups the
 * same problem across agents (class + destination URL).
 */
export interface AgentFinding {
  key: string;
  severity: 'warning' | 'critical';
  /** An error class of @fleet/aws (access_denied, clock_skew, …) or config_failed, target_down, credentials_expiring, clock_offset, drops. */
  kind: string;
  title: string;
  destination?: string;
  url?: string;
  /** Facts: action, resource, region, service, callerArn, roleArn, detail, offsetMs, … */
  facts: Record<string, string | number>;
  since: string;
}
export type ConfigStatus = (typeof CONFIG_STATUSES)[number];

/** A label matcher of a pipeline selector, as in PromQL: `name op "value"`. */
export interface LabelMatcher {
  name: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
}

// ---------------------------------------------------------------------------
// Operators: the auth library's tables (users, sessions, credential accounts,
// verification tokens). Names follow better-auth's models; `role` is ours.
// ---------------------------------------------------------------------------

export const users = pgTable(
  'users',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    email: text('email').notNull(),
    emailVerified: boolean('email_verified').notNull().default(false),
    image: text('image'),
    role: text('role', { enum: USER_ROLES }).notNull().default('viewer'),
    disabledAt: timestamp('disabled_at', { withTimezone: true }),
    /** Failed sign-ins since the last successful one (any source); reaching the limit locks the account. */
    failedSignIns: integer('failed_sign_ins').notNull().default(0),
    /** Sign-in is refused until then (set after repeated failed sign-ins). */
    lockedUntil: timestamp('locked_until', { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('users_email_lower_key').on(sql`lower(${t.email})`),
    check('users_role_check', sql`${t.role} in ('admin', 'editor', 'viewer')`),
  ],
);

export const sessions = pgTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    /** Opaque session token as the auth library stores it. */
    token: text('token').notNull().unique(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    ipAddress: text('ip_address'),
    userAgent: text('user_agent'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('sessions_user_id_idx').on(t.userId)],
);

/** Credentials of an operator (better-auth "account"): the password hash lives here. */
export const authAccounts = pgTable(
  'auth_accounts',
  {
    id: text('id').primaryKey(),
    accountId: text('account_id').notNull(),
    providerId: text('provider_id').notNull(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    accessToken: text('access_token'),
    refreshToken: text('refresh_token'),
    idToken: text('id_token'),
    accessTokenExpiresAt: timestamp('access_token_expires_at', { withTimezone: true }),
    refreshTokenExpiresAt: timestamp('refresh_token_expires_at', { withTimezone: true }),
    scope: text('scope'),
    /** Password hash (never the password). */
    password: text('password'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('auth_accounts_user_id_idx').on(t.userId),
    uniqueIndex('auth_accounts_provider_account_key').on(t.providerId, t.accountId),
  ],
);

export const verifications = pgTable(
  'verifications',
  {
    id: text('id').primaryKey(),
    identifier: text('identifier').notNull(),
    value: text('value').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('verifications_identifier_idx').on(t.identifier)],
);

// ---------------------------------------------------------------------------
// AWS accounts agents write into. No AWS secret key is ever stored.
// ---------------------------------------------------------------------------

export const awsAccounts = pgTable(
  'aws_accounts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** 12-digit AWS account id. */
    accountId: text('account_id').notNull(),
    name: text('name').notNull(),
    partition: text('partition', { enum: ['aws', 'aws-cn', 'aws-us-gov'] })
      .notNull()
      .default('aws'),
    defaultRegion: text('default_region').notNull(),
    /** Role agents assume in this account (cross-account), e.g. arn:aws:iam::123456789012:role/fleet-writer. */
    roleArn: text('role_arn').notNull(),
    /** Server-generated ExternalId required by the role's trust policy. */
    externalId: text('external_id').notNull(),
    createdBy: text('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('aws_accounts_account_id_key').on(t.accountId),
    uniqueIndex('aws_accounts_name_key').on(t.name),
    check('aws_accounts_account_id_check', sql`${t.accountId} ~ '^[0-9]{12}$'`),
    check('aws_accounts_partition_check', sql`${t.partition} in ('aws', 'aws-cn', 'aws-us-gov')`),
  ],
);

// ---------------------------------------------------------------------------
// Pipelines and their immutable versions.
// ---------------------------------------------------------------------------

export const pipelines = pgTable(
  'pipelines',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    createdBy: text('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    archivedAt: timestamp('archived_at', { withTimezone: true }),
  },
  (t) => [uniqueIndex('pipelines_name_key').on(t.name)],
);

/**
 * One immutable version of a pipeline: selector + config document + its content hash.
 * A database trigger refuses any change to selector, config, hash or number once written;
 * only the publication columns may change.
 */
export const pipelineVersions = pgTable(
  'pipeline_versions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    pipelineId: uuid('pipeline_id')
      .notNull()
      .references(() => pipelines.id, { onDelete: 'cascade' }),
    version: integer('version').notNull(),
    /** Which agents the version applies to: all matchers must hold on the agent's labels. */
    selector: jsonb('selector').$type<LabelMatcher[]>().notNull().default([]),
    /** The pipeline config document (model of @fleet/pipeline), parsed from `source`. */
    config: jsonb('config').$type<unknown>().notNull(),
    /** The document's YAML exactly as the operator wrote it (comments, key order); null for versions saved before it was kept. */
    source: text('source'),
    /**
     * The AWS accounts the document's `aws_account` references resolved to when the version was
     * saved: reference as written → `aws_accounts.id`. A rename keeps a version pointing at the
     * same account; the name is only a label.
     */
    accountRefs: jsonb('account_refs').$type<Record<string, string>>().notNull().default({}),
    /** sha256 of the canonical JSON of selector + config. */
    contentHash: text('content_hash').notNull(),
    authorId: text('author_id').references(() => users.id, { onDelete: 'set null' }),
    note: text('note').notNull().default(''),
    published: boolean('published').notNull().default(false),
    publishedAt: timestamp('published_at', { withTimezone: true }),
    publishedBy: text('published_by').references(() => users.id, { onDelete: 'set null' }),
    /** Why it was (last) published: required when publishing. */
    publishNote: text('publish_note'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('pipeline_versions_pipeline_version_key').on(t.pipelineId, t.version),
    // At most one published version per pipeline.
    uniqueIndex('pipeline_versions_one_published_key').on(t.pipelineId).where(sql`${t.published}`),
    index('pipeline_versions_published_idx').on(t.pipelineId, t.published),
    check('pipeline_versions_version_check', sql`${t.version} > 0`),
    check('pipeline_versions_hash_check', sql`${t.contentHash} ~ '^[0-9a-f]{64}$'`),
  ],
);

// ---------------------------------------------------------------------------
// IAM policy templates (versioned; built-ins cannot be deleted).
// ---------------------------------------------------------------------------

export const iamPolicyTemplates = pgTable(
  'iam_policy_templates',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** Stable key, e.g. `permissions.amp` or `trust.irsa`. */
    key: text('key').notNull(),
    name: text('name').notNull(),
    kind: text('kind', { enum: ['permissions', 'trust'] }).notNull(),
    builtin: boolean('builtin').notNull().default(false),
    currentVersion: integer('current_version').notNull().default(1),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('iam_policy_templates_key_key').on(t.key),
    check('iam_policy_templates_kind_check', sql`${t.kind} in ('permissions', 'trust')`),
  ],
);

export const iamPolicyTemplateVersions = pgTable(
  'iam_policy_template_versions',
  {
    templateId: uuid('template_id')
      .notNull()
      .references(() => iamPolicyTemplates.id, { onDelete: 'cascade' }),
    version: integer('version').notNull(),
    /** Template text with `{{placeholder}}` slots; renders to an IAM JSON document. */
    body: text('body').notNull(),
    authorId: text('author_id').references(() => users.id, { onDelete: 'set null' }),
    note: text('note').notNull().default(''),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.templateId, t.version] })],
);

// ---------------------------------------------------------------------------
// Enrollment tokens and agents.
// ---------------------------------------------------------------------------

/** Optional AWS identity binding of an enrollment token. */
export interface AwsIdentityBinding {
  accountIds: string[];
  roleArnGlobs: string[];
}

export const enrollmentTokens = pgTable(
  'enrollment_tokens',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    /** sha256 (hex) of the token secret; the secret itself is shown once and never stored. */
    tokenHash: text('token_hash').notNull(),
    /** First characters of the token, so operators can tell tokens apart. */
    tokenPrefix: text('token_prefix').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    maxUses: integer('max_uses'),
    useCount: integer('use_count').notNull().default(0),
    labels: jsonb('labels').$type<Record<string, string>>().notNull().default({}),
    platform: text('platform', { enum: TOKEN_PLATFORMS }).notNull().default('any'),
    awsBinding: jsonb('aws_binding').$type<AwsIdentityBinding | null>(),
    /** Whether agents may add labels of their own at enrollment (token labels always win). */
    allowAgentLabels: boolean('allow_agent_labels').notNull().default(true),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    createdBy: text('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('enrollment_tokens_token_hash_key').on(t.tokenHash),
    check('enrollment_tokens_platform_check', sql`${t.platform} in ('ec2', 'eks', 'any')`),
    check('enrollment_tokens_max_uses_check', sql`${t.maxUses} is null or ${t.maxUses} > 0`),
    check(
      'enrollment_tokens_use_count_check',
      sql`${t.useCount} >= 0 and (${t.maxUses} is null or ${t.useCount} <= ${t.maxUses})`,
    ),
  ],
);

/** A pipeline version merged into an agent's effective config. */
export interface ConfigPipelineRef {
  id: string;
  name: string;
  version: number;
}

/** What an agent says about itself at enrollment and in `hello`. */
export interface AgentDescription {
  hostname?: string;
  version?: string;
  instanceId?: string;
  region?: string;
  cluster?: string;
  namespace?: string;
  pod?: string;
  [key: string]: unknown;
}

export const agents = pgTable(
  'agents',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    /** sha256 (hex) of the agent secret. */
    secretHash: text('secret_hash').notNull(),
    labels: jsonb('labels').$type<Record<string, string>>().notNull().default({}),
    platform: text('platform', { enum: AGENT_PLATFORMS }).notNull().default('generic'),
    description: jsonb('description').$type<AgentDescription>().notNull().default({}),
    /** Proven AWS identity (role ARN) when the token required one. */
    awsIdentityArn: text('aws_identity_arn'),
    enrollmentTokenId: uuid('enrollment_token_id').references(() => enrollmentTokens.id, {
      onDelete: 'set null',
    }),
    enrolledAt: timestamp('enrolled_at', { withTimezone: true }).notNull().defaultNow(),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true }),
    connected: boolean('connected').notNull().default(false),
    offlineSince: timestamp('offline_since', { withTimezone: true }),
    desiredConfigHash: text('desired_config_hash'),
    appliedConfigHash: text('applied_config_hash'),
    configStatus: text('config_status', { enum: CONFIG_STATUSES }).notNull().default('none'),
    configError: text('config_error'),
    configStatusAt: timestamp('config_status_at', { withTimezone: true }),
    /**
     * Why the control plane could not build this agent's config (a published pipeline that
     * selects it no longer resolves); the agent keeps the last good config meanwhile. Null when built.
     */
    configBuildError: text('config_build_error'),
    configBuildErrorAt: timestamp('config_build_error_at', { withTimezone: true }),
    /** Pipeline versions merged into the desired config (for the rollout view). */
    desiredPipelines: jsonb('desired_pipelines').$type<ConfigPipelineRef[]>().notNull().default([]),
    /** Pipeline versions of the config the agent last reported applied. */
    appliedPipelines: jsonb('applied_pipelines').$type<ConfigPipelineRef[]>().notNull().default([]),
    /** When the current (or last) WebSocket session began, and which control-plane replica holds it. */
    connectedAt: timestamp('connected_at', { withTimezone: true }),
    connectedReplica: text('connected_replica'),
    /** The latest heartbeat as reported (live counters, destinations, targets). */
    lastHeartbeat: jsonb('last_heartbeat').$type<Record<string, unknown> | null>(),
    /** Cumulative counters of the previous heartbeat, to compute deltas (resets detected). */
    lastCounters: jsonb('last_counters').$type<Record<string, unknown> | null>(),
    /** Health from the latest heartbeat: healthy, degraded or failing, with the reasons. */
    health: text('health', { enum: AGENT_HEALTH }).notNull().default('healthy'),
    findings: jsonb('findings').$type<AgentFinding[]>().notNull().default([]),
    /** Last time a heartbeat showed dropped samples. */
    lastDropAt: timestamp('last_drop_at', { withTimezone: true }),
    /** The config documents last pushed and last applied (for the desired-vs-applied diff). */
    desiredConfig: jsonb('desired_config').$type<Record<string, unknown> | null>(),
    appliedConfig: jsonb('applied_config').$type<Record<string, unknown> | null>(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('agents_secret_hash_key').on(t.secretHash),
    index('agents_last_seen_idx').on(t.lastSeenAt),
    check('agents_platform_check', sql`${t.platform} in ('ec2', 'eks', 'generic')`),
    check(
      'agents_config_status_check',
      sql`${t.configStatus} in ('none', 'pending', 'applying', 'applied', 'failed')`,
    ),
    check('agents_health_check', sql`${t.health} in ('healthy', 'degraded', 'failing')`),
    index('agents_health_idx').on(t.connected, t.health),
    // The overview's "clock off" list: connected agents by |clock offset|, largest first.
    index('agents_clock_offset_idx')
      .on(sql`abs(((${t.lastHeartbeat} ->> 'clockOffsetMs'))::float8)`)
      .where(sql`${t.connected} and ${t.revokedAt} is null`),
  ],
);

/**
 * What an agent delivered in one minute: counter deltas (computed from its cumulative heartbeat
 * counters, resets handled) and the last gauges of the minute. Kept 24 hours; older history lives
 * in {@link statsRollups}.
 */
export const agentStats = pgTable(
  'agent_stats',
  {
    agentId: uuid('agent_id')
      .notNull()
      .references(() => agents.id, { onDelete: 'cascade' }),
    /** Start of the minute. */
    bucket: timestamp('bucket', { withTimezone: true }).notNull(),
    samplesScraped: bigint('samples_scraped', { mode: 'number' }).notNull().default(0),
    samplesSent: bigint('samples_sent', { mode: 'number' }).notNull().default(0),
    samplesDropped: bigint('samples_dropped', { mode: 'number' }).notNull().default(0),
    samplesRetried: bigint('samples_retried', { mode: 'number' }).notNull().default(0),
    /** Samples removed on purpose by write relabelling (a keep list): not loss. */
    samplesFiltered: bigint('samples_filtered', { mode: 'number' }).notNull().default(0),
    droppedByReason: jsonb('dropped_by_reason').$type<Record<string, number>>().notNull().default({}),
    /** Failed send attempts (all destinations). */
    failedSends: bigint('failed_sends', { mode: 'number' }).notNull().default(0),
    pendingSamples: bigint('pending_samples', { mode: 'number' }).notNull().default(0),
    walBytes: bigint('wal_bytes', { mode: 'number' }).notNull().default(0),
    /** Deltas per pipeline version (`<pipelineId>:<version>`): sent, dropped. */
    byPipeline: jsonb('by_pipeline').$type<Record<string, { sent: number; dropped: number }>>().notNull().default({}),
    /** Deltas per destination URL: sent, dropped, failed sends. */
    byDestination: jsonb('by_destination').$type<Record<string, { sent: number; dropped: number; failed: number }>>().notNull().default({}),
  },
  (t) => [
    primaryKey({ columns: [t.agentId, t.bucket] }),
    index('agent_stats_bucket_idx').on(t.bucket, t.agentId),
    // Rows with drops only (a few percent): the overview's "agents dropping most" without reading the day's rows.
    index('agent_stats_dropped_idx').on(t.bucket, t.agentId, t.samplesDropped).where(sql`${t.samplesDropped} > 0`),
  ],
);

/**
 * Fleet-wide and per-pipeline-version sums of {@link agentStats}, recomputed from it for recent
 * buckets: 1-minute steps kept 24 hours, 5-minute steps kept 30 days. `scope` is `fleet`,
 * `pipeline:<pipelineId>:<version>` or `destination:<url>` (agents = those writing to it).
 */
export const statsRollups = pgTable(
  'stats_rollups',
  {
    scope: text('scope').notNull(),
    stepSeconds: integer('step_seconds').notNull(),
    bucket: timestamp('bucket', { withTimezone: true }).notNull(),
    samplesScraped: bigint('samples_scraped', { mode: 'number' }).notNull().default(0),
    samplesSent: bigint('samples_sent', { mode: 'number' }).notNull().default(0),
    samplesDropped: bigint('samples_dropped', { mode: 'number' }).notNull().default(0),
    samplesRetried: bigint('samples_retried', { mode: 'number' }).notNull().default(0),
    /** Samples removed on purpose by write relabelling (not loss). */
    samplesFiltered: bigint('samples_filtered', { mode: 'number' }).notNull().default(0),
    /** Failed send attempts (destination scopes). */
    failedSends: bigint('failed_sends', { mode: 'number' }).notNull().default(0),
    droppedByReason: jsonb('dropped_by_reason').$type<Record<string, number>>().notNull().default({}),
    /** Agents that reported in the bucket. */
    agents: integer('agents').notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.scope, t.stepSeconds, t.bucket] }),
    index('stats_rollups_bucket_idx').on(t.stepSeconds, t.bucket),
    check('stats_rollups_step_check', sql`${t.stepSeconds} in (60, 300)`),
  ],
);

/** WebSocket sessions of an agent (connection history), kept 30 days. */
export const agentConnections = pgTable(
  'agent_connections',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    agentId: uuid('agent_id')
      .notNull()
      .references(() => agents.id, { onDelete: 'cascade' }),
    connectedAt: timestamp('connected_at', { withTimezone: true }).notNull(),
    disconnectedAt: timestamp('disconnected_at', { withTimezone: true }),
    replica: text('replica').notNull(),
    sourceIp: text('source_ip'),
    /** Why it ended (close code and reason, "replica stopped", "silent"). */
    closeReason: text('close_reason'),
  },
  (t) => [index('agent_connections_agent_idx').on(t.agentId, t.connectedAt)],
);

/** Errors agents reported (one row per new error of a destination), kept 7 days. */
export const agentErrors = pgTable(
  'agent_errors',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    agentId: uuid('agent_id')
      .notNull()
      .references(() => agents.id, { onDelete: 'cascade' }),
    at: timestamp('at', { withTimezone: true }).notNull(),
    destination: text('destination').notNull(),
    url: text('url').notNull(),
    errorClass: text('error_class').notNull(),
    code: text('code'),
    status: integer('status'),
    message: text('message').notNull(),
    detail: text('detail'),
  },
  (t) => [index('agent_errors_agent_idx').on(t.agentId, t.at), index('agent_errors_at_idx').on(t.at)],
);

/**
 * Single-use challenges for AWS identity proofs: the agent puts one inside a signed header of
 * its sts:GetCallerIdentity request. Only the sha256 is stored; a challenge is deleted when used.
 */
export const identityChallenges = pgTable(
  'identity_challenges',
  {
    challengeHash: text('challenge_hash').primaryKey(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('identity_challenges_expires_idx').on(t.expiresAt)],
);

// ---------------------------------------------------------------------------
// Audit log: who changed what, when, with before/after.
// ---------------------------------------------------------------------------

export const auditLog = pgTable(
  'audit_log',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    actorType: text('actor_type', { enum: ['user', 'agent', 'system'] }).notNull(),
    actorId: text('actor_id'),
    action: text('action').notNull(),
    targetType: text('target_type').notNull(),
    targetId: text('target_id'),
    before: jsonb('before'),
    after: jsonb('after'),
    sourceIp: text('source_ip'),
  },
  (t) => [
    index('audit_log_at_idx').on(t.at),
    index('audit_log_target_idx').on(t.targetType, t.targetId),
    check('audit_log_actor_type_check', sql`${t.actorType} in ('user', 'agent', 'system')`),
  ],
);

// ---------------------------------------------------------------------------
// Process-wide settings (generated secrets, one-time setup token hash).
// ---------------------------------------------------------------------------

export const appSettings = pgTable('app_settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
  updatedAt: updatedAt(),
});
