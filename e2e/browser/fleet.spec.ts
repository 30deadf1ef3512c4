import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import type { RunningAgent } from '../support/agent.js';
import { ec2Env, startFakeAws, type FakeAws } from '../support/aws/index.js';
import { startExporter, type Exporter } from '../support/exporter.js';
import { enrollAndRun, stateDirOf } from '../support/fleet.js';
import { PROMETHEUS_BIN, prometheusAvailable, startPrometheus, type RunningPrometheus } from '../support/prometheus.js';
import { createAccount, setupAdmin, startFleet, type Fleet, type FleetApi } from './fixtures.js';

/**
 * The whole product in one scenario: a control plane with two enrolled `fleet-agent` processes,
 * the fake AWS (instance role → AssumeRole with the account's ExternalId), the SigV4-verifying
 * receiver in front of a real Prometheus. Publishing in the UI reaches the agents; the fleet and
 * rollout views show what they report.
 */
test.describe('fleet: publish in the UI → agents apply → samples in Prometheus', () => {
  // The health test reads what the first one published and delivered.
  test.describe.configure({ mode: 'serial', timeout: 180_000 });

  let fleet: Fleet;
  let admin: FleetApi;
  let prom: RunningPrometheus;
  let aws: FakeAws;
  let exporter: Exporter;
  let dir: string;
  let pipelineId: string;
  const agents: { agent: RunningAgent; agentId: string }[] = [];

  test.beforeAll(async () => {
    test.setTimeout(120_000);
    // A real Prometheus receives the samples: without it this scenario fails, never skips.
    if (!prometheusAvailable()) throw new Error(`${PROMETHEUS_BIN} not found: install Debian's prometheus package (apt-get install prometheus), as .ci/run does`);
    dir = mkdtempSync(path.join(tmpdir(), 'fleet-browser-agents-'));
    prom = await startPrometheus();
    aws = await startFakeAws({ receiver: { upstreamUrl: prom.writeUrl } });
    exporter = await startExporter();
    // Heartbeats and stats rollups every second, so the health dashboards fill quickly.
    fleet = await startFleet({ AGENT_HEARTBEAT_INTERVAL: '1s', STATS_INTERVAL: '1s' });
    admin = await setupAdmin(fleet);
    const account = await createAccount(admin, 'prod');
    aws.sts.addRole({ arn: account.roleArn, externalId: account.externalId, trustedPrincipals: [aws.imds.roleArn] });
    const { token } = await admin.mutate<{ token: string }>('enrollment.create', { name: 'prod hosts', expiresInHours: 1, maxUses: 2, labels: { env: 'prod' } });
    const { env } = await ec2Env(aws.imds, { sts: aws.sts });
    for (const n of [1, 2]) agents.push(await enrollAndRun({ server: fleet.url, token, stateDir: stateDirOf(dir, n), env }));
    const created = await admin.mutate<{ pipeline: { id: string } }>('pipelines.create', {
      name: 'node',
      description: 'the exporter to AMP',
      selector: [{ name: 'env', op: '=', value: 'prod' }],
      document: {
        global: { scrape_interval: '1s' },
        scrape_configs: [{ job_name: 'app', static_configs: [{ targets: [exporter.target] }] }],
        remote_write: [{ url: aws.receiver.url, name: 'amp', aws_account: 'prod', queue_config: { batch_send_deadline: '100ms' } }],
      },
      note: 'first',
    });
    pipelineId = created.pipeline.id;
  });

  test.afterAll(async () => {
    await Promise.all(agents.map((a) => a.agent.kill()));
    await fleet?.stop();
    await admin?.dispose();
    await exporter?.close();
    await aws?.close();
    await prom?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function publish(page: Page, version: number, note: string, button = `Publish v${version}`) {
    const dialog = page.getByRole('dialog', { name: button });
    // A click that lands before the page has hydrated does nothing: click until the dialog opens.
    await expect(async () => {
      if (!(await dialog.isVisible())) await page.getByRole('table', { name: 'Versions' }).getByRole('button', { name: button }).click();
      await expect(dialog).toBeVisible({ timeout: 2_000 });
    }).toPass({ timeout: 30_000 });
    await dialog.getByLabel('Why? (required)').fill(note);
    await dialog.getByRole('button', { name: button }).click();
    await expect(dialog).toBeHidden();
  }

  test('both agents online; publish, apply, deliver; a broken version fails visibly; roll back', async ({ browser }) => {
    test.setTimeout(150_000);
    const context = await browser.newContext({ storageState: await admin.storageState() });
    const page = await context.newPage();
    // Both agents show up online; no pipeline selects them yet.
    await page.goto(`${fleet.url}/`);
    const table = page.getByRole('table', { name: 'Agents' });
    for (const { agentId } of agents) await expect(table.getByTestId(`agent-${agentId}`)).toContainText('Online');
    await expect(page.getByTestId('fleet-summary')).toContainText('2Online');

    // Publish v1 in the UI: the rollout shows both agents applying it.
    await page.goto(`${fleet.url}/pipelines/${pipelineId}`);
    await publish(page, 1, 'roll out to prod');
    await expect(page.getByTestId('rollout-applied')).toContainText('2', { timeout: 30_000 });

    // Samples arrive in Prometheus, signed with the assumed role (the receiver verified SigV4).
    await expect.poll(async () => (await prom.query('up{job="app"}')).length, { timeout: 30_000 }).toBeGreaterThan(0);
    // No request failed SigV4 checks. (Both agents scrape the one test exporter, so Prometheus
    // may refuse one agent's copy of a sample as out of order: counted as `upstream`, not here.)
    const { upstream: _sameSeriesFromTwoAgents, ...rejected } = aws.receiver.counters.rejected;
    expect(rejected).toEqual({});
    expect(aws.receiver.counters.acceptedRequests).toBeGreaterThan(0);

    // The fleet shows both agents with the config applied and live counters from their heartbeats.
    await page.goto(`${fleet.url}/`);
    for (const { agentId } of agents) {
      const row = table.getByTestId(`agent-${agentId}`);
      await expect(row).toContainText('Applied');
      await expect(row).toContainText('node v1');
      await expect(row.getByTestId('samples-sent')).not.toHaveText(/^(—|0)$/, { timeout: 20_000 });
    }
    // The agent page: destinations with the role the agent assumed, and its scrape target up.
    await table.getByTestId(`agent-${agents[0]!.agentId}`).getByRole('link').first().click();
    await expect(page.getByRole('table', { name: 'Destinations' })).toContainText('assumed-role', { timeout: 20_000 });
    await expect(page.getByRole('table', { name: 'Scrape targets' })).toContainText('Up');

    // A version the agents cannot run (its CA file does not exist on the hosts) fails on both, visibly.
    await admin.mutate('pipelines.saveDraft', {
      id: pipelineId,
      selector: [{ name: 'env', op: '=', value: 'prod' }],
      document: {
        global: { scrape_interval: '1s' },
        scrape_configs: [{ job_name: 'app', static_configs: [{ targets: [exporter.target] }] }],
        remote_write: [{ url: aws.receiver.url, name: 'amp', aws_account: 'prod', tls_config: { ca_file: '/etc/fleet/missing-ca.pem' } }],
      },
      note: 'pin the CA',
    });
    await page.goto(`${fleet.url}/pipelines/${pipelineId}`);
    await publish(page, 2, 'pin the CA');
    await expect(page.getByTestId('rollout-failed')).toContainText('2', { timeout: 30_000 });
    await expect(page.getByTestId('rollout').getByRole('alert')).toContainText('missing-ca.pem');
    await page.goto(`${fleet.url}/`);
    await expect(page.getByTestId('fleet-summary')).toContainText('2Config failed');
    await expect(table.getByTestId(`agent-${agents[1]!.agentId}`).getByTestId('config-error')).toContainText('missing-ca.pem');

    // Roll back in the UI: applied again on both.
    await page.goto(`${fleet.url}/pipelines/${pipelineId}`);
    await publish(page, 1, 'CA not deployed yet', 'Roll back to v1');
    await expect(page.getByTestId('rollout-applied')).toContainText('2', { timeout: 30_000 });
    await expect(page.getByTestId('rollout-failed')).toContainText('0');
    await context.close();
  });

  test('fleet health: overview tiles, delivery chart and findings; agent connections and chart; delivery per version', async ({ browser }) => {
    test.setTimeout(180_000);
    const context = await browser.newContext({ storageState: await admin.storageState() });
    const page = await context.newPage();

    // The overview: both agents connected and judged healthy, or degraded — they scrape the one
    // test exporter, so Prometheus may refuse one agent's copy of a sample and it counts as a drop.
    await page.goto(`${fleet.url}/`);
    const tile = (key: string) => page.getByTestId(`health-${key}`).locator('.summary-value');
    await expect
      .poll(async () => Number(await tile('healthy').innerText()) + Number(await tile('degraded').innerText()), { timeout: 30_000 })
      .toBe(2);
    await expect(tile('offline')).toHaveText('0');
    await expect(page.getByTestId('fleet-summary')).toContainText('2Online');

    // A health tile filters the agent list on the server; pressed again it shows all agents.
    const table = page.getByRole('table', { name: 'Agents' });
    await page.getByTestId('health-offline').click();
    await expect(page.getByText('No agent matches these filters.')).toBeVisible();
    await page.getByTestId('health-offline').click();
    for (const { agentId } of agents) await expect(table.getByTestId(`agent-${agentId}`).getByTestId('health')).toHaveText(/^(Healthy|Degraded|Failing)$/);

    // The fleet chart draws the minutes rolled up so far; a minute appears once it is complete, so
    // the first one with samples sent may take up to a minute (its summary table says what it drew).
    const chart = page.getByTestId('fleet-chart');
    await expect(chart).toHaveAttribute('data-rendered', 'true');
    await expect(chart.locator('canvas').first()).toBeVisible();
    const sentPeak = chart.getByRole('row', { name: /^Sent/ }).getByRole('cell').nth(2);
    await expect(sentPeak).not.toHaveText(/^(0\/s|no data)$/, { timeout: 100_000 });
    expect(Number(await chart.getAttribute('data-points'))).toBeGreaterThan(0);
    await expect(chart.getByRole('img')).toHaveAttribute('aria-label', /Sent: latest/);
    // The window selector is a radio group: the keyboard moves it, and the overview follows.
    await page.getByRole('radio', { name: 'the last hour' }).focus();
    await page.keyboard.press('ArrowRight');
    await expect(page.getByRole('radio', { name: 'the last 6 hours' })).toBeChecked();
    await expect(page.getByTestId('delivery')).toContainText('the last 6 hours');
    // The latest rollout links to the pipeline.
    await expect(page.getByTestId(`overview-rollout-${pipelineId}`)).toContainText('2 of 2 applied');

    // The agent page: one open session in the connection history, the delivery chart, the
    // destination's signing facts and lag, and the config it runs is the desired one.
    await page.goto(`${fleet.url}/agents/${agents[0]!.agentId}`);
    const history = page.getByRole('table', { name: 'Connection history' });
    await expect(history.getByTestId('connection-open')).toHaveCount(1);
    await expect(history.getByTestId('connection-open')).toContainText('Open');
    await expect(history.getByTestId('connection-open')).toContainText('127.0.0.1');
    const agentChart = page.getByTestId('agent-chart');
    await expect(agentChart).toHaveAttribute('data-rendered', 'true');
    await expect(agentChart.locator('canvas').first()).toBeVisible();
    await expect.poll(async () => Number(await agentChart.getAttribute('data-points')), { timeout: 60_000 }).toBeGreaterThan(0);
    const destinations = page.getByRole('table', { name: 'Destinations' });
    await expect(destinations.getByTestId('sigv4')).toContainText('aps');
    await expect(destinations.getByTestId('send-lag')).toContainText('behind');
    await expect(page.getByTestId('config-identical')).toBeVisible();

    // The pipeline page: v1 delivers on both agents.
    await page.goto(`${fleet.url}/pipelines/${pipelineId}`);
    const v1 = page.getByTestId('pipeline-delivery').getByTestId('delivery-v1');
    await expect(v1).toContainText('Published');
    await expect(v1.getByRole('cell').first()).toHaveText('2', { timeout: 30_000 });
    await expect(v1.getByRole('cell').nth(1)).not.toHaveText(/^(0\/s|—)$/, { timeout: 30_000 });
    await expect(page.getByTestId('pipeline-chart')).toHaveAttribute('data-rendered', 'true');
    await context.close();
  });
});
