import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test, type Browser, type Page } from '@playwright/test';
import type { RunningAgent } from '../support/agent.js';
import { runAgentToExit } from '../support/agent.js';
import { isolatedAwsEnv, startFakeAws, startRemoteWriteReceiver, type FakeAws, type RemoteWriteReceiver } from '../support/aws/index.js';
import { startExporter, type Exporter } from '../support/exporter.js';
import { enrollAndRun, stateDirOf } from '../support/fleet.js';
import { setupAdmin, startFleet, type Fleet, type FleetApi } from './fixtures.js';

interface AgentRow {
  lastHeartbeat: { counters: Record<string, number> } | null;
}

/**
 * Pages that tell the truth when there is little to tell: a control plane whose stats are rolled
 * up only every 10 minutes (so nothing is rolled up during the test), one real agent whose
 * pipeline keeps a single metric (write_relabel_configs keep-list), and one agent that enrolled
 * but never connected although a published pipeline selects it. The fleet page says "No data yet"
 * instead of "Every destination accepted what it was sent"; the keep-list agent's page shows the
 * removed samples as filtered, in neutral, with 0 dropped; the never-connected agent's page says
 * its config is computed when it connects instead of "no published pipeline selects this agent".
 */
test.describe('health truth: no data yet, filtered is not dropped, not connected is not unselected', () => {
  test.describe.configure({ mode: 'serial', timeout: 120_000 });

  let fleet: Fleet;
  let admin: FleetApi;
  let aws: FakeAws;
  let exporter: Exporter;
  let receiver: RemoteWriteReceiver;
  let dir: string;
  let keep: { agent: RunningAgent; agentId: string };
  let waitingId: string;

  test.beforeAll(async () => {
    test.setTimeout(120_000);
    dir = mkdtempSync(path.join(tmpdir(), 'fleet-browser-health-truth-'));
    aws = await startFakeAws();
    receiver = await startRemoteWriteReceiver({ credentials: aws.authority, verifySignature: false });
    exporter = await startExporter();
    exporter.serve((n) => `# TYPE app_value gauge\napp_value ${n}\n# TYPE app_other gauge\napp_other ${n}\n`);
    fleet = await startFleet({ AGENT_HEARTBEAT_INTERVAL: '1s', STATS_INTERVAL: '600s' });
    admin = await setupAdmin(fleet);
    for (const name of ['keep', 'waiting']) {
      const created = await admin.mutate<{ pipeline: { id: string } }>('pipelines.create', {
        name,
        description: name,
        selector: [{ name: 'case', op: '=', value: name }],
        document: {
          global: { scrape_interval: '1s' },
          scrape_configs: [{ job_name: 'app', static_configs: [{ targets: [exporter.target] }] }],
          remote_write: [{ name: 'plain', url: receiver.url, queue_config: { batch_send_deadline: '100ms' }, write_relabel_configs: [{ source_labels: ['__name__'], regex: 'app_value', action: 'keep' }] }],
        },
        note: 'first',
      });
      await admin.mutate('pipelines.publish', { id: created.pipeline.id, version: 1, note: 'roll out' });
    }
    const env = isolatedAwsEnv({ sts: aws.sts });
    const token = async (name: string) => (await admin.mutate<{ token: string }>('enrollment.create', { name, expiresInHours: 1, maxUses: 1, labels: { case: name } })).token;
    keep = await enrollAndRun({ server: fleet.url, token: await token('keep'), stateDir: stateDirOf(dir, 1), env });
    // Enrolled, never run: it has never connected, so no desired config was computed for it.
    const enrolled = await runAgentToExit(['enroll', '--server', fleet.url, '--token', await token('waiting'), '--state-dir', stateDirOf(dir, 2)], env);
    waitingId = /as agent ([0-9a-f-]{36})/.exec(enrolled.stdout)![1]!;
    await expect
      .poll(async () => (await admin.query<AgentRow>('agents.get', { id: keep.agentId })).lastHeartbeat?.counters.samplesFiltered ?? 0, { timeout: 60_000 })
      .toBeGreaterThan(0);
  });

  test.afterAll(async () => {
    await keep?.agent.kill();
    await admin?.dispose();
    await fleet?.stop();
    await exporter?.close();
    await receiver?.close();
    await aws?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function page(browser: Browser, url: string): Promise<Page> {
    const context = await browser.newContext({ storageState: await admin.storageState(), baseURL: fleet.url });
    const p = await context.newPage();
    await p.goto(url);
    return p;
  }

  // Regression: before the first roll-up the fleet page said "Every destination accepted what it was sent".
  test('the fleet page says "No data yet" before the first roll-up', async ({ browser }) => {
    const p = await page(browser, '/');
    const destinations = p.getByTestId('top-destinations');
    await expect(destinations).toContainText('No data yet');
    await expect(destinations).not.toContainText('Every destination accepted what it was sent');
    await expect(p.getByTestId('no-data-yet')).toBeVisible();
    await p.context().close();
  });

  // Regression: a keep-list showed as "dropped (100 %)" in red.
  test('the keep-list agent shows what it removed as filtered, in neutral, and nothing dropped', async ({ browser }) => {
    const p = await page(browser, `/agents/${keep.agentId}`);
    const dropped = p.getByTestId('agent-samples-dropped');
    await expect(dropped).toHaveText('0');
    await expect(dropped).not.toHaveClass(/bad-text/);
    const filtered = p.getByTestId('agent-samples-filtered');
    await expect(filtered).toContainText('by write relabelling');
    await expect(filtered).not.toHaveClass(/bad-text/);
    await expect(p.getByRole('table', { name: 'Destinations' })).not.toContainText('write_relabel');
    await expect(p.getByText('No findings: this agent delivers.')).toBeVisible();
    await p.context().close();
  });

  // Regression: a never-connected agent's page said "no published pipeline selects this agent" while one did.
  test('the never-connected agent says its config is computed when it connects', async ({ browser }) => {
    const p = await page(browser, `/agents/${waitingId}`);
    await expect(p.getByTestId('config-not-computed')).toContainText('The config it will receive is computed when it connects');
    await expect(p.getByText('no published pipeline selects this agent')).toHaveCount(0);
    await p.context().close();
  });
});
