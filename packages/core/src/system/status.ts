import { describeCause, type DatabaseHandle, type MigrationStatus } from '@fleet/db';

/** Health of the database as operators and `/readyz` see it. */
export interface DatabaseStatus {
  kind: DatabaseHandle['kind'];
  /** Where the data lives (passwords redacted). */
  location: string;
  reachable: boolean;
  migrations: MigrationStatus | null;
  /** One-line reason when not reachable or not migrated. */
  problem: string | null;
}

/** Overall status of this control-plane process. */
export interface SystemStatus {
  product: string;
  version: string;
  /** True when the database is reachable and fully migrated. */
  ready: boolean;
  database: DatabaseStatus;
}

export const PRODUCT_NAME = 'Fleet control plane';

/**
 * Checks the database: reachable (a trivial query) and migrated (every shipped migration
 * applied). Never throws; problems are reported in the result.
 */
export async function getSystemStatus(options: {
  database: DatabaseHandle;
  version: string;
}): Promise<SystemStatus> {
  const { database, version } = options;
  const base = { kind: database.kind, location: database.location };
  let dbStatus: DatabaseStatus;
  try {
    await database.ping();
    const migrations = await database.migrationStatus();
    dbStatus = {
      ...base,
      reachable: true,
      migrations,
      problem: migrations.upToDate
        ? null
        : `${migrations.expected - migrations.applied} of ${migrations.expected} migrations not applied`,
    };
  } catch (err) {
    dbStatus = { ...base, reachable: false, migrations: null, problem: describeCause(err) };
  }
  return { product: PRODUCT_NAME, version, ready: dbStatus.problem === null, database: dbStatus };
}
