import { auditLog, enrollmentTokens, type DatabaseHandle } from '@fleet/db';
import { describeEachDatabase } from '@fleet/db/test-support';
import { SELF_DECLARED_LABEL_LIMITS as PROTOCOL_LIMITS } from '@fleet/protocol';
import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { ServiceContext } from '../context.js';
import { AppError } from '../errors.js';
import { createEnrollmentToken, listEnrollmentTokens, SELF_DECLARED_LABEL_LIMITS, type NewToken } from '../enrollment/tokens.js';
import { getAgent } from './agents.js';
import { effectiveConfig, type PublishedPipeline } from './effective-config.js';
import { enrollAgent } from './enroll.js';
import { recordAgentConnected } from './sessions.js';
import { freshAdmin } from '../test-support/index.js';

describeEachDatabase('enrollment labels: the token’s win, the agent’s are limited or forbidden', (backend) => {
  let handle: DatabaseHandle;
  let dispose: () => Promise<void>;
  let ctx: ServiceContext;

  beforeEach(async () => {
    ({ handle, dispose, ctx } = await freshAdmin(backend));
  });
  afterEach(async () => dispose());

  const token = async (input: Partial<NewToken> = {}) => (await createEnrollmentToken(ctx, { name: `t-${Math.random()}`, expiresInHours: 1, ...input })).token;
  const enroll = (t: string, labels: Record<string, string>) => enrollAgent({ db: handle.db }, t, { hostname: 'web-1', version: 'test', platform: 'generic', labels });
  const refusal = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) => (e instanceof AppError ? { code: e.code, field: e.details.field, message: e.message } : e),
    );

  it('uses the same limits as the protocol', () => {
    expect(SELF_DECLARED_LABEL_LIMITS).toEqual(PROTOCOL_LIMITS);
  });

  it('a self-declared label never overrides one the token sets, and cannot reach a pipeline the token’s labels do not', async () => {
    const sre = await token({ labels: { team: 'sre' }, maxUses: 5 });
    const a = await enroll(sre, { team: 'payments', role: 'web' });
    expect((await getAgent(ctx, a.agentId)).labels).toEqual({ team: 'sre', role: 'web' });
    // The ignored label is on record.
    const [entry] = await handle.db.select().from(auditLog).where(eq(auditLog.targetId, a.agentId));
    expect(entry!.after).toMatchObject({ labels: { team: 'sre', role: 'web' }, ignoredLabels: { team: 'payments' } });
    // A later hello's labels are ignored (recordAgentConnected keeps them out).
    await recordAgentConnected(handle.db, a.agentId, { replica: 'r1', description: { hostname: 'web-1', labels: { team: 'payments', env: 'prod' } }, runningConfigHash: null });
    expect((await getAgent(ctx, a.agentId)).labels).toEqual({ team: 'sre', role: 'web' });
  });

  it('a token can forbid self-declared labels: the agent is refused naming them, and the use is not counted', async () => {
    const strict = await token({ labels: { team: 'sre' }, allowAgentLabels: false, maxUses: 1 });
    const refused = await refusal(enroll(strict, { env: 'prod' }));
    expect(refused).toEqual({ code: 'FORBIDDEN', field: 'description.labels', message: expect.stringMatching(/does not accept labels chosen by the agent \(env\)/) });
    const [row] = await handle.db.select().from(enrollmentTokens);
    expect(row!.useCount).toBe(0);
    // Without labels it enrolls, with the token's only; the prod pipeline does not select it.
    const a = await enroll(strict, {});
    expect((await getAgent(ctx, a.agentId)).labels).toEqual({ team: 'sre' });
    const prod: PublishedPipeline = {
      id: '00000000-0000-4000-8000-000000000001',
      name: 'prod',
      version: 1,
      selector: [{ name: 'env', op: '=', value: 'prod' }],
      document: { scrape_configs: [{ job_name: 'n', static_configs: [{ targets: ['127.0.0.1:9100'] }] }], remote_write: [{ url: 'http://127.0.0.1:9/api/v1/write' }] },
    };
    expect(effectiveConfig([prod], (await getAgent(ctx, a.agentId)).labels).pipelines).toEqual([]);
    // The token list says so.
    expect((await listEnrollmentTokens({ db: handle.db }))[0]).toMatchObject({ allowAgentLabels: false });
  });

  it('tokens allow self-declared labels unless told otherwise', async () => {
    const open = await token();
    const a = await enroll(open, { role: 'web' });
    expect((await getAgent(ctx, a.agentId)).labels).toEqual({ role: 'web' });
    expect((await listEnrollmentTokens({ db: handle.db }))[0]).toMatchObject({ allowAgentLabels: true });
  });

  it('limits self-declared labels in count and size, naming the label, without using the token', async () => {
    const t = await token({ maxUses: 1 });
    const many = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`l${i}`, 'v']));
    expect(await refusal(enroll(t, many))).toMatchObject({ code: 'BAD_INPUT', field: 'description.labels', message: 'description.labels: an agent declares at most 20 labels (got 3000)' });
    expect(await refusal(enroll(t, { __meta_x: 'v' }))).toMatchObject({ code: 'BAD_INPUT', field: 'description.labels.__meta_x', message: expect.stringMatching(/reserved/) });
    expect(await refusal(enroll(t, { role: 'v'.repeat(201) }))).toMatchObject({ code: 'BAD_INPUT', field: 'description.labels.role' });
    expect(await refusal(enroll(t, { ['n'.repeat(101)]: 'v' }))).toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/at most 100 characters/) });
    expect(await refusal(enroll(t, { 'bad-name': 'v' }))).toMatchObject({ code: 'BAD_INPUT', field: 'description.labels.bad-name' });
    const twenty = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`l${i}`, 'v'.repeat(200)]));
    const a = await enroll(t, twenty);
    expect(Object.keys((await getAgent(ctx, a.agentId)).labels)).toHaveLength(20);
  });

  it('refuses a token name or label value PostgreSQL cannot store, naming the field', async () => {
    await expect(createEnrollmentToken(ctx, { name: 'bad\u0000', expiresInHours: 1 })).rejects.toThrow(/NUL/);
    await expect(createEnrollmentToken(ctx, { name: 'ok', expiresInHours: 1, labels: { env: 'p\ud800' } })).rejects.toThrow(/surrogate/);
  });
});
