import type { Db, UserRole } from '@fleet/db';

/** Who performs an operation; recorded in the audit log. */
export type Actor =
  | { type: 'user'; id: string; email: string; role: UserRole }
  | { type: 'agent'; id: string }
  | { type: 'system'; id?: undefined };

/** What every service function receives: the database and who is acting (and from where). */
export interface ServiceContext {
  db: Db;
  actor: Actor;
  sourceIp?: string | undefined;
}

const RANK: Record<UserRole, number> = { viewer: 1, editor: 2, admin: 3 };

/** True when `role` is at least `needed` (admin > editor > viewer). */
export function roleAtLeast(role: UserRole, needed: UserRole): boolean {
  return RANK[role] >= RANK[needed];
}
