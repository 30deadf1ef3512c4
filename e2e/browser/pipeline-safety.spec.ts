import { expect, type Page } from '@playwright/test';
import { adminTest as test, createAccount } from './fixtures.js';

const announcer = (page: Page) => page.getByTestId('announcer');
const AMP = 'https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-safety/api/v1/remote_write';

/** What an operator pastes: comments, their own key order. */
const yaml = (account: string, interval: string) => `# Node exporter to AMP — owned by the SRE team
remote_write:
  - url: ${AMP}
    aws_account: ${account}   # the team's AMP account
scrape_configs:
  - job_name: node
    scrape_interval: ${interval}
    static_configs: [{ targets: ['localhost:9100'] }]
`;

test('pipeline editor: the YAML is kept as pasted, unsaved text is never lost silently, only published versions can be rolled back to, cards follow a publish', async ({ page, admin }) => {
  await createAccount(admin, 'amp-safety');
  const created = await admin.mutate<{ pipeline: { id: string } }>('pipelines.create', { name: 'safety-pipeline', selector: [{ name: 'env', op: '=', value: 'prod' }], source: yaml('amp-safety', '30s') });
  const id = created.pipeline.id;
  await admin.mutate('pipelines.publish', { id, version: 1, note: 'first' });

  await page.goto(`/pipelines/${id}`);
  const editor = page.getByRole('textbox', { name: 'Document (YAML)' });
  // Comments and key order as written.
  await expect(editor).toHaveValue(yaml('amp-safety', '30s'));
  await expect(page.getByText('Unsaved changes')).toBeHidden();

  // An edit that is not saved: a link in the app asks before leaving; declining keeps the text.
  await editor.fill(yaml('amp-safety', '15s'));
  await expect(page.getByText('Unsaved changes')).toBeVisible();
  let asked = '';
  page.once('dialog', (d) => {
    asked = d.message();
    void d.dismiss();
  });
  await page.getByRole('link', { name: 'Pipelines', exact: true }).first().click();
  await expect.poll(() => asked).toContain('not saved');
  await expect(page).toHaveURL(new RegExp(`/pipelines/${id}$`));
  await expect(editor).toHaveValue(yaml('amp-safety', '15s'));

  // Save it as draft v2 (a new number only because v1 was published).
  await page.getByLabel('Note for this version').fill('every 15s');
  await page.getByRole('button', { name: 'Save draft' }).click();
  await expect(announcer(page)).toHaveText('Saved draft v2');
  await expect(page.getByTestId('version-row-2')).toContainText('draft v2');
  await expect(editor).toHaveValue(yaml('amp-safety', '15s'));

  // Publishing with unsaved changes says it publishes the stored version, not the editor's text.
  await editor.fill(yaml('amp-safety', '5s'));
  await page.getByRole('button', { name: 'Publish v2…' }).click();
  let dialog = page.getByRole('dialog', { name: 'Publish v2' });
  await expect(dialog.getByTestId('publish-unsaved')).toContainText('This publishes v2 as stored');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await editor.fill(yaml('amp-safety', '15s'));
  await expect(page.getByText('Unsaved changes')).toBeHidden();

  // Publish v2: header, versions and rollout follow without a reload.
  await page.getByRole('button', { name: 'Publish v2…' }).click();
  dialog = page.getByRole('dialog', { name: 'Publish v2' });
  await expect(dialog.getByTestId('publish-unsaved')).toHaveCount(0);
  await dialog.getByLabel('Why? (required)').fill('faster scrapes');
  await dialog.getByRole('button', { name: 'Publish v2' }).click();
  await expect(announcer(page)).toHaveText('Published v2 of safety-pipeline');
  await expect(page.getByTestId('pipeline-status')).toContainText('Published v2');
  await expect(page.getByTestId('rollout')).toContainText('v2');

  // A new draft with another selector; rolling back to v1 from a v3 that changed the selector says so.
  await page.getByLabel('Value, row 1').fill('staging');
  await page.getByRole('button', { name: 'Save draft' }).click();
  await expect(announcer(page)).toHaveText('Saved draft v3');
  await page.getByRole('button', { name: 'Publish v3…' }).click();
  dialog = page.getByRole('dialog', { name: 'Publish v3' });
  await expect(dialog.getByTestId('publish-selector-change')).toContainText('from {env="prod"} to {env="staging"}');
  await dialog.getByLabel('Why? (required)').fill('staging only');
  await dialog.getByRole('button', { name: 'Publish v3' }).click();
  await expect(announcer(page)).toHaveText(/Published v3 of safety-pipeline; it now applies to \{env="staging"\} instead of \{env="prod"\}/);

  // Every earlier version was published, so each offers a rollback; the rollback says the selector changes back.
  const versions = page.getByRole('table', { name: 'Versions' });
  await expect(versions.getByRole('button', { name: 'Roll back to v1' })).toBeVisible();
  await versions.getByRole('button', { name: 'Roll back to v2' }).click();
  dialog = page.getByRole('dialog', { name: 'Roll back to v2' });
  await expect(dialog.getByTestId('publish-selector-change')).toContainText('from {env="staging"} to {env="prod"}');
  await dialog.getByLabel('Why? (required)').fill('back to prod');
  await dialog.getByRole('button', { name: 'Roll back to v2' }).click();
  await expect(announcer(page)).toHaveText(/Rolled back safety-pipeline to v2; it now applies to \{env="prod"\}/);
  await expect(page.getByTestId('pipeline-status')).toContainText('Published v2');

  // A draft that is never published does not take a number: saving twice keeps it "draft v4".
  await editor.fill(yaml('amp-safety', '20s'));
  await page.getByRole('button', { name: 'Save draft' }).click();
  await expect(announcer(page)).toHaveText('Saved draft v4');
  await editor.fill(yaml('amp-safety', '25s'));
  await page.getByRole('button', { name: 'Save draft' }).click();
  await expect(announcer(page)).toHaveText('Saved draft v4');
  await expect(page.getByTestId('version-row-5')).toHaveCount(0);
  // Only the draft newer than the published version can be published; it is not a rollback target.
  await expect(page.getByTestId('version-row-4').getByRole('button', { name: 'Publish v4' })).toBeVisible();
  await expect(versions.getByRole('button', { name: /Roll back to v4/ })).toHaveCount(0);

  // Renaming the account keeps the published version running: no failure in the rollout.
  const accounts = await admin.query<Array<{ id: string; accountId: string; roleArn: string; defaultRegion: string; name: string }>>('accounts.list');
  const account = accounts.find((a) => a.name === 'amp-safety')!;
  await admin.mutate('accounts.update', { id: account.id, account: { accountId: account.accountId, name: 'amp-safety-renamed', defaultRegion: account.defaultRegion, roleArn: account.roleArn } });
  await page.reload();
  await expect(page.getByTestId('pipeline-status')).toContainText('Published v2');
  await expect(page.getByTestId('rollout-build-problem')).toHaveCount(0);
  // Deleting it is refused, naming the published version.
  await page.goto('/accounts');
  await page.getByRole('button', { name: 'Delete amp-safety-renamed' }).click();
  const confirm = page.getByRole('dialog', { name: 'Delete amp-safety-renamed?' });
  await confirm.getByRole('button', { name: 'Delete account' }).click();
  await expect(confirm).toContainText('is used by published pipeline versions: safety-pipeline v2');
});
