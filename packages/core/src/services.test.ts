import { agents, type DatabaseHandle } from '@fleet/db';
import { describeEachDatabase } from '@fleet/db/test-support';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createAwsAccount, rotateExternalId } from './accounts/accounts.js';
import { consumeEnrollmentToken, createEnrollmentToken, listEnrollmentTokens, revokeEnrollmentToken } from './enrollment/tokens.js';
import { listAudit } from './audit/audit.js';
import type { ServiceContext } from './context.js';
import { listTemplates, policiesForPipeline, resetTemplate, updateTemplate } from './policies/policies.js';
import { createPipeline, diffVersions, getPipeline, previewSelector, publishVersion, saveDraft, validatePipelineDocument } from './pipelines/pipelines.js';
import { completeSetup, createUser, ensureAdminFromEnv, issueSetupToken, setUserRole } from './users/users.js';
import { freshAdmin, rejects } from './test-support/index.js';

const AMP = 'https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-0a1b2c3d-1234/api/v1/remote_write';

function doc(url = AMP, extra: Record<string, unknown> = {}) {
  return {
    scrape_configs: [{ job_name: 'node', static_configs: [{ targets: ['localhost:9100'] }] }],
    remote_write: [{ url, aws_account: 'prod', ...extra }],
  };
}

describeEachDatabase('control-plane services', (backend) => {
  let handle: DatabaseHandle;
  let dispose: () => Promise<void>;
  let ctx: ServiceContext;

  beforeEach(async () => {
    ({ handle, dispose, ctx } = await freshAdmin(backend, { email: 'Ada@Example.com', name: 'Ada', sourceIp: '127.0.0.1' }));
  });
  afterEach(async () => dispose());

  it('first run: a setup token creates exactly one admin, then stops working', async () => {
    const fresh = await backend.fresh();
    try {
      await fresh.handle.migrate();
      const token = await issueSetupToken(fresh.handle.db);
      expect(token).toBeTruthy();
      await rejects(completeSetup({ db: fresh.handle.db }, 'wrong', { email: 'x@example.com', name: 'X', password: 'long enough pass' }));
      const admin = await completeSetup({ db: fresh.handle.db }, token!, { email: 'root@example.com', name: 'Root', password: 'long enough pass' });
      expect(admin.role).toBe('admin');
      const again = await rejects(completeSetup({ db: fresh.handle.db }, token!, { email: 'y@example.com', name: 'Y', password: 'long enough pass' }));
      expect(again.code).toBe('FORBIDDEN');
      expect(await issueSetupToken(fresh.handle.db)).toBeNull();
      expect(await ensureAdminFromEnv(fresh.handle.db, 'a@example.com', 'long enough pass')).toBe('exists');
      // Replicas starting at once with ADMIN_EMAIL: one creates the admin, the other finds it.
      const raced = await backend.fresh();
      try {
        await raced.handle.migrate();
        const outcomes = await Promise.all([1, 2, 3].map(() => ensureAdminFromEnv(raced.handle.db, 'ops@example.com', 'long enough pass')));
        expect(outcomes.sort()).toEqual(['created', 'exists', 'exists']);
      } finally {
        await raced.dispose();
      }
    } finally {
      await fresh.dispose();
    }
  });

  it('keeps at least one admin and rejects duplicate e-mails case-insensitively', async () => {
    const err = await rejects(setUserRole(ctx, ctx.actor.type === 'user' ? ctx.actor.id : '', 'viewer'));
    expect(err.message).toContain('last admin');
    const dup = await rejects(createUser(ctx, { email: 'ada@example.com', name: 'Ada 2', role: 'viewer', password: 'correct horse battery' }));
    expect(dup.details.field).toBe('email');
  });

  it('registers AWS accounts with a generated ExternalId and validates ids, regions and role ARNs', async () => {
    const account = await createAwsAccount(ctx, { accountId: '123456789012', name: 'prod', defaultRegion: 'eu-west-1', roleArn: 'arn:aws:iam::123456789012:role/fleet-writer' });
    expect(account.externalId).toMatch(/^fleet-[\w]{24}$/);
    expect(account.partition).toBe('aws');
    const rotated = await rotateExternalId(ctx, account.id);
    expect(rotated.externalId).not.toBe(account.externalId);
    const bad = await createAwsAccount(ctx, { accountId: '123', name: 'x', defaultRegion: 'eu-west-9', roleArn: 'arn:aws:iam::999999999999:role/r' }).catch((e: unknown) => e);
    const issues = (bad as { issues: Array<{ path: string[]; message: string }> }).issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues).toContain('accountId: must be the 12-digit AWS account id');
    expect(issues.some((i) => i.startsWith('defaultRegion: not an AWS region'))).toBe(true);
    const mismatch = await createAwsAccount(ctx, { accountId: '210987654321', name: 'cn', defaultRegion: 'cn-north-1', roleArn: 'arn:aws:iam::210987654321:role/r' }).catch((e: unknown) => e);
    expect(JSON.stringify(mismatch)).toContain('partition aws but region cn-north-1 is in aws-cn');
    const dup = await rejects(createAwsAccount(ctx, { accountId: '123456789012', name: 'again', defaultRegion: 'eu-west-1', roleArn: 'arn:aws:iam::123456789012:role/fleet-writer' }));
    expect(dup.details.field).toBe('accountId');
  });

  it('versions pipelines: drafts, validation, publish with a note, diff, rollback — all audited', async () => {
    await createAwsAccount(ctx, { accountId: '123456789012', name: 'prod', defaultRegion: 'eu-west-1', roleArn: 'arn:aws:iam::123456789012:role/fleet-writer' });
    const check = await validatePipelineDocument(ctx, doc());
    expect(check.ok).toBe(true);
    if (check.ok) {
      expect(check.config.instances[0]!.remoteWrite[0]!.sigv4).toMatchObject({ region: 'eu-west-1', service: 'aps', roleArn: 'arn:aws:iam::123456789012:role/fleet-writer' });
      expect(check.config.instances[0]!.remoteWrite[0]!.sigv4!.externalId).toMatch(/^fleet-/);
    }
    const invalid = await validatePipelineDocument(ctx, doc('not-a-url', { aws_account: 'nope' }));
    expect(invalid.ok).toBe(false);
    if (!invalid.ok) expect(invalid.issues.map((i) => i.path)).toEqual(['remote_write[0].aws_account', 'remote_write[0].url']);

    const { pipeline } = await createPipeline(ctx, { name: 'node metrics', selector: [{ name: 'env', op: '=', value: 'prod' }], document: doc(), note: 'first' });
    const same = await saveDraft(ctx, pipeline.id, { selector: [{ name: 'env', op: '=', value: 'prod' }], document: doc(), note: 'no change' });
    expect(same.created).toBe(false);
    const noNote = await rejects(publishVersion(ctx, pipeline.id, 1, ' '));
    expect(noNote.details.field).toBe('note');
    await publishVersion(ctx, pipeline.id, 1, 'go live');
    const v2 = await saveDraft(ctx, pipeline.id, { selector: [{ name: 'env', op: '=~', value: 'prod|staging' }], document: doc(), note: 'staging too' });
    expect(v2.version.version).toBe(2);
    await publishVersion(ctx, pipeline.id, 2, 'add staging');
    const rolled = await publishVersion(ctx, pipeline.id, 1, 'staging broke');
    expect(rolled.rollback).toBe(true);
    const p = await getPipeline(ctx, pipeline.id);
    expect(p.versions.map((v) => [v.version, v.published, v.publishNote])).toEqual([
      [2, false, 'add staging'],
      [1, true, 'staging broke'],
    ]);
    expect(p.versions[1]!.publishedBy).toBe('ada@example.com');

    const diff = await diffVersions(ctx, pipeline.id, 1, 2);
    const changed = diff.hunks.flatMap((h) => h.lines.filter((l) => l.startsWith('+') || l.startsWith('-')));
    expect(changed).toEqual(['-    op: =', '-    value: prod', '+    op: =~', '+    value: prod|staging']);

    // A broken draft is saved but cannot be published.
    await saveDraft(ctx, pipeline.id, { selector: [], document: doc('ftp://x'), note: 'oops' });
    const broken = await rejects(publishVersion(ctx, pipeline.id, 3, 'try'));
    expect(broken.message).toContain('remote_write[0].url');

    const { entries } = await listAudit(ctx, { targetType: 'pipeline' });
    expect(entries.map((e) => e.action)).toEqual(['pipeline.draft', 'pipeline.rollback', 'pipeline.publish', 'pipeline.draft', 'pipeline.publish', 'pipeline.create']);
    expect(entries[1]).toMatchObject({ actorId: 'ada@example.com', before: { publishedVersion: 2 }, after: { publishedVersion: 1, note: 'staging broke' }, sourceIp: '127.0.0.1' });
  });

  it('previews which enrolled agents a selector matches', async () => {
    await handle.db.insert(agents).values([
      { name: 'a', secretHash: 'a'.repeat(64), labels: { env: 'prod', team: 'sre' } },
      { name: 'b', secretHash: 'b'.repeat(64), labels: { env: 'staging' } },
      { name: 'c', secretHash: 'c'.repeat(64), labels: {} },
    ]);
    expect((await previewSelector(ctx, [{ name: 'env', op: '=~', value: 'prod|staging' }])).agents.map((a) => a.name).sort()).toEqual(['a', 'b']);
    expect((await previewSelector(ctx, [{ name: 'env', op: '!=', value: 'prod' }])).agents.map((a) => a.name).sort()).toEqual(['b', 'c']);
    expect((await previewSelector(ctx, [])).matched).toBe(3);
  });

  it('generates the least-privilege policies of a pipeline, cross-account with the ExternalId, from editable templates', async () => {
    const account = await createAwsAccount(ctx, { accountId: '123456789012', name: 'prod', defaultRegion: 'eu-west-1', roleArn: 'arn:aws:iam::123456789012:role/amp-writer' });
    const { pipeline } = await createPipeline(ctx, {
      name: 'amp',
      document: { ...doc(), remote_write: [{ url: AMP, aws_account: 'prod' }, { url: 'http://127.0.0.1:9090/api/v1/write' }] },
    });
    const out = await policiesForPipeline(ctx, { pipelineId: pipeline.id, collectorRoleArn: 'arn:aws:iam::210987654321:role/fleet-agent' });
    const [cross] = out.trust.crossAccount;
    const perms = JSON.parse(cross!.permissionsJson!) as { Statement: Array<{ Action: unknown; Resource: unknown }> };
    expect(perms.Statement).toEqual([expect.objectContaining({ Action: 'aps:RemoteWrite', Resource: 'arn:aws:aps:eu-west-1:123456789012:workspace/ws-0a1b2c3d-1234' })]);
    const trust = JSON.parse(cross!.json!) as { Statement: Array<{ Principal: unknown; Condition: unknown }> };
    expect(trust.Statement[0]!.Principal).toEqual({ AWS: 'arn:aws:iam::210987654321:role/fleet-agent' });
    expect(JSON.stringify(trust.Statement[0]!.Condition)).toContain(account.externalId);
    expect(JSON.parse(out.permissions!.json).Statement[0].Action).toBe('sts:AssumeRole');
    expect(out.trust.ec2).toContain('ec2.amazonaws.com');
    expect(out.cli).toContain('aws iam create-role');
    expect(out.problems).toEqual([expect.stringContaining('remote_write[1]: http://127.0.0.1:9090/api/v1/write is not an Amazon Managed Service for Prometheus workspace')]);

    // Edited templates are validated, versioned and used; reset restores the built-in.
    const before = (await listTemplates(ctx)).find((t) => t.key === 'permissions.amp')!;
    expect(before.version).toBe(0);
    const bad = await rejects(updateTemplate(ctx, 'permissions.amp', before.body.replace('{{workspace_id}}', '{{nope}}'), 'typo'));
    expect(bad.message).toContain('nope');
    await updateTemplate(ctx, 'permissions.amp', before.body.replace('"Sid": "', '"Sid": "Edited'), 'rename sid');
    const edited = await policiesForPipeline(ctx, { pipelineId: pipeline.id, collectorRoleArn: 'arn:aws:iam::210987654321:role/fleet-agent' });
    expect(edited.trust.crossAccount[0]!.permissionsJson).toContain('"Sid": "Edited');
    await resetTemplate(ctx, 'permissions.amp');
    expect((await listTemplates(ctx)).find((t) => t.key === 'permissions.amp')).toMatchObject({ version: 2, body: before.body });
  });

  it('enrollment tokens: secret shown once and stored hashed, uses counted atomically, revocable', async () => {
    const { token, view } = await createEnrollmentToken(ctx, { name: 'ec2 prod', expiresInHours: 24, maxUses: 3, labels: { env: 'prod' }, platform: 'ec2' });
    expect(token).toMatch(/^fet_[\w-]{43}$/);
    expect(view.tokenPrefix).toBe(token.slice(0, 10));
    const listed = await listEnrollmentTokens(ctx);
    expect(JSON.stringify(listed)).not.toContain(token.slice(10));
    expect(listed[0]).toMatchObject({ name: 'ec2 prod', state: 'active', useCount: 0, labels: { env: 'prod' }, createdByEmail: 'ada@example.com' });
    expect('tokenHash' in listed[0]!).toBe(false);
    // Five enrollments race for three uses: exactly three win.
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => consumeEnrollmentToken(handle.db, token)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect((await listEnrollmentTokens(ctx))[0]).toMatchObject({ useCount: 3, state: 'used_up' });
    const wrong = await rejects(consumeEnrollmentToken(handle.db, 'fet_wrong'));
    expect(wrong.code).toBe('UNAUTHENTICATED');
    const other = await createEnrollmentToken(ctx, { name: 'other', expiresInHours: 1 });
    await revokeEnrollmentToken(ctx, other.view.id);
    expect((await rejects(consumeEnrollmentToken(handle.db, other.token))).message).toBe('the enrollment token is revoked');
    const expired = await rejects(consumeEnrollmentToken(handle.db, (await createEnrollmentToken(ctx, { name: 'old', expiresInHours: 1 }, new Date(Date.now() - 7_200_000))).token));
    expect(expired.message).toBe('the enrollment token is expired');
    const { entries } = await listAudit(ctx, { targetType: 'enrollment_token' });
    expect(entries.map((e) => e.action)).toContain('enrollment_token.revoke');
    expect(JSON.stringify(entries)).not.toContain(token.slice(10));
  });
});
