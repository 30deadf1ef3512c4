/**
 * `ec2_sd_configs` with Prometheus semantics (discovery/aws/ec2.go): every refresh_interval,
 * DescribeInstances (filters, paged with NextToken) signed with SigV4 for service `ec2`, plus
 * DescribeAvailabilityZones until it has answered once, for `__meta_ec2_availability_zone_id`.
 * Failures go to `onError` classified (the IAM action to allow, signature, clock, network);
 * the last good targets stay.
 */
import os from 'node:os';
import { ClockOffset, createRequestSigner, ManagedCredentials, type ClassifiedError } from '@fleet/aws';
import type { Ec2SdConfig } from '@fleet/pipeline';
import type { Dispatcher } from 'undici';
import { createHttpDispatcher } from '../remote-write/http.js';
import { AGENT_VERSION } from '../version.js';
import type { Discoverer, DiscoveryDeps, TargetGroup } from './discovery.js';
import { Ec2CallError, Ec2QueryClient, resolveEndpoint, resolveRegion } from './ec2-client.js';
import { describeAvailabilityZonesBody, describeInstancesBody, instanceGroups, parseAvailabilityZones, parseDescribeInstances, type Ec2Reservation } from './ec2-instances.js';

/** Tunables of {@link Ec2Discoverer} (tests shrink them; the defaults suit production). */
export interface Ec2DiscovererOptions {
  /** `MaxResults` of each DescribeInstances page (5–1000, default 1000). */
  pageSize?: number;
  /** Most pages read per refresh (default 1000, i.e. a million instances). */
  maxPages?: number;
  /** Largest answer read (default 64 MiB). */
  maxResponseBytes?: number;
  /** Timeout of each EC2 call (default 30 s). */
  requestTimeoutMs?: number;
  /** Timeout of the IMDS region lookup (default 1 s, as the SDKs). */
  imdsTimeoutMs?: number;
}

interface Session {
  region: string;
  client: Ec2QueryClient;
  credentials: ManagedCredentials;
  endpoint: URL;
}

/** Thrown (internally) when a refresh was cut short by {@link Ec2Discoverer.stop}. */
class Stopped extends Error {}

/** Discovers EC2 instances of one `ec2_sd_configs` entry. */
export class Ec2Discoverer implements Discoverer {
  private readonly options: Required<Ec2DiscovererOptions>;
  private readonly abort = new AbortController();
  private dispatcher: Dispatcher | undefined;
  private session: Session | undefined;
  private zoneIds: Map<string, string> | null = null;
  private zoneFailureReported = false;
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private lastEmitted: string | undefined;

  constructor(
    private readonly config: Ec2SdConfig,
    private readonly deps: DiscoveryDeps,
    options: Ec2DiscovererOptions = {},
  ) {
    this.options = {
      pageSize: Math.min(1000, Math.max(5, options.pageSize ?? 1000)),
      maxPages: options.maxPages ?? 1000,
      maxResponseBytes: options.maxResponseBytes ?? 64 * 1024 * 1024,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      imdsTimeoutMs: options.imdsTimeoutMs ?? 1000,
    };
  }

  start(onUpdate: (groups: TargetGroup[]) => void, onError: (message: string) => void): void {
    if (this.started || this.abort.signal.aborted) return;
    this.started = true;
    const tick = async (): Promise<void> => {
      await this.refresh(onUpdate, onError);
      if (!this.abort.signal.aborted) this.timer = setTimeout(() => void tick(), Math.max(50, this.config.refreshIntervalMs));
    };
    void tick();
  }

  /** Stops refreshing and aborts the requests in flight. */
  stop(): void {
    clearTimeout(this.timer);
    this.abort.abort(new Stopped('ec2_sd stopped'));
    void this.dispatcher?.destroy().catch(() => undefined);
  }

  private async refresh(onUpdate: (groups: TargetGroup[]) => void, onError: (message: string) => void): Promise<void> {
    try {
      const groups = await this.discover();
      const key = JSON.stringify(groups);
      if (key !== this.lastEmitted && !this.abort.signal.aborted) {
        this.lastEmitted = key;
        onUpdate(groups);
      }
    } catch (err) {
      if (this.abort.signal.aborted) return;
      try {
        onError(this.describe(err));
      } catch (reportErr) {
        this.deps.log('error', 'ec2_sd: the error handler threw', { error: String(reportErr) });
      }
    }
  }

