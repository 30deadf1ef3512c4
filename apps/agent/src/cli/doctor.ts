import os from 'node:os';
import { callerIdentity, classifyError, ClockOffset, createRequestSigner, credentialProvidersTried, ManagedCredentials, remedyFor, resolveDefaultRegion, type AwsErrorClass, type ClassifiedError } from '@fleet/aws';
import { loadAgentConfigFile, PipelineConfigError, sortLabels, type RemoteWriteConfig } from '@fleet/pipeline';
import { encodeLabels, encodeWriteRequest } from '../remote-write/encode.js';
import { RemoteWriteClient } from '../remote-write/client.js';
import type { Dispatcher } from 'undici';
import { createHttpDispatcher } from '../remote-write/http.js';
import { AGENT_VERSION } from '../version.js';
import type { CommandOptions } from './main.js';

/** The outcome of checking one destination. */
export interface DestinationCheck {
  name: string;
  url: string;
  ok: boolean;
  lines: string[];
}

/** `arn:aws:iam::ACCOUNT:role/NAME` of an assumed-role session ARN; other ARNs unchanged. */
function principalOf(arn: string | undefined): string | undefined {
  const m = /^arn:(aws[\w-]*):sts::(\d{12}):assumed-role\/([^/]+)\//.exec(arn ?? '');
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : arn;
}

const NETWORK_CLASSES: ReadonlySet<AwsErrorClass> = new Set(['dns', 'connect', 'tls', 'timeout']);
const HTTP_CLASSES: ReadonlySet<AwsErrorClass> = new Set([...NETWORK_CLASSES, 'throttled', 'server_error', 'bad_request', 'not_found']);

/** The remedy for a failure to get credentials or the caller identity: the chain or STS failed, not the destination. */
function credentialRemedy(error: ClassifiedError, rw: RemoteWriteConfig, sigv4: NonNullable<RemoteWriteConfig['sigv4']>): string {
  if (error.class === 'access_denied' && error.action === 'sts:AssumeRole' && sigv4.roleArn) {
    const caller = principalOf(/^User: (\S+)/.exec(error.message)?.[1]) ?? "the base credentials' principal";
    const condition = sigv4.externalId ? ' under the condition that "sts:ExternalId" equals sigv4.external_id (check that they match)' : '';
    return `${caller} may not assume ${sigv4.roleArn}: the role's trust policy must allow "sts:AssumeRole" to ${caller}${condition}, and ${caller} needs {"Effect":"Allow","Action":"sts:AssumeRole","Resource":"${sigv4.roleArn}"}.`;
  }
  if (error.class === 'access_denied' && /AssumeRoleWithWebIdentity/.test(error.message)) {
    return `The role ${process.env.AWS_ROLE_ARN ?? 'in AWS_ROLE_ARN'} does not trust this web identity: its trust policy must allow "sts:AssumeRoleWithWebIdentity" to the cluster's OIDC provider with conditions matching the service account (<provider>:sub = system:serviceaccount:<namespace>:<name>, <provider>:aud = sts.amazonaws.com).`;
  }
  if (error.class === 'invalid_token' && /IdentityToken|^IDP/.test(error.code ?? '')) {
    return `STS rejected the web identity token in ${process.env.AWS_WEB_IDENTITY_TOKEN_FILE ?? 'AWS_WEB_IDENTITY_TOKEN_FILE'}: check that the cluster's OIDC provider is registered in IAM and that the projected service account token (audience sts.amazonaws.com) is current.`;
  }
  if (NETWORK_CLASSES.has(error.class)) {
    return `Could not reach the credential source or STS: check access to STS (${process.env.AWS_ENDPOINT_URL_STS ?? `sts.${sigv4.region}.amazonaws.com`} or its VPC endpoint), to IMDS (169.254.169.254; hop limit ≥ 2 in containers) or to the Pod Identity agent, and any HTTPS proxy.`;
  }
  return remedyFor(error, { url: rw.url, service: sigv4.service, region: sigv4.region, roleArn: sigv4.roleArn });
}

/** The remedy for a failed test write, or undefined when there is nothing specific to say. */
function writeRemedy(error: ClassifiedError, rw: RemoteWriteConfig, status: number | null, callerArn: string | null): string | undefined {
  if (status === 401 || (status === 403 && !rw.sigv4)) {
    return `The endpoint refused the request's authentication (HTTP ${status}): check basic_auth / authorization in the remote_write block${rw.sigv4 ? '' : ', or add a sigv4 block if it is an AWS endpoint'}.`;
  }
  if (rw.sigv4) return remedyFor(error, { url: rw.url, service: rw.sigv4.service, region: rw.sigv4.region, callerArn, roleArn: rw.sigv4.roleArn });
  // Without SigV4 only the remedies that are not about AWS signing apply.
  return HTTP_CLASSES.has(error.class) ? remedyFor(error, { url: rw.url, service: '', region: '' }) : undefined;
}

