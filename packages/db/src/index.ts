/**
 * @fleet/db — the data layer: Drizzle schema, committed SQL migrations, and the factory that
 * opens PGlite (default, in `DATA_DIR`) or PostgreSQL (`DATABASE_URL`).
 */
export * from './schema.js';
export * as schema from './schema.js';
export {
  openDatabase,
  openMemoryDatabase,
  migrationsFolder,
  queryRows,
  notify,
  type Db,
  type DatabaseHandle,
  type DatabaseOptions,
  type MigrationStatus,
} from './client.js';
export { DatabaseSetupError, redactDatabaseUrl, describeCause, describeDatabaseError, pgErrorCode } from './errors.js';
