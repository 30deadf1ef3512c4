import { expect, type Page } from '@playwright/test';
import { adminTest as test, ampDocument, createAccount, createPipeline } from './fixtures.js';

// A control plane of its own, signed in as its first admin; each test prepares its own (uniquely named) data.
test.use({ permissions: ['clipboard-read', 'clipboard-write'] });

// Runs in the page (the root tsconfig has no DOM types).
const clipboard = (page: Page) => page.evaluate<string>('navigator.clipboard.readText()');
const announcer = (page: Page) => page.getByTestId('announcer');

test('AWS accounts: inline errors for a bad account id, region and role ARN; add, copy and rotate the ExternalId', async ({ page }) => {
  await page.goto('/accounts');
  await expect(page.getByRole('heading', { name: 'AWS accounts' })).toBeVisible();

  // Escape closes a dialog and gives focus back to the button that opened it.
  const add = page.getByRole('button', { name: 'Add AWS account' }).first();
  await add.click();
  const dialog = page.getByRole('dialog', { name: 'Add AWS account' });
  await expect(dialog.getByLabel('Account ID')).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await expect(add).toBeFocused();

  await add.click();
  await dialog.getByLabel('Account ID').fill('12345');
  await dialog.getByLabel('Name', { exact: true }).fill('prod-accounts');
  await dialog.getByLabel('Default region').fill('mars-east-1');
  await dialog.getByLabel('Role ARN').fill('arn:aws:iam::123456789012:user/not-a-role');
  await dialog.getByLabel('Role ARN').press('Enter');
  await expect(dialog.getByLabel('Account ID')).toHaveAccessibleDescription(/must be the 12-digit AWS account id/);
  await expect(dialog.getByLabel('Default region')).toHaveAccessibleDescription(/not an AWS region: mars-east-1/);
  await expect(dialog.getByLabel('Role ARN')).toHaveAccessibleDescription(/not an IAM role ARN/);
  await expect(dialog.getByLabel('Account ID')).toHaveAttribute('aria-invalid', 'true');

  await dialog.getByLabel('Account ID').fill('123456789012');
  await dialog.getByLabel('Default region').fill('eu-west-1');
  await dialog.getByLabel('Role ARN').fill('arn:aws:iam::123456789012:role/amp-writer');
  await dialog.getByRole('button', { name: 'Add account' }).click();

  const done = page.getByRole('dialog', { name: 'prod-accounts is registered' });
  await expect(done).toBeVisible();
  const externalId = (await done.locator('code.big-code').textContent())!;
  expect(externalId).toMatch(/^fleet-\w+$/);
  await done.getByRole('button', { name: 'Copy ExternalId of prod-accounts' }).click();
  await expect(announcer(page)).toHaveText('Copied ExternalId of prod-accounts');
  expect(await clipboard(page)).toBe(externalId);
  await done.getByRole('button', { name: 'Done' }).click();

  const row = page.getByTestId('account-prod-accounts');
  await expect(row).toContainText('123456789012');
  await expect(row).toContainText('eu-west-1');
  await expect(row.getByTestId('external-id')).toHaveText(externalId);

  await row.getByRole('button', { name: 'Rotate the ExternalId of prod-accounts' }).click();
  const confirm = page.getByRole('dialog', { name: 'Rotate the ExternalId of prod-accounts?' });
  await confirm.getByRole('button', { name: 'Rotate ExternalId' }).click();
  await expect(confirm).toBeHidden();
  await expect(row.getByTestId('external-id')).not.toHaveText(externalId);
  await expect(row.getByTestId('external-id')).toHaveText(/^fleet-\w+$/);

  // A duplicate account id is reported on its field.
  await add.click();
  await dialog.getByLabel('Account ID').fill('123456789012');
  await dialog.getByLabel('Name', { exact: true }).fill('prod-again');
  await dialog.getByLabel('Default region').fill('eu-west-1');
  await dialog.getByLabel('Role ARN').fill('arn:aws:iam::123456789012:role/amp-writer');
  await dialog.getByRole('button', { name: 'Add account' }).click();
  await expect(dialog.getByLabel('Account ID')).toHaveAccessibleDescription(/registered already/);
});

const validYaml = (account: string, interval: string) => `global:
  scrape_interval: ${interval}
scrape_configs:
  - job_name: node
    static_configs: [{ targets: ['localhost:9100'] }]
remote_write:
  - url: https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-e2e/api/v1/remote_write
    aws_account: ${account}
`;

