import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { assertPasswordPolicy, MIN_PASSWORD_SCORE, passwordProblem } from './password-policy.js';

const ADA = ['ada.lovelace@example.com', 'Ada Lovelace'];

describe('password policy (zxcvbn-ts, common-language dictionary and keyboard graphs)', () => {
  it.each([
    ['a top common password', 'password1234', /commonly used password/],
    ['a capitalised common password', 'Password123!', /commonly used password/],
    ['a keyboard row', 'qwertyuiopasdf', /too easy to guess/],
    ['a repeated character', 'aaaaaaaaaaaaaaa', /Repeated characters/],
    ["the operator's own e-mail", 'ada.lovelace@example.com', /your name, your e-mail address or the product name/],
    ["the operator's name and a year", 'ada lovelace 1815', /your name, your e-mail address or the product name/],
    ['the product name', 'Fleet control plane', /your name, your e-mail address or the product name/],
  ])('refuses %s with zxcvbn feedback', (_what, password, feedback) => {
    const problem = passwordProblem(password, ADA);
    expect(problem).toMatch(/^is too easy to guess\. /);
    expect(problem).toMatch(feedback);
    // The message is about the password, never the password itself.
    expect(problem).not.toContain(password);
  });

  it('refuses all-whitespace passwords and wrong lengths with their own message', () => {
    expect(passwordProblem(' '.repeat(20))).toBe('must not be only spaces');
    expect(passwordProblem('\t \u00a0 \n'.repeat(4))).toBe('must not be only spaces');
    expect(passwordProblem('Zk3#pQ')).toBe('must be at least 12 characters');
    expect(passwordProblem('x'.repeat(257))).toBe('must be at most 256 characters');
  });

  it(`accepts passphrases and random passwords (score ≥ ${MIN_PASSWORD_SCORE})`, () => {
    for (const password of ['plum-orbit-cascade-47', 'vivid quartz lantern 93', 'Tr0ub4dor&3xyz', 'correct horse battery staple']) {
      expect(passwordProblem(password, ADA), password).toBeNull();
    }
  });

  it('judges a 256-character password in well under a second', () => {
    const long = Array.from({ length: 256 }, (_, i) => String.fromCharCode(33 + ((i * 7919) % 90))).join('');
    passwordProblem('warm up the dictionaries');
    const started = performance.now();
    expect(passwordProblem(long)).toBeNull();
    const ms = performance.now() - started;
    // eslint-disable-next-line no-console -- the measured number, to quote
    console.log(`password policy: 256-character password judged in ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(500);
  });

  it('assertPasswordPolicy throws BAD_INPUT naming the field', () => {
    const err = (() => {
      try {
        assertPasswordPolicy('password1234', [], 'ADMIN_PASSWORD', 'ADMIN_PASSWORD:');
      } catch (e) {
        return e;
      }
    })() as AppError;
    expect(err).toBeInstanceOf(AppError);
    expect(err.code).toBe('BAD_INPUT');
    expect(err.details.field).toBe('ADMIN_PASSWORD');
    expect(err.message).toMatch(/^ADMIN_PASSWORD: is too easy to guess\./);
  });
});
