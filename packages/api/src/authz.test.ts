import { openMemoryDatabase, type DatabaseHandle, type UserRole } from '@fleet/db';
import { TRPCError } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appRouter, createCaller, type ApiContext, type ApiMeta } from './index.js';

type Proc = { _def: { meta?: ApiMeta; type: 'query' | 'mutation' | 'subscription' } };
const procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, Proc>);
const ROLES: UserRole[] = ['viewer', 'editor', 'admin'];

let database: DatabaseHandle;
beforeAll(async () => {
  database = await openMemoryDatabase();
  await database.migrate();
});
afterAll(async () => database.close());

function caller(role: UserRole | null) {
  const ctx: ApiContext = {
    database,
    version: 'test',
    auth: null,
    sourceIp: '127.0.0.1',
    user: role ? { id: `u-${role}`, email: `${role}@example.com`, name: role, role } : null,
  };
  return createCaller(ctx);
}

async function call(role: UserRole | null, path: string): Promise<unknown> {
  let target: unknown = caller(role);
  for (const part of path.split('.')) target = (target as Record<string, unknown>)[part];
  try {
    await (target as (input: unknown) => Promise<unknown>)(undefined);
    return 'ok';
  } catch (err) {
    return err;
  }
}

describe('authorization of every procedure', () => {
  it('declares a role on every procedure', () => {
    expect(procedures.length).toBeGreaterThan(15);
    for (const [path, p] of procedures) expect(p._def.meta?.role, path).toBeDefined();
    expect(procedures.filter(([, p]) => p._def.meta?.role === 'public').map(([path]) => path).sort()).toEqual([
      'setup.complete',
      'setup.status',
      'system.status',
    ]);
  });

  for (const [path, p] of procedures) {
    const role = p._def.meta?.role;
    if (!role || role === 'public') continue;
    it(`${path} (${role}) rejects anonymous callers and lower roles`, async () => {
      const anonymous = await call(null, path);
      expect(anonymous).toBeInstanceOf(TRPCError);
      expect((anonymous as TRPCError).code).toBe('UNAUTHORIZED');
      for (const lower of ROLES.slice(0, ROLES.indexOf(role))) {
        const denied = await call(lower, path);
        expect(denied, `${lower} calling ${path}`).toBeInstanceOf(TRPCError);
        expect((denied as TRPCError).code).toBe('FORBIDDEN');
        expect((denied as TRPCError).message).toBe(`this needs the ${role} role; you are ${lower}`);
      }
      // The role itself passes authorization (then fails on the missing input, or succeeds).
      const allowed = await call(role, path);
      if (allowed instanceof TRPCError) expect(['BAD_REQUEST', 'NOT_FOUND']).toContain(allowed.code);
    });
  }
});
