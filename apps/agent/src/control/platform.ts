import { readFile } from 'node:fs/promises';
import os from 'node:os';
import type { AgentDescription } from '@fleet/protocol';
import { AGENT_VERSION } from '../version.js';

const SA_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** IMDSv2: token, then the instance identity document; undefined when not on EC2 (1 s budget). */
async function ec2Identity(env: NodeJS.ProcessEnv): Promise<{ instanceId: string; region: string; accountId: string } | undefined> {
  if (env.AWS_EC2_METADATA_DISABLED === 'true') return undefined;
  const base = (env.AWS_EC2_METADATA_SERVICE_ENDPOINT ?? 'http://169.254.169.254').replace(/\/+$/, '');
  try {
    const token = await fetch(`${base}/latest/api/token`, { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' }, signal: AbortSignal.timeout(1000) });
    if (!token.ok) return undefined;
    const doc = await fetch(`${base}/latest/dynamic/instance-identity/document`, { headers: { 'x-aws-ec2-metadata-token': await token.text() }, signal: AbortSignal.timeout(1000) });
    if (!doc.ok) return undefined;
    const d = (await doc.json()) as { instanceId?: string; region?: string; accountId?: string };
    return d.instanceId && d.region && d.accountId ? { instanceId: d.instanceId, region: d.region, accountId: d.accountId } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Describes this agent: EKS when running in a Kubernetes pod (service-account namespace file or
 * `KUBERNETES_SERVICE_HOST`), EC2 when IMDSv2 answers, otherwise generic. `labels` are added as
 * given (the enrollment token's labels win on the server).
 */
export async function describeAgent(labels: Record<string, string>, env: NodeJS.ProcessEnv = process.env): Promise<AgentDescription> {
  const base = { hostname: os.hostname(), version: AGENT_VERSION, labels };
  const namespace = await readFile(env.FLEET_AGENT_SA_NAMESPACE_FILE ?? SA_NAMESPACE, 'utf8').then(
    (t) => t.trim(),
    () => undefined,
  );
  const ec2 = await ec2Identity(env);
  if (namespace || env.KUBERNETES_SERVICE_HOST) {
    return {
      ...base,
      platform: 'eks',
      ...(namespace ? { namespace } : {}),
      ...(env.POD_NAME || env.HOSTNAME ? { pod: env.POD_NAME ?? env.HOSTNAME } : {}),
      ...(env.FLEET_AGENT_CLUSTER ? { cluster: env.FLEET_AGENT_CLUSTER } : {}),
      ...(ec2 ? { region: ec2.region, accountId: ec2.accountId } : env.AWS_REGION ? { region: env.AWS_REGION } : {}),
    };
  }
  if (ec2) return { ...base, platform: 'ec2', instanceId: ec2.instanceId, region: ec2.region, accountId: ec2.accountId };
  return { ...base, platform: 'generic' };
}
