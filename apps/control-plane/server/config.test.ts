import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig as loadEnv } from './config.js';

/** loadConfig of just these variables. */
const loadConfig = (vars: Record<string, string>) => loadEnv(vars as NodeJS.ProcessEnv);

let dir: string;
const file = (name: string) => path.join(dir, name);

/** A self-signed certificate and its key (and a second, unrelated key) made with openssl. */
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'fleet-config-'));
  const cn = ['-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-keyout', file('key.pem'), '-out', file('cert.pem'), ...cn], { stdio: 'ignore' });
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file('other-key.pem')], { stdio: 'ignore' });
  writeFileSync(file('garbage.pem'), 'not a pem\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The one-line message loadConfig refuses `env` with. */
function refusal(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message.split('\n')).toHaveLength(1);
    return message;
  }
  throw new Error('loadConfig accepted the settings');
}

describe('TRUSTED_PROXIES', () => {
  it('parses addresses and ranges (none when unset)', () => {
    expect(loadConfig({}).trustedProxies.ranges).toEqual([]);
    const c = loadConfig({ TRUSTED_PROXIES: '10.0.0.0/8, fd00::/8, 127.0.0.1' });
    expect(c.trustedProxies.ranges).toEqual(['10.0.0.0/8', 'fd00::/8', '127.0.0.1']);
    expect(c.trustedProxies.has('10.1.2.3')).toBe(true);
  });

  it('refuses a bad entry in one line naming the setting', () => {
    expect(refusal({ TRUSTED_PROXIES: '10.0.0.0/8, lb.internal' })).toMatch(/^TRUSTED_PROXIES: "lb.internal" is not an IP address or CIDR range/);
    expect(refusal({ TRUSTED_PROXIES: '10.0.0.0/40' })).toMatch(/^TRUSTED_PROXIES: "10.0.0.0\/40" is not/);
  });
});

describe('TRUSTED_ORIGINS', () => {
  it('keeps origins (normalised) and refuses anything with a path or another scheme', () => {
    expect(loadConfig({ TRUSTED_ORIGINS: 'https://fleet.example.com, http://ops.example:8080/' }).trustedOrigins).toEqual(['https://fleet.example.com', 'http://ops.example:8080']);
    expect(loadConfig({}).trustedOrigins).toEqual([]);
    expect(refusal({ TRUSTED_ORIGINS: 'https://fleet.example.com/app' })).toMatch(/^TRUSTED_ORIGINS: "https:\/\/fleet.example.com\/app" is not an origin/);
    expect(refusal({ TRUSTED_ORIGINS: 'fleet.example.com' })).toMatch(/^TRUSTED_ORIGINS: /);
    expect(refusal({ TRUSTED_ORIGINS: 'ftp://fleet.example.com' })).toMatch(/^TRUSTED_ORIGINS: /);
  });
});

describe('TLS_CERT_FILE / TLS_KEY_FILE', () => {
  it('loads a certificate and its key', () => {
    const c = loadConfig({ TLS_CERT_FILE: file('cert.pem'), TLS_KEY_FILE: file('key.pem') });
    expect(c.tls?.cert.toString()).toContain('BEGIN CERTIFICATE');
    expect(c.tls?.key.toString()).toContain('PRIVATE KEY');
    expect(loadConfig({}).tls).toBeUndefined();
  });

  it('needs both', () => {
    expect(refusal({ TLS_CERT_FILE: file('cert.pem') })).toBe('TLS_KEY_FILE: required together with TLS_CERT_FILE');
    expect(refusal({ TLS_KEY_FILE: file('key.pem') })).toBe('TLS_CERT_FILE: required together with TLS_KEY_FILE');
  });

  it('names the setting whose file cannot be read or is not what it should be', () => {
    expect(refusal({ TLS_CERT_FILE: file('missing.pem'), TLS_KEY_FILE: file('key.pem') })).toBe(`TLS_CERT_FILE: cannot read ${file('missing.pem')}: ENOENT (no such file or directory)`);
    expect(refusal({ TLS_CERT_FILE: file('garbage.pem'), TLS_KEY_FILE: file('key.pem') })).toBe(`TLS_CERT_FILE: ${file('garbage.pem')} is not a PEM certificate`);
    expect(refusal({ TLS_CERT_FILE: file('cert.pem'), TLS_KEY_FILE: file('cert.pem') })).toMatch(/^TLS_KEY_FILE: .* is not a PEM private key/);
    expect(refusal({ TLS_CERT_FILE: file('cert.pem'), TLS_KEY_FILE: file('other-key.pem') })).toMatch(/^TLS_KEY_FILE: .* is not the key of the certificate in TLS_CERT_FILE$/);
    expect(refusal({ TLS_CERT_FILE: file('cert.pem'), TLS_KEY_FILE: dir })).toMatch(/^TLS_KEY_FILE: cannot read /);
  });
});
