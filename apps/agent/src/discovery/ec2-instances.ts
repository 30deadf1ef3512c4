/**
 * The EC2 Query API as ec2_sd needs it: request bodies of DescribeInstances and
 * DescribeAvailabilityZones, parsing of their XML answers (validated with zod, leniently: a
 * field of an unexpected shape is treated as absent), and the mapping of an instance to the
 * `__meta_ec2_*` labels Prometheus documents (discovery/aws/ec2.go).
 */
import { XMLParser } from 'fast-xml-parser';
import { z } from 'zod';
import type { TargetGroup } from './discovery.js';

/** The EC2 API version every request names (the one the AWS SDKs use). */
export const EC2_API_VERSION = '2016-11-15';

/** Separator of list-valued labels; lists also start and end with it (`,a,b,`), as in Prometheus. */
export const EC2_LABEL_SEPARATOR = ',';

/** Deepest element nesting accepted in an answer (DescribeInstances needs about 10). */
const MAX_XML_DEPTH = 64;

/** A DescribeInstances filter, as in `ec2_sd_configs[].filters`. */
export interface Ec2Filter {
  name: string;
  values: string[];
}

/** RFC 3986 encoding, as AWS form bodies expect it. */
function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function formBody(params: Array<[string, string]>): string {
  return params.map(([k, v]) => `${formEncode(k)}=${formEncode(v)}`).join('&');
}

/** The form body of one DescribeInstances page: filters as `Filter.N.Name` / `Filter.N.Value.M`. */
export function describeInstancesBody(filters: readonly Ec2Filter[], maxResults: number, nextToken?: string): string {
  const params: Array<[string, string]> = [
    ['Action', 'DescribeInstances'],
    ['Version', EC2_API_VERSION],
  ];
  filters.forEach((f, i) => {
    params.push([`Filter.${i + 1}.Name`, f.name]);
    f.values.forEach((v, j) => params.push([`Filter.${i + 1}.Value.${j + 1}`, v]));
  });
  params.push(['MaxResults', String(maxResults)]);
  if (nextToken) params.push(['NextToken', nextToken]);
  return formBody(params);
}

/** The form body of DescribeAvailabilityZones (this account's zones of the region). */
export function describeAvailabilityZonesBody(): string {
  return formBody([
    ['Action', 'DescribeAvailabilityZones'],
    ['Version', EC2_API_VERSION],
  ]);
}

function decodeXmlText(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);/gi, (whole, name: string) => {
    if (name[0] !== '#') return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[name.toLowerCase()] ?? whole;
    const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : Number(name.slice(1));
    return Number.isInteger(code) && code >= 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

// Every `<item>` is a list member (EC2 wraps each list in `<xxxSet><item>…</item></xxxSet>`), so
// reservationSet, instancesSet, tagSet, groupSet, networkInterfaceSet and ipv6AddressesSet are
// arrays even with one item. Values stay text (ids like ownerId must not become numbers) and
// untrimmed (tag values may carry spaces); entities are decoded here, DOCTYPE entities never.
const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  maxNestedTags: MAX_XML_DEPTH,
  isArray: (name) => name === 'item',
  tagValueProcessor: (_name, value) => decodeXmlText(value),
});

/** Text content; anything else (an element with children, nothing) is absent. */
const text = z.preprocess((v) => (typeof v === 'string' ? v : undefined), z.string().optional());
/** An element with children; an empty element (`<placement/>`) is an empty object. */
const element = <T extends z.ZodRawShape>(shape: T) => z.preprocess((v) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {}), z.object(shape));
/** A `<xxxSet>` list: its items, or none when the set is empty or missing. */
const setOf = <T extends z.ZodType>(item: T) =>
  z.preprocess((v) => {
    const items = v !== null && typeof v === 'object' ? (v as { item?: unknown }).item : undefined;
    return Array.isArray(items) ? items : [];
  }, z.array(item));