  private async discover(): Promise<TargetGroup[]> {
    const session = await this.open();
    const signal = this.abort.signal;
    if (this.zoneIds === null) await this.readZones(session, signal);
    const reservations: Ec2Reservation[] = [];
    const seenTokens = new Set<string>();
    let token: string | undefined;
    for (let page = 1; ; page++) {
      if (page > this.options.maxPages) throw new Error(`DescribeInstances returned more than ${this.options.maxPages} pages; narrow the filters`);
      const xml = await session.client.call('DescribeInstances', describeInstancesBody(this.config.filters, this.options.pageSize, token), signal);
      const answer = parseDescribeInstances(xml);
      reservations.push(...answer.reservations);
      token = answer.nextToken;
      if (!token) break;
      if (seenTokens.has(token)) throw new Error('DescribeInstances repeated a NextToken (paging would never end)');
      seenTokens.add(token);
    }
    return instanceGroups(reservations, { region: session.region, port: this.config.port, zoneIds: this.zoneIds });
  }

  private async readZones(session: Session, signal: AbortSignal): Promise<void> {
    try {
      this.zoneIds = parseAvailabilityZones(await session.client.call('DescribeAvailabilityZones', describeAvailabilityZonesBody(), signal));
      this.zoneFailureReported = false;
    } catch (err) {
      if (signal.aborted) throw err;
      if (!this.zoneFailureReported) {
        this.zoneFailureReported = true;
        this.deps.log('warn', `${this.describe(err)}; __meta_ec2_availability_zone_id is left out until it succeeds`, { region: session.region });
      }
    }
  }

  /** Region, endpoint, credentials and signer, resolved at the first refresh that can. */
  private async open(): Promise<Session> {
    if (this.session) return this.session;
    const c = this.config;
    const { region } = await resolveRegion(c, this.deps.env, { imdsTimeoutMs: this.options.imdsTimeoutMs, signal: this.abort.signal });
    const endpoint = resolveEndpoint(c, region, this.deps.env);
    const credentials = new ManagedCredentials(
      {
        region,
        accessKey: c.accessKey,
        secretKey: c.secretKey,
        profile: c.profile,
        roleArn: c.roleArn,
        sessionName: `fleet-agent-${os.hostname()}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64),
      },
      { resolveCallerIdentity: false },
    );
    const clock = new ClockOffset();
    const signer = createRequestSigner({ service: 'ec2', region, credentials, clock });
    this.dispatcher ??= createHttpDispatcher(c, { connections: 2, env: this.deps.env });
    const client = new Ec2QueryClient({
      endpoint,
      signer,
      credentials,
      clock,
      dispatcher: this.dispatcher,
      userAgent: `fleet-agent/${AGENT_VERSION}`,
      requestTimeoutMs: this.options.requestTimeoutMs,
      maxResponseBytes: this.options.maxResponseBytes,
    });
    this.session = { region, client, credentials, endpoint };
    return this.session;
  }

  /** One line for an operator: where, what failed, and what to change. */
  private describe(err: unknown): string {
    const s = this.session;
    const where = s ? `ec2_sd ${s.region} (${s.endpoint.host})` : 'ec2_sd';
    if (!(err instanceof Ec2CallError)) return `${where}: ${err instanceof Error ? err.message : String(err)}`;
    const e = err.classified;
    const said = `${e.code ? `${e.code}: ` : ''}${e.message}`;
    const source = s?.credentials.status().source;
    const principal = this.config.roleArn ?? `the identity the agent signs as${source ? ` (${source})` : ''}`;
    if (err.stage === 'credentials') return `${where}: no credentials to sign ${err.action} (${said})${e.class === 'access_denied' && e.action ? `: allow ${e.action}${e.resource ? ` on ${e.resource}` : ''}` : ''}`;
    return `${where}: ${err.action} failed: ${said}${remedy(e, `ec2:${err.action}`, principal)}`;
  }
}

function remedy(e: ClassifiedError, action: string, principal: string): string {
  switch (e.class) {
    case 'access_denied':
      return ` — access denied: allow "${e.action ?? action}" (Resource "*") in a policy attached to ${principal}`;
    case 'unauthorized':
    case 'invalid_token':
      return ' — EC2 did not accept the credentials: check the access key (and session token), or remove static keys to use the instance role';
    case 'signature_mismatch':
      return ' — the signature did not match: check that the secret key belongs to the access key and that nothing rewrites the request (proxies)';
    case 'clock_skew':
      return ' — the host clock is off by more than 5 minutes: enable time sync';
    case 'region_mismatch':
      return ' — the signing region does not match the endpoint: set region to the endpoint\'s region';
    case 'expired_token':
      return ' — the credentials expired and could not be renewed';
    case 'dns':
    case 'connect':
    case 'tls':
    case 'timeout':
      return ` — ${e.class} error reaching EC2: check the endpoint, network and proxy`;
    case 'throttled':
      return ' — EC2 is throttling: raise refresh_interval or narrow the filters';
    default:
      return '';
  }
}
