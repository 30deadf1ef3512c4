/**
 * A fake EC2 Instance Metadata Service that requires IMDSv2 (like instances launched with
 * `HttpTokens=required`): a session token from `PUT /latest/api/token` must accompany every GET.
 * Role credentials come from the shared {@link CredentialAuthority} and are rotated the way EC2
 * does: the same key is served until it is close to expiry (or expired/revoked), then a new one.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomAwsId, RotatingCredentials, type CredentialAuthority, type IssuedCredentials } from './credentials.js';
import { applyFault, listenLoopback, type HttpFault } from './http.js';

/** Options of {@link startFakeImds}. */
export interface FakeImdsOptions {
  authority: CredentialAuthority;
  /** Instance profile role name (default `fleet-agent-instance-role`). */
  roleName?: string;
  /** Account of the instance and role (default: the authority's). */
  accountId?: string;
  region?: string;
  /** Availability zone (default `<region>a`). */
  availabilityZone?: string;
  instanceId?: string;
  instanceType?: string;
  /** Lifetime of the role credentials (default: the authority's `lifetimeMs`, read at each issue). */
  credentialLifetimeMs?: number;
  /**
   * Serve a new key once the current one expires within this window (default
   * min(5 minutes, lifetime / 2)). EC2 never hands out expired credentials.
   */
  refreshWindowMs?: number;
  /** Allow IMDSv1 (GETs without a token) (default false: IMDSv2 required, GETs without token → 401). */
  allowV1?: boolean;
}

/** One request the fake IMDS saw. */
export interface ImdsRequest {
  method: string;
  path: string;
  status: number;
  /** Whether it carried a (valid or not) session token. */
  withToken: boolean;
}

/** A running fake IMDS. */
export interface FakeImds {
  /** `http://127.0.0.1:PORT`: the value for `AWS_EC2_METADATA_SERVICE_ENDPOINT`. */
  url: string;
  roleName: string;
  /** `arn:aws:iam::ACCOUNT:role/<roleName>`. */
  roleArn: string;
  accountId: string;
  region: string;
  instanceId: string;
  /** Requests per path (e.g. `counts['/latest/api/token']`). */
  counts: Record<string, number>;
  /** Every request in order. */
  requests: ImdsRequest[];
  /** Fault queue, one consumed per request (see {@link HttpFault}). */
  faults: HttpFault[];
  /** The credentials currently served (undefined until first asked for). */
  readonly current: IssuedCredentials | undefined;
  /** Every key served so far, oldest first. */
  issued: IssuedCredentials[];
  /** Forces a new key at the next credentials request (the old one stays valid until it expires). */
  rotate(): void;
  /** Invalidates every session token handed out (GETs with them get 401). */
  invalidateTokens(): void;
  close(): Promise<void>;
}

const MAX_TOKEN_TTL_S = 21600;

