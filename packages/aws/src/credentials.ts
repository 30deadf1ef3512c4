import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromIni, fromNodeProviderChain, fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

/** Where a destination's credentials come from; mirrors the `sigv4` block of a remote_write. */
export interface CredentialSettings {
  region: string;
  /** Static keys from the config (discouraged; prefer the environment's credentials). */
  accessKey?: string | undefined;
  secretKey?: string | undefined;
  /** A profile of the shared config/credentials files. */
  profile?: string | undefined;
  /** A role to assume on top of the base credentials (cross-account), with its ExternalId. */
  roleArn?: string | undefined;
  externalId?: string | undefined;
  /** Session name for AssumeRole (default `fleet-agent-<hostname>`). */
  sessionName?: string | undefined;
}

/** What operators see about a destination's credentials. */
export interface CredentialStatus {
  /** e.g. `EC2 instance metadata (IMDSv2)`, or `assume role arn:… via web identity token (IRSA)`. */
  source: string | null;
  expiration: Date | null;
  /** ARN of the identity the credentials belong to (from sts:GetCallerIdentity), once known. */
  callerArn: string | null;
  lastRefreshAt: Date | null;
  /** The last refresh failure, one line. */
  lastError: string | null;
}

const SOURCE_NAMES: Array<[string, string]> = [
  ['CREDENTIALS_STS_ASSUME_ROLE_WEB_ID', 'web identity token (IRSA)'],
  ['CREDENTIALS_ENV_VARS_STS_WEB_ID_TOKEN', 'web identity token (IRSA)'],
  ['CREDENTIALS_PROFILE_STS_WEB_ID_TOKEN', 'web identity token (profile)'],
  ['CREDENTIALS_HTTP', 'container credentials (EKS Pod Identity / ECS)'],
  ['CREDENTIALS_IMDS', 'EC2 instance metadata (IMDSv2)'],
  ['CREDENTIALS_PROFILE_SOURCE_PROFILE', 'shared config profile (assume role)'],
  ['CREDENTIALS_PROFILE_PROCESS', 'credential_process (profile)'],
  ['CREDENTIALS_PROCESS', 'credential_process'],
  ['CREDENTIALS_PROFILE_SSO', 'SSO (profile)'],
  ['CREDENTIALS_SSO', 'SSO'],
  ['CREDENTIALS_PROFILE', 'shared credentials/config file'],
  ['CREDENTIALS_ENV_VARS', 'environment variables'],
  ['CREDENTIALS_STS_ASSUME_ROLE', 'assumed role'],
  ['CREDENTIALS_CODE', 'static keys in config'],
];

/**
 * Human name of the provider that produced credentials, from the SDK's `$source` markers. The
 * default chain marks the credentials of every provider except IMDS and the container endpoint
 * (they come last), so unmarked credentials are named after whichever of those is configured.
 */
export function describeCredentialSource(credentials: AwsCredentialIdentity, env: NodeJS.ProcessEnv = process.env): string {
  const marks = (credentials as { $source?: Record<string, unknown> }).$source ?? {};
  for (const [key, name] of SOURCE_NAMES) if (key in marks) return name;
  return env.AWS_CONTAINER_CREDENTIALS_FULL_URI || env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
    ? 'container credentials (EKS Pod Identity / ECS)'
    : 'EC2 instance metadata (IMDSv2)';
}

/** Refresh this long before expiry (the SDK also uses 5 minutes). */
export const REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;

/**
 * The credentials of one destination: resolved through the AWS SDK's Node provider chain
 * (env → shared files/profile → web identity (IRSA) → container (Pod Identity/ECS) → IMDSv2),
 * or static keys / a profile, then optionally AssumeRole with ExternalId. Cached; refreshed
 * before expiry or when {@link invalidate}d (e.g. after a 403 for an expired token); concurrent
 * callers share one refresh.
 */
export class ManagedCredentials {
  private current: AwsCredentialIdentity | null = null;
  private refreshing: Promise<AwsCredentialIdentity> | null = null;
  private readonly state: CredentialStatus = { source: null, expiration: null, callerArn: null, lastRefreshAt: null, lastError: null };
  private identityFor: string | null = null;

  constructor(
    readonly settings: CredentialSettings,
    private readonly options: { now?: () => number; resolveCallerIdentity?: boolean } = {},
  ) {}

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /**
   * Valid credentials, refreshed first when they expire within 5 minutes. If that early refresh
   * fails while the cached ones are still valid (for at least 30 s), those are returned and the
   * failure is recorded in `status().lastError`.
   */
  async get(): Promise<AwsCredentialIdentity> {
    const c = this.current;
    if (c && (!c.expiration || c.expiration.getTime() - this.now() > REFRESH_BEFORE_EXPIRY_MS)) return c;
    try {
      return await this.refresh();
    } catch (err) {
      if (c?.expiration && c.expiration.getTime() - this.now() > 30_000 && this.current === c) return c;
      throw err;
    }
  }

