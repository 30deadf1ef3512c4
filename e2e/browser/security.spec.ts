import { expect, type Page } from '@playwright/test';
import { ADMIN, adminTest } from './fixtures.js';

// Pages of this test start signed out (the admin exists).
const test = adminTest;
test.use({ storageState: { cookies: [], origins: [] } });

/** Records every Content-Security-Policy violation the page reports (event and console). */
async function watchCsp(page: Page): Promise<string[]> {
  const violations: string[] = [];
  await page.exposeFunction('reportCspViolation', (v: string) => violations.push(v));
  await page.addInitScript({
    content: "document.addEventListener('securitypolicyviolation', (e) => window.reportCspViolation(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`));",
  });
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text());
  });
  return violations;
}

test('the pages run under the strict CSP without a violation, signed out and signed in', async ({ page, fleet }) => {
  const violations = await watchCsp(page);
  const login = await page.goto('/login');
  expect(login!.headers()['content-security-policy']).toMatch(/script-src 'self' 'nonce-[^']+'/);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();

  await page.getByLabel('E-mail').fill(ADMIN.email);
  await page.getByLabel('Password').fill(ADMIN.password);
  await page.getByLabel('Password').press('Enter');
  // The form is handled by the hydrated app (a script-less page would submit a GET form).
  await expect(page).toHaveURL(`${fleet.url}/`);
  await expect(page.getByRole('heading', { name: 'Fleet', exact: true })).toBeVisible();
  await expect(page.getByTestId('database-state')).toHaveText('Ready');

  await page.getByRole('link', { name: 'Pipelines' }).click();
  await expect(page.getByRole('heading', { name: 'Pipelines', exact: true })).toBeVisible();
  await page.goto('/audit');
  await expect(page.getByRole('heading', { name: 'Audit' })).toBeVisible();
  expect(violations).toEqual([]);

  // The policy is enforced (and the watch above sees it): an injected inline script is refused.
  await page.evaluate("const s = document.createElement('script'); s.textContent = 'window.injected = true'; document.body.append(s);");
  await expect.poll(() => violations.length).toBeGreaterThan(0);
  expect(violations[0]).toMatch(/script-src/);
  expect(await page.evaluate('window.injected')).toBeUndefined();
});

test('sign-in never sends the operator off-site (next=%2F%09%2Fevil.example)', async ({ page, fleet }) => {
  await page.goto('/login?next=%2F%09%2Fevil.example');
  await page.getByLabel('E-mail').fill(ADMIN.email);
  await page.getByLabel('Password').fill(ADMIN.password);
  await page.getByLabel('Password').press('Enter');
  await expect(page).toHaveURL(`${fleet.url}/`);
  await expect(page.getByRole('heading', { name: 'Fleet', exact: true })).toBeVisible();
  // Signed in already, the sign-in page goes on at once: still home, never evil.example.
  await page.goto('/login?next=%2F%09%2Fevil.example');
  await expect(page).toHaveURL(`${fleet.url}/`);
});

test('the dashboard cannot be framed by another page', async ({ page, fleet }) => {
  const refused = page.waitForEvent('console', (msg) => /frame-ancestors|X-Frame-Options/i.test(msg.text()));
  await page.setContent(`<iframe title="fleet" src="${fleet.url}/"></iframe>`);
  expect((await refused).text()).toContain(fleet.url);
});
