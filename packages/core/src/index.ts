/**
 * @fleet/core — the control plane's domain services. Each function takes a context (database,
 * acting operator) and one input object, and throws {@link AppError} for failures a caller can
 * act on. Changes are recorded in the audit log in the same transaction. No transport
 * (tRPC, HTTP, WebSocket) code lives here.
 */
export { AppError, APP_ERROR_CODES, type AppErrorCode } from './errors.js';
export { roleAtLeast, type Actor, type ServiceContext } from './context.js';
export { getSystemStatus, PRODUCT_NAME, type SystemStatus, type DatabaseStatus } from './system/status.js';
export { recordAudit, listAudit, auditActions, type AuditEntry, type AuditFilter } from './audit/audit.js';
export { authSecret, getOrCreateSetting, getSetting, setSetting } from './settings/settings.js';
export { createAuth, sessionUser, requestUser, authRequestHandler, CLIENT_IP_HEADER, type Auth, type AuthSettings, type SessionUser } from './auth/auth.js';
export { passwordProblem, assertPasswordPolicy, MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH, MIN_PASSWORD_SCORE } from './auth/password-policy.js';
export { LOCKOUT, lockDurationMs, lockedMessage, recordFailedSignIn, recordSignIn, type SignInFailure } from './auth/lockout.js';
export { hashSessionTokens, storedSessionToken } from './auth/session-tokens.js';
export * from './users/users.js';
export * from './accounts/accounts.js';
export * from './pipelines/document.js';
export * from './pipelines/pipelines.js';
export * from './policies/policies.js';
export * from './enrollment/tokens.js';
export * from './enrollment/identity-proof.js';
export * from './enrollment/install-plan.js';
export { HELM_VALUES_FILE } from './enrollment/install-commands.js';
export * from './agents/enroll.js';
export * from './agents/notify.js';
export * from './agents/effective-config.js';
export * from './agents/sessions.js';
export * from './agents/agents.js';
export * from './agents/rollout.js';
export * from './fleet/counters.js';
export * from './fleet/health.js';
export * from './fleet/stats.js';
export * from './fleet/diagnosis.js';
export * from './fleet/overview.js';
