import { describeEachDatabase } from '@fleet/db/test-support';
import { KUBERNETES_INSTALL } from '@fleet/protocol';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createAwsAccount } from '../accounts/accounts.js';
import type { ServiceContext } from '../context.js';
import { createPipeline, publishVersion } from '../pipelines/pipelines.js';
import { freshAdmin, rejects } from '../test-support/index.js';
import { buildInstallPlan } from './install-plan.js';
import { createEnrollmentToken } from './tokens.js';

const amp = (ws: string, region = 'us-east-1') => `https://aps-workspaces.${region}.amazonaws.com/workspaces/${ws}/api/v1/remote_write`;
const SERVER = 'https://fleet.example.com';
const SELF = { kind: 'self', accountId: '111122223333' } as const;

describeEachDatabase('install plan: the union of the pipelines a token’s agents run', (backend) => {
  let dispose: () => Promise<void>;
  let ctx: ServiceContext;

  beforeEach(async () => {
    ({ dispose, ctx } = await freshAdmin(backend));
  });
  afterEach(async () => dispose());

  /** Creates and publishes a pipeline selecting `env=<env>` (or everyone) that writes to `urls`. */
  async function pipeline(name: string, env: string | null, remoteWrite: Array<Record<string, unknown>>) {
    const { pipeline: p } = await createPipeline(ctx, {
      name,
      selector: env ? [{ name: 'env', op: '=', value: env }] : [],
      document: { scrape_configs: [{ job_name: 'node', static_configs: [{ targets: ['localhost:9100'] }] }], remote_write: remoteWrite },
    });
    await publishVersion(ctx, p.id, 1, 'go');
    return p;
  }

  it('EC2: merges the permissions of every matching published pipeline, with the writer role it assumes, and idempotent commands', async () => {
    const writer = await createAwsAccount(ctx, { accountId: '444455556666', name: 'metrics', defaultRegion: 'us-east-1', roleArn: 'arn:aws:iam::444455556666:role/amp-writer' });
    await pipeline('node', 'prod', [{ url: amp('ws-aaaa1111') }]);
    await pipeline('app', null, [{ url: amp('ws-bbbb2222', 'eu-west-1') }]);
    await pipeline('shared', 'prod', [{ url: amp('ws-cccc3333'), aws_account: 'metrics' }]);
    await pipeline('staging-only', 'staging', [{ url: amp('ws-dddd4444') }]);
    const { view } = await createEnrollmentToken(ctx, { name: 'prod', expiresInHours: 24, labels: { env: 'prod' } });

    const plan = await buildInstallPlan(ctx, { tokenId: view.id, server: SERVER, account: SELF, target: { kind: 'ec2', instanceId: 'i-0123456789abcdef0' }, version: '1.2.3' });
    expect(plan.pipelines.map((p) => p.name).sort()).toEqual(['app', 'node', 'shared']);
    expect(plan.role).toMatchObject({ arn: 'arn:aws:iam::111122223333:role/fleet-agent', trustKind: 'ec2' });
    expect(plan.trustJson).toContain('ec2.amazonaws.com');

    const perms = JSON.parse(plan.permissions!.json) as { Statement: Array<{ Sid?: string; Action: string | string[]; Resource: string | string[] }> };
    const resources = perms.Statement.flatMap((s) => [s.Resource].flat());
    expect(resources).toEqual(expect.arrayContaining(['arn:aws:aps:us-east-1:111122223333:workspace/ws-aaaa1111', 'arn:aws:aps:eu-west-1:111122223333:workspace/ws-bbbb2222', writer.roleArn]));
    expect(resources.join(' ')).not.toContain('ws-dddd4444');
    expect(resources.join(' ')).not.toContain('ws-cccc3333'); // written by the assumed writer role, not the agents' own
    const sids = perms.Statement.map((s) => s.Sid).filter(Boolean);
    expect(new Set(sids).size).toBe(sids.length);

    expect(plan.writerRoles).toHaveLength(1);
    expect(plan.writerRoles[0]).toMatchObject({ account: 'metrics', roleArn: writer.roleArn });
    expect(plan.writerRoles[0]!.permissionsJson).toContain('workspace/ws-cccc3333');
    expect(plan.writerRoles[0]!.trustJson).toContain(writer.externalId);
    expect(plan.writerRoles[0]!.trustJson).toContain('arn:aws:iam::111122223333:role/fleet-agent');
    expect(plan.writerScripts[0]!.script).toContain('aws iam get-role --role-name amp-writer >/dev/null 2>&1 || aws iam create-role --role-name amp-writer');

    expect(plan.script).toMatch(/^aws iam get-role --role-name fleet-agent >\/dev\/null 2>&1 \|\| aws iam create-role --role-name fleet-agent /m);
    expect(plan.script).toMatch(/^aws iam update-assume-role-policy --role-name fleet-agent /m);
    expect(plan.script).toMatch(/^aws iam put-role-policy --role-name fleet-agent --policy-name fleet-agent-write /m);
    expect(plan.script).toContain('aws iam get-instance-profile --instance-profile-name fleet-agent >/dev/null 2>&1 || aws iam create-instance-profile --instance-profile-name fleet-agent');
    expect(plan.script).toContain('aws iam add-role-to-instance-profile --instance-profile-name fleet-agent --role-name fleet-agent');
    expect(plan.script).toContain('aws ec2 associate-iam-instance-profile --instance-id i-0123456789abcdef0 --iam-instance-profile Name=fleet-agent');
    expect(plan.eks).toBeNull();
  });

  it('a token whose labels match no published pipeline: no pipelines, no permissions, no put-role-policy', async () => {
    await pipeline('node', 'prod', [{ url: amp('ws-aaaa1111') }]);
    const { view } = await createEnrollmentToken(ctx, { name: 'lab', expiresInHours: 24, labels: { env: 'lab' } });
    const plan = await buildInstallPlan(ctx, { tokenId: view.id, server: SERVER, account: SELF, target: { kind: 'ec2' }, version: '1.2.3' });
    expect(plan.pipelines).toEqual([]);
    expect(plan.permissions).toBeNull();
    expect(plan.writerRoles).toEqual([]);
    expect(plan.script).not.toContain('put-role-policy');
    expect(plan.script).toContain('create-instance-profile');
  });

  it('EKS with IRSA: the entered namespace and service account everywhere; Pod Identity: the association', async () => {
    const account = await createAwsAccount(ctx, { accountId: '777788889999', name: 'eks', defaultRegion: 'us-east-1', roleArn: 'arn:aws:iam::777788889999:role/amp-writer' });
    await pipeline('node', null, [{ url: amp('ws-aaaa1111') }]);
    const { view } = await createEnrollmentToken(ctx, { name: 'eks', expiresInHours: 24, labels: { env: 'prod' } });
    const issuer = 'https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE';
    const base = { tokenId: view.id, server: SERVER, account: { kind: 'registered', id: account.id } as const, region: 'us-east-1', version: '1.2.3' };
    const irsa = await buildInstallPlan(ctx, { ...base, target: { kind: 'eks', clusterName: 'prod', namespace: 'observability', serviceAccount: 'agent', credentials: 'irsa', oidcIssuer: issuer } });
    expect(irsa.trustJson).toContain('system:serviceaccount:observability:agent');
    expect(irsa.trustJson).toContain('sts:AssumeRoleWithWebIdentity');
    expect(irsa.eks!.oidcProviderArn).toBe('arn:aws:iam::777788889999:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE');
    expect(irsa.script).toContain('eksctl utils associate-iam-oidc-provider --cluster prod --region us-east-1 --approve');
    const values = parse(irsa.eks!.helmValues) as Record<string, Record<string, unknown>>;
    expect(values).toEqual({
      controlPlane: { url: SERVER, caBundle: '' },
      enrollment: { existingSecret: KUBERNETES_INSTALL.tokenSecret, labels: {} },
      clusterName: 'prod',
      serviceAccount: { name: 'agent', create: true },
      aws: { region: 'us-east-1', roleArn: 'arn:aws:iam::777788889999:role/fleet-agent' },
      daemonset: { enabled: true },
      deployment: { enabled: false },
    });
    expect(irsa.eks!.helmCommand).toBe(
      'helm upgrade --install fleet-agent https://fleet.example.com/downloads/1.2.3/fleet-agent-1.2.3.tgz --namespace observability --create-namespace -f fleet-agent-values.yaml',
    );

    const pod = await buildInstallPlan(ctx, { ...base, target: { kind: 'eks', clusterName: 'prod', credentials: 'pod_identity' } });
    expect(pod.eks).toMatchObject({ namespace: KUBERNETES_INSTALL.namespace, serviceAccount: KUBERNETES_INSTALL.serviceAccount, oidcProviderArn: null });
    expect(pod.trustJson).toContain('pods.eks.amazonaws.com');
    expect(pod.trustJson).toContain('sts:TagSession');
    expect(pod.script).toContain(
      `aws eks create-pod-identity-association --cluster-name prod --namespace ${KUBERNETES_INSTALL.namespace} --service-account ${KUBERNETES_INSTALL.serviceAccount} --role-arn arn:aws:iam::777788889999:role/fleet-agent --region us-east-1`,
    );
    expect((parse(pod.eks!.helmValues) as { aws: Record<string, unknown> }).aws).toEqual({ region: 'us-east-1' });
  });

  it('names the field at fault: IRSA without an issuer, an unknown token', async () => {
    const { view } = await createEnrollmentToken(ctx, { name: 'x', expiresInHours: 1 });
    const noIssuer = buildInstallPlan(ctx, { tokenId: view.id, server: SERVER, account: SELF, region: 'us-east-1', target: { kind: 'eks', clusterName: 'c', credentials: 'irsa' }, version: '1' });
    await expect(noIssuer).rejects.toMatchObject({ issues: [expect.objectContaining({ path: ['target', 'oidcIssuer'] })] });
    const unknown = await rejects(buildInstallPlan(ctx, { tokenId: '00000000-0000-4000-8000-000000000000', server: SERVER, account: SELF, target: { kind: 'ec2' }, version: '1' }));
    expect(unknown).toMatchObject({ code: 'NOT_FOUND', details: { field: 'tokenId' } });
  });
});