function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Starts a fake IMDS on 127.0.0.1 (random port). */
export async function startFakeImds(options: FakeImdsOptions): Promise<FakeImds> {
  const { authority } = options;
  const roleName = options.roleName ?? 'fleet-agent-instance-role';
  const accountId = options.accountId ?? authority.accountId;
  const region = options.region ?? 'us-east-1';
  const availabilityZone = options.availabilityZone ?? `${region}a`;
  const instanceId = options.instanceId ?? `i-${randomBytes(9).toString('hex').slice(0, 17)}`;
  const instanceType = options.instanceType ?? 't3.medium';
  const roleArn = `arn:aws:iam::${accountId}:role/${roleName}`;
  const pendingTime = isoSeconds(new Date(authority.now() - 3600_000));
  const instanceProfileId = randomAwsId('AIPA', 21);
  const tokens = new Map<string, number>(); // token → expiry (ms)
  const rotation = new RotatingCredentials(authority, () => authority.assumedRoleIdentity(roleArn, instanceId), {
    issuedBy: 'imds',
    ...(options.credentialLifetimeMs !== undefined ? { lifetimeMs: options.credentialLifetimeMs } : {}),
    ...(options.refreshWindowMs !== undefined ? { refreshWindowMs: options.refreshWindowMs } : {}),
  });

  const identityDocument = (): string =>
    JSON.stringify(
      {
        accountId,
        architecture: 'x86_64',
        availabilityZone,
        billingProducts: null,
        devpayProductCodes: null,
        marketplaceProductCodes: null,
        imageId: 'ami-0abcdef1234567890',
        instanceId,
        instanceType,
        kernelId: null,
        pendingTime,
        privateIp: '10.0.1.23',
        ramdiskId: null,
        region,
        version: '2017-09-30',
      },
      null,
      2,
    );

  const imds = {
    roleName,
    roleArn,
    accountId,
    region,
    instanceId,
    counts: {} as Record<string, number>,
    requests: [] as ImdsRequest[],
    faults: [] as HttpFault[],
    issued: rotation.issued,
    get current() {
      return rotation.current;
    },
    rotate() {
      rotation.rotate();
    },
    invalidateTokens() {
      tokens.clear();
    },
  };

  function handle(req: IncomingMessage, res: ServerResponse): Promise<void> | void {
    const path = (req.url ?? '/').split('?')[0]!;
    imds.counts[path] = (imds.counts[path] ?? 0) + 1;
    const tokenHeader = req.headers['x-aws-ec2-metadata-token'];
    const entry: ImdsRequest = { method: req.method ?? '', path, status: 0, withToken: typeof tokenHeader === 'string' };
    imds.requests.push(entry);
    const send = (status: number, body: string, contentType = 'text/plain'): void => {
      entry.status = status;
      res.writeHead(status, { 'content-type': contentType, server: 'EC2ws' });
      res.end(body);
    };
    req.resume();
    return applyFault(imds.faults, res, (f) => ({ contentType: 'text/plain', body: f.message ?? f.code })).then(({ outcome, fault }) => {
      if (outcome === 'answered') {
        entry.status = fault?.status ?? 0;
        return;
      }
      if (path === '/latest/api/token') {
        if (req.method !== 'PUT') return send(405, '');
        // IMDS refuses token requests that went through a proxy.
        if (req.headers['x-forwarded-for']) return send(403, 'Forbidden');
        const ttlHeader = req.headers['x-aws-ec2-metadata-token-ttl-seconds'];
        const ttl = typeof ttlHeader === 'string' && /^\d+$/.test(ttlHeader) ? Number(ttlHeader) : NaN;
        if (!(ttl >= 1 && ttl <= MAX_TOKEN_TTL_S)) return send(400, 'Bad Request');
        const token = `AQAEA${randomBytes(40).toString('base64url')}==`;
        tokens.set(token, authority.now() + ttl * 1000);
        res.setHeader('x-aws-ec2-metadata-token-ttl-seconds', String(ttl));
        return send(200, token);
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, '');
      if (typeof tokenHeader === 'string') {
        const expiry = tokens.get(tokenHeader);
        if (expiry === undefined || expiry <= authority.now()) return send(401, 'Unauthorized');
      } else if (!options.allowV1) return send(401, 'Unauthorized');

      const credsPrefix = '/latest/meta-data/iam/security-credentials/';
      if (path === credsPrefix) return send(200, roleName);
      if (path.startsWith(credsPrefix)) {
        if (path.slice(credsPrefix.length) !== roleName) return send(404, notFound());
        const c = rotation.get();
        return send(
          200,
          JSON.stringify(
            {
              Code: 'Success',
              LastUpdated: isoSeconds(c.issuedAt),
              Type: 'AWS-HMAC',
              AccessKeyId: c.accessKeyId,
              SecretAccessKey: c.secretAccessKey,
              Token: c.sessionToken,
              Expiration: isoSeconds(c.expiration!),
            },
            null,
            2,
          ),
        );
      }
      switch (path) {
        case '/latest/dynamic/instance-identity/document':
          return send(200, identityDocument());
        case '/latest/meta-data/placement/region':
          return send(200, region);
        case '/latest/meta-data/placement/availability-zone':
          return send(200, availabilityZone);
        case '/latest/meta-data/instance-id':
          return send(200, instanceId);
        case '/latest/meta-data/instance-type':
          return send(200, instanceType);
        case '/latest/meta-data/iam/info':
          return send(
            200,
            JSON.stringify({
              Code: 'Success',
              LastUpdated: isoSeconds(new Date(authority.now())),
              InstanceProfileArn: `arn:aws:iam::${accountId}:instance-profile/${roleName}`,
              InstanceProfileId: instanceProfileId,
            }),
          );
        case '/latest/meta-data/':
          return send(200, ['ami-id', 'iam/', 'instance-id', 'instance-type', 'placement/'].join('\n'));
        default:
          return send(404, notFound());
      }
    });
  }

  const listening = await listenLoopback(handle);
  return Object.assign(imds, { url: listening.url, close: listening.close }) as FakeImds;
}

function notFound(): string {
  return `<?xml version="1.0" encoding="iso-8859-1"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
         "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>404 - Not Found</title>
 </head>
 <body>
  <h1>404 - Not Found</h1>
 </body>
</html>
`;
}
