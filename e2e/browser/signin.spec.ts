import { expect } from '@playwright/test';
import { ADMIN, adminTest } from './fixtures.js';

// Pages of this test start signed out (the admin exists).
const test = adminTest;
test.use({ storageState: { cookies: [], origins: [] } });

test('sign-in sends you back to the page you asked for; a wrong password is said plainly; sign out ends the session', async ({ page }) => {
  await page.goto('/audit?x=1');
  await expect(page).toHaveURL(/\/login\?next=%2Faudit%3Fx%3D1$/);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();

  await page.getByLabel('E-mail').fill(ADMIN.email);
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('main').getByRole('alert')).toHaveText('Wrong e-mail or password.');

  await page.getByLabel('Password').fill(ADMIN.password);
  await page.getByLabel('Password').press('Enter');
  await expect(page).toHaveURL(/\/audit\?x=1$/);
  await expect(page.getByRole('heading', { name: 'Audit' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Audit' })).toHaveAttribute('aria-current', 'page');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto('/accounts');
  await expect(page).toHaveURL(/\/login\?next=%2Faccounts$/);
});
