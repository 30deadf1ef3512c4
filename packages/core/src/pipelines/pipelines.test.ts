import type { DatabaseHandle } from '@fleet/db';
import { describeEachDatabase } from '@fleet/db/test-support';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createAwsAccount, deleteAwsAccount, updateAwsAccount } from '../accounts/accounts.js';
import { effectiveConfig, loadPublishedPipelines } from '../agents/effective-config.js';
import type { ServiceContext } from '../context.js';
import { policiesForPipeline } from '../policies/policies.js';
import { createPipeline, diffVersions, getPipeline, publishVersion, saveDraft } from './pipelines.js';
import { freshAdmin, rejects } from '../test-support/index.js';

const AMP = 'https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-0a1b2c3d-1234/api/v1/remote_write';
const ROLE = 'arn:aws:iam::123456789012:role/fleet-writer';

/** YAML as operators write it: comments, their own key order, flow style. */
const SOURCE = `# Node metrics for the prod fleet
remote_write:
  - url: ${AMP}   # AMP workspace in Ireland
    aws_account: dev
scrape_configs:
  - job_name: node
    static_configs: [{ targets: ['localhost:9100'] }]
`;

describeEachDatabase('pipelines: kept YAML, draft numbering, account references by id', (backend) => {
  let handle: DatabaseHandle;
  let dispose: () => Promise<void>;
  let ctx: ServiceContext;

  beforeEach(async () => {
    ({ handle, dispose, ctx } = await freshAdmin(backend, { email: 'ada@example.com', name: 'Ada' }));
  });
  afterEach(async () => dispose());

  const dev = () => createAwsAccount(ctx, { accountId: '123456789012', name: 'dev', defaultRegion: 'eu-west-1', roleArn: ROLE });

  it('stores the YAML exactly as written and diffs it as written', async () => {
    await dev();
    const { pipeline } = await createPipeline(ctx, { name: 'node', source: SOURCE });
    const [v1] = (await getPipeline(ctx, pipeline.id)).versions;
    expect(v1!.source).toBe(SOURCE);
    expect(v1!.config).toEqual({ remote_write: [{ url: AMP, aws_account: 'dev' }], scrape_configs: [{ job_name: 'node', static_configs: [{ targets: ['localhost:9100'] }] }] });
    await publishVersion(ctx, pipeline.id, 1, 'go');
    // A comment-only edit is a new version of the text (same document, same config hash for agents).
    const edited = SOURCE.replace('# AMP workspace in Ireland', '# AMP workspace (eu-west-1)');
    const v2 = await saveDraft(ctx, pipeline.id, { selector: [], source: edited });
    expect(v2.created).toBe(true);
    expect(v2.version.contentHash).toBe(v1!.contentHash);
    const diff = await diffVersions(ctx, pipeline.id, 1, 2);
    expect(diff.hunks.flatMap((h) => h.lines.filter((l) => /^[+-]/.test(l)))).toEqual([`-  - url: ${AMP}   # AMP workspace in Ireland`, `+  - url: ${AMP}   # AMP workspace (eu-west-1)`]);
    // Saving the same text again changes nothing.
    expect((await saveDraft(ctx, pipeline.id, { selector: [], source: edited })).created).toBe(false);
  });

  it('answers bad YAML and a document that contradicts its source with the field at fault', async () => {
    const bad = await rejects(createPipeline(ctx, { name: 'x', source: 'scrape_configs:\n  - job_name: a\n  job_name: b\n: [' }));
    expect(bad).toMatchObject({ code: 'BAD_INPUT', details: { field: 'source' } });
    expect(bad.message).toMatch(/^line \d+, column \d+: /);
    const list = await rejects(createPipeline(ctx, { name: 'x', source: '- a\n- b\n' }));
    expect(list.message).toMatch(/must be a mapping/);
    const disagree = await rejects(createPipeline(ctx, { name: 'x', source: 'scrape_configs: []\n', document: { remote_write: [] } }));
    expect(disagree).toMatchObject({ code: 'BAD_INPUT', details: { field: 'document' } });
  });

  it('a draft that was never published is replaced by the next save: numbers go to published versions only', async () => {
    const { pipeline } = await createPipeline(ctx, { name: 'node', source: 'scrape_configs: []\n' });
    expect((await saveDraft(ctx, pipeline.id, { selector: [], source: 'scrape_configs: [] # edit 1\n' })).version.version).toBe(1);
    expect((await saveDraft(ctx, pipeline.id, { selector: [], source: 'scrape_configs: [] # edit 2\n' })).version.version).toBe(1);
    await publishVersion(ctx, pipeline.id, 1, 'first');
    expect((await saveDraft(ctx, pipeline.id, { selector: [], source: 'scrape_configs: [] # edit 3\n' })).version.version).toBe(2);
    expect((await saveDraft(ctx, pipeline.id, { selector: [], source: 'scrape_configs: [] # edit 4\n' })).version.version).toBe(2);
    await publishVersion(ctx, pipeline.id, 2, 'second');
    await publishVersion(ctx, pipeline.id, 1, 'back');
    // A version that was published (v2) is history: the next draft is v3, and v2 stays.
    expect((await saveDraft(ctx, pipeline.id, { selector: [], source: 'scrape_configs: [] # edit 5\n' })).version.version).toBe(3);
    const p = await getPipeline(ctx, pipeline.id);
    expect(p.versions.map((v) => [v.version, v.published, v.publishedAt !== null, v.source])).toEqual([
      [3, false, false, 'scrape_configs: [] # edit 5\n'],
      [2, false, true, 'scrape_configs: [] # edit 4\n'],
      [1, true, true, 'scrape_configs: [] # edit 2\n'],
    ]);
  });

  it('a rename keeps published versions (and agents’ configs) as they are; changes that would break them are refused, naming them', async () => {
    const account = await dev();
    const { pipeline } = await createPipeline(ctx, { name: 'node', source: SOURCE });
    await publishVersion(ctx, pipeline.id, 1, 'go');
    const before = effectiveConfig((await loadPublishedPipelines(handle.db)).pipelines, {});
    expect(JSON.stringify(before.config)).toContain(ROLE);

    await updateAwsAccount(ctx, account.id, { accountId: '123456789012', name: 'development', defaultRegion: 'eu-west-1', roleArn: ROLE });
    const after = await loadPublishedPipelines(handle.db);
    expect(after.broken).toEqual([]);
    expect(effectiveConfig(after.pipelines, {}).configHash).toBe(before.configHash);
    // The IAM documents of the published version still name the (renamed) account's role.
    const policies = await policiesForPipeline(ctx, { pipelineId: pipeline.id, version: 1 });
    expect(policies.problems).toEqual([]);
    expect(policies.trust.crossAccount.map((c) => [c.account, c.roleArn])).toEqual([['development', ROLE]]);
    // A new draft must use a name that exists now; the old name is gone.
    await saveDraft(ctx, pipeline.id, { selector: [], source: SOURCE.replace('# Node', '# The node') });
    const stale = await rejects(publishVersion(ctx, pipeline.id, 2, 'stale name'));
    expect(stale.message).toMatch(/remote_write\[0\]\.aws_account: no registered AWS account "dev"/);

    // Moving the role to another partition would make v1 unsignable for its eu-west-1 endpoint.
    const moved = await rejects(updateAwsAccount(ctx, account.id, { accountId: '123456789012', name: 'development', defaultRegion: 'cn-north-1', roleArn: 'arn:aws-cn:iam::123456789012:role/fleet-writer' }));
    expect(moved.code).toBe('CONFLICT');
    expect(moved.message).toMatch(/would break published pipeline versions that use account development: node v1 \(remote_write\[0\]\.aws_account: .*partition aws-cn.*eu-west-1/);
    const deleted = await rejects(deleteAwsAccount(ctx, account.id));
    expect(deleted.code).toBe('CONFLICT');
    expect(deleted.message).toMatch(/account development is used by published pipeline versions: node v1\./);
    // Nothing changed.
    expect(effectiveConfig((await loadPublishedPipelines(handle.db)).pipelines, {}).configHash).toBe(before.configHash);
  });
});
