import { ampUrlProblem, dnsSuffix, generatePermissionsPolicy, imdsHopLimitCommand, partitionOfRegion, remedyFor, type AwsErrorClass, type AwsPartition } from '@fleet/aws';
import type { AgentFinding, Db } from '@fleet/db';
import { templateOverrides } from '../policies/policies.js';

/** What to do about a finding: a summary, concrete steps, and a policy to attach when that is the fix. */
export interface Remedy {
  summary: string;
  steps: string[];
  /** For access denied: the role to change and the permissions policy (JSON) that grants the write. */
  policy?: { roleArn: string | null; json: string };
}

function roleOf(callerArn: string | undefined): string | null {
  const m = /^arn:(aws[\w-]*):sts::(\d{12}):assumed-role\/([^/]+)\//.exec(callerArn ?? '');
  if (m) return `arn:${m[1]}:iam::${m[2]}:role/${m[3]}`;
  return callerArn && /^arn:aws[\w-]*:iam::\d{12}:(role|user)\//.test(callerArn) ? callerArn : null;
}

const str = (v: string | number | undefined) => (v === undefined ? undefined : String(v));

/**
 * The public AMP remote-write URL of the workspace an access-denied write went to, for the policy
 * generator. The destination URL itself when it is one; otherwise (a proxy, a private DNS name,
 * any host that does not name the region) the workspace comes from the ARN AWS named in the denial,
 * or from the signed region and the `/workspaces/<id>/` path.
 */
function ampWriteUrl(url: string, resource: string | undefined, signedRegion: string): string | undefined {
  if (!('problem' in ampUrlProblem(url))) return url;
  const arn = /^arn:[\w-]+:aps:([a-z0-9-]+):\d{12}:workspace\/(ws-[\w-]+)$/.exec(resource ?? '');
  const workspace = arn?.[2] ?? /\/workspaces\/(ws-[\w-]+)\//.exec(URL.canParse(url) ? new URL(url).pathname : '')?.[1];
  const region = arn?.[1] ?? signedRegion;
  const partition = region ? partitionOfRegion(region) : undefined;
  if (!workspace || !partition) return undefined;
  return `https://aps-workspaces.${region}.${dnsSuffix(partition)}/workspaces/${workspace}/api/v1/remote_write`;
}

const AWS_CLASSES = new Set<string>([
  'access_denied',
  'signature_mismatch',
  'clock_skew',
  'expired_token',
  'invalid_token',
  'region_mismatch',
  'service_mismatch',
  'missing_auth',
  'unauthorized',
  'throttled',
  'server_error',
  'bad_request',
  'not_found',
  'no_credentials',
  'dns',
  'connect',
  'tls',
  'timeout',
  'unknown',
]);

const TIME_SYNC = [
  'Check the offset on the host: `chronyc tracking` (or `timedatectl timesync-status`).',
  'On EC2, use the Amazon Time Sync Service: `server 169.254.169.123 prefer iburst` in /etc/chrony/chrony.conf, then `systemctl restart chronyd`.',
  'Elsewhere, enable chrony or systemd-timesyncd against your NTP servers; AWS refuses signatures more than 5 minutes off.',
];

/** How to give the agent credentials; the IMDS command names the agent's instance when it is known. */
function credentialSetup(instanceId: string | undefined): string[] {
  return [
    `EC2: attach an instance profile whose role carries the pipeline's permissions policy (Policies page), and allow IMDSv2 (\`${imdsHopLimitCommand(instanceId)}\` for containers).`,
    'EKS with IRSA: annotate the agent\'s service account with `eks.amazonaws.com/role-arn: <role ARN>` and trust the cluster\'s OIDC provider in the role (Policies page, IRSA trust).',
    'EKS Pod Identity: `aws eks create-pod-identity-association --cluster-name <cluster> --namespace <ns> --service-account fleet-agent --role-arn <role ARN>`.',
    'Never put access keys in the pipeline: the agent takes credentials from the host.',
  ];
}

/** What is known of the agent a finding belongs to, for a concrete remedy. */
export interface RemedyAgent {
  /** Its EC2 instance id (agent description `instanceId`), when it runs on EC2. */
  instanceId?: string | null | undefined;
}

/** The URL a finding is about: its own, or the first of the destinations merged into it. */
function urlOf(finding: AgentFinding): string {
  return finding.url ?? String(finding.facts.urls ?? '').split(', ')[0] ?? '';
}

