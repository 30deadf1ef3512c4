/**
 * A fake AWS STS speaking the query protocol (form-encoded POST, XML answers shaped exactly like
 * real STS). `AssumeRole` and `GetCallerIdentity` must be SigV4-signed (service `sts`, checked by
 * the independent verifier); `AssumeRoleWithWebIdentity` is unsigned and checks the token.
 * Per-role rules decide who may assume what and which ExternalId is required.
 * The SDK reaches it through `AWS_ENDPOINT_URL_STS`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseRoleArn, type CredentialAuthority, type Identity, type IssuedCredentials } from './credentials.js';
import { applyFault, listenLoopback, readBody, requestId, type HttpFault } from './http.js';
import { verifySigV4 } from './sigv4.js';

/** A role the fake STS knows. */
export interface StsRole {
  /** `arn:aws:iam::ACCOUNT:role/NAME`. */
  arn: string;
  /**
   * Principals allowed to `AssumeRole` it (its trust policy): user ARNs, role ARNs (any session of
   * that role), assumed-role session ARNs, `arn:aws:iam::ACCOUNT:root` (anyone in the account) or
   * `*`. Default: nobody.
   */
  trustedPrincipals?: string[];
  /** ExternalId that `AssumeRole` must carry (trust-policy condition `sts:ExternalId`). */
  externalId?: string;
  /** Token `AssumeRoleWithWebIdentity` must present for this role; unset = not federated. */
  webIdentityToken?: string;
  /** Largest DurationSeconds allowed (default 3600). */
  maxSessionDurationSeconds?: number;
}

/** Options of {@link startFakeSts}. */
export interface FakeStsOptions {
  authority: CredentialAuthority;
  /** Region(s) the signature scope may name (default `us-east-1`). */
  region?: string | readonly string[];
  roles?: StsRole[];
  /**
   * Lifetime of issued credentials. Default: DurationSeconds when given, else the authority's
   * `lifetimeMs` (1 h unless changed), so a short authority lifetime makes STS keys short too.
   */
  credentialLifetimeMs?: number;
  /** The service's clock for the SigV4 skew check (default `Date.now`). */
  now?: () => number;
  /** Issuer used in web-identity answers (default an EKS OIDC provider of the account). */
  oidcProviderArn?: string;
}

/** One call the fake STS answered. */
export interface StsCall {
  action: string;
  params: Record<string, string>;
  status: number;
  /** Error code when it failed. */
  code?: string;
  message?: string;
  /** ARN of the signing identity (signed actions that passed verification). */
  callerArn?: string;
  /** Key id of credentials issued by this call. */
  issuedAccessKeyId?: string;
}

/** A running fake STS. */
export interface FakeSts {
  /** `http://127.0.0.1:PORT`: the value for `AWS_ENDPOINT_URL_STS`. */
  url: string;
  /** Every call, in order. */
  calls: StsCall[];
  /** Calls per action (e.g. `counts.AssumeRole`). */
  counts: Record<string, number>;
  /** Fault queue, one consumed per request (rendered as STS XML errors when `code` is set). */
  faults: HttpFault[];
  /** Known roles by ARN (mutable: add roles or change rules at any time). */
  roles: Map<string, StsRole>;
  /** Added to the service clock; e.g. `-6 * 60_000` simulates an agent clock 6 minutes fast. */
  clockOffsetMs: number;
  /** Adds (or replaces) a role. */
  addRole(role: StsRole): void;
  /** Credentials issued so far by this STS. */
  issued: IssuedCredentials[];
  close(): Promise<void>;
}

const NS = 'https://sts.amazonaws.com/doc/2011-06-15/';

/** Escapes text for XML element content. */
export function xmlEscape(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

class StsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly type: 'Sender' | 'Receiver' = 'Sender',
  ) {
    super(message);
  }
}

function errorXml(type: string, code: string, message: string, id: string): string {
  return `<ErrorResponse xmlns="${NS}">
  <Error>
    <Type>${type}</Type>
    <Code>${xmlEscape(code)}</Code>
    <Message>${xmlEscape(message)}</Message>
  </Error>
  <RequestId>${id}</RequestId>
</ErrorResponse>
`;
}

