/**
 * A fake Amazon EC2 Query API (form-encoded POST, XML answers shaped like real EC2's, API
 * version 2016-11-15): DescribeInstances with filters, MaxResults and NextToken paging, and
 * DescribeAvailabilityZones. Every request must be SigV4-signed for service `ec2` (checked by the
 * independent verifier against the shared {@link CredentialAuthority}); `deny(action)` makes an
 * action answer UnauthorizedOperation, as a missing IAM permission does.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CredentialAuthority } from './credentials.js';
import { applyFault, listenLoopback, readBody, requestId, type HttpFault } from './http.js';
import { verifySigV4 } from './sigv4.js';
import { xmlEscape } from './sts.js';

const NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

/** One network interface of a fake instance. */
export interface FakeEc2NetworkInterface {
  subnetId?: string;
  /** Attachment device index (default: position in the list). */
  deviceIndex?: number;
  privateIpAddress?: string;
  ipv6Addresses?: Array<{ address: string; primary?: boolean }>;
}

/** An instance the fake knows; unset fields are left out of the answer, as EC2 does. */
export interface FakeEc2Instance {
  instanceId: string;
  /** Instances sharing a reservation id are answered in one reservation (default: one each). */
  reservationId?: string;
  ownerId?: string;
  imageId?: string;
  state?: 'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped';
  instanceType?: string;
  availabilityZone?: string;
  privateIpAddress?: string;
  privateDnsName?: string;
  publicIpAddress?: string;
  publicDnsName?: string;
  vpcId?: string;
  subnetId?: string;
  /** `windows` for Windows instances; absent otherwise. */
  platform?: string;
  architecture?: string;
  /** `spot` or `scheduled`; absent for on-demand. */
  instanceLifecycle?: string;
  tags?: Record<string, string>;
  networkInterfaces?: FakeEc2NetworkInterface[];
}

/** Options of {@link startFakeEc2}. */
export interface FakeEc2Options {
  authority: CredentialAuthority;
  /** Region(s) the signature scope may name (default `us-east-1`). */
  region?: string | readonly string[];
  instances?: FakeEc2Instance[];
  /** This account's zones (default `<region>a`…`c` with ids `use1-az1`… style). */
  zones?: Array<{ name: string; id: string }>;
  /** Most instances per page whatever MaxResults asks (default 1000). */
  pageSize?: number;
  /** The service's clock for the SigV4 skew check (default `Date.now`). */
  now?: () => number;
}

/** One request the fake answered. */
export interface Ec2Call {
  action: string;
  params: Record<string, string>;
  status: number;
  code?: string;
  message?: string;
  /** Key that signed it, when the signature checked out. */
  accessKeyId?: string;
  callerArn?: string;
  /** DescribeInstances: how many instances this page held. */
  returned?: number;
  /** The client went away before the answer was complete (e.g. it aborted the request). */
  clientGone?: boolean;
}

/** A running fake EC2. */
export interface FakeEc2 {
  /** `http://127.0.0.1:PORT/`: the value for `endpoint` or `AWS_ENDPOINT_URL_EC2`. */
  url: string;
  /** Known instances (mutable). */
  instances: FakeEc2Instance[];
  zones: Array<{ name: string; id: string }>;
  /** Most instances per page (mutable). */
  pageSize: number;
  /** Every request, in order. */
  calls: Ec2Call[];
  /** Fault queue, one consumed per request (rendered as EC2 XML errors when `code` is set). */
  faults: HttpFault[];
  /** Added to the service clock (skew simulation). */
  clockOffsetMs: number;
  /** Answers `action` with UnauthorizedOperation from now on (message: EC2's terse one unless given). */
  deny(action: string, message?: string): void;
  /** Undoes {@link deny}. */
  allow(action: string): void;
  close(): Promise<void>;
}

