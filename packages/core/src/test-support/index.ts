/**
 * Test support for core's database tests (not part of the package surface): a fresh, migrated
 * database of one engine with its first admin, and that admin's service context.
 */
import type { DatabaseHandle } from '@fleet/db';
import type { TestBackend } from '@fleet/db/test-support';
import { expect } from 'vitest';
import type { ServiceContext } from '../context.js';
import { AppError } from '../errors.js';
import { createUser } from '../users/users.js';

/** A strong password that passes the policy, for test operators. */
export const TEST_PASSWORD = 'correct horse battery staple 42';

/** What {@link freshAdmin} gives a test. */
export interface AdminFixture {
  handle: DatabaseHandle;
  /** Drops the database (call it in `afterEach`). */
  dispose(): Promise<void>;
  /** Acting as the admin. */
  ctx: ServiceContext;
}

/** A new, migrated database on `backend` whose first admin is `email` (default ops@example.com). */
export async function freshAdmin(backend: TestBackend, options: { email?: string; name?: string; sourceIp?: string } = {}): Promise<AdminFixture> {
  const { handle, dispose } = await backend.fresh();
  await handle.migrate();
  const admin = await createUser({ db: handle.db, actor: { type: 'system' } }, { email: options.email ?? 'ops@example.com', name: options.name ?? 'Ops', role: 'admin', password: TEST_PASSWORD });
  const ctx: ServiceContext = { db: handle.db, actor: { type: 'user', id: admin.id, email: admin.email, role: 'admin' }, ...(options.sourceIp ? { sourceIp: options.sourceIp } : {}) };
  return { handle, dispose, ctx };
}

/** The AppError `p` rejects with (the test fails when it resolves or rejects with anything else). */
export async function rejects(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}
