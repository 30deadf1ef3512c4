import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('ADMIN_PASSWORD is held to the password policy at start-up', () => {
  it.each([
    ['a common password', 'password1234', /^ADMIN_PASSWORD: is too easy to guess\. This is similar to a commonly used password\./],
    ['the admin e-mail itself', 'root@example.com', /^ADMIN_PASSWORD: is too easy to guess\. It contains your name, your e-mail address or the product name\./],
    ['only spaces', ' '.repeat(14), /^ADMIN_PASSWORD: must not be only spaces$/],
  ])('refuses %s with one line naming ADMIN_PASSWORD (never the password)', (_what, password, message) => {
    const err = (() => {
      try {
        loadConfig({ ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD: password, NODE_ENV: 'test' });
      } catch (e) {
        return e;
      }
    })() as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain('\n');
    if (password.trim()) expect(err.message).not.toContain(password);
  });

  it('accepts a strong one', () => {
    expect(loadConfig({ ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD: 'plum-orbit-cascade-47', NODE_ENV: 'test' }).adminPassword).toBe('plum-orbit-cascade-47');
  });
});