const ipv6AddressSchema = element({ ipv6Address: text, isPrimaryIpv6: text });
const networkInterfaceSchema = element({
  subnetId: text,
  attachment: element({ deviceIndex: text }),
  ipv6AddressesSet: setOf(ipv6AddressSchema),
});
const tagSchema = element({ key: text, value: text });
const instanceSchema = element({
  instanceId: text,
  imageId: text,
  instanceState: element({ name: text }),
  privateDnsName: text,
  dnsName: text,
  instanceType: text,
  placement: element({ availabilityZone: text }),
  platform: text,
  subnetId: text,
  vpcId: text,
  privateIpAddress: text,
  ipAddress: text,
  architecture: text,
  instanceLifecycle: text,
  tagSet: setOf(tagSchema),
  networkInterfaceSet: setOf(networkInterfaceSchema),
});
const reservationSchema = element({ ownerId: text, instancesSet: setOf(instanceSchema) });
const describeInstancesSchema = z.object({
  DescribeInstancesResponse: z.object({ reservationSet: setOf(reservationSchema), nextToken: text }, { error: 'not a DescribeInstancesResponse' }),
});
const availabilityZonesSchema = z.object({
  DescribeAvailabilityZonesResponse: z.object(
    { availabilityZoneInfo: setOf(element({ zoneName: text, zoneId: text })) },
    { error: 'not a DescribeAvailabilityZonesResponse' },
  ),
});

/** One instance of a DescribeInstances answer (the fields the labels come from). */
export type Ec2Instance = z.infer<typeof instanceSchema>;
/** One reservation: its owner and instances. */
export type Ec2Reservation = z.infer<typeof reservationSchema>;

/** One page of DescribeInstances. */
export interface DescribeInstancesPage {
  reservations: Ec2Reservation[];
  /** Absent (or empty) on the last page. */
  nextToken?: string | undefined;
}

function parseXml(xml: string, what: string): unknown {
  try {
    return parser.parse(xml);
  } catch (err) {
    throw new Error(`${what} answer is not XML: ${(err as Error).message}`, { cause: err });
  }
}

function schemaError(what: string, error: z.ZodError): Error {
  const issue = error.issues[0];
  return new Error(`${what} answer has an unexpected shape: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`);
}

/** Parses a DescribeInstances answer; throws naming what is wrong when it is not one. */
export function parseDescribeInstances(xml: string): DescribeInstancesPage {
  const parsed = describeInstancesSchema.safeParse(parseXml(xml, 'DescribeInstances'));
  if (!parsed.success) throw schemaError('DescribeInstances', parsed.error);
  const r = parsed.data.DescribeInstancesResponse;
  return { reservations: r.reservationSet, nextToken: r.nextToken?.trim() || undefined };
}

/** Parses a DescribeAvailabilityZones answer into zone name → zone id (`eu-west-2a` → `euw2-az2`). */
export function parseAvailabilityZones(xml: string): Map<string, string> {
  const parsed = availabilityZonesSchema.safeParse(parseXml(xml, 'DescribeAvailabilityZones'));
  if (!parsed.success) throw schemaError('DescribeAvailabilityZones', parsed.error);
  const zones = new Map<string, string>();
  for (const z of parsed.data.DescribeAvailabilityZonesResponse.availabilityZoneInfo) {
    if (z.zoneName && z.zoneId) zones.set(z.zoneName, z.zoneId);
  }
  return zones;
}

/** Prometheus's `strutil.SanitizeLabelName`: every character outside `[a-zA-Z0-9_]` becomes `_`. */
export function sanitizeLabelName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/gu, '_');
}

/** `host:port`, bracketing IPv6 hosts (Go's net.JoinHostPort). */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function list(values: readonly string[]): string {
  return `${EC2_LABEL_SEPARATOR}${values.join(EC2_LABEL_SEPARATOR)}${EC2_LABEL_SEPARATOR}`;
}

/** What the labels of an instance depend on besides the instance. */
export interface Ec2LabelContext {
  region: string;
  port: number;
  /** Zone name → zone id; null when DescribeAvailabilityZones could not be read. */
  zoneIds: ReadonlyMap<string, string> | null;
}

