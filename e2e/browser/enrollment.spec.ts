import { expect, type APIRequestContext, type Page } from '@playwright/test';
import { adminTest as test, ADMIN, FleetApi } from './fixtures.js';

// A control plane of its own (its own worker: fleetEnv differs from other spec files'), signed in
// as its first admin. The first test sees the empty page; every test names its tokens uniquely.
test.use({ permissions: ['clipboard-read', 'clipboard-write'], fleetEnv: { LOG_LEVEL: 'info', FLEET_SPEC: 'enrollment' } });

// Runs in the page (the root tsconfig has no DOM types).
const clipboard = (page: Page) => page.evaluate<string>('navigator.clipboard.readText()');
const announcer = (page: Page) => page.getByTestId('announcer');

/** Opens "New token", fills name, max uses and labels, creates it; resolves to the secret shown once. */
async function createToken(page: Page, name: string, options: { maxUses?: string; labels?: Array<[string, string]>; expiry?: string } = {}) {
  await page.getByRole('button', { name: 'New token' }).first().click();
  const dialog = page.getByRole('dialog', { name: 'New enrollment token' });
  await expect(dialog.getByLabel('Name', { exact: true })).toBeFocused();
  await dialog.getByLabel('Name', { exact: true }).fill(name);
  if (options.expiry) await dialog.getByLabel(options.expiry, { exact: true }).check();
  if (options.maxUses) await dialog.getByLabel('Max uses').fill(options.maxUses);
  for (const [i, [key, value]] of (options.labels ?? []).entries()) {
    if (i > 0) {
      await dialog.getByRole('button', { name: 'Add label' }).click();
      await expect(dialog.getByLabel(`Label ${i + 1} name`)).toBeFocused();
    }
    await dialog.getByLabel(`Label ${i + 1} name`).fill(key);
    await dialog.getByLabel(`Label ${i + 1} value`).fill(value);
  }
  await dialog.getByRole('button', { name: 'Create token' }).click();
  const created = page.getByRole('dialog', { name: `Token ${name} created` });
  await expect(created).toBeVisible();
  const secret = (await created.getByTestId('token-secret').textContent())!;
  expect(secret).toMatch(/^fet_[\w-]{43}$/);
  return { created, secret };
}

/** What `fleet-agent enroll` sends. */
function enroll(request: APIRequestContext, token: string, hostname: string) {
  return request.post('/agent/v1/enroll', { data: { token, description: { hostname, version: 'test', platform: 'generic', labels: {} } } });
}