/** A clock offset that knows whether any answer carried a usable `Date` header. */
class ObservedClockOffset extends ClockOffset {
  measured = false;

  override observe(dateHeader: string | null | undefined, sentAtMs?: number): void {
    if (dateHeader && !Number.isNaN(Date.parse(dateHeader))) this.measured = true;
    super.observe(dateHeader, sentAtMs);
  }
}

const PARTITION_REGIONS: Record<string, readonly string[]> = {
  aws: [
    'us-east-1', 'us-east-2', 'us-west-1', 'us-west-2', 'ca-central-1', 'ca-west-1', 'sa-east-1', 'mx-central-1',
    'eu-west-1', 'eu-west-2', 'eu-west-3', 'eu-central-1', 'eu-central-2', 'eu-north-1', 'eu-south-1', 'eu-south-2',
    'ap-south-1', 'ap-south-2', 'ap-southeast-1', 'ap-southeast-2', 'ap-southeast-3', 'ap-southeast-4', 'ap-southeast-5', 'ap-southeast-7',
    'ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3', 'ap-east-1', 'me-south-1', 'me-central-1', 'il-central-1', 'af-south-1',
  ],
  'aws-cn': ['cn-north-1', 'cn-northwest-1'],
  'aws-us-gov': ['us-gov-west-1', 'us-gov-east-1'],
};

function partitionOf(region: string): string {
  return region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';
}

/** Regions to try after the endpoint rejected `configured`: the agent's own region first, then its partition's. */
function candidateRegions(configured: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const partition = partitionOf(configured);
  const own = [env.AWS_REGION, env.AWS_DEFAULT_REGION].filter((r): r is string => !!r && partitionOf(r) === partition);
  return [...new Set([...own, ...(PARTITION_REGIONS[partition] ?? [])])].filter((r) => r !== configured);
}

/**
 * After a region mismatch, finds the region the endpoint accepts signatures for: sends empty
 * write requests (no series, so nothing is written) signed for other regions, most likely first,
 * until one is not rejected for its region. Gives up on a network error or after `budgetMs`.
 */
async function probeEndpointRegion(
  rw: RemoteWriteConfig,
  deps: { credentials: ManagedCredentials; clock: ClockOffset; dispatcher: Dispatcher },
  budgetMs = 10_000,
): Promise<string | undefined> {
  if (!rw.sigv4) return undefined;
  const deadline = Date.now() + budgetMs;
  for (const region of candidateRegions(rw.sigv4.region)) {
    if (Date.now() > deadline) return undefined;
    const signer = createRequestSigner({ service: rw.sigv4.service, region, credentials: deps.credentials, clock: deps.clock });
    const client = new RemoteWriteClient(rw, { userAgent: `fleet-agent/${AGENT_VERSION}`, dispatcher: deps.dispatcher, signer });
    const outcome = await client.send(new Uint8Array(0));
    if (outcome.ok) return region;
    if (outcome.status === null) return undefined;
    if (outcome.error.class !== 'region_mismatch') return region;
  }
  return undefined;
}