function credentialsXml(c: IssuedCredentials): string {
  return `<Credentials>
      <AccessKeyId>${c.accessKeyId}</AccessKeyId>
      <SecretAccessKey>${xmlEscape(c.secretAccessKey)}</SecretAccessKey>
      <SessionToken>${xmlEscape(c.sessionToken ?? '')}</SessionToken>
      <Expiration>${isoSeconds(c.expiration!)}</Expiration>
    </Credentials>`;
}

function assumedRoleUserXml(identity: Identity): string {
  return `<AssumedRoleUser>
      <Arn>${xmlEscape(identity.arn)}</Arn>
      <AssumedRoleId>${xmlEscape(identity.userId)}</AssumedRoleId>
    </AssumedRoleUser>`;
}

function wrap(action: string, result: string, id: string): string {
  return `<${action}Response xmlns="${NS}">
  <${action}Result>
    ${result}
  </${action}Result>
  <ResponseMetadata>
    <RequestId>${id}</RequestId>
  </ResponseMetadata>
</${action}Response>
`;
}

function validationError(message: string): StsError {
  return new StsError(400, 'ValidationError', message);
}

function required(params: Record<string, string>, name: string, member: string): string {
  const v = params[name];
  if (v === undefined || v === '') throw validationError(`1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`);
  return v;
}

function checkSessionName(name: string): void {
  if (!/^[\w+=,.@-]{2,64}$/.test(name)) {
    throw validationError(
      `1 validation error detected: Value '${name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`,
    );
  }
}

function principalMatches(pattern: string, caller: Identity): boolean {
  if (pattern === '*') return true;
  if (pattern === caller.arn) return true;
  const root = /^arn:aws[a-z-]*:iam::(\d{12}):root$/.exec(pattern);
  if (root) return root[1] === caller.account;
  const role = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:.*\/)?([\w+=,.@-]+)$/.exec(pattern);
  if (role) {
    const session = /^arn:aws[a-z-]*:sts::(\d{12}):assumed-role\/([\w+=,.@-]+)\/[^/]+$/.exec(caller.arn);
    return !!session && session[1] === role[1] && session[2] === role[2];
  }
  return false;
}