test('enrollment: create a token with labels and max uses 2, copy its secret and install commands (shown once), then revoke it', async ({ page, fleet, request }) => {
  await page.goto('/enrollment');
  await expect(page.getByRole('heading', { name: 'Enrollment', level: 1 })).toBeVisible();
  await expect(page.getByText('No enrollment tokens yet.')).toBeVisible();
  await expect(page.getByText(`fleet-agent enroll --server ${fleet.url} --token <token>`)).toBeVisible();

  // Escape closes the dialog and gives focus back to the button that opened it.
  const newButton = page.getByRole('button', { name: 'New token' }).first();
  await newButton.click();
  await expect(page.getByRole('dialog', { name: 'New enrollment token' })).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByRole('dialog', { name: 'New enrollment token' })).toBeHidden();
  await expect(newButton).toBeFocused();

  const { created, secret } = await createToken(page, 'web-prod', { maxUses: '2', expiry: '7 days', labels: [['env', 'prod'], ['team', 'web']] });
  await expect(created).toContainText('it is shown only once');
  await expect(announcer(page)).toContainText('Created enrollment token web-prod');

  // The token, and the commands that use it, each with a Copy button.
  await expect(created.getByRole('button', { name: 'Copy enrollment token web-prod' })).toBeFocused();
  await created.getByRole('button', { name: 'Copy enrollment token web-prod' }).click();
  await expect(announcer(page)).toHaveText('Copied enrollment token web-prod');
  expect(await clipboard(page)).toBe(secret);

  const enrollCommand = `fleet-agent enroll --server ${fleet.url} --token ${secret}`;
  await expect(created.getByTestId('install-enroll').locator('pre')).toHaveText(enrollCommand);
  await created.getByRole('button', { name: 'Copy enroll command', exact: true }).click();
  await expect(announcer(page)).toHaveText('Copied enroll command');
  expect(await clipboard(page)).toBe(enrollCommand);
  await expect(created.getByTestId('install-run').locator('pre')).toHaveText(`fleet-agent run --server ${fleet.url}`);
  await expect(created.getByTestId('install-env').locator('pre')).toHaveText(`FLEET_SERVER=${fleet.url} FLEET_ENROLLMENT_TOKEN=${secret} fleet-agent enroll`);
  await expect(created.getByTestId('install-k8s-secret').locator('pre')).toContainText(`--from-literal=token=${secret}`);
  await expect(created.getByTestId('install-k8s-env').locator('pre')).toContainText('name: FLEET_ENROLLMENT_TOKEN');
  await expect(created.getByTestId('install-k8s-env').locator('pre')).toContainText('secretKeyRef:');

  // Closing forgets it: it is nowhere on the page any more, not even when the dialog opens again.
  await created.getByRole('button', { name: 'Done' }).click();
  await expect(created).toBeHidden();
  await expect(page.getByText(secret)).toHaveCount(0);
  await newButton.click();
  await expect(page.getByRole('dialog', { name: 'New enrollment token' }).getByLabel('Name', { exact: true })).toHaveValue('');
  await page.getByRole('dialog', { name: 'New enrollment token' }).getByRole('button', { name: 'Cancel' }).click();
  await expect(page.getByText(secret)).toHaveCount(0);

  const row = page.getByTestId('token-web-prod');
  await expect(row.getByTestId('token-state')).toHaveText('Active');
  await expect(row.getByTestId('token-uses')).toHaveText('0 / 2');
  await expect(row).toContainText(`${secret.slice(0, 10)}…`);
  await expect(row).toContainText('env=prod');
  await expect(row).toContainText('team=web');
  await expect(row).toContainText('Any');
  await expect(row).toContainText(ADMIN.email);
  await expect(row).toContainText('never');
  const expires = row.locator('time').filter({ hasText: 'in 7 days' });
  await expect(expires).toBeVisible();
  await expect(expires).toHaveAttribute('title', /\d{4}/);

  // Search by label, and a search that matches nothing (Escape clears it).
  const search = page.getByRole('searchbox', { name: 'Search tokens' });
  await page.keyboard.press('/');
  await expect(search).toBeFocused();
  await search.fill('team=web');
  await expect(row).toBeVisible();
  await search.fill('no-such-token');
  await expect(page.getByText('No token matches “no-such-token”.')).toBeVisible();
  await search.press('Escape');
  await expect(row).toBeVisible();

  // Revoke, confirmed: it stays listed, greyed, without actions, and enrolls nobody.
  await row.getByRole('button', { name: 'Revoke web-prod' }).click();
  const confirm = page.getByRole('dialog', { name: 'Revoke web-prod?' });
  await expect(confirm).toContainText('No agent has enrolled with it yet.');
  await confirm.getByRole('button', { name: 'Revoke token' }).click();
  await expect(confirm).toBeHidden();
  await expect(announcer(page)).toHaveText('Revoked enrollment token web-prod');
  await expect(row.getByTestId('token-state')).toHaveText('Revoked');
  await expect(row).toHaveAttribute('data-state', 'revoked');
  await expect(row.getByRole('button', { name: 'Revoke web-prod' })).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId('token-web-prod').getByTestId('token-state')).toHaveText('Revoked');

  const refused = await enroll(request, secret, 'too-late');
  expect(refused.status()).toBe(401);
  expect(await refused.text()).toContain('revoked');
});