/** The one-line remedy of an AWS error class (the same as `fleet-agent doctor` prints). */
function awsSummary(finding: AgentFinding, instanceId?: string): string {
  const f = finding.facts;
  return remedyFor(
    { class: finding.kind as AwsErrorClass, code: str(f.code) ?? null, message: str(f.message) ?? '', action: str(f.action), resource: str(f.resource), retryable: false },
    { url: urlOf(finding) || 'the destination', service: str(f.service) ?? 'aps', region: str(f.region) ?? '', callerArn: str(f.callerArn) ?? null, roleArn: str(f.roleArn), instanceId },
  );
}

/**
 * What makes two findings one problem: the kind and the remedy an operator would follow (for
 * destination errors, the remedy's summary, which names what it depends on: the URL, the
 * principal, the resource, the regions; for access denied also the workspace the policy grants).
 * Findings with the same cause are shown once.
 */
export function causeOf(finding: AgentFinding): string {
  if (finding.kind === 'access_denied') {
    // The fix is a grant on the resource written to (the policy names the workspace).
    const url = urlOf(finding);
    return `${finding.kind}|${awsSummary(finding)}|${ampWriteUrl(url, str(finding.facts.resource), str(finding.facts.region) ?? '') ?? url}`;
  }
  if (AWS_CLASSES.has(finding.kind)) return `${finding.kind}|${awsSummary(finding)}`;
  return `${finding.kind}|${finding.url ?? ''}|${JSON.stringify(Object.entries(finding.facts).sort(([a], [b]) => a.localeCompare(b)))}`;
}

/**
 * Turns a finding into a remedy an operator can act on. AWS error classes use the same remedies
 * as `fleet-agent doctor`; access denied on an AMP write also gets the exact permissions policy
 * to attach to the role the agent signed as (generated from the built-in, editable templates).
 * Commands name the agent's EC2 instance when `agent.instanceId` is known (`<instance-id>` otherwise).
 */