/** Checks one destination: credentials, identity, clock, and a one-sample signed write. */
export async function checkDestination(rw: RemoteWriteConfig, externalLabels: Record<string, string>): Promise<DestinationCheck> {
  const lines: string[] = [];
  let ok = true;
  const fail = (error: ClassifiedError, fix: string | undefined) => {
    ok = false;
    lines.push(`  ✗ ${error.class}${error.code ? ` (${error.code})` : ''}: ${error.message.trim()}`);
    if (fix) lines.push(`    fix: ${fix}`);
  };
  let credentials: ManagedCredentials | undefined;
  let clock: ObservedClockOffset | undefined;
  let callerArn: string | null = null;
  if (rw.sigv4) {
    const sigv4 = rw.sigv4;
    lines.push(`  signing: SigV4 service ${sigv4.service}, region ${sigv4.region}${sigv4.roleArn ? `, assume ${sigv4.roleArn}${sigv4.externalId ? ' with ExternalId' : ''}` : ''}`);
    if (sigv4.accessKey) lines.push('  ! static access keys in the config: prefer the instance role, IRSA or Pod Identity');
    const settings = { ...sigv4, accessKey: sigv4.accessKey, sessionName: `fleet-agent-doctor-${os.hostname()}`.slice(0, 64) };
    credentials = new ManagedCredentials(settings, { resolveCallerIdentity: false });
    try {
      const creds = await credentials.refresh();
      const st = credentials.status();
      lines.push(`  ✓ credentials: ${st.source}${creds.expiration ? `, expire ${creds.expiration.toISOString()}` : ''}`);
      try {
        const id = await callerIdentity(sigv4.region, creds);
        callerArn = id.arn;
        lines.push(`  ✓ identity: ${id.arn}`);
      } catch (err) {
        const classified = classifyError(err);
        const error: ClassifiedError = classified.class === 'unknown' ? { ...classified, class: 'invalid_token' } : classified;
        fail(error, credentialRemedy(error, rw, sigv4));
      }
    } catch (err) {
      const classified = classifyError(err);
      const error: ClassifiedError = classified.class === 'unknown' ? { ...classified, class: 'no_credentials' } : classified;
      if (sigv4.roleArn && error.class !== 'no_credentials') {
        // The role could not be assumed: say which base credentials were used to try.
        const base = new ManagedCredentials({ ...settings, roleArn: undefined, externalId: undefined }, { resolveCallerIdentity: false });
        try {
          await base.refresh();
          lines.push(`  ✓ base credentials: ${base.status().source}`);
        } catch {
          // The failure above already says what went wrong.
        }
      }
      fail(error, credentialRemedy(error, rw, sigv4));
      if (error.class === 'no_credentials') lines.push('    tried:', ...credentialProvidersTried().map((p) => `      - ${p}`));
      return { name: rw.name, url: rw.url, ok, lines };
    }
    clock = new ObservedClockOffset();
  }
  const dispatcher = createHttpDispatcher(rw, { connections: 1 });
  try {
    const signer = rw.sigv4 && credentials && clock ? createRequestSigner({ service: rw.sigv4.service, region: rw.sigv4.region, credentials, clock }) : undefined;
    const client = new RemoteWriteClient(rw, { userAgent: `fleet-agent/${AGENT_VERSION}`, dispatcher, signer, credentials, clock });
    const labels = sortLabels([
      ...Object.entries(externalLabels).map(([name, value]) => ({ name, value })),
      { name: '__name__', value: 'fleet_agent_doctor' },
      { name: 'host', value: os.hostname() },
    ]);
    const body = encodeWriteRequest({ count: 1, labels: [encodeLabels(labels)], timestamps: new Float64Array([Date.now()]), values: new Float64Array([1]), stale: new Uint8Array(1) });
    const outcome = await client.send(body);
    if (clock && !clock.measured) {
      // Without an answer there is nothing to compare with; the failure below says why.
      if (outcome.ok || outcome.status !== null) lines.push("  ! clock offset: unknown (the endpoint's answer had no Date header)");
    } else if (clock) {
      const skew = clock.offsetMs / 1000;
      const mark = Math.abs(skew) >= 300 ? '✗' : Math.abs(skew) >= 60 ? '!' : '✓';
      lines.push(`  ${mark} clock offset: ${skew >= 0 ? '+' : ''}${skew.toFixed(1)} s (AWS rejects signatures off by more than 300 s)`);
      if (mark === '✗') ok = false;
    }
    if (outcome.ok) lines.push(`  ✓ test write: HTTP ${outcome.status}`);
    else {
      const endpointRegion =
        outcome.error.class === 'region_mismatch' && !/service/i.test(outcome.error.message) && rw.sigv4 && credentials && clock ? await probeEndpointRegion(rw, { credentials, clock, dispatcher }) : undefined;
      fail(
        outcome.error,
        endpointRegion && rw.sigv4
          ? `The request was signed for region ${rw.sigv4.region} but the endpoint is in ${endpointRegion} (it accepts requests signed for ${endpointRegion}): set sigv4.region: ${endpointRegion}, or use the endpoint of ${rw.sigv4.region}.`
          : writeRemedy(outcome.error, rw, outcome.status, callerArn),
      );
    }
  } finally {
    await dispatcher.close();
  }
  return { name: rw.name, url: rw.url, ok, lines };
}

/** `fleet-agent doctor`: prints a report per destination; exit code 1 when any check fails. */
export async function doctorCommand(options: CommandOptions): Promise<number> {
  let config;
  try {
    config = await loadAgentConfigFile(options.config, { expandEnv: options.expandEnv, defaultRegion: await resolveDefaultRegion(process.env) });
  } catch (err) {
    console.error(err instanceof PipelineConfigError ? `fleet-agent: ${err.message}` : String(err));
    return 1;
  }
  for (const w of config.warnings) console.log(`warning: ${w.path}: ${w.message}`);
  const unique = new Map<string, RemoteWriteConfig>();
  for (const inst of config.instances) for (const rw of inst.remoteWrite) unique.set(rw.name, rw);
  if (unique.size === 0) {
    console.log('no remote_write destinations configured');
    return 1;
  }
  let failed = 0;
  for (const rw of unique.values()) {
    const check = await checkDestination(rw, config.global.externalLabels);
    console.log(`destination ${check.name} (${check.url}): ${check.ok ? 'OK' : 'FAILED'}`);
    for (const line of check.lines) console.log(line);
    if (!check.ok) failed++;
  }
  console.log(failed ? `${failed} of ${unique.size} destinations failed` : `all ${unique.size} destinations OK`);
  return failed ? 1 : 0;
}