test('enrollment: a bad label name is flagged on its row before sending; the server’s field errors appear on their fields', async ({ page, admin }) => {
  await page.goto('/enrollment');
  await page.getByRole('button', { name: 'New token' }).first().click();
  const dialog = page.getByRole('dialog', { name: 'New enrollment token' });
  await dialog.getByLabel('Name', { exact: true }).fill('bad-input');

  // Inline, as it is typed, and the form is not sent.
  const labelName = dialog.getByLabel('Label 1 name');
  await labelName.fill('1st-label');
  await dialog.getByLabel('Label 1 value').fill('x');
  await expect(labelName).toHaveAttribute('aria-invalid', 'true');
  await expect(labelName).toHaveAccessibleDescription(/not a valid label name/);
  await dialog.getByRole('button', { name: 'Create token' }).click();
  await expect(labelName).toBeFocused();
  await expect(dialog).toBeVisible();
  expect((await admin.query<Array<{ name: string }>>('enrollment.list')).map((t) => t.name)).not.toContain('bad-input');
  await labelName.fill('first_label');
  await expect(labelName).not.toHaveAttribute('aria-invalid', 'true');

  // A name used twice.
  await dialog.getByRole('button', { name: 'Add label' }).click();
  await dialog.getByLabel('Label 2 name').fill('first_label');
  await expect(dialog.getByLabel('Label 2 name')).toHaveAccessibleDescription(/first_label is set twice/);
  await dialog.getByRole('button', { name: 'Remove label 2 (first_label)' }).click();
  await expect(dialog.getByLabel('Label 2 name')).toHaveCount(0);

  // The server checks the AWS rules and a custom expiry; each error lands on its field.
  await dialog.getByLabel('Custom', { exact: true }).check();
  await dialog.getByLabel('Hours', { exact: true }).fill('0');
  await dialog.getByLabel('Require AWS identity').check();
  await dialog.getByLabel('Account IDs (one per line)').fill('12345\n123456789012');
  await dialog.getByLabel('Role ARN patterns (one per line)').fill('arn:aws:iam::123456789012:user/fleet');
  await dialog.getByRole('button', { name: 'Create token' }).click();
  await expect(dialog.getByLabel('Hours', { exact: true })).toHaveAccessibleDescription(/at least 1 hour/);
  await expect(dialog.getByLabel('Account IDs (one per line)')).toHaveAccessibleDescription(/12345: must be a 12-digit account id/);
  await expect(dialog.getByLabel('Role ARN patterns (one per line)')).toHaveAccessibleDescription(/not an IAM role ARN pattern/);
  await expect(dialog.getByRole('alert')).toHaveText('Fix the fields marked above, then try again.');
  await expect(dialog.getByLabel('Hours', { exact: true })).toBeFocused();

  await dialog.getByLabel('Hours', { exact: true }).fill('48');
  await dialog.getByLabel('Account IDs (one per line)').fill('');
  await dialog.getByLabel('Role ARN patterns (one per line)').fill('');
  await dialog.getByRole('button', { name: 'Create token' }).click();
  await expect(dialog.getByText('name at least one account id or role ARN pattern')).toBeVisible();

  // Fixed: created, bound to an AWS role pattern.
  await dialog.getByLabel('Role ARN patterns (one per line)').fill('arn:aws:iam::123456789012:role/fleet-*');
  await dialog.getByRole('button', { name: 'Create token' }).click();
  const created = page.getByRole('dialog', { name: 'Token bad-input created' });
  await expect(created).toBeVisible();
  await created.getByRole('button', { name: 'Done' }).click();
  const row = page.getByTestId('token-bad-input');
  await expect(row).toContainText('AWS identity required');
  await expect(row).toContainText('first_label=x');
  await expect(row.getByTestId('token-uses')).toHaveText('0 / ∞');
});

