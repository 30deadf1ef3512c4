import os from 'node:os';
import { callerIdentity, classifyNetworkError, ClockOffset, createRequestSigner, ManagedCredentials, remedyFor, type ClassifiedError } from '@fleet/aws';
import { loadAgentConfigFile, PipelineConfigError, sortLabels, type RemoteWriteConfig } from '@fleet/pipeline';
import { encodeLabels, encodeWriteRequest } from '../remote-write/encode.js';
import { RemoteWriteClient } from '../remote-write/client.js';
import { createDispatcher } from '../remote-write/http.js';
import { AGENT_VERSION } from '../version.js';
import type { CommandOptions } from './main.js';

/** The outcome of checking one destination. */
export interface DestinationCheck {
  name: string;
  url: string;
  ok: boolean;
  lines: string[];
}

/** Which credential providers the chain would try here, and whether each is configured. */
export function credentialProvidersTried(env: NodeJS.ProcessEnv = process.env): string[] {
  return [
    `environment (AWS_ACCESS_KEY_ID): ${env.AWS_ACCESS_KEY_ID ? 'set' : 'not set'}`,
    `shared files (${env.AWS_SHARED_CREDENTIALS_FILE ?? '~/.aws/credentials'}, profile ${env.AWS_PROFILE ?? 'default'})`,
    `web identity / IRSA (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN): ${env.AWS_WEB_IDENTITY_TOKEN_FILE && env.AWS_ROLE_ARN ? 'set' : 'not set'}`,
    `container / Pod Identity (AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI): ${env.AWS_CONTAINER_CREDENTIALS_FULL_URI || env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI ? 'set' : 'not set'}`,
    `EC2 instance metadata (IMDSv2${env.AWS_EC2_METADATA_SERVICE_ENDPOINT ? ` at ${env.AWS_EC2_METADATA_SERVICE_ENDPOINT}` : ''})${env.AWS_EC2_METADATA_DISABLED === 'true' ? ': disabled' : ''}`,
  ];
}

/** Checks one destination: credentials, identity, clock, and a one-sample signed write. */
export async function checkDestination(rw: RemoteWriteConfig, externalLabels: Record<string, string>): Promise<DestinationCheck> {
  const lines: string[] = [];
  let ok = true;
  const fail = (error: ClassifiedError, ctx: { callerArn?: string | null }) => {
    ok = false;
    lines.push(`  ✗ ${error.class}${error.code ? ` (${error.code})` : ''}: ${error.message}`);
    if (rw.sigv4) lines.push(`    fix: ${remedyFor(error, { url: rw.url, service: rw.sigv4.service, region: rw.sigv4.region, callerArn: ctx.callerArn, roleArn: rw.sigv4.roleArn })}`);
  };
  let credentials: ManagedCredentials | undefined;
  let clock: ClockOffset | undefined;
  let callerArn: string | null = null;
  if (rw.sigv4) {
    lines.push(`  signing: SigV4 service ${rw.sigv4.service}, region ${rw.sigv4.region}${rw.sigv4.roleArn ? `, assume ${rw.sigv4.roleArn}${rw.sigv4.externalId ? ' with ExternalId' : ''}` : ''}`);
    if (rw.sigv4.accessKey) lines.push('  ! static access keys in the config: prefer the instance role, IRSA or Pod Identity');
    credentials = new ManagedCredentials({ ...rw.sigv4, accessKey: rw.sigv4.accessKey, sessionName: `fleet-agent-doctor-${os.hostname()}`.slice(0, 64) }, { resolveCallerIdentity: false });
    try {
      const creds = await credentials.refresh();
      const st = credentials.status();
      lines.push(`  ✓ credentials: ${st.source}${creds.expiration ? `, expire ${creds.expiration.toISOString()}` : ''}`);
      try {
        const id = await callerIdentity(rw.sigv4.region, creds);
        callerArn = id.arn;
        lines.push(`  ✓ identity: ${id.arn}`);
      } catch (err) {
        fail(classifyNetworkError(err).class === 'unknown' ? { ...classifyNetworkError(err), class: 'invalid_token' } : classifyNetworkError(err), {});
      }
    } catch (err) {
      const error = classifyNetworkError(err);
      fail({ ...error, class: error.class === 'unknown' ? 'no_credentials' : error.class }, {});
      lines.push('    tried:', ...credentialProvidersTried().map((p) => `      - ${p}`));
      return { name: rw.name, url: rw.url, ok, lines };
    }
    clock = new ClockOffset();
  }
  const dispatcher = createDispatcher(rw.tlsConfig, { connections: 1 });
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
    if (clock) {
      const skew = clock.offsetMs / 1000;
      const mark = Math.abs(skew) >= 300 ? '✗' : Math.abs(skew) >= 60 ? '!' : '✓';
      lines.push(`  ${mark} clock offset: ${skew >= 0 ? '+' : ''}${skew.toFixed(1)} s (AWS rejects signatures off by more than 300 s)`);
      if (mark === '✗') ok = false;
    }
    if (outcome.ok) lines.push(`  ✓ test write: HTTP ${outcome.status}`);
    else fail(outcome.error, { callerArn });
  } finally {
    await dispatcher.close();
  }
  return { name: rw.name, url: rw.url, ok, lines };
}

/** `fleet-agent doctor`: prints a report per destination; exit code 1 when any check fails. */
export async function doctorCommand(options: CommandOptions): Promise<number> {
  let config;
  try {
    config = await loadAgentConfigFile(options.config);
  } catch (err) {
    console.error(err instanceof PipelineConfigError ? `fleet-agent: ${err.message}` : String(err));
    return 1;
  }
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
