import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test, type Browser, type Locator, type Page } from '@playwright/test';
import type { RunningAgent } from '../support/agent.js';
import { ec2Env, isolatedAwsEnv, startFakeAws, startRemoteWriteReceiver, type FakeAws, type RemoteWriteReceiver } from '../support/aws/index.js';
import { startExporter, type Exporter } from '../support/exporter.js';
import { enrollAndRun, stateDirOf } from '../support/fleet.js';
import { createAccount, setupAdmin, startFleet, type Fleet, type FleetApi } from './fixtures.js';

interface OverviewFindings {
  counts: { failing: number; degraded: number };
  findings: Array<{ kind: string; severity: string; remedy: { policy?: unknown } }>;
}

/**
 * What an operator sees when agents fail: four real `fleet-agent` processes, each driven into one
 * failure class by its own pipeline (selector on its `case` label) — access denied by the AMP
 * workspace, the workspace's clock 10 minutes ahead, the endpoint down, no AWS credentials — and
 * the fleet and agent pages showing each finding with its remedy (the policy JSON for access
 * denied), the health tiles and the agents' recent errors.
 */
test.describe('diagnosis: failing agents → findings with remedies on the fleet and agent pages', () => {
  test.describe.configure({ timeout: 120_000 });

  let fleet: Fleet;
  let admin: FleetApi;
  let aws: FakeAws;
  let exporter: Exporter;
  let dir: string;
  let denied: RemoteWriteReceiver;
  let skewed: RemoteWriteReceiver;
  let unreached: RemoteWriteReceiver;
  let downUrl: string;
  let workspaceArn: string;
  let roleArn: string;
  const agents = new Map<string, { agent: RunningAgent; agentId: string }>();

  test.beforeAll(async () => {
    test.setTimeout(150_000);
    dir = mkdtempSync(path.join(tmpdir(), 'fleet-browser-diagnosis-'));
    aws = await startFakeAws();
    const receiver = () => startRemoteWriteReceiver({ credentials: aws.authority, region: 'us-east-1' });
    [denied, skewed, unreached] = await Promise.all([receiver(), receiver(), receiver()]);
    denied.authorize = () => false;
    skewed.clockOffsetMs = 10 * 60_000;
    const gone = await receiver();
    downUrl = gone.url;
    await gone.close();
    exporter = await startExporter();
    exporter.serve((n) => `# TYPE app_value gauge\napp_value ${n}\n`);

    fleet = await startFleet({ AGENT_HEARTBEAT_INTERVAL: '1s', STATS_INTERVAL: '1s' });
    admin = await setupAdmin(fleet);
    const account = await createAccount(admin, 'prod');
    roleArn = account.roleArn;
    workspaceArn = denied.workspaceArn(account.accountId);
    aws.sts.addRole({ arn: account.roleArn, externalId: account.externalId, trustedPrincipals: [aws.imds.roleArn] });

    const { env: onEc2 } = await ec2Env(aws.imds, { sts: aws.sts });
    const cases: Array<[string, Record<string, string | undefined>, string]> = [
      ['denied', onEc2, denied.url],
      ['skew', onEc2, skewed.url],
      ['down', onEc2, downUrl],
      // No credentials anywhere: no variables, no files, IMDS disabled (as off EC2).
      ['nocreds', isolatedAwsEnv({ sts: aws.sts }), unreached.url],
    ];
    let n = 0;
    for (const [name, env, url] of cases) {
      const { token } = await admin.mutate<{ token: string }>('enrollment.create', { name, expiresInHours: 1, maxUses: 1, labels: { case: name } });
      agents.set(name, await enrollAndRun({ server: fleet.url, token, stateDir: stateDirOf(dir, ++n), env }));
      const created = await admin.mutate<{ pipeline: { id: string } }>('pipelines.create', {
        name,
        description: `drives an agent into ${name}`,
        selector: [{ name: 'case', op: '=', value: name }],
        document: {
          global: { scrape_interval: '1s' },
          scrape_configs: [{ job_name: 'app', static_configs: [{ targets: [exporter.target] }] }],
          remote_write: [{ url, name: 'amp', aws_account: 'prod', queue_config: { batch_send_deadline: '100ms', min_backoff: '50ms', max_backoff: '500ms' } }],
        },
        note: 'first',
      });
      await admin.mutate('pipelines.publish', { id: created.pipeline.id, version: 1, note: 'roll out' });
    }
    // The pages poll; wait here (through the API) until every agent has reported its failure.
    await expect
      .poll(
        async () => {
          const o = await admin.query<OverviewFindings>('fleet.overview', { windowMinutes: 60 });
          const critical = (kind: string) => o.findings.some((g) => g.kind === kind && g.severity === 'critical');
          return o.counts.failing === 3 && o.counts.degraded === 1 && critical('access_denied') && critical('connect') && critical('no_credentials') && o.findings.some((g) => g.kind === 'clock_skew');
        },
        { message: 'every agent reported its failure', timeout: 60_000 },
      )
      .toBe(true);
  });

  test.afterAll(async () => {
    await Promise.all([...agents.values()].map((a) => a.agent.kill()));
    await fleet?.stop();
    await admin?.dispose();
    await exporter?.close();
    await Promise.all([denied, skewed, unreached].map((r) => r?.close()));
    await aws?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const finding = (scope: Page | Locator, kind: string) => scope.locator(`[data-testid="finding"][data-kind="${kind}"]`);

  async function signedInPage(browser: Browser): Promise<Page> {
    const context = await browser.newContext({ storageState: await admin.storageState() });
    return context.newPage();
  }

  test('the fleet page: health tiles, and each problem with its remedy — the policy JSON for access denied', async ({ browser }) => {
    const page = await signedInPage(browser);
    await page.goto(`${fleet.url}/`);
    await expect(page.getByTestId('health-failing')).toContainText('3');
    await expect(page.getByTestId('health-failing')).toContainText(/failing/i);
    await expect(page.getByTestId('health-degraded')).toContainText('1');
    await expect(page.getByTestId('health-healthy')).toContainText('0');

    const accessDenied = finding(page, 'access_denied');
    await expect(accessDenied).toHaveCount(1);
    await expect(accessDenied).toContainText('Access denied');
    await expect(accessDenied.getByTestId('finding-remedy')).toContainText(`Allow "aps:RemoteWrite" on ${workspaceArn} in a policy attached to ${roleArn}`);
    const policy = accessDenied.getByTestId('finding-policy');
    await expect(policy).toContainText('"Effect": "Allow"');
    await expect(policy).toContainText('"Action": "aps:RemoteWrite"');
    await expect(policy).toContainText(`"Resource": "${workspaceArn}"`);
    await expect(accessDenied).toContainText(roleArn);

    const skew = finding(page, 'clock_skew');
    await expect(skew).toContainText('Clock skew: AWS refuses the signatures');
    await expect(skew.getByTestId('finding-remedy')).toContainText('The host clock is off by more than AWS allows (5 minutes)');
    await expect(skew).toContainText('chronyc tracking');
    await expect(skew.getByTestId('finding-policy')).toHaveCount(0);

    const down = finding(page, 'connect');
    await expect(down).toContainText('Cannot connect to the endpoint');
    await expect(down.getByTestId('finding-remedy')).toContainText(`Could not connect to ${downUrl}`);
    await expect(down).toContainText(`endpoint ${new URL(downUrl).host}`);

    const noCredentials = finding(page, 'no_credentials');
    await expect(noCredentials).toContainText('No AWS credentials found');
    await expect(noCredentials.getByTestId('finding-remedy')).toContainText('No credentials were found');
    await expect(noCredentials).toContainText('EC2 instance metadata (IMDSv2): disabled');
    await expect(noCredentials).toContainText('eks.amazonaws.com/role-arn');
    await page.context().close();
  });

  test('the agent pages: the agent’s findings and its recent errors with their class', async ({ browser }) => {
    const page = await signedInPage(browser);
    // Agent, finding kind and error class, and what the error row shows of the answer (status, code).
    const expected: Array<[string, string, string[]]> = [
      ['denied', 'access_denied', ['HTTP 403', 'AccessDeniedException']],
      ['skew', 'clock_skew', ['HTTP 403', 'InvalidSignatureException']],
      ['down', 'connect', ['ECONNREFUSED']],
      ['nocreds', 'no_credentials', ['CredentialsProviderError']],
    ];
    for (const [name, kind, answer] of expected) {
      await page.goto(`${fleet.url}/agents/${agents.get(name)!.agentId}`);
      const f = finding(page, kind);
      await expect(f).toHaveCount(1);
      await expect(f.getByTestId('finding-remedy')).not.toBeEmpty();
      if (kind === 'access_denied') await expect(f.getByTestId('finding-policy')).toContainText(`"Resource": "${workspaceArn}"`);
      const errors = page.getByRole('table', { name: 'Recent errors' });
      const row = errors.getByRole('row').filter({ hasText: kind });
      await expect(row.first()).toContainText(`${name}.amp`);
      for (const text of answer) await expect(row.first()).toContainText(text);
    }
    await page.context().close();
  });
});
