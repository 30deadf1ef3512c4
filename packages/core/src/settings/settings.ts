import { randomBytes } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { appSettings, type Db } from '@fleet/db';

/**
 * Returns the setting `key`, creating it with `create()` if absent. Safe when several replicas
 * start at once: the first insert wins and everyone reads the winner.
 */
export async function getOrCreateSetting(db: Db, key: string, create: () => string): Promise<string> {
  await db.insert(appSettings).values({ key, value: create() }).onConflictDoNothing();
  const [row] = await db.select({ value: appSettings.value }).from(appSettings).where(eq(appSettings.key, key));
  return row!.value;
}

export async function getSetting(db: Db, key: string): Promise<string | undefined> {
  const [row] = await db.select({ value: appSettings.value }).from(appSettings).where(eq(appSettings.key, key));
  return row?.value;
}

export async function setSetting(db: Db, key: string, value: string): Promise<void> {
  await db
    .insert(appSettings)
    .values({ key, value })
    .onConflictDoUpdate({ target: appSettings.key, set: { value, updatedAt: sql`now()` } });
}

export async function deleteSetting(db: Db, key: string): Promise<void> {
  await db.delete(appSettings).where(eq(appSettings.key, key));
}

/** The secret that signs session cookies: `AUTH_SECRET` if given, else generated once and kept in the database. */
export async function authSecret(db: Db, fromEnv: string | undefined): Promise<string> {
  if (fromEnv) return fromEnv;
  return getOrCreateSetting(db, 'auth.secret', () => randomBytes(32).toString('base64url'));
}