/** Starts a fake STS on 127.0.0.1 (random port). */
export async function startFakeSts(options: FakeStsOptions): Promise<FakeSts> {
  const { authority } = options;
  const region = options.region ?? 'us-east-1';
  const baseNow = options.now ?? Date.now;
  const firstRegion = typeof region === 'string' ? region : (region[0] ?? 'us-east-1');
  const oidcProviderArn = options.oidcProviderArn ?? `arn:aws:iam::${authority.accountId}:oidc-provider/oidc.eks.${firstRegion}.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE`;

  const sts = {
    calls: [] as StsCall[],
    counts: {} as Record<string, number>,
    faults: [] as HttpFault[],
    roles: new Map<string, StsRole>(),
    clockOffsetMs: 0,
    issued: [] as IssuedCredentials[],
    addRole(role: StsRole) {
      parseRoleArn(role.arn);
      sts.roles.set(role.arn, role);
    },
  };
  for (const role of options.roles ?? []) sts.addRole(role);

  const lifetimeFor = (role: StsRole, params: Record<string, string>): number => {
    const raw = params.DurationSeconds;
    if (raw !== undefined) {
      const d = Number(raw);
      if (!Number.isInteger(d) || d < 900) {
        throw validationError(`1 validation error detected: Value '${raw}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900`);
      }
      if (d > (role.maxSessionDurationSeconds ?? 3600)) throw validationError('The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
      return options.credentialLifetimeMs ?? d * 1000;
    }
    return options.credentialLifetimeMs ?? authority.lifetimeMs;
  };

  async function dispatch(req: IncomingMessage, body: Buffer, params: Record<string, string>, call: StsCall, id: string): Promise<string> {
    const action = params.Action;
    if (!action) throw new StsError(400, 'MissingAction', 'Missing Action');
    const signed = action === 'AssumeRole' || action === 'GetCallerIdentity';
    let caller: Identity | undefined;
    if (signed) {
      const v = verifySigV4(
        { method: req.method ?? 'POST', url: req.url ?? '/', headers: req.rawHeaders, body },
        { credentials: authority, region, service: 'sts', flavor: 'query', now: () => baseNow() + sts.clockOffsetMs },
      );
      if (!v.ok) throw new StsError(v.status, v.code, v.message);
      caller = v.credentials.identity;
      call.callerArn = caller.arn;
    }
    switch (action) {
      case 'GetCallerIdentity':
        return wrap(
          action,
          `<Arn>${xmlEscape(caller!.arn)}</Arn>
    <UserId>${xmlEscape(caller!.userId)}</UserId>
    <Account>${caller!.account}</Account>`,
          id,
        );
      case 'AssumeRole': {
        const roleArn = required(params, 'RoleArn', 'roleArn');
        const sessionName = required(params, 'RoleSessionName', 'roleSessionName');
        checkSessionName(sessionName);
        const role = sts.roles.get(roleArn);
        const denied = new StsError(403, 'AccessDenied', `User: ${caller!.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
        if (!role || !(role.trustedPrincipals ?? []).some((p) => principalMatches(p, caller!))) throw denied;
        if (role.externalId !== undefined && params.ExternalId !== role.externalId) throw denied;
        const creds = authority.issueTemporary(authority.assumedRoleIdentity(roleArn, sessionName), { lifetimeMs: lifetimeFor(role, params), issuedBy: 'sts:AssumeRole' });
        sts.issued.push(creds);
        call.issuedAccessKeyId = creds.accessKeyId;
        return wrap(action, `${credentialsXml(creds)}\n    ${assumedRoleUserXml(creds.identity)}`, id);
      }
      case 'AssumeRoleWithWebIdentity': {
        const roleArn = required(params, 'RoleArn', 'roleArn');
        const sessionName = required(params, 'RoleSessionName', 'roleSessionName');
        const token = required(params, 'WebIdentityToken', 'webIdentityToken');
        checkSessionName(sessionName);
        const role = sts.roles.get(roleArn);
        if (!role || role.webIdentityToken === undefined) throw new StsError(403, 'AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity');
        if (token !== role.webIdentityToken) {
          throw new StsError(
            400,
            'InvalidIdentityToken',
            'The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request.',
          );
        }
        const creds = authority.issueTemporary(authority.assumedRoleIdentity(roleArn, sessionName), {
          lifetimeMs: lifetimeFor(role, params),
          issuedBy: 'sts:AssumeRoleWithWebIdentity',
        });
        sts.issued.push(creds);
        call.issuedAccessKeyId = creds.accessKeyId;
        const { roleName } = parseRoleArn(roleArn);
        return wrap(
          action,
          `${credentialsXml(creds)}
    <SubjectFromWebIdentityToken>system:serviceaccount:fleet:${xmlEscape(roleName)}</SubjectFromWebIdentityToken>
    ${assumedRoleUserXml(creds.identity)}
    <Provider>${xmlEscape(oidcProviderArn)}</Provider>
    <Audience>sts.amazonaws.com</Audience>`,
          id,
        );
      }
      default:
        throw new StsError(400, 'InvalidAction', `Could not find operation ${action} for version ${params.Version ?? 'NO_VERSION_SPECIFIED'}`);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const id = requestId();
    res.setHeader('x-amzn-RequestId', id);
    // The Date header shows the service's clock (SDKs correct their clock skew from it).
    res.setHeader('date', new Date(baseNow() + sts.clockOffsetMs).toUTCString());
    const body = await readBody(req);
    const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
    const form = req.method === 'POST' ? new URLSearchParams(body.toString('utf8')) : new URLSearchParams();
    const params: Record<string, string> = Object.fromEntries([...query, ...form]);
    const action = params.Action ?? '';
    const call: StsCall = { action, params, status: 0 };
    sts.calls.push(call);
    sts.counts[action] = (sts.counts[action] ?? 0) + 1;
    const { outcome, fault } = await applyFault(sts.faults, res, (f) => ({
      contentType: 'text/xml',
      body: errorXml(f.status !== undefined && f.status >= 500 ? 'Receiver' : 'Sender', f.code, f.message ?? f.code, id),
    }));
    if (outcome === 'answered') {
      call.status = fault?.status ?? 0;
      if (fault?.code) call.code = fault.code;
      return;
    }
    try {
      const xml = await dispatch(req, body, params, call, id);
      call.status = 200;
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end(xml);
    } catch (err) {
      if (!(err instanceof StsError)) throw err;
      call.status = err.status;
      call.code = err.code;
      call.message = err.message;
      res.writeHead(err.status, { 'content-type': 'text/xml' });
      res.end(errorXml(err.type, err.code, err.message, id));
    }
  }

  const listening = await listenLoopback(handle);
  return Object.assign(sts, { url: listening.url, close: listening.close });
}