test('enrollment: an agent enrolls with a token created in the UI; uses go 1 / 2, then 2 / 2 and the token is used up', async ({ page, request }) => {
  await page.goto('/enrollment');
  const { created, secret } = await createToken(page, 'agent-join', { maxUses: '2', labels: [['env', 'test']] });
  await created.getByRole('button', { name: 'Done' }).click();
  const row = page.getByTestId('token-agent-join');
  await expect(row.getByTestId('token-uses')).toHaveText('0 / 2');

  const first = await enroll(request, secret, 'h1');
  expect(first.status()).toBe(201);
  const body = (await first.json()) as { agentId: string; agentSecret: string };
  expect(body.agentId).toMatch(/^[0-9a-f-]{36}$/);

  await page.reload();
  await expect(row.getByTestId('token-uses')).toHaveText('1 / 2');
  await expect(row.getByTestId('token-state')).toHaveText('Active');
  await expect(row).not.toContainText('never');
  await expect(row.locator('time').filter({ hasText: 'just now' }).first()).toBeVisible();

  expect((await enroll(request, secret, 'h2')).status()).toBe(201);
  const third = await enroll(request, secret, 'h3');
  expect(third.status()).toBe(401);
  expect(await third.text()).toContain('used up');
  await page.reload();
  await expect(row.getByTestId('token-uses')).toHaveText('2 / 2');
  await expect(row.getByTestId('token-state')).toHaveText('Used up');
  // A used-up token can still be revoked.
  await expect(row.getByRole('button', { name: 'Revoke agent-join' })).toBeVisible();
});

test('enrollment: a viewer sees a read-only note and no token actions; the API refuses them (403)', async ({ browser, admin, fleet }) => {
  const viewer = { email: 'vic.viewer@example.com', name: 'Vic Viewer', role: 'viewer', password: 'viewer-password-12' };
  await admin.mutate('users.create', viewer);
  const api = await FleetApi.signIn(fleet.url, viewer.email, viewer.password);
  const context = await browser.newContext({ baseURL: fleet.url, storageState: await api.storageState() });
  try {
    const page = await context.newPage();
    await page.goto('/enrollment');
    await expect(page.getByRole('heading', { name: 'Enrollment', level: 1 })).toBeVisible();
    await expect(page.getByRole('note')).toContainText('Read-only: you are a viewer.');
    await expect(page.getByText('Ask an admin for an enrollment token.')).toBeVisible();
    await expect(page.getByRole('button', { name: 'New token' })).toHaveCount(0);
    await expect(page.getByRole('table', { name: 'Enrollment tokens' })).toHaveCount(0);

    const res = await page.request.get('/api/trpc/enrollment.list');
    expect(res.status()).toBe(403);
  } finally {
    await context.close();
    await api.dispose();
  }
});

test('enrollment: a token can forbid labels the agent declares; the list says so and such an agent is refused', async ({ page, request, admin }) => {
  await page.goto('/enrollment');
  await page.getByRole('button', { name: 'New token' }).first().click();
  const dialog = page.getByRole('dialog', { name: 'New enrollment token' });
  await dialog.getByLabel('Name', { exact: true }).fill('strict-labels');
  await dialog.getByLabel('Label 1 name').fill('team');
  await dialog.getByLabel('Label 1 value').fill('sre');
  const allow = dialog.getByRole('checkbox', { name: 'Agents may add labels of their own' });
  // Allowed by default, and the hint says what it means.
  await expect(allow).toBeChecked();
  await expect(allow).toHaveAccessibleDescription(/up to 20 more labels .* can never change a label set here/);
  await allow.uncheck();
  await expect(allow).toHaveAccessibleDescription(/one that declares labels of its own is refused/);
  await dialog.getByRole('button', { name: 'Create token' }).click();
  const created = page.getByRole('dialog', { name: 'Token strict-labels created' });
  await expect(created).toContainText('token labels only');
  const secret = (await created.getByTestId('token-secret').textContent())!;
  await created.getByRole('button', { name: 'Done' }).click();
  await expect(page.getByTestId('token-strict-labels').getByTestId('token-agent-labels')).toHaveText('token labels only');

  // An agent that declares env=prod on it is refused, naming the label; without labels it gets team=sre only.
  const declared = await request.post('/agent/v1/enroll', { data: { token: secret, description: { hostname: 'h-strict', version: 'test', platform: 'generic', labels: { env: 'prod' } } } });
  expect(declared.status()).toBe(403);
  expect(await declared.json()).toMatchObject({ field: 'description.labels', error: expect.stringContaining('(env)') });
  const plain = await enroll(request, secret, 'h-strict');
  expect(plain.status()).toBe(201);
  const tokens = await admin.query<Array<{ name: string; allowAgentLabels: boolean }>>('enrollment.list');
  expect(tokens.find((t) => t.name === 'strict-labels')).toMatchObject({ allowAgentLabels: false });
});
