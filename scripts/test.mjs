// `npm test`: install what is missing, build, type-check and lint every workspace, then run
// the unit/system tests (Vitest) and the browser tests (Playwright, Debian's Chromium).
// Writes .test-results/summary.json and ends with a line `N passed, N failed`.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureDependencies, must, root, run, turbo } from './lib.mjs';

const ci = process.env.CI === 'true';
const results = path.join(root, '.test-results');
rmSync(results, { recursive: true, force: true });
mkdirSync(results, { recursive: true });

await ensureDependencies();
await must(turbo, ['run', 'build', 'typecheck', 'lint', 'check:root', '--output-logs=errors-only'], 'Build, type-check and lint');

const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const totals = { passed: 0, failed: 0, skipped: 0 };
let runnerFailed = false;

// Vitest: unit, database and whole-process tests.
const vitestJson = path.join(results, 'vitest.json');
const vitestCode = await run(bin('vitest'), ['run'], { env: { ...process.env, VITEST_JSON: vitestJson } });
if (existsSync(vitestJson)) {
  const report = JSON.parse(readFileSync(vitestJson, 'utf8'));
  totals.passed += report.numPassedTests;
  totals.failed += report.numFailedTests;
  totals.skipped += report.numPendingTests + report.numTodoTests;
  if (vitestCode !== 0 && report.numFailedTests === 0) runnerFailed = true; // e.g. a suite failed to load
} else runnerFailed = true;

// Playwright: browser tests against a real server.
const chromium = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
if (!existsSync(chromium) && !ci) {
  console.log(`\nBrowser tests skipped: ${chromium} not found (apt-get install chromium, or set CHROMIUM_PATH).`);
  totals.skipped += 1;
} else {
  const pwJson = path.join(results, 'playwright.json');
  const pwCode = await run(bin('playwright'), ['test'], {
    env: { ...process.env, PLAYWRIGHT_JSON_OUTPUT_NAME: pwJson },
  });
  if (existsSync(pwJson)) {
    const { stats } = JSON.parse(readFileSync(pwJson, 'utf8'));
    totals.passed += stats.expected + stats.flaky;
    totals.failed += stats.unexpected;
    totals.skipped += stats.skipped;
    if (pwCode !== 0 && stats.unexpected === 0) runnerFailed = true;
  } else runnerFailed = true;
}

if (runnerFailed && totals.failed === 0) totals.failed = 1; // a runner crashed: never report green
writeFileSync(path.join(results, 'summary.json'), JSON.stringify(totals, null, 2));
console.log(`\n${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}`);
process.exit(totals.failed > 0 ? 1 : 0);
