import { describe, expect, it } from 'vitest';
import { labelMatcherSchema, selectorMatches, selectorSchema, type Selector } from './document.js';

/** Runs `f` once and returns how long it took (ms). */
function timed(f: () => unknown): number {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

const valueIssues = (value: string) => {
  const r = labelMatcherSchema.safeParse({ name: 'env', op: '=~', value });
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('selector regexes (=~, !~) are RE2, matched in linear time', () => {
  // A backtracking RegExp took 0.9 s for (a+)+ on 28 characters, doubling with each one (30
  // keeps the old code's failure to about 4 s; the pipeline package's tests go to 40 and beyond).
  it.each([28, 30])('(a+)+ against a %i-character label: selectorMatches and the schema finish in milliseconds', (n) => {
    const value = 'a'.repeat(n - 1) + '!';
    const selector: Selector = [{ name: 'team', op: '=~', value: '(a+)+' }];
    const negated: Selector = [{ name: 'team', op: '!~', value: '(a+)+' }];
    let matched: boolean[] = [];
    const ms = timed(() => {
      matched = [selectorMatches(selector, { team: value }), selectorMatches(negated, { team: value })];
    });
    const parseMs = timed(() => selectorSchema.parse([{ name: 'team', op: '=~', value: '(a+)+' }]));
    // eslint-disable-next-line no-console -- the measured number, to quote
    console.log(`selector team=~"(a+)+" on a ${n}-character label: ${ms.toFixed(1)} ms (schema ${parseMs.toFixed(1)} ms)`);
    expect(matched).toEqual([false, true]);
    expect(ms).toBeLessThan(250);
    expect(parseMs).toBeLessThan(250);
  });

  it('other classic patterns too, over several agents', () => {
    const agents = Array.from({ length: 10 }, (_, i) => ({ host: `${'a'.repeat(24)}-${i}!`, team: 'a'.repeat(27) + '!' }));
    const selector: Selector = [
      { name: 'team', op: '!~', value: '(a|aa)+$' },
      { name: 'host', op: '=~', value: '(.*a){12}' },
    ];
    let count = 0;
    const ms = timed(() => {
      count = agents.filter((a) => selectorMatches(selector, a)).length;
    });
    // eslint-disable-next-line no-console -- the measured number, to quote
    console.log(`selector {team!~"(a|aa)+$", host=~"(.*a){12}"} over 10 agents with 28-character labels: ${ms.toFixed(1)} ms`);
    expect(count).toBe(0);
    expect(ms).toBeLessThan(250);
  });

  it('uses Prometheus semantics: RE2 syntax, anchored as ^(?s:…)$', () => {
    const m = (value: string, label: string) => selectorMatches([{ name: 'env', op: '=~', value }], { env: label });
    expect(m('prod|staging', 'staging')).toBe(true);
    expect(m('prod|staging', 'prod-eu')).toBe(false); // fully anchored
    expect(m('(?P<region>eu)-.*', 'eu-west')).toBe(true); // Go's named groups
    expect(m('(?i)PROD', 'prod')).toBe(true);
    expect(m('\\pL+', 'prödüction')).toBe(true);
    expect(m('a.b', 'a\nb')).toBe(true); // (?s): . matches a newline
    expect(m('\\d+', '٣')).toBe(false); // Go's \d is ASCII
    expect(m('', '')).toBe(true);
    expect(selectorMatches([{ name: 'env', op: '!~', value: 'prod' }], {})).toBe(true); // missing label is ''
  });

  it('rejects what RE2 rejects, on path value with Go\'s message', () => {
    expect(valueIssues('(?=prod)')).toEqual(['value: invalid regex: error parsing regexp: invalid or unsupported Perl syntax: `(?=`']);
    expect(valueIssues('(a)\\1')).toEqual(['value: invalid regex: error parsing regexp: invalid escape sequence: `\\1`']);
    expect(valueIssues('(prod')).toEqual(['value: invalid regex: error parsing regexp: missing closing ): `^(?s:(prod)$`']);
    expect(valueIssues('(?P<n>prod)|\\z')).toEqual([]);
  });

  it('a stored regex RE2 cannot compile selects no agent instead of throwing', () => {
    expect(selectorMatches([{ name: 'env', op: '=~', value: '(?=x)' }], { env: 'x' })).toBe(false);
    expect(selectorMatches([{ name: 'env', op: '!~', value: '(?=x)' }], { env: 'y' })).toBe(false);
  });
});
