/**
 * The credential authority shared by every fake AWS service: it issues keys, remembers whom each
 * key belongs to, and is where the SigV4 verifier and the fake STS look keys up. Revoke or expire
 * keys here to simulate credentials going bad under a running agent.
 */
import { randomBytes, randomInt } from 'node:crypto';

/** The principal a key acts as (what `sts:GetCallerIdentity` answers). */
export interface Identity {
  /** e.g. `arn:aws:iam::111122223333:user/fleet` or `arn:aws:sts::111122223333:assumed-role/Role/session`. */
  arn: string;
  /** 12-digit account id. */
  account: string;
  /** `AIDA…` for users, `AROA…:session` for role sessions. */
  userId: string;
}

/** One key pair the authority knows, long-term (`AKIA…`, no token) or temporary (`ASIA…` + token). */
export interface IssuedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Present exactly for temporary credentials. */
  sessionToken?: string;
  /** Present exactly for temporary credentials. */
  expiration?: Date;
  identity: Identity;
  issuedAt: Date;
  /** Why the key was issued (`imds`, `sts:AssumeRole`, `container`, `long-term`, …): handy in assertions. */
  issuedBy: string;
  /** Set by {@link CredentialAuthority.revoke}; a revoked key is reported as unknown by the verifier. */
  revoked: boolean;
}

/** Anything that can resolve an access key id to what was issued; the verifier needs only this. */
export interface CredentialLookup {
  lookup(accessKeyId: string): IssuedCredentials | undefined;
}

/** Options of {@link CredentialAuthority}. */
export interface CredentialAuthorityOptions {
  /** Default account of identities created by the helpers (default `111122223333`). */
  accountId?: string;
  /** Default lifetime of temporary credentials in ms (default 1 hour). Changeable later. */
  lifetimeMs?: number;
  /** Clock used to stamp issue and expiry times (default `Date.now`). */
  now?: () => number;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** `prefix` + random uppercase base32 up to 20 characters, like real AWS key and principal ids. */
export function randomAwsId(prefix: string, length = 20): string {
  let out = prefix;
  while (out.length < length) out += BASE32[randomInt(BASE32.length)];
  return out;
}

function randomSecret(): string {
  return randomBytes(30).toString('base64').slice(0, 40);
}

function randomSessionToken(): string {
  // Real tokens are long opaque base64 blobs (hundreds of bytes) starting with `IQoJb3JpZ2luX2Vj…`.
  return `IQoJb3JpZ2luX2VjE${randomBytes(300).toString('base64')}`;
}

/** Splits `arn:aws:iam::ACCOUNT:role/path/Name` into account and name; throws on anything else. */
export function parseRoleArn(roleArn: string): { account: string; roleName: string } {
  const m = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:.*\/)?([\w+=,.@-]+)$/.exec(roleArn);
  if (!m) throw new Error(`not a role ARN: ${roleArn}`);
  return { account: m[1]!, roleName: m[2]! };
}

/**
 * Issues and remembers credentials. Temporary ones get `ASIA…` ids, a session token and an
 * expiration `now + lifetime`; long-term ones get `AKIA…` ids and neither.
 */
export class CredentialAuthority implements CredentialLookup {
  /** Default account of identities made by the helpers. */
  readonly accountId: string;
  /** Default lifetime of temporary credentials in ms; set it to make the next issued keys short-lived. */
  lifetimeMs: number;
  /** The authority's clock (ms since epoch). */
  readonly now: () => number;
  private readonly keys = new Map<string, IssuedCredentials>();
  private readonly roleIds = new Map<string, string>();

  constructor(options: CredentialAuthorityOptions = {}) {
    this.accountId = options.accountId ?? '111122223333';
    this.lifetimeMs = options.lifetimeMs ?? 60 * 60_000;
    this.now = options.now ?? Date.now;
  }

  /** Identity of an IAM user `arn:aws:iam::ACCOUNT:user/NAME` (user id `AIDA…`). */
  userIdentity(name: string, account = this.accountId): Identity {
    return { arn: `arn:aws:iam::${account}:user/${name}`, account, userId: randomAwsId('AIDA', 21) };
  }

  /** Stable unique id (`AROA…`) of a role, the same for every session of that role. */
  roleId(roleArn: string): string {
    let id = this.roleIds.get(roleArn);
    if (!id) {
      id = randomAwsId('AROA', 21);
      this.roleIds.set(roleArn, id);
    }
    return id;
  }

  /** Identity of a role session: `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`, user id `AROA…:SESSION`. */
  assumedRoleIdentity(roleArn: string, sessionName: string): Identity {
    const { account, roleName } = parseRoleArn(roleArn);
    return {
      arn: `arn:aws:sts::${account}:assumed-role/${roleName}/${sessionName}`,
      account,
      userId: `${this.roleId(roleArn)}:${sessionName}`,
    };
  }