export async function remedyForFinding(ctx: { db: Db }, finding: AgentFinding, agent: RemedyAgent = {}): Promise<Remedy> {
  const f = finding.facts;
  const url = urlOf(finding);
  const service = str(f.service) ?? 'aps';
  const region = str(f.region) ?? '';
  const instanceId = agent.instanceId ?? undefined;
  if (AWS_CLASSES.has(finding.kind)) {
    const summary = awsSummary(finding, instanceId);
    const steps: string[] = [];
    if (f.detail) steps.push(`What the agent saw: ${f.detail}`);
    let policy: Remedy['policy'];
    if (finding.kind === 'access_denied') {
      const roleArn = roleOf(str(f.callerArn)) ?? str(f.roleArn) ?? null;
      const account = /:(\d{12}):/.exec(str(f.resource) ?? roleArn ?? '')?.[1];
      const ampUrl = service === 'aps' ? ampWriteUrl(url, str(f.resource), region) : undefined;
      if (account && ampUrl) {
        try {
          const partition: AwsPartition = (region && partitionOfRegion(region)) || 'aws';
          const doc = generatePermissionsPolicy([{ kind: 'amp', url: ampUrl, accountId: account }], { accountId: account, partition, templates: await templateOverrides(ctx) });
          policy = { roleArn, json: JSON.stringify(doc, null, 2) };
          steps.push(`Attach this policy to ${roleArn ?? 'the role the agent runs as'} (IAM → Roles → Add permissions → Create inline policy), or run the commands on the Policies page.`);
        } catch {
          // Not an AMP URL the generator understands: the summary names the action and resource.
        }
      }
      steps.push('The agent retries with fresh credentials; samples wait in its write-ahead log meanwhile (up to its size and age bounds).');
    } else if (finding.kind === 'clock_skew' || finding.kind === 'signature_mismatch') {
      steps.push(...(finding.kind === 'clock_skew' ? TIME_SYNC : []));
    } else if (finding.kind === 'no_credentials') {
      steps.push(...credentialSetup(instanceId));
    } else if (finding.kind === 'region_mismatch' && f.detail) {
      steps.push('Fix the region in the pipeline (sigv4.region, or the registered AWS account\'s default region) and publish again.');
    } else if (['dns', 'connect', 'tls', 'timeout'].includes(finding.kind)) {
      steps.push(`Test from the host: \`curl -sv ${url || '<endpoint>'} -o /dev/null\` shows which stage fails (name resolution, TCP connect, TLS).`);
    }
    return { summary, steps, ...(policy ? { policy } : {}) };
  }
  switch (finding.kind) {
    case 'config_unbuildable':
      return {
        summary: `The control plane cannot build this agent's config: ${f.error}. The agent keeps running its last good config (and its write-ahead logs) until one builds again.`,
        steps: ['Fix the pipeline version named above (the AWS account it references, its document or selector) and publish it again, or roll the pipeline back to a version that builds; the agent receives the new config at once and this finding clears.'],
      };
    case 'config_failed':
      return { summary: `The agent could not apply its config and keeps running the previous one: ${f.error}.`, steps: ['Fix the pipeline version (or roll back) and publish again; the agent applies it at once.'] };
    case 'target_down':
      return {
        summary: `${f.down} of ${f.targets} scrape targets are down (e.g. ${f.job} ${f.instance}${f.error ? `: ${f.error}` : ''}).`,
        steps: ['Check that the exporter runs and listens where the pipeline says, and that nothing blocks the port from the agent.'],
      };
    case 'discovery_failed':
      return {
        summary: `Service discovery fails for ${f.failing} job${Number(f.failing) === 1 ? '' : 's'} (e.g. ${f.job}, ${f.mechanism}: ${f.error}). The jobs keep scraping the targets they found last.`,
        steps: discoveryRemedy(String(f.mechanism), String(f.error)),
      };
    case 'tls_unverified':
      return {
        summary: `insecure_skip_verify is set for ${f.where}: the agent does not check who it talks to there.`,
        steps: ['Give the job a tls_config.ca_file with the CA that signed the server certificate (in Kubernetes: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt for the API server and kubelets that use the cluster CA) and remove insecure_skip_verify.'],
      };
    case 'credentials_refresh':
      return { summary: `The agent cannot refresh its AWS credentials: ${f.error}.`, steps: credentialSetup(instanceId) };
    case 'credentials_expiring':
      return { summary: `The agent's AWS credentials expire at ${f.expiresAt} and have not been refreshed.`, steps: ['Check that the credential source (instance metadata, IRSA token file, Pod Identity agent) is reachable from the agent.', ...TIME_SYNC.slice(0, 1)] };
    case 'clock_offset':
      return { summary: `The host clock is ${Math.round(Math.abs(Number(f.offsetMs)) / 1000)} s ${Number(f.offsetMs) > 0 ? 'behind' : 'ahead of'} the control plane's.`, steps: TIME_SYNC };
    case 'drops':
      return {
        summary: `The agent dropped samples (${f.reasons ?? 'see the agent page'}).`,
        steps: [
          'http_4xx / http_429: the destination refused them — see its error; wal_full / too_old: the destination was unreachable longer than the WAL bounds. (Samples write_relabel_configs remove on purpose are counted as filtered, not as drops.)',
        ],
      };
    default:
      return { summary: finding.title, steps: [] };
  }
}

/** What to do about a failing discovery mechanism, from its error. */
function discoveryRemedy(mechanism: string, error: string): string[] {
  if (mechanism === 'kubernetes' && /\b403\b|forbidden/i.test(error)) {
    return [
      'Grant the agent\'s service account get, list and watch on the resources the job discovers (pods, services, endpoints, endpointslices, nodes, ingresses) with a ClusterRole and ClusterRoleBinding (or a Role per namespace).',
      'Check with: `kubectl auth can-i list pods --as=system:serviceaccount:<namespace>:<service account>`.',
    ];
  }
  if (mechanism === 'kubernetes' && /\b401\b|unauthori[sz]ed/i.test(error)) {
    return ['The API server refuses the agent\'s token: check the service-account token mount (or the bearer token / kubeconfig the job names) and that the token has not expired.'];
  }
  if (mechanism === 'ec2') {
    return ['Give the role the agent signs as ec2:DescribeInstances and ec2:DescribeAvailabilityZones (Resource "*"), and check the region the job names.'];
  }
  if (mechanism === 'dns') return ['Check that the name resolves from the host (`dig SRV <name>`), and the resolver the host uses.'];
  return ['Check that the discovery endpoint is reachable from the agent and answers as the job expects; the job keeps its last good targets meanwhile.'];
}
