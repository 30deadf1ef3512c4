import { describe, expect, it } from 'vitest';
import { safeNext } from '../lib/format.js';

const ORIGIN = 'https://fleet.example.com';

describe('safeNext (where the sign-in page goes on to)', () => {
  // Each would take a signed-in operator off-site if followed (router.replace / location).
  const bypasses = [
    '/\t/evil.example', // the reported one: the URL parser drops the tab → //evil.example
    '/\n/evil.example',
    '/\r/evil.example',
    '/\u0000/evil.example',
    '//evil.example',
    '///evil.example',
    '/\\evil.example',
    '/\\/evil.example',
    '\\\\evil.example',
    '/.//evil.example',
    '/..//evil.example', // resolves to the path //evil.example
    '/a/../..//evil.example',
    'https://evil.example',
    'javascript:alert(1)',
    ' /x',
    'evil.example',
    '',
  ];
  it.each(bypasses.map((b) => [JSON.stringify(b), b]))('refuses %s', (_, next) => {
    const to = safeNext(next, ORIGIN);
    expect(to).toBe('/');
    expect(new URL(to, ORIGIN).origin).toBe(ORIGIN);
  });

  it('refuses null, the sign-in and setup pages', () => {
    expect(safeNext(null)).toBe('/');
    expect(safeNext(undefined)).toBe('/');
    expect(safeNext('/login?next=/x', ORIGIN)).toBe('/');
    expect(safeNext('/setup?token=abc', ORIGIN)).toBe('/');
  });

  it('keeps same-origin paths with their query and fragment', () => {
    expect(safeNext('/agents?state=online', ORIGIN)).toBe('/agents?state=online');
    expect(safeNext('/pipelines/1f0c#versions', ORIGIN)).toBe('/pipelines/1f0c#versions');
    expect(safeNext('/agents/%2F%2Fevil', ORIGIN)).toBe('/agents/%2F%2Fevil');
    expect(safeNext('/', ORIGIN)).toBe('/');
    expect(safeNext('/agents')).toBe('/agents');
  });
});
