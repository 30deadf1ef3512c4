import type { ClassifiedError } from './errors.js';

/** Facts about the failing destination that make a remedy concrete. */
export interface RemedyContext {
  url: string;
  service: string;
  region: string;
  /** ARN the request was signed as (from sts:GetCallerIdentity), when known. */
  callerArn?: string | null | undefined;
  /** Role assumed for the destination, when configured. */
  roleArn?: string | undefined;
  /** The EC2 instance the agent runs on, when known (commands name it; `<instance-id>` otherwise). */
  instanceId?: string | undefined;
}

/**
 * The command that requires IMDSv2 and lets containers reach it (hop limit 2) on one instance.
 * `--instance-id` is required by the AWS CLI: the agent's instance when known, else a placeholder.
 */
export function imdsHopLimitCommand(instanceId?: string): string {
  const id = instanceId && /^i-[0-9a-f]{8,17}$/.test(instanceId) ? instanceId : '<instance-id>';
  return `aws ec2 modify-instance-metadata-options --instance-id ${id} --http-tokens required --http-put-response-hop-limit 2`;
}

const IAM_ACTION: Record<string, string> = { aps: 'aps:RemoteWrite', logs: 'logs:PutLogEvents', firehose: 'firehose:PutRecordBatch', kinesis: 'kinesis:PutRecords', monitoring: 'cloudwatch:PutMetricData', s3: 's3:PutObject' };

/** The AMP workspace ARN a remote-write URL targets, e.g. arn:aws:aps:us-east-1:123456789012:workspace/ws-…, when the account is known. */
export function ampWorkspaceArn(url: string, region: string, accountId: string | undefined): string | undefined {
  const m = /\/workspaces\/(ws-[\w-]+)\//.exec(new URL(url).pathname);
  if (!m || !accountId) return undefined;
  const partition = region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';
  return `arn:${partition}:aps:${region}:${accountId}:workspace/${m[1]}`;
}

/** The region named in an AWS endpoint URL's host (`….us-east-1.amazonaws.com`), if any. */
function endpointRegion(url: string): string | undefined {
  try {
    return /\.((?:[a-z]{2}|us-gov|us-iso|us-isob)-[a-z]+-\d{1,2})\.(?:vpce\.)?amazonaws\.com/.exec(new URL(url).hostname)?.[1];
  } catch {
    return undefined;
  }
}

function roleOf(callerArn: string | null | undefined): string | undefined {
  const m = /^arn:(aws[\w-]*):sts::(\d{12}):assumed-role\/([^/]+)\//.exec(callerArn ?? '');
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : (callerArn ?? undefined);
}

/**
 * One or two sentences telling an operator what to change for a classified failure, using the
 * destination's facts (the IAM action and resource to allow, the regions that disagree, …).
 */
export function remedyFor(error: ClassifiedError, ctx: RemedyContext): string {
  const principal = roleOf(ctx.callerArn) ?? ctx.roleArn ?? 'the role the agent runs as';
  switch (error.class) {
    case 'access_denied': {
      const action = error.action ?? IAM_ACTION[ctx.service] ?? `${ctx.service}:*`;
      const account = /:(\d{12}):/.exec(ctx.callerArn ?? ctx.roleArn ?? '')?.[1];
      const resource = error.resource ?? (ctx.service === 'aps' ? ampWorkspaceArn(ctx.url, ctx.region, account) : undefined) ?? 'the destination';
      return `Allow ${JSON.stringify(action)} on ${resource} in a policy attached to ${principal}: {"Effect":"Allow","Action":"${action}","Resource":"${resource}"}.`;
    }
    case 'signature_mismatch':
      return `The signature did not match: check that the signing service is ${JSON.stringify(ctx.service)} and the region ${ctx.region} matches the endpoint, that nothing between the agent and AWS rewrites the request (proxies changing Host or body), and that the secret key belongs to the access key.`;
    case 'clock_skew':
      return 'The host clock is off by more than AWS allows (5 minutes). Enable time sync (chrony/systemd-timesyncd with the Amazon Time Sync Service at 169.254.169.123) and check the offset gauge fleet_agent_aws_clock_offset_seconds.';
    case 'expired_token':
      return 'The credentials expired before they were refreshed. Check that the credential source (IMDS, IRSA token file, Pod Identity agent) is reachable and that the host clock is correct.';
    case 'invalid_token':
      return 'AWS does not recognise these credentials: the access key or session token is wrong, revoked, or from another partition. Remove static keys and let the agent use the instance role, IRSA or Pod Identity.';
    case 'region_mismatch': {
      const endpoint = endpointRegion(ctx.url);
      return endpoint && endpoint !== ctx.region
        ? `The request was signed for region ${ctx.region} but the endpoint is in ${endpoint}: set sigv4.region to ${endpoint}, or use the endpoint of ${ctx.region}.`
        : `The request was signed for region ${ctx.region} but the endpoint is in another region: set sigv4.region to the endpoint's region, or use the endpoint of ${ctx.region}.`;
    }
    case 'service_mismatch':
      return `The request was signed for service ${JSON.stringify(ctx.service)} but the endpoint expects another signing name: set sigv4.service (aps for Amazon Managed Service for Prometheus, logs for CloudWatch Logs).`;
    case 'missing_auth':
      return 'The endpoint requires AWS authentication but the request was not signed: add a sigv4 block (region, and role_arn for cross-account) to the remote_write.';
    case 'unauthorized':
      return 'The endpoint refused the request\'s authentication (HTTP 401): check basic_auth / authorization in the remote_write block.';
    case 'no_credentials':
      return `No credentials were found. On EC2, attach an instance profile whose role has the policy (and allow IMDSv2 with hop limit ≥ 2 in containers: ${imdsHopLimitCommand(ctx.instanceId)}); on EKS, annotate the service account with eks.amazonaws.com/role-arn (IRSA) or create a Pod Identity association.`;
    case 'dns':
      return `The endpoint host of ${ctx.url} does not resolve: check the URL, the VPC's DNS settings and, for private endpoints, the VPC endpoint's private DNS.`;
    case 'connect':
      return `Could not connect to ${ctx.url}: check security groups, network ACLs, routes/NAT or the VPC endpoint, and any HTTPS proxy.`;
    case 'tls':
      return `TLS to ${ctx.url} failed: check the system CA bundle (or tls_config.ca_file) and tls_config.server_name; an intercepting proxy needs its CA trusted.`;
    case 'timeout':
      return `The request to ${ctx.url} timed out: check network reachability and raise remote_timeout if the endpoint is slow.`;
    case 'throttled':
      return 'The destination is throttling: samples are kept and retried. Reduce the series count or ask for a higher quota.';
    case 'server_error':
      return 'The destination failed on its side: samples are kept and retried with backoff.';
    case 'not_found':
      return `Nothing answers at ${ctx.url}: check the workspace id and path (AMP: /workspaces/<id>/api/v1/remote_write).`;
    case 'bad_request':
      return `The destination rejected the data (${error.message}); these samples are dropped. Check for out-of-order or too-old samples and invalid labels.`;
    default:
      return error.message;
  }
}