test('pipelines: create with an AMP destination, see validation errors, publish v1 and v2, diff, roll back to v1', async ({ page, admin }) => {
  await createAccount(admin, 'amp-pipelines');
  await page.goto('/pipelines');
  await page.getByRole('button', { name: 'New pipeline' }).first().click();
  const create = page.getByRole('dialog', { name: 'New pipeline' });
  await create.getByLabel('Name').fill('node-metrics');
  await create.getByLabel('Description (optional)').fill('node exporter to AMP');
  await create.getByLabel('Amazon Managed Prometheus remote-write URL').fill('https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-e2e/api/v1/remote_write');
  await create.getByLabel('AWS account that signs the writes').selectOption('amp-pipelines');
  await create.getByRole('button', { name: 'Create and edit' }).click();

  await expect(page).toHaveURL(/\/pipelines\/[0-9a-f-]{36}$/);
  await expect(page.getByRole('heading', { name: 'node-metrics', level: 1 })).toBeVisible();
  const editor = page.getByRole('textbox', { name: 'Document (YAML)' });
  await expect(editor).toHaveValue(/aws_account: amp-pipelines/);
  const validation = page.getByRole('region', { name: 'Validation' });
  await expect(validation).toContainText('Valid: agents can run this document.');
  // An empty selector matches every enrolled agent (other spec files may have enrolled some).
  await expect(page.getByTestId('selector-preview')).toHaveText(/Matches (\d+) of \1 agents?/);

  // Publish v1 with a note (the note is required).
  const versions = page.getByRole('table', { name: 'Versions' });
  await versions.getByRole('button', { name: 'Publish v1' }).click();
  let dialog = page.getByRole('dialog', { name: 'Publish v1' });
  await dialog.getByRole('button', { name: 'Publish v1' }).click();
  await expect(dialog.getByLabel('Why? (required)')).toHaveAccessibleDescription(/the note is required/);
  await dialog.getByLabel('Why? (required)').fill('first rollout');
  await dialog.getByLabel('Why? (required)').press('Enter');
  await expect(dialog).toBeHidden();
  await expect(announcer(page)).toHaveText('Published v1 of node-metrics');
  await expect(page.getByTestId('version-row-1')).toContainText('Published');
  await expect(page.getByTestId('version-row-1')).toContainText('first rollout');

  // A bad URL and a bad region are reported with their paths, and their lines are marked.
  await editor.fill(`scrape_configs:
  - job_name: node
    static_configs: [{ targets: ['localhost:9100'] }]
remote_write:
  - url: htp:/not-a-url
    aws_account: amp-pipelines
  - url: https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-e2e/api/v1/remote_write
    sigv4:
      region: mars-1
`);
  const issues = validation.getByTestId('validation-issue');
  await expect(issues.filter({ hasText: 'remote_write[0].url' })).toContainText('must be an http:// or https:// URL');
  await expect(issues.filter({ hasText: 'remote_write[1].sigv4.region' }).first()).toContainText('"mars-1" is not an AWS region name');
  await expect(issues.filter({ hasText: 'remote_write[0].url' })).toContainText('(line 5)');
  await expect(page.locator('.gutter-line.bad')).toHaveCount(2);

  // A YAML syntax error names its line.
  await editor.fill('scrape_configs:\n  - job_name: [node\n');
  await expect(validation).toContainText('YAML syntax');
  await expect(validation.getByRole('button', { name: /line \d+, column \d+/ })).toBeVisible();

  // Fixed: valid again; saved as draft v2.
  await editor.fill(validYaml('amp-pipelines', '15s'));
  await expect(validation).toContainText('Valid: agents can run this document.');
  await expect(page.getByText('Unsaved changes')).toBeVisible();
  await page.getByLabel('Note for this version').fill('scrape every 15s');
  await page.getByLabel('Note for this version').press('Enter');
  await expect(announcer(page)).toHaveText('Saved draft v2');
  await expect(page.getByTestId('version-row-2')).toContainText('scrape every 15s');
  await expect(page.getByText('Unsaved changes')).toBeHidden();

  await versions.getByRole('button', { name: 'Publish v2' }).click();
  dialog = page.getByRole('dialog', { name: 'Publish v2' });
  await dialog.getByLabel('Why? (required)').fill('faster scrapes');
  await dialog.getByRole('button', { name: 'Publish v2' }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByTestId('version-row-2')).toContainText('Published');

  // Diff: previous vs latest by default.
  const compare = page.getByRole('region', { name: 'Compare versions' });
  await expect(compare.getByLabel('From', { exact: true })).toHaveValue('1');
  await expect(compare.getByLabel('To', { exact: true })).toHaveValue('2');
  const diff = compare.getByTestId('diff');
  await expect(diff.locator('.diff-line.del')).toContainText(['scrape_interval: 30s']);
  await expect(diff.locator('.diff-line.add')).toContainText(['scrape_interval: 15s']);
  await compare.getByLabel('To', { exact: true }).selectOption('1');
  await expect(compare.getByTestId('diff-identical')).toHaveText('v1 and v1 are identical.');

  // Roll back to v1: the button says so.
  await versions.getByRole('button', { name: 'Roll back to v1' }).click();
  dialog = page.getByRole('dialog', { name: 'Roll back to v1' });
  await dialog.getByLabel('Why? (required)').fill('15s overloads the exporter');
  await dialog.getByRole('button', { name: 'Roll back to v1' }).click();
  await expect(dialog).toBeHidden();
  await expect(announcer(page)).toHaveText('Rolled back node-metrics to v1');
  await expect(page.getByTestId('version-row-1')).toContainText('Published');
  await expect(page.getByTestId('version-row-2')).toContainText('Was published');
  await expect(page.getByTestId('pipeline-status')).toContainText('Published v1');

  // The list shows it.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Pipelines' }).click();
  const row = page.getByRole('table', { name: 'Pipelines' }).getByRole('row', { name: /node-metrics/ });
  await expect(row).toContainText('v1');
  await expect(row).toContainText('draft');
});

