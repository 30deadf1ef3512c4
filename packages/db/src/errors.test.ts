import { createHash } from 'node:crypto';
import { expect, it } from 'vitest';
import { describeCause, describeDatabaseError } from './errors.js';
import { agents, enrollmentTokens } from './schema.js';
import { describeEachDatabase } from './test-support/index.js';

describeEachDatabase('describeDatabaseError', (backend) => {
  it('describes a failed insert by the driver error, without the query text or any parameter (the secret hash)', async () => {
    const { handle, dispose } = await backend.fresh();
    try {
      await handle.migrate();
      const secretHash = createHash('sha256').update('the agent secret').digest('hex');
      // A NUL character: PostgreSQL refuses it in text and in jsonb, exactly as an enrollment with one did.
      const err = await handle.db
        .insert(agents)
        .values({ name: 'web\u0000-1', secretHash, labels: { env: 'prod\u0000' }, platform: 'generic', description: { hostname: 'web\u0000-1' } })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(Error);
      // What the log showed before: the whole statement and its parameters.
      expect(String(err)).toContain(secretHash);
      const described = describeDatabaseError(err);
      expect(described).toMatch(/^database query failed: /);
      expect(described).not.toContain(secretHash);
      expect(described).not.toMatch(/insert into|params|web/i);
      expect(described.length).toBeLessThan(300);
    } finally {
      await dispose();
    }
  });

  it('names the constraint of a unique violation but not the row values of its detail', async () => {
    const { handle, dispose } = await backend.fresh();
    try {
      await handle.migrate();
      const tokenHash = createHash('sha256').update('fet_token').digest('hex');
      const row = { name: 'dup', tokenHash, tokenPrefix: 'fet_ab', expiresAt: new Date(Date.now() + 3_600_000) };
      await handle.db.insert(enrollmentTokens).values(row);
      const err = await handle.db.insert(enrollmentTokens).values(row).then(
        () => undefined,
        (e: unknown) => e,
      );
      const described = describeDatabaseError(err);
      expect(described).toMatch(/23505/);
      expect(described).toMatch(/unique/);
      expect(described).not.toContain(tokenHash);
    } finally {
      await dispose();
    }
  });
});

it('describes other errors like describeCause, and replaces parameter values a driver message quotes', () => {
  const plain = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432\nmore'), { code: 'ECONNREFUSED' });
  expect(describeDatabaseError(plain)).toBe(describeCause(plain));
  const driver = Object.assign(new Error('invalid input syntax for type uuid: "not-a-uuid-secret"'), { code: '22P02' });
  const query = Object.assign(new Error('Failed query: select 1 where id = $1\nparams: not-a-uuid-secret'), { query: 'select 1 where id = $1', params: ['not-a-uuid-secret'], cause: driver });
  expect(describeDatabaseError(query)).toBe('database query failed: 22P02 invalid input syntax for type uuid: "$1"');
  // Wrapped once more (a tRPC error around it): still found.
  expect(describeDatabaseError(new Error('procedure failed', { cause: query }))).toBe('database query failed: 22P02 invalid input syntax for type uuid: "$1"');
});
