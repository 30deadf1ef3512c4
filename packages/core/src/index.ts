/**
 * @fleet/core — the control plane's domain services. Each function takes one options object
 * (including the database handle) and throws {@link AppError} for failures a caller can act on.
 * No transport (tRPC, HTTP, WebSocket) code lives here.
 */
export { AppError, APP_ERROR_CODES, type AppErrorCode } from './errors.js';
export { getSystemStatus, PRODUCT_NAME, type SystemStatus, type DatabaseStatus } from './system/status.js';