test('policies: copy the generated permissions and trust policies of a pipeline writing to AMP through a registered account', async ({ page, admin }) => {
  const account = await createAccount(admin, 'amp-policies');
  const id = await createPipeline(admin, 'policies-pipeline', ampDocument('amp-policies'));
  await admin.mutate('pipelines.publish', { id, version: 1, note: 'for policies' });

  await page.goto('/policies');
  await page.getByLabel('Pipeline', { exact: true }).selectOption({ label: 'policies-pipeline' });
  await expect(page.getByLabel('Version', { exact: true })).toHaveValue('1');
  await page.getByLabel('Role name').fill('fleet-agent-e2e');
  await page.getByLabel('Collector role ARN (optional)').fill('arn:aws:iam::111122223333:role/fleet-agent-e2e');

  // The role in the registered account writes to the workspace: aps:RemoteWrite on it, trusted with the ExternalId.
  const writer = page.getByTestId('writer-amp-policies');
  const writerPermissions = writer.getByTestId('writer-permissions');
  await expect(writerPermissions.locator('pre')).toContainText('aps:RemoteWrite');
  await writerPermissions.getByRole('button', { name: 'Copy permissions policy of amp-policies' }).click();
  await expect(announcer(page)).toHaveText('Copied permissions policy of amp-policies');
  const copied = await clipboard(page);
  expect(copied).toBe(await writerPermissions.locator('pre').textContent());
  expect(JSON.stringify(JSON.parse(copied))).toContain('aps:RemoteWrite');
  expect(copied).toContain('workspace/ws-0123456789');

  const writerTrust = writer.getByTestId('writer-trust');
  await expect(writerTrust.locator('pre')).toContainText('arn:aws:iam::111122223333:role/fleet-agent-e2e');
  await writerTrust.getByRole('button', { name: 'Copy trust policy of amp-policies' }).click();
  await expect(announcer(page)).toHaveText('Copied trust policy of amp-policies');
  const trust = JSON.stringify(JSON.parse(await clipboard(page)));
  expect(trust).toContain('sts:AssumeRole');
  expect(trust).toContain(account.externalId);

  // The agents' own role may assume the writer role; EC2 trust and CLI commands are there too.
  const permissions = page.getByTestId('permissions-policy');
  await expect(permissions.locator('pre')).toContainText('sts:AssumeRole');
  await expect(permissions.locator('pre')).toContainText(account.roleArn);
  await page.getByTestId('trust-ec2').getByRole('button', { name: 'Copy EC2 trust policy' }).click();
  await expect(announcer(page)).toHaveText('Copied EC2 trust policy');
  expect(JSON.stringify(JSON.parse(await clipboard(page)))).toContain('ec2.amazonaws.com');
  await expect(page.getByTestId('cli').locator('pre')).toContainText('aws iam create-role');

  // IRSA appears once its three inputs are filled in.
  await page.getByLabel('OIDC provider or issuer URL').fill('https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE');
  await page.getByLabel('Namespace', { exact: true }).fill('monitoring');
  await page.getByLabel('Service account', { exact: true }).fill('fleet-agent');
  await expect(page.getByTestId('trust-irsa').locator('pre')).toContainText('system:serviceaccount:monitoring:fleet-agent');
});