  /** Forgets the cached credentials; the next {@link get} resolves them again. */
  invalidate(): void {
    this.current = null;
  }

  /** A snapshot for metrics, heartbeats and `doctor`. */
  status(): CredentialStatus {
    return { ...this.state };
  }

  /** Resolves credentials now (single-flight). */
  refresh(): Promise<AwsCredentialIdentity> {
    this.refreshing ??= this.resolve().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async resolve(): Promise<AwsCredentialIdentity> {
    try {
      const { provider, describe } = this.buildProvider();
      const creds = await provider();
      this.current = creds;
      this.state.source = describe(creds);
      this.state.expiration = creds.expiration ?? null;
      this.state.lastRefreshAt = new Date(this.now());
      this.state.lastError = null;
      if (this.options.resolveCallerIdentity !== false && this.identityFor !== creds.accessKeyId) {
        this.identityFor = creds.accessKeyId;
        void callerIdentity(this.settings.region, creds).then(
          (id) => (this.state.callerArn = id.arn),
          () => undefined,
        );
      }
      return creds;
    } catch (err) {
      this.state.lastError = oneLine(err);
      throw err;
    }
  }

  private buildProvider(): { provider: AwsCredentialIdentityProvider; describe: (c: AwsCredentialIdentity) => string } {
    const s = this.settings;
    let base: AwsCredentialIdentityProvider;
    let baseName: (c: AwsCredentialIdentity) => string = describeCredentialSource;
    if (s.accessKey && s.secretKey) {
      const fixed = { accessKeyId: s.accessKey, secretAccessKey: s.secretKey };
      base = async () => fixed;
      baseName = () => 'static keys in config';
    } else if (s.profile) {
      base = fromIni({ profile: s.profile, clientConfig: { region: s.region } });
      baseName = () => `profile ${s.profile}`;
    } else {
      // A new chain each time: the SDK's chain memoizes, and we decide when to refresh.
      base = fromNodeProviderChain({ clientConfig: { region: s.region } });
    }
    if (!s.roleArn) return { provider: base, describe: baseName };
    let baseCreds: AwsCredentialIdentity | undefined;
    const master: AwsCredentialIdentityProvider = async () => (baseCreds = await base());
    const assumed = fromTemporaryCredentials({
      masterCredentials: master,
      params: {
        RoleArn: s.roleArn,
        RoleSessionName: s.sessionName ?? defaultSessionName(),
        ...(s.externalId ? { ExternalId: s.externalId } : {}),
        DurationSeconds: 3600,
      },
      clientConfig: { region: s.region },
    });
    return {
      provider: assumed,
      describe: () => `assume role ${s.roleArn} via ${baseCreds ? baseName(baseCreds) : 'the default chain'}`,
    };
  }
}

function defaultSessionName(): string {
  const host = (process.env.HOSTNAME || 'host').replace(/[^\w+=,.@-]/g, '-');
  return `fleet-agent-${host}`.slice(0, 64);
}

/** The identity credentials belong to, via sts:GetCallerIdentity (uses AWS_ENDPOINT_URL_STS when set). */
export async function callerIdentity(region: string, credentials: AwsCredentialIdentity): Promise<{ arn: string; account: string; userId: string }> {
  const client = new STSClient({ region, credentials, maxAttempts: 2 });
  try {
    const out = await client.send(new GetCallerIdentityCommand({}));
    return { arn: out.Arn ?? '', account: out.Account ?? '', userId: out.UserId ?? '' };
  } finally {
    client.destroy();
  }
}

function oneLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return (message.split('\n')[0] ?? message).trim();
}

/**
 * Which providers of the default credential chain would be tried here, in order, and whether each
 * is configured — what an operator needs when no credentials were found (`doctor`, heartbeats).
 */
export function credentialProvidersTried(env: NodeJS.ProcessEnv = process.env): string[] {
  return [
    `environment (AWS_ACCESS_KEY_ID): ${env.AWS_ACCESS_KEY_ID ? 'set' : 'not set'}`,
    `shared files (${env.AWS_SHARED_CREDENTIALS_FILE ?? '~/.aws/credentials'}, profile ${env.AWS_PROFILE ?? 'default'})`,
    `web identity / IRSA (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN): ${env.AWS_WEB_IDENTITY_TOKEN_FILE && env.AWS_ROLE_ARN ? 'set' : 'not set'}`,
    `container / Pod Identity (AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI): ${env.AWS_CONTAINER_CREDENTIALS_FULL_URI || env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI ? 'set' : 'not set'}`,
    `EC2 instance metadata (IMDSv2${env.AWS_EC2_METADATA_SERVICE_ENDPOINT ? ` at ${env.AWS_EC2_METADATA_SERVICE_ENDPOINT}` : ''})${env.AWS_EC2_METADATA_DISABLED === 'true' ? ': disabled' : ''}`,
  ];
}
