import { expect } from '@playwright/test';
import { ADMIN, test } from './fixtures.js';

// A fresh control plane without any operator: the first admin is created with the printed link.

test('first run: sign-in explains the setup link; the printed link creates the admin, who is signed in', async ({ page, fleet }) => {
  const link = fleet.server.setupLink();
  expect(link, 'the server prints a setup link on first run').toMatch(/\/setup\?token=[\w-]+$/);

  // Any page sends a visitor to the sign-in page, which explains how to create the first admin.
  await page.goto('/pipelines');
  await expect(page).toHaveURL(/\/login\?next=%2Fpipelines$/);
  await expect(page.getByRole('heading', { name: 'Create the first admin' })).toBeVisible();
  await expect(page.getByText('Open the one-time setup link')).toBeVisible();
  await expect(page.getByText('ADMIN_EMAIL')).toBeVisible();

  // A wrong token says what to do.
  await page.goto('/setup?token=not-the-token');
  await expect(page.getByRole('main').getByRole('alert')).toContainText('The setup link is invalid, used or expired.');

  await page.goto(new URL(link!).pathname + new URL(link!).search);
  await expect(page.getByRole('heading', { name: 'Create the first admin' })).toBeVisible();
  await page.getByLabel('Name').fill(ADMIN.name);
  await page.getByLabel('E-mail').fill(ADMIN.email);
  await page.getByLabel('Password', { exact: true }).fill('short');
  await page.getByLabel('Repeat the password').fill('short');
  await page.getByRole('button', { name: 'Create admin and sign in' }).click();
  await expect(page.getByLabel('Password', { exact: true })).toHaveAccessibleDescription(/must be at least 12 characters/);

  await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
  await page.getByLabel('Repeat the password').fill(ADMIN.password);
  await page.getByLabel('Repeat the password').press('Enter');

  await expect(page).toHaveURL(/\/$/);
  const banner = page.getByRole('banner');
  await expect(banner).toContainText(ADMIN.name);
  await expect(banner.getByLabel('Role: admin')).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' })).toBeVisible();

  // The link is single-use.
  await page.goto(new URL(link!).pathname + new URL(link!).search);
  await expect(page.getByRole('heading', { name: 'Setup is complete' })).toBeVisible();
});
