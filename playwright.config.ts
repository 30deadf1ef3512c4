import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { defineConfig } from '@playwright/test';

// Browser tests drive Debian's Chromium (`apt-get install chromium`); Playwright's own browser
// download cannot work offline. The server under test is the built control plane on a fresh
// PGlite data directory.
const port = Number(process.env.E2E_PORT ?? 43117);
process.env.FLEET_E2E_DATA_DIR ??= mkdtempSync(path.join(tmpdir(), 'fleet-e2e-'));

export default defineConfig({
  testDir: 'e2e/browser',
  fullyParallel: false,
  workers: 1,
  forbidOnly: true,
  retries: 0,
  timeout: 60_000,
  reporter: process.env.PLAYWRIGHT_JSON_OUTPUT_NAME ? [['list'], ['json']] : [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    viewport: { width: 1280, height: 800 },
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  webServer: {
    command: 'node apps/control-plane/dist/server/main.js',
    url: `http://127.0.0.1:${port}/readyz`,
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: 'ignore',
    stderr: 'pipe',
    env: {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: process.env.FLEET_E2E_DATA_DIR,
      LOG_LEVEL: 'warn',
      // home.spec signs in as this admin (the other specs start their own servers).
      ADMIN_EMAIL: 'home-admin@example.com',
      ADMIN_PASSWORD: 'home-admin-password',
    },
  },
});
