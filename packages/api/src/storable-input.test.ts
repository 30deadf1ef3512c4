import { openMemoryDatabase, users, type DatabaseHandle } from '@fleet/db';
import { TRPCError } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCaller, type ApiContext } from './index.js';
import { unstorableText } from './trpc.js';

let database: DatabaseHandle;
beforeAll(async () => {
  database = await openMemoryDatabase();
  await database.migrate();
  await database.db.insert(users).values({ id: 'u-admin', email: 'admin@example.com', name: 'admin', role: 'admin' });
});
afterAll(async () => database.close());

const admin = () => {
  const ctx: ApiContext = { database, version: 'test', auth: null, sourceIp: '127.0.0.1', user: { id: 'u-admin', email: 'admin@example.com', name: 'admin', role: 'admin' } };
  return createCaller(ctx);
};

async function refusal(call: Promise<unknown>): Promise<{ code: string; message: string; field?: string }> {
  const err = await call.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TRPCError);
  const t = err as TRPCError;
  return { code: t.code, message: t.message, field: (t.cause as { details?: { field?: string } } | undefined)?.details?.field };
}

const account = { accountId: '123456789012', defaultRegion: 'us-east-1', roleArn: 'arn:aws:iam::123456789012:role/fleet' };

describe('text PostgreSQL cannot store is refused as bad input, naming the field', () => {
  it('a NUL in an account name is BAD_REQUEST "name: contains a NUL character" (it was a failed INSERT: 500)', async () => {
    const r = await refusal(admin().accounts.create({ ...account, name: 'dev\u0000' }));
    expect(r).toEqual({ code: 'BAD_REQUEST', message: 'name: contains a NUL character', field: 'name' });
    expect(await admin().accounts.list()).toEqual([]);
  });

  it('a lone surrogate in a token label (jsonb) is BAD_REQUEST naming labels.env', async () => {
    const r = await refusal(admin().enrollment.create({ name: 'ec2', expiresInHours: 1, labels: { env: 'prod\ud800' } }));
    expect(r).toEqual({ code: 'BAD_REQUEST', message: 'labels.env: contains a lone UTF-16 surrogate (not valid Unicode)', field: 'labels.env' });
  });

  it('a NUL in an object key is refused too', async () => {
    const r = await refusal(admin().enrollment.create({ name: 'ec2', expiresInHours: 1, labels: { 'e\u0000nv': 'prod' } }));
    expect(r.code).toBe('BAD_REQUEST');
    expect(r.message).toBe('labels."e\\u0000nv": the key contains a NUL character');
  });

  it('well-formed text, emoji (surrogate pairs) included, still goes through', async () => {
    const created = await admin().accounts.create({ ...account, name: 'dev 🚀 ünïcode' });
    expect(created).toMatchObject({ name: 'dev 🚀 ünïcode' });
  });
});

describe('unstorableText', () => {
  it('finds the first bad string at any depth with its path, and nothing in clean input', () => {
    expect(unstorableText({ a: [{ b: 'ok' }, { c: 'x\u0000' }] })).toEqual({ path: 'a.1.c', problem: 'contains a NUL character' });
    expect(unstorableText('\udc00')).toEqual({ path: 'input', problem: 'contains a lone UTF-16 surrogate (not valid Unicode)' });
    expect(unstorableText({ a: ['😀', 1, null, true, { b: 'é' }] })).toBeNull();
    expect(unstorableText(undefined)).toBeNull();
  });

  it('walks input nested 100,000 deep without exhausting the stack', () => {
    let deep: unknown = 'bad\u0000';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(unstorableText(deep)?.problem).toBe('contains a NUL character');
  });
});
