import { expect, test } from '@playwright/test';

test('home page shows the product and a ready, migrated database', async ({ page }) => {
  await page.goto('/');
  await expect(page).toHaveTitle('Fleet control plane');
  await expect(page.getByRole('banner')).toContainText('Fleet control plane');
  await expect(page.getByRole('heading', { name: 'System status' })).toBeVisible();
  const facts = page.getByTestId('database-status');
  await expect(page.getByTestId('database-state')).toHaveText('Ready');
  await expect(facts).toContainText('PGlite (embedded)');
  await expect(facts).toContainText(/Migrations\s*(\d+) of \1 applied/);
});

test('home page says what to do when the API does not answer', async ({ page }) => {
  await page.route('**/api/trpc/**', (route) => route.fulfill({ status: 502, body: 'Bad Gateway' }));
  await page.goto('/');
  const alert = page.getByRole('region', { name: 'System status' }).getByRole('alert');
  await expect(alert).toContainText('The API did not answer');
  await expect(alert).toContainText('Check that the control-plane process is running');
});
