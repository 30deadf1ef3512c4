import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { runAgentToExit } from '../support/agent.js';
import { CredentialAuthority, startFakeImds } from '../support/aws/index.js';
import { startControlPlane, type RunningControlPlane } from '../support/control-plane.js';

const ADMIN = { email: 'admin@example.com', password: 'a long admin password' };
const description = { hostname: 'ip-10-0-0-7', version: '0.1.0', platform: 'ec2', instanceId: 'i-0abc', region: 'eu-west-1', labels: { env: 'dev', team: 'sre' } };

describe('agent gateway: enrollment over HTTP', () => {
  let cp: RunningControlPlane;
  let dir: string;
  let cookie = '';

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-gw-'));
    cp = await startControlPlane({ DATA_DIR: dir, ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password });
    const res = await fetch(`${cp.url}/api/auth/sign-in/email`, { method: 'POST', headers: { 'content-type': 'application/json', origin: cp.url }, body: JSON.stringify(ADMIN) });
    cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  });
  afterAll(async () => {
    await cp?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function trpc(procedure: string, input: unknown) {
    const res = await fetch(`${cp.url}/api/trpc/${procedure}`, { method: 'POST', headers: { 'content-type': 'application/json', cookie, origin: cp.url }, body: JSON.stringify(input) });
    return (await res.json()) as { result: { data: Record<string, unknown> } };
  }

  const enroll = (body: unknown) => fetch(`${cp.url}/agent/v1/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('enrolls with a token: an id and a secret, token labels stamped on, uses counted', async () => {
    const created = await trpc('enrollment.create', { name: 'ec2 dev', expiresInHours: 1, maxUses: 1, labels: { env: 'prod' }, platform: 'ec2' });
    const token = created.result.data.token as string;
    const res = await enroll({ token, description });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { agentId: string; agentSecret: string; heartbeatIntervalMs: number };
    expect(body.agentId).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.agentSecret.length).toBeGreaterThanOrEqual(43);
    expect(body.heartbeatIntervalMs).toBe(15_000);
    const again = await enroll({ token, description });
    expect(again.status).toBe(401);
    expect(await again.json()).toEqual({ error: 'the enrollment token is used up' });
    const preview = (await trpc('pipelines.preview', { selector: [{ name: 'env', op: '=', value: 'prod' }] })).result.data as { agents: Array<{ name: string; labels: Record<string, string> }> };
    expect(preview.agents).toEqual([expect.objectContaining({ name: 'ip-10-0-0-7', labels: { env: 'prod', team: 'sre' } })]);
  });

  it('refuses bad requests with a reason naming the field, and the wrong platform', async () => {
    const malformed = await enroll({ token: 'x'.repeat(20), description: { ...description, platform: 'mainframe' } });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: string }).error).toMatch(/^description\.platform: /);
    const notJson = await fetch(`${cp.url}/agent/v1/enroll`, { method: 'POST', body: '{' });
    expect(notJson.status).toBe(400);
    const eks = (await trpc('enrollment.create', { name: 'eks only', expiresInHours: 1, platform: 'eks' })).result.data.token as string;
    const wrongPlatform = await enroll({ token: eks, description });
    expect(wrongPlatform.status).toBe(403);
    expect(await wrongPlatform.json()).toMatchObject({ error: 'this token enrolls eks agents; this agent runs on ec2' });
    const unknown = await enroll({ token: 'fet_' + 'A'.repeat(43), description });
    expect(unknown.status).toBe(401);
  });

  it('fleet-agent enroll keeps the id and secret in its state directory (0600) and is idempotent', async () => {
    const token = (await trpc('enrollment.create', { name: 'cli', expiresInHours: 1, maxUses: 5, labels: { fleet: 'blue' } })).result.data.token as string;
    const stateDir = path.join(dir, 'agent-state');
    const env = { FLEET_ENROLLMENT_TOKEN: token, AWS_EC2_METADATA_DISABLED: 'true', FLEET_AGENT_SA_NAMESPACE_FILE: path.join(dir, 'none') };
    const first = await runAgentToExit(['enroll', '--server', cp.url, '--state-dir', stateDir, '--label', 'role=web'], env);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^enrolled with http:\/\/127\.0\.0\.1:\d+ as agent [0-9a-f-]{36} \(generic\)/);
    const file = path.join(stateDir, 'agent.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const state = JSON.parse(await readFile(file, 'utf8')) as { agentId: string; agentSecret: string };
    expect(first.stdout).not.toContain(state.agentSecret);
    const again = await runAgentToExit(['enroll', '--server', cp.url, '--state-dir', stateDir], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`already enrolled with ${cp.url} as agent ${state.agentId}`);
    const tokens = (await trpc('enrollment.list', undefined)).result.data as unknown as Array<{ name: string; useCount: number }>;
    expect(tokens.find((t) => t.name === 'cli')!.useCount).toBe(1);
    const bad = await runAgentToExit(['enroll', '--server', cp.url, '--state-dir', path.join(dir, 'other')], { ...env, FLEET_ENROLLMENT_TOKEN: 'fet_' + 'B'.repeat(43) });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('fleet-agent: the control plane refused the enrollment (HTTP 401): unknown enrollment token\n');
  });

  it('fleet-agent enroll detects EC2 through IMDSv2 and a pod through its service account', async () => {
    const token = (await trpc('enrollment.create', { name: 'detect', expiresInHours: 1 })).result.data.token as string;
    const imds = await startFakeImds({ authority: new CredentialAuthority(), region: 'eu-west-1' });
    try {
      const ec2 = await runAgentToExit(['enroll', '--server', cp.url, '--token', token, '--state-dir', path.join(dir, 'ec2')], {
        AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url,
        FLEET_AGENT_SA_NAMESPACE_FILE: path.join(dir, 'none'),
      });
      expect(ec2.stdout).toContain('(ec2)');
      const ns = path.join(dir, 'namespace');
      await writeFile(ns, 'monitoring\n');
      const eks = await runAgentToExit(['enroll', '--server', cp.url, '--token', token, '--state-dir', path.join(dir, 'eks')], {
        AWS_EC2_METADATA_DISABLED: 'true',
        FLEET_AGENT_SA_NAMESPACE_FILE: ns,
        POD_NAME: 'fleet-agent-7d9f',
      });
      expect(eks.stdout).toContain('(eks)');
      const preview = (await trpc('pipelines.preview', { selector: [] })).result.data as { agents: Array<{ name: string }> };
      expect(preview.agents.length).toBeGreaterThanOrEqual(3);
    } finally {
      await imds.close();
    }
  });
});
