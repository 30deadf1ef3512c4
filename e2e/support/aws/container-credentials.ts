/**
 * A fake container credentials endpoint, as served by the EKS Pod Identity Agent
 * (`http://169.254.170.23/v1/credentials`) or the ECS agent: a GET carrying
 * `Authorization: <token>` answers `{AccessKeyId, SecretAccessKey, Token, Expiration, AccountId}`.
 * The SDK reaches it through `AWS_CONTAINER_CREDENTIALS_FULL_URI` + `AWS_CONTAINER_AUTHORIZATION_TOKEN`
 * (or `…_TOKEN_FILE`); it accepts loopback http URLs, so the fake works as is.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RotatingCredentials, type CredentialAuthority, type IssuedCredentials } from './credentials.js';
import { applyFault, listenLoopback, type HttpFault } from './http.js';

/** Options of {@link startFakeContainerCredentials}. */
export interface FakeContainerCredentialsOptions {
  authority: CredentialAuthority;
  /** Role the pod/task runs as (default `arn:aws:iam::<account>:role/fleet-agent-pod-role`). */
  roleArn?: string;
  /** Role session name in the issued identity (default `eks-fleet-agent-<random>`). */
  sessionName?: string;
  /** Expected `Authorization` value (default random). Changeable later through `token`. */
  token?: string;
  /** Path served (default `/v1/credentials`). */
  path?: string;
  /** Lifetime of issued credentials (default: the authority's). */
  credentialLifetimeMs?: number;
  /** Rotation window (see {@link RotatingCredentials}). */
  refreshWindowMs?: number;
  /** Answer in the ECS shape (`RoleArn`, no `AccountId`) instead of EKS Pod Identity's (default false). */
  ecsShape?: boolean;
}

/** One request the fake saw. */
export interface ContainerCredentialsRequest {
  method: string;
  path: string;
  status: number;
  /** The Authorization header received, if any. */
  authorization?: string;
}

/** A running fake container credentials endpoint. */
export interface FakeContainerCredentials {
  /** Full URI for `AWS_CONTAINER_CREDENTIALS_FULL_URI`, e.g. `http://127.0.0.1:PORT/v1/credentials`. */
  url: string;
  baseUrl: string;
  /** The token `Authorization` must equal; assign to simulate a rotated projected token. */
  token: string;
  roleArn: string;
  requests: ContainerCredentialsRequest[];
  /** Fault queue, one consumed per request (see {@link HttpFault}). */
  faults: HttpFault[];
  /** Every key served so far. */
  issued: IssuedCredentials[];
  /** The key currently served. */
  readonly current: IssuedCredentials | undefined;
  /** Serve a new key at the next request. */
  rotate(): void;
  close(): Promise<void>;
}

function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Starts the fake on 127.0.0.1 (random port). */
export async function startFakeContainerCredentials(options: FakeContainerCredentialsOptions): Promise<FakeContainerCredentials> {
  const { authority } = options;
  const roleArn = options.roleArn ?? `arn:aws:iam::${authority.accountId}:role/fleet-agent-pod-role`;
  const sessionName = options.sessionName ?? `eks-fleet-agent-${randomBytes(4).toString('hex')}`;
  const path = options.path ?? '/v1/credentials';
  const rotation = new RotatingCredentials(authority, () => authority.assumedRoleIdentity(roleArn, sessionName), {
    issuedBy: 'container',
    ...(options.credentialLifetimeMs !== undefined ? { lifetimeMs: options.credentialLifetimeMs } : {}),
    ...(options.refreshWindowMs !== undefined ? { refreshWindowMs: options.refreshWindowMs } : {}),
  });

  const fake = {
    token: options.token ?? randomBytes(32).toString('base64url'),
    roleArn,
    requests: [] as ContainerCredentialsRequest[],
    faults: [] as HttpFault[],
    issued: rotation.issued,
    get current() {
      return rotation.current;
    },
    rotate() {
      rotation.rotate();
    },
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.resume();
    const reqPath = (req.url ?? '/').split('?')[0]!;
    const authorization = req.headers.authorization;
    const entry: ContainerCredentialsRequest = { method: req.method ?? '', path: reqPath, status: 0 };
    if (authorization !== undefined) entry.authorization = authorization;
    fake.requests.push(entry);
    const json = (status: number, body: unknown): void => {
      entry.status = status;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const { outcome, fault } = await applyFault(fake.faults, res, (f) => ({
      contentType: 'application/json',
      body: JSON.stringify({ Code: f.code, Message: f.message ?? f.code }),
    }));
    if (outcome === 'answered') {
      entry.status = fault?.status ?? 0;
      return;
    }
    if (reqPath !== path) return json(404, { Code: 'NotFound', Message: `no such path ${reqPath}` });
    if (req.method !== 'GET') return json(405, { Code: 'MethodNotAllowed', Message: `method ${req.method} not allowed` });
    if (!authorization) return json(401, { Code: 'AccessDeniedException', Message: 'Service account token cannot be empty' });
    if (authorization !== fake.token) return json(403, { Code: 'AccessDeniedException', Message: 'Service account token is invalid' });
    const c = rotation.get();
    const base = {
      AccessKeyId: c.accessKeyId,
      SecretAccessKey: c.secretAccessKey,
      Token: c.sessionToken,
      Expiration: isoSeconds(c.expiration!),
    };
    return json(200, options.ecsShape ? { RoleArn: roleArn, ...base } : { ...base, AccountId: c.identity.account });
  }

  const listening = await listenLoopback(handle);
  return Object.assign(fake, { url: `${listening.url}${path}`, baseUrl: listening.url, close: listening.close }) as FakeContainerCredentials;
}