class Ec2Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** EC2's error document (not the STS shape): `<Response><Errors><Error>…</Error></Errors><RequestID>…`. */
export function ec2ErrorXml(code: string, message: string, id: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message></Error></Errors><RequestID>${id}</RequestID></Response>`;
}

/** EC2 filter values allow `*` (any run) and `?` (one character). */
function wildcard(pattern: string, value: string): boolean {
  let re = '^';
  for (const ch of pattern) re += ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`${re}$`, 's').test(value);
}

/** The values an instance has for a filter name; undefined for a filter the fake does not know. */
function filterValues(i: FakeEc2Instance, name: string): string[] | undefined {
  if (name.startsWith('tag:')) {
    const v = i.tags?.[name.slice(4)];
    return v === undefined ? [] : [v];
  }
  const opt = (v: string | undefined) => (v === undefined ? [] : [v]);
  switch (name) {
    case 'tag-key':
      return Object.keys(i.tags ?? {});
    case 'instance-state-name':
      return [i.state ?? 'running'];
    case 'instance-type':
      return opt(i.instanceType);
    case 'vpc-id':
      return opt(i.vpcId);
    case 'subnet-id':
      return opt(i.subnetId);
    case 'instance-id':
      return [i.instanceId];
    case 'availability-zone':
      return opt(i.availabilityZone);
    case 'private-ip-address':
      return opt(i.privateIpAddress);
    default:
      return undefined;
  }
}

/** `Filter.N.Name` / `Filter.N.Value.M` → filters, in N order. */
function parseFilters(params: Record<string, string>): Array<{ name: string; values: string[] }> {
  const byIndex = new Map<number, { name?: string; values: Map<number, string> }>();
  for (const [key, value] of Object.entries(params)) {
    const m = /^Filter\.(\d+)\.(Name|Value\.(\d+))$/.exec(key);
    if (!m) continue;
    const entry: { name?: string; values: Map<number, string> } = byIndex.get(Number(m[1])) ?? { values: new Map<number, string>() };
    byIndex.set(Number(m[1]), entry);
    if (m[2] === 'Name') entry.name = value;
    else entry.values.set(Number(m[3]), value);
  }
  return [...byIndex.entries()]
    .sort(([a], [b]) => a - b)
    .map(([n, e]) => {
      if (e.name === undefined) throw new Ec2Error(400, 'InvalidParameterValue', `The filter 'Filter.${n}' has no Name`);
      return { name: e.name, values: [...e.values.entries()].sort(([a], [b]) => a - b).map(([, v]) => v) };
    });
}

const el = (name: string, value: string | number | boolean | undefined): string => (value === undefined ? '' : `<${name}>${xmlEscape(String(value))}</${name}>`);
const STATE_CODES: Record<string, number> = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80 };

function instanceXml(i: FakeEc2Instance): string {
  const state = i.state ?? 'running';
  const tags = Object.entries(i.tags ?? {});
  const enis = (i.networkInterfaces ?? []).map(
    (n, index) => `
            <item>
              ${el('networkInterfaceId', `eni-${i.instanceId.slice(2)}${index}`)}${el('subnetId', n.subnetId)}${el('vpcId', i.vpcId)}
              <attachment>${el('attachmentId', `eni-attach-${index}`)}${el('deviceIndex', n.deviceIndex ?? index)}<status>attached</status></attachment>
              ${el('privateIpAddress', n.privateIpAddress)}
              ${(n.ipv6Addresses ?? []).length ? `<ipv6AddressesSet>${(n.ipv6Addresses ?? []).map((a) => `<item>${el('ipv6Address', a.address)}${el('isPrimaryIpv6', a.primary ?? false)}</item>`).join('')}</ipv6AddressesSet>` : ''}
            </item>`,
  );
  return `
          <item>
            ${el('instanceId', i.instanceId)}
            ${el('imageId', i.imageId ?? 'ami-0abcdef1234567890')}
            <instanceState><code>${STATE_CODES[state] ?? 16}</code><name>${state}</name></instanceState>
            <privateDnsName>${xmlEscape(i.privateDnsName ?? '')}</privateDnsName>
            <dnsName>${xmlEscape(i.publicDnsName ?? '')}</dnsName>
            <reason/>
            <amiLaunchIndex>0</amiLaunchIndex>
            <productCodes/>
            ${el('instanceType', i.instanceType ?? 't3.micro')}
            <launchTime>2024-05-01T10:00:00.000Z</launchTime>
            <placement>${el('availabilityZone', i.availabilityZone)}<groupName/><tenancy>default</tenancy></placement>
            ${el('platform', i.platform)}
            <monitoring><state>disabled</state></monitoring>
            ${el('subnetId', i.subnetId)}${el('vpcId', i.vpcId)}
            ${el('privateIpAddress', i.privateIpAddress)}${el('ipAddress', i.publicIpAddress)}
            <groupSet><item><groupId>sg-0123456789abcdef0</groupId><groupName>default</groupName></item></groupSet>
            ${el('architecture', i.architecture)}
            <rootDeviceType>ebs</rootDeviceType>
            ${el('instanceLifecycle', i.instanceLifecycle)}
            ${tags.length ? `<tagSet>${tags.map(([k, v]) => `<item>${el('key', k)}<value>${xmlEscape(v)}</value></item>`).join('')}</tagSet>` : ''}
            <hypervisor>xen</hypervisor>
            ${enis.length ? `<networkInterfaceSet>${enis.join('')}\n            </networkInterfaceSet>` : ''}
          </item>`;
}

function defaultZones(region: string): Array<{ name: string; id: string }> {
  const short = region.replace(/^(\w\w)-(\w)\w*-(\d+)$/, '$1$2$3');
  return ['a', 'b', 'c'].map((s, n) => ({ name: `${region}${s}`, id: `${short}-az${n + 1}` }));
}

/** Starts a fake EC2 on 127.0.0.1 (random port). */
export async function startFakeEc2(options: FakeEc2Options): Promise<FakeEc2> {
  const { authority } = options;
  const region = options.region ?? 'us-east-1';
  const firstRegion = typeof region === 'string' ? region : (region[0] ?? 'us-east-1');
  const baseNow = options.now ?? Date.now;
  const denied = new Map<string, string | undefined>();
  const tokens = new Map<string, number>();
  const ec2 = {
    instances: options.instances ?? [],
    zones: options.zones ?? defaultZones(firstRegion),
    pageSize: options.pageSize ?? 1000,
    calls: [] as Ec2Call[],
    faults: [] as HttpFault[],
    clockOffsetMs: 0,
    deny(action: string, message?: string) {
      denied.set(action, message);
    },
    allow(action: string) {
      denied.delete(action);
    },
  };

  function describeInstances(params: Record<string, string>, call: Ec2Call, id: string): string {
    const filters = parseFilters(params);
    for (const f of filters) {
      if (filterValues({ instanceId: 'i-0' }, f.name) === undefined) throw new Ec2Error(400, 'InvalidParameterValue', `The filter '${f.name}' is invalid`);
      if (f.values.length === 0) throw new Ec2Error(400, 'InvalidParameterValue', `The filter '${f.name}' has no values`);
    }
    let max = 1000;
    if (params.MaxResults !== undefined) {
      max = Number(params.MaxResults);
      if (!Number.isInteger(max) || max < 5 || max > 1000) {
        throw new Ec2Error(400, 'InvalidParameterValue', `Value ( ${params.MaxResults} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`);
      }
    }
    let offset = 0;
    if (params.NextToken !== undefined) {
      const at = tokens.get(params.NextToken);
      if (at === undefined) throw new Ec2Error(400, 'InvalidParameterValue', `Invalid value '${params.NextToken}' for nextToken`);
      offset = at;
    }
    const matching = ec2.instances.filter((i) => filters.every((f) => (filterValues(i, f.name) ?? []).some((v) => f.values.some((p) => wildcard(p, v)))));
    const page = matching.slice(offset, offset + Math.min(max, ec2.pageSize));
    call.returned = page.length;
    let next = '';
    if (offset + page.length < matching.length) {
      next = randomBytes(24).toString('base64url');
      tokens.set(next, offset + page.length);
    }
    const reservations: Array<{ id: string; owner: string; items: FakeEc2Instance[] }> = [];
    for (const i of page) {
      const rid = i.reservationId ?? `r-${i.instanceId.slice(2)}`;
      const last = reservations.at(-1);
      if (last && last.id === rid) last.items.push(i);
      else reservations.push({ id: rid, owner: i.ownerId ?? authority.accountId, items: [i] });
    }
    const body = reservations
      .map(
        (r) => `
      <item>
        <reservationId>${xmlEscape(r.id)}</reservationId>
        <ownerId>${xmlEscape(r.owner)}</ownerId>
        <groupSet/>
        <instancesSet>${r.items.map(instanceXml).join('')}
        </instancesSet>
      </item>`,
      )
      .join('');
    return `<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="${NS}">
    <requestId>${id}</requestId>
    <reservationSet>${body}
    </reservationSet>${next ? `\n    <nextToken>${next}</nextToken>` : ''}
</DescribeInstancesResponse>`;
  }

  function describeZones(id: string): string {
    const items = ec2.zones
      .map(
        (z) => `
      <item>
        <zoneName>${xmlEscape(z.name)}</zoneName>
        <zoneState>available</zoneState>
        <regionName>${xmlEscape(firstRegion)}</regionName>
        <zoneId>${xmlEscape(z.id)}</zoneId>
        <zoneType>availability-zone</zoneType>
        <messageSet/>
      </item>`,
      )
      .join('');
    return `<?xml version="1.0" encoding="UTF-8"?>
<DescribeAvailabilityZonesResponse xmlns="${NS}">
    <requestId>${id}</requestId>
    <availabilityZoneInfo>${items}
    </availabilityZoneInfo>
</DescribeAvailabilityZonesResponse>`;
  }

  function dispatch(req: IncomingMessage, body: Buffer, params: Record<string, string>, call: Ec2Call, id: string): string {
    const v = verifySigV4(
      { method: req.method ?? 'POST', url: req.url ?? '/', headers: req.rawHeaders, body },
      { credentials: authority, region, service: 'ec2', flavor: 'query', now: () => baseNow() + ec2.clockOffsetMs },
    );
    if (!v.ok) throw new Ec2Error(v.status, v.code, v.message);
    call.accessKeyId = v.accessKeyId;
    call.callerArn = v.credentials.identity.arn;
    const action = params.Action;
    if (!action) throw new Ec2Error(400, 'MissingAction', 'The request must contain the parameter Action');
    if (!params.Version) throw new Ec2Error(400, 'MissingParameter', 'The request must contain the parameter Version');
    if (denied.has(action)) throw new Ec2Error(403, 'UnauthorizedOperation', denied.get(action) ?? 'You are not authorized to perform this operation.');
    switch (action) {
      case 'DescribeInstances':
        return describeInstances(params, call, id);
      case 'DescribeAvailabilityZones':
        return describeZones(id);
      default:
        throw new Ec2Error(400, 'InvalidAction', `The action ${action} is not valid for this web service.`);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const id = requestId();
    res.setHeader('date', new Date(baseNow() + ec2.clockOffsetMs).toUTCString());
    const body = await readBody(req, 1 << 20);
    const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
    const form = req.method === 'POST' ? new URLSearchParams(body.toString('utf8')) : new URLSearchParams();
    const params: Record<string, string> = Object.fromEntries([...query, ...form]);
    const call: Ec2Call = { action: params.Action ?? '', params, status: 0 };
    ec2.calls.push(call);
    res.on('close', () => {
      if (!res.writableFinished) call.clientGone = true;
    });
    const { outcome, fault } = await applyFault(ec2.faults, res, (f) => ({ contentType: 'text/xml;charset=UTF-8', body: ec2ErrorXml(f.code, f.message ?? f.code, id) }));
    if (outcome === 'answered') {
      call.status = fault?.status ?? 0;
      if (fault?.code) call.code = fault.code;
      return;
    }
    try {
      const xml = dispatch(req, body, params, call, id);
      call.status = 200;
      res.writeHead(200, { 'content-type': 'text/xml;charset=UTF-8' });
      res.end(xml);
    } catch (err) {
      if (!(err instanceof Ec2Error)) throw err;
      Object.assign(call, { status: err.status, code: err.code, message: err.message });
      res.writeHead(err.status, { 'content-type': 'text/xml;charset=UTF-8' });
      res.end(ec2ErrorXml(err.code, err.message, id));
    }
  }

  const listening = await listenLoopback(handle);
  return Object.assign(ec2, { url: `${listening.url}/`, close: listening.close });
}
