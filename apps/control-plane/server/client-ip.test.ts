import { describe, expect, it } from 'vitest';
import { clientAddress, parseTrustedProxies } from './client-ip.js';

const request = (peer: string, xff?: string | string[]) => ({ socket: { remoteAddress: peer }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as Parameters<typeof clientAddress>[0];

describe('TRUSTED_PROXIES parsing', () => {
  it('takes addresses and CIDR ranges, IPv4 and IPv6', () => {
    const t = parseTrustedProxies(' 10.0.0.0/8, 192.168.1.7 ,fd00::/8, ::1');
    expect(t.ranges).toEqual(['10.0.0.0/8', '192.168.1.7', 'fd00::/8', '::1']);
    expect(t.has('10.200.3.4')).toBe(true);
    expect(t.has('::ffff:10.1.2.3')).toBe(true);
    expect(t.has('192.168.1.7')).toBe(true);
    expect(t.has('192.168.1.8')).toBe(false);
    expect(t.has('fd12:3456::1')).toBe(true);
    expect(t.has('fe80::1')).toBe(false);
    expect(t.has('::1')).toBe(true);
    expect(t.has('not an address')).toBe(false);
  });

  it('is empty when unset', () => {
    expect(parseTrustedProxies(undefined).ranges).toEqual([]);
    expect(parseTrustedProxies(' , ').has('127.0.0.1')).toBe(false);
  });

  it.each(['10.0.0.0/33', 'fd00::/129', 'lb.internal', '10.0.0/8', '10.0.0.0/8/1', '10.0.0.0/x', '1.2.3.4:80'])('refuses %s naming it', (entry) => {
    expect(() => parseTrustedProxies(`127.0.0.1,${entry}`)).toThrow(`${JSON.stringify(entry)} is not an IP address or CIDR range`);
  });
});

describe('the client address', () => {
  const lb = parseTrustedProxies('10.0.0.0/8, fd00::/8');

  it('is the socket peer when the peer is not a trusted proxy, whatever X-Forwarded-For says', () => {
    expect(clientAddress(request('203.0.113.9', '198.51.100.1'), lb)).toBe('203.0.113.9');
    expect(clientAddress(request('::ffff:203.0.113.9', '198.51.100.1'), lb)).toBe('203.0.113.9');
    expect(clientAddress(request('10.0.0.5', '198.51.100.1'), parseTrustedProxies(''))).toBe('10.0.0.5');
  });

  it('behind a trusted proxy, is the right-most forwarded address that is not itself trusted', () => {
    expect(clientAddress(request('10.0.0.5', '198.51.100.1'), lb)).toBe('198.51.100.1');
    // The client made up the left entries; the proxy appended the real address.
    expect(clientAddress(request('10.0.0.5', '1.1.1.1, 6.6.6.6, 198.51.100.1'), lb)).toBe('198.51.100.1');
    // Two proxies in a row.
    expect(clientAddress(request('10.0.0.5', '1.1.1.1, 198.51.100.1, 10.9.9.9'), lb)).toBe('198.51.100.1');
    expect(clientAddress(request('::ffff:10.0.0.5', ['1.1.1.1', '198.51.100.2']), lb)).toBe('198.51.100.2');
    expect(clientAddress(request('fd00::5', '2001:db8::7'), lb)).toBe('2001:db8::7');
    expect(clientAddress(request('10.0.0.5', '[2001:db8::7]:4431'), lb)).toBe('2001:db8::7');
    expect(clientAddress(request('10.0.0.5', '198.51.100.1:5123'), lb)).toBe('198.51.100.1');
  });

  it('stops at an entry that is not an address, and falls back to the proxy without X-Forwarded-For', () => {
    expect(clientAddress(request('10.0.0.5', 'garbage, 10.1.1.1'), lb)).toBe('10.1.1.1');
    expect(clientAddress(request('10.0.0.5', '198.51.100.1, garbage'), lb)).toBe('10.0.0.5');
    expect(clientAddress(request('10.0.0.5'), lb)).toBe('10.0.0.5');
    expect(clientAddress(request('10.0.0.5', '10.2.2.2, 10.1.1.1'), lb)).toBe('10.2.2.2');
  });
});
