import { expect, test } from '@playwright/test';

// Runs against the server of playwright.config.ts (webServer), whose admin comes from ADMIN_EMAIL/ADMIN_PASSWORD.
const admin = { email: 'home-admin@example.com', password: 'home-admin-password' };

test('signed in, the fleet page shows the product and a ready, migrated database', async ({ page }) => {
  await page.goto('/');
  await expect(page).toHaveURL(/\/login\?next=%2F$/);
  await page.getByLabel('E-mail').fill(admin.email);
  await page.getByLabel('Password').fill(admin.password);
  await page.getByLabel('Password').press('Enter');

  await expect(page).toHaveURL(/\/$/);
  await expect(page).toHaveTitle('Fleet control plane');
  await expect(page.getByRole('banner')).toContainText('Fleet control plane');
  await expect(page.getByRole('banner')).toContainText(admin.email);
  await expect(page.getByRole('heading', { name: 'Fleet', exact: true })).toBeVisible();
  await expect(page.getByText('No agents enrolled yet.')).toBeVisible();
  await expect(page.getByRole('heading', { name: 'System status' })).toBeVisible();
  const facts = page.getByTestId('database-status');
  await expect(page.getByTestId('database-state')).toHaveText('Ready');
  await expect(facts).toContainText('PGlite (embedded)');
  await expect(facts).toContainText(/Migrations\s*(\d+) of \1 applied/);
});

test('the dashboard says what to do when the API does not answer', async ({ page }) => {
  await page.route('**/api/trpc/**', (route) => route.fulfill({ status: 502, body: 'Bad Gateway' }));
  await page.goto('/');
  const alert = page.getByRole('region', { name: 'System status' }).getByRole('alert');
  await expect(alert).toContainText('The API did not answer');
  await expect(alert).toContainText('Check that the control-plane process is running');
});
