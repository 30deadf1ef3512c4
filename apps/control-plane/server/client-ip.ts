import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';

/**
 * The proxies whose `X-Forwarded-For` the server believes (`TRUSTED_PROXIES`): addresses and
 * CIDR ranges, IPv4 and IPv6. Empty = no proxy is trusted and the socket peer is the client.
 */
export interface TrustedProxies {
  /** The ranges as configured (normalised), for logs and docs. */
  readonly ranges: readonly string[];
  /** True when `address` (IPv4, IPv6 or IPv4-mapped IPv6) is one of the trusted proxies. */
  has(address: string): boolean;
}

/** No trusted proxy: `X-Forwarded-For` is ignored. */
export const NO_TRUSTED_PROXIES: TrustedProxies = { ranges: [], has: () => false };

/** `::ffff:10.0.0.1` → `10.0.0.1`; brackets and zone ids dropped; anything else unchanged. */
export function normalizeAddress(address: string): string {
  let a = address.trim();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (mapped) return mapped[1]!;
  return a;
}

/**
 * Parses `TRUSTED_PROXIES`: comma-separated addresses or CIDR ranges (`10.0.0.0/8, 192.168.1.7,
 * fd00::/8`).
 * @throws Error naming the entry that is not an address or range (the caller adds the setting's name).
 */
export function parseTrustedProxies(value: string | undefined): TrustedProxies {
  const entries = (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (entries.length === 0) return NO_TRUSTED_PROXIES;
  const list = new BlockList();
  const ranges: string[] = [];
  for (const entry of entries) {
    const [rawAddress, prefix, extra] = entry.split('/');
    const address = normalizeAddress(rawAddress ?? '');
    const family = isIP(address);
    const max = family === 4 ? 32 : 128;
    const bad = () => new Error(`${JSON.stringify(entry)} is not an IP address or CIDR range (e.g. 10.0.0.0/8, 192.168.1.7, fd00::/8)`);
    if (family === 0 || extra !== undefined) throw bad();
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) {
      list.addAddress(address, type);
      ranges.push(address);
      continue;
    }
    if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) throw bad();
    list.addSubnet(address, Number(prefix), type);
    ranges.push(`${address}/${Number(prefix)}`);
  }
  return {
    ranges,
    has(candidate) {
      const a = normalizeAddress(candidate);
      const family = isIP(a);
      if (family === 0) return false;
      return list.check(a, family === 4 ? 'ipv4' : 'ipv6');
    },
  };
}

/** One `X-Forwarded-For` entry without a port (`1.2.3.4:5678`, `[::1]:80` as some proxies write them). */
function forwardedAddress(entry: string): string | null {
  let a = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(a);
  if (bracketed) a = bracketed[1]!;
  else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(a)) a = a.slice(0, a.lastIndexOf(':'));
  a = normalizeAddress(a);
  return isIP(a) ? a : null;
}

/**
 * The address of the client that sent `req`: the socket peer, unless the peer is a trusted proxy;
 * then the right-most `X-Forwarded-For` address that is not itself a trusted proxy (each proxy
 * appends the address it received from, so everything left of the first untrusted hop may be
 * made up by the client). When every hop is trusted, the left-most one; an entry that is not an
 * address ends the walk at the last good hop.
 */
export function clientAddress(req: Pick<IncomingMessage, 'headers' | 'socket'>, trusted: TrustedProxies): string {
  const peer = normalizeAddress(req.socket.remoteAddress ?? 'unknown');
  if (!trusted.has(peer)) return peer;
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',');
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    if (hops[i]!.trim() === '') continue;
    const hop = forwardedAddress(hops[i]!);
    if (hop === null) break;
    client = hop;
    if (!trusted.has(hop)) break;
  }
  return client;
}