  /** Issues temporary credentials for `identity`, valid for `lifetimeMs` (default: the authority's). */
  issueTemporary(identity: Identity, options: { lifetimeMs?: number; issuedBy?: string } = {}): IssuedCredentials {
    const issuedAt = new Date(this.now());
    const creds: IssuedCredentials = {
      accessKeyId: this.uniqueKeyId('ASIA'),
      secretAccessKey: randomSecret(),
      sessionToken: randomSessionToken(),
      // Expirations travel as whole seconds (ISO-8601 without ms) in every AWS credential format.
      expiration: new Date(Math.floor((issuedAt.getTime() + (options.lifetimeMs ?? this.lifetimeMs)) / 1000) * 1000),
      identity,
      issuedAt,
      issuedBy: options.issuedBy ?? 'temporary',
      revoked: false,
    };
    this.keys.set(creds.accessKeyId, creds);
    return creds;
  }

  /** Registers long-term credentials (`AKIA…`, no token, no expiry), random unless given. */
  addLongTerm(identity: Identity, keys: { accessKeyId?: string; secretAccessKey?: string } = {}): IssuedCredentials {
    const creds: IssuedCredentials = {
      accessKeyId: keys.accessKeyId ?? this.uniqueKeyId('AKIA'),
      secretAccessKey: keys.secretAccessKey ?? randomSecret(),
      identity,
      issuedAt: new Date(this.now()),
      issuedBy: 'long-term',
      revoked: false,
    };
    this.keys.set(creds.accessKeyId, creds);
    return creds;
  }

  /** What was issued under `accessKeyId`, revoked and expired keys included; undefined if never issued. */
  lookup(accessKeyId: string): IssuedCredentials | undefined {
    return this.keys.get(accessKeyId);
  }

  /** Makes the key unknown to every verifier from now on. */
  revoke(accessKeyId: string): void {
    const creds = this.keys.get(accessKeyId);
    if (creds) creds.revoked = true;
  }

  /** Moves the key's expiration to the past (default: 1 s ago), so requests signed with it get ExpiredToken. */
  expire(accessKeyId: string, at: Date = new Date(this.now() - 1000)): void {
    const creds = this.keys.get(accessKeyId);
    if (creds?.sessionToken) creds.expiration = at;
  }

  /** Expires every temporary key issued so far. */
  expireAll(): void {
    for (const key of this.keys.keys()) this.expire(key);
  }

  /** Whether the key is temporary and past its expiration (by the authority's clock unless `now` is given). */
  isExpired(accessKeyId: string, now: number = this.now()): boolean {
    const exp = this.keys.get(accessKeyId)?.expiration;
    return exp !== undefined && exp.getTime() <= now;
  }

  /** Every key issued so far, oldest first (optionally only those issued by `issuedBy`). */
  list(issuedBy?: string): IssuedCredentials[] {
    const all = [...this.keys.values()];
    return issuedBy === undefined ? all : all.filter((c) => c.issuedBy === issuedBy);
  }

  private uniqueKeyId(prefix: string): string {
    let id: string;
    do id = randomAwsId(prefix);
    while (this.keys.has(id));
    return id;
  }
}

/** Options of {@link RotatingCredentials}. */
export interface RotatingCredentialsOptions {
  /** Lifetime of each key (default: the authority's `lifetimeMs`, read at each issue). */
  lifetimeMs?: number;
  /** Issue a new key once the current one expires within this window (default min(5 min, lifetime / 2)). */
  refreshWindowMs?: number;
  /** Label stored in {@link IssuedCredentials.issuedBy}. */
  issuedBy: string;
}

/**
 * The credential-vending behaviour of IMDS and the container endpoints: the same temporary key is
 * served until it is about to expire (or was revoked/expired), then a fresh one. Never hands out
 * an expired key.
 */
export class RotatingCredentials {
  /** Every key served so far, oldest first. */
  readonly issued: IssuedCredentials[] = [];
  private currentKey: IssuedCredentials | undefined;
  private forced = false;

  constructor(
    private readonly authority: CredentialAuthority,
    private readonly identity: () => Identity,
    private readonly options: RotatingCredentialsOptions,
  ) {}

  /** The key currently served (undefined until first asked for). */
  get current(): IssuedCredentials | undefined {
    return this.currentKey;
  }

  /** The key to serve now, issuing a new one when due. */
  get(): IssuedCredentials {
    const lifetime = this.options.lifetimeMs ?? this.authority.lifetimeMs;
    const window = this.options.refreshWindowMs ?? Math.min(5 * 60_000, lifetime / 2);
    const c = this.currentKey;
    const now = this.authority.now();
    if (!c || this.forced || c.revoked || c.expiration!.getTime() - now <= window) {
      this.currentKey = this.authority.issueTemporary(this.identity(), { lifetimeMs: lifetime, issuedBy: this.options.issuedBy });
      this.issued.push(this.currentKey);
      this.forced = false;
    }
    return this.currentKey!;
  }

  /** Serve a new key at the next request (the old one stays valid until it expires). */
  rotate(): void {
    this.forced = true;
  }
}