test('policies: an editor changes a template (errors shown, history kept) and resets it to the built-in one', async ({ page }) => {
  await page.goto('/policies');
  const name = 'Amazon Managed Service for Prometheus: remote write';
  const templates = page.getByRole('table', { name: 'Policy templates' });
  await templates.getByRole('button', { name: `Edit template ${name}` }).click();
  const editor = page.getByRole('region', { name: new RegExp(`^${name.replace(/[:()]/g, '.')}`) });
  const body = editor.getByRole('textbox', { name: 'Template body (JSON with placeholders)' });
  const builtin = await body.inputValue();
  expect(builtin).toContain('"Sid": "AmpRemoteWrite"');

  await body.fill(builtin.replace('"Sid": "AmpRemoteWrite"', '"Sid": "{{no_such_placeholder}}"'));
  await editor.getByRole('button', { name: 'Save template' }).click();
  await expect(editor.getByRole('list', { name: 'Template problems' })).toContainText('unknown placeholder {{no_such_placeholder}}');
  await expect(editor.locator('.gutter-line.bad')).toHaveText(['5']);
  await expect(body).toHaveAttribute('aria-invalid', 'true');

  await body.fill(builtin.replace('"Sid": "AmpRemoteWrite"', '"Sid": "AmpRemoteWriteOnly"'));
  await editor.getByLabel('Note').fill('our Sid naming');
  await editor.getByLabel('Note').press('Enter');
  await expect(announcer(page)).toHaveText(`Saved v1 of template ${name}`);
  await expect(templates.getByRole('row', { name: new RegExp(name.replace(/[:()]/g, '.')) })).toContainText('Edited (v1)');
  await expect(editor.getByRole('table', { name: `History of ${name}` })).toContainText('our Sid naming');

  await editor.getByRole('button', { name: 'Reset to built-in…' }).click();
  await page.getByRole('dialog', { name: `Reset ${name} to the built-in template?` }).getByRole('button', { name: 'Reset template' }).click();
  await expect(announcer(page)).toHaveText(`Reset ${name} to the built-in template`);
  await expect(editor.getByRole('textbox', { name: 'Template body (JSON with placeholders)' })).toHaveValue(builtin);
  await expect(editor.getByRole('table', { name: `History of ${name}` })).toContainText('reset to the built-in template');
});

test('audit: publish, rollback and account creation are recorded with before and after', async ({ page, admin }) => {
  const account = await createAccount(admin, 'amp-audit');
  const id = await createPipeline(admin, 'audited-pipeline', ampDocument('amp-audit'));
  await admin.mutate('pipelines.publish', { id, version: 1, note: 'v1 out' });
  await admin.mutate('pipelines.saveDraft', { id, selector: [], document: ampDocument('amp-audit', 'ws-0123456789', '10s'), note: '10s' });
  await admin.mutate('pipelines.publish', { id, version: 2, note: 'v2 out' });
  await admin.mutate('pipelines.publish', { id, version: 1, note: 'back to v1' });

  await page.goto('/audit');
  const table = page.getByRole('table', { name: 'Audit log' });
  await page.getByRole('searchbox', { name: 'Search actor, action or target' }).fill('audited-pipeline');
  const rows = table.getByTestId('audit-row');
  await expect(rows.filter({ hasText: 'pipeline.rollback' })).toHaveCount(1);
  await expect(rows.filter({ hasText: 'pipeline.publish' })).toHaveCount(2);
  await expect(rows.filter({ hasText: 'pipeline.create' })).toHaveCount(1);
  await expect(rows.first()).toContainText('admin@example.com');

  await page.getByLabel('Action', { exact: true }).selectOption('pipeline.rollback');
  await expect(rows).toHaveCount(1);
  await rows.first().getByRole('button', { name: /Show details of pipeline.rollback/ }).click();
  await expect(page.getByLabel('Before')).toContainText('"publishedVersion": 2');
  await expect(page.getByLabel('After')).toContainText('"publishedVersion": 1');
  await expect(page.getByLabel('After')).toContainText('back to v1');

  await page.getByLabel('Action', { exact: true }).selectOption('');
  await page.getByRole('searchbox', { name: 'Search actor, action or target' }).fill('');
  await page.getByLabel('Target type', { exact: true }).selectOption('aws_account');
  await expect(rows.filter({ hasText: account.accountId })).toContainText('aws_account.create');
});