const P = '__meta_ec2_';

/**
 * The labels of one instance, `__address__` included, exactly as Prometheus builds them; null
 * for an instance without a private IPv4 address (Prometheus skips those).
 */
export function instanceLabels(instance: Ec2Instance, reservation: Pick<Ec2Reservation, 'ownerId'>, ctx: Ec2LabelContext): Record<string, string> | null {
  const privateIp = instance.privateIpAddress?.trim();
  if (!privateIp) return null;
  const labels: Record<string, string> = { [`${P}region`]: ctx.region };
  const set = (name: string, value: string | undefined) => {
    if (value !== undefined) labels[`${P}${name}`] = value;
  };
  set('instance_id', instance.instanceId);
  set('owner_id', reservation.ownerId);
  set('private_ip', privateIp);
  labels.__address__ = joinHostPort(privateIp, ctx.port);
  set('private_dns_name', instance.privateDnsName);
  if (instance.platform) set('platform', instance.platform);
  if (instance.ipAddress) {
    set('public_ip', instance.ipAddress);
    set('public_dns_name', instance.dnsName ?? '');
  }
  set('ami', instance.imageId);
  const zone = instance.placement.availabilityZone;
  if (zone !== undefined) {
    set('availability_zone', zone);
    const zoneId = ctx.zoneIds?.get(zone);
    if (zoneId !== undefined) set('availability_zone_id', zoneId);
  }
  set('instance_state', instance.instanceState.name);
  set('instance_type', instance.instanceType);
  if (instance.instanceLifecycle) set('instance_lifecycle', instance.instanceLifecycle);
  if (instance.architecture) set('architecture', instance.architecture);
  if (instance.vpcId !== undefined) {
    set('vpc_id', instance.vpcId);
    set('primary_subnet_id', instance.subnetId);
    const subnets: string[] = [];
    const ipv6: string[] = [];
    // Indexed by the interface's device index; gaps stay empty strings, as in Prometheus.
    const primaryIpv6: string[] = [];
    for (const eni of instance.networkInterfaceSet) {
      if (eni.subnetId === undefined) continue;
      if (!subnets.includes(eni.subnetId)) subnets.push(eni.subnetId);
      for (const address of eni.ipv6AddressesSet) {
        if (address.ipv6Address === undefined) continue;
        ipv6.push(address.ipv6Address);
        if (address.isPrimaryIpv6?.trim() !== 'true') continue;
        const index = Number(eni.attachment.deviceIndex);
        if (!Number.isInteger(index) || index < 0 || index > 1024) continue;
        while (primaryIpv6.length <= index) primaryIpv6.push('');
        primaryIpv6[index] = address.ipv6Address;
      }
    }
    set('subnet_id', list(subnets));
    if (ipv6.length > 0) set('ipv6_addresses', list(ipv6));
    if (primaryIpv6.length > 0) set('primary_ipv6_addresses', list(primaryIpv6));
  }
  for (const tag of instance.tagSet) {
    if (tag.key === undefined || tag.value === undefined) continue;
    labels[`${P}tag_${sanitizeLabelName(tag.key)}`] = tag.value;
  }
  return labels;
}

/**
 * The target groups of every instance of the pages, in EC2's order: one group per instance
 * (its labels differ from every other's), source `<region>/<instance id>`.
 */
export function instanceGroups(reservations: readonly Ec2Reservation[], ctx: Ec2LabelContext): TargetGroup[] {
  const groups: TargetGroup[] = [];
  for (const reservation of reservations) {
    for (const instance of reservation.instancesSet) {
      const labels = instanceLabels(instance, reservation, ctx);
      if (!labels) continue;
      const { __address__: address, ...rest } = labels;
      groups.push({ source: `${ctx.region}/${instance.instanceId ?? address}`, targets: [address!], labels: rest });
    }
  }
  return groups;
}