test('audit: "Load more" continues the log page by page', async ({ page, admin }) => {
  const id = await createPipeline(admin, 'busy-pipeline', ampDocument('nowhere'));
  for (let i = 0; i < 55; i++) {
    await admin.mutate('pipelines.saveDraft', { id, selector: [], document: ampDocument('nowhere', 'ws-0123456789', `${i + 1}s`), note: `draft ${i}` });
  }
  await page.goto('/audit?action=pipeline.draft&search=busy-pipeline');
  await expect(page.getByLabel('Action', { exact: true })).toHaveValue('pipeline.draft');
  const rows = page.getByRole('table', { name: 'Audit log' }).getByTestId('audit-row');
  await expect(rows).toHaveCount(50);
  await page.getByRole('button', { name: 'Load more' }).click();
  await expect(rows).toHaveCount(55);
  await expect(page.getByRole('button', { name: 'Load more' })).toBeHidden();
  await expect(page.getByText('End of the log.')).toBeVisible();
});

test('users: the admin adds a viewer, who sees pipelines read-only and whose publish call the API refuses (403)', async ({ page, browser, admin, fleet }) => {
  await createAccount(admin, 'amp-viewer');
  const id = await createPipeline(admin, 'viewer-pipeline', ampDocument('amp-viewer'));

  await page.goto('/users');
  await page.getByRole('button', { name: 'Add user' }).click();
  const dialog = page.getByRole('dialog', { name: 'Add user' });
  await dialog.getByLabel('E-mail').fill('vera.viewer@example.com');
  await dialog.getByLabel('Name').fill('Vera Viewer');
  await dialog.getByLabel('Role').selectOption('viewer');
  await dialog.getByLabel('Initial password').fill('short');
  await dialog.getByLabel('Initial password').press('Enter');
  await expect(dialog.getByLabel('Initial password')).toHaveAccessibleDescription(/must be at least 12 characters/);
  await dialog.getByLabel('Initial password').fill('viewer-password-1');
  await dialog.getByRole('button', { name: 'Add user' }).click();
  await expect(dialog).toBeHidden();
  const row = page.getByTestId('user-vera.viewer@example.com');
  await expect(row.getByLabel('Role of vera.viewer@example.com')).toHaveValue('viewer');
  await expect(row).toContainText('Active');

  const viewerContext = await browser.newContext({ baseURL: fleet.url, storageState: { cookies: [], origins: [] } });
  try {
    const viewer = await viewerContext.newPage();
    await viewer.goto(`/pipelines/${id}`);
    await expect(viewer).toHaveURL(/\/login\?next=/);
    await viewer.getByLabel('E-mail').fill('vera.viewer@example.com');
    await viewer.getByLabel('Password').fill('viewer-password-1');
    await viewer.getByLabel('Password').press('Enter');

    await expect(viewer.getByRole('heading', { name: 'viewer-pipeline', level: 1 })).toBeVisible();
    await expect(viewer.getByRole('banner').getByLabel('Role: viewer')).toBeVisible();
    await expect(viewer.getByRole('note')).toContainText('Read-only: you are a viewer.');
    await expect(viewer.getByRole('table', { name: 'Versions' })).toContainText('v1');
    await expect(viewer.getByRole('button', { name: /Publish|Roll back/ })).toHaveCount(0);
    await expect(viewer.getByRole('button', { name: 'Save draft' })).toHaveCount(0);
    await expect(viewer.getByRole('textbox', { name: 'Document (YAML)' })).toHaveAttribute('readonly', '');
    await expect(viewer.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' })).toHaveCount(0);

    const res = await viewer.request.post('/api/trpc/pipelines.publish', { data: { id, version: 1, note: 'sneaky' } });
    expect(res.status()).toBe(403);
    const body = (await res.json()) as { error: { data: { code: string } } };
    expect(body.error.data.code).toBe('FORBIDDEN');
  } finally {
    await viewerContext.close();
  }

  // The admin disables the viewer (with confirmation).
  await row.getByRole('button', { name: 'Disable vera.viewer@example.com' }).click();
  await page.getByRole('dialog', { name: 'Disable vera.viewer@example.com?' }).getByRole('button', { name: 'Disable user' }).click();
  await expect(row).toContainText('Disabled');
});
