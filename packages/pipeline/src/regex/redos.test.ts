import { describe, expect, it } from 'vitest';
import { compileRelabelConfigs, relabel, relabelConfigSchema, type RelabelConfigInput } from '../relabel/index.js';
import { compileRe2 } from './index.js';

/** Runs `f` once and returns how long it took (ms). */
function timed(f: () => unknown): number {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

// Backtracking JavaScript regexes took 0.9 s for `(a+)+` on 28 characters (doubling with each
// one) and 37.6 s for the relabel regex below on 30: each case must now take milliseconds.
const PATHOLOGICAL: [string, string][] = [
  ['(a+)+', 'a'.repeat(27) + '!'],
  ['(a+)+', 'a'.repeat(40) + '!'],
  ['([a-z0-9-]+\\.?)+:(\\d+)', 'a'.repeat(32)],
  ['(a|aa)+$', 'a'.repeat(40) + '!'],
  ['(.*a){12}', 'a'.repeat(40) + '!'],
  ['(\\w+\\s?)*$', 'an example of a long sentence that finally fails!'],
  ['.*.*.*=.*', 'x'.repeat(5000)], // polynomial (n⁴) on backtracking engines
];

describe('ReDoS: pathological regexes run in linear time', () => {
  it.each(PATHOLOGICAL)('%s against %j', (pattern, value) => {
    const re = compileRe2(pattern);
    expect(re.engine).toBe('re2js');
    const ms = timed(() => {
      expect(re.test(value)).toBe(false);
      expect(re.exec(value)).toBeNull();
      expect(re.replaceAll(value, () => 'x')).toBe(value);
    });
    // eslint-disable-next-line no-console -- the measured number, to quote
    console.log(`compileRe2(${JSON.stringify(pattern)}) on ${value.length} characters: ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(250);
  });

  it('relabelling with ([a-z0-9-]+\\.?)+:(\\d+) (every action that matches) on a 32-character value', () => {
    const value = 'node-1.eu-west-1.compute.example';
    const labels = [
      { name: '__address__', value },
      { name: value.replace(/[-.]/g, '_'), value: 'x' },
    ];
    const regex = '([a-z0-9-]+\\.?)+:(\\d+)';
    const inputs: RelabelConfigInput[] = [
      { source_labels: ['__address__'], regex, target_label: 'port', replacement: '$2' },
      { source_labels: ['__address__'], regex, action: 'drop' },
      { regex: '([a-z0-9_]+_?)+:', action: 'labelmap', replacement: 'm_$1' },
      { regex: '([a-z0-9_]+_?)+:', action: 'labeldrop' },
      { source_labels: ['__address__'], regex, action: 'keep' },
    ];
    const rules = compileRelabelConfigs(inputs.map((i) => relabelConfigSchema.parse(i)));
    let out: unknown;
    const ms = timed(() => {
      out = relabel(labels, rules);
    });
    // eslint-disable-next-line no-console -- the measured number, to quote
    console.log(`relabel with ${regex} on a ${value.length}-character value (5 rules): ${ms.toFixed(1)} ms`);
    expect(out).toBeNull(); // nothing matched until keep, which drops
    expect(ms).toBeLessThan(250);
  });

  it('a long label value stays linear too (10,000 characters)', () => {
    const re = compileRe2('([a-z0-9-]+\\.?)+:(\\d+)');
    const value = 'a.'.repeat(5000);
    const ms = timed(() => expect(re.test(value)).toBe(false));
    // eslint-disable-next-line no-console -- the measured number, to quote
    console.log(`([a-z0-9-]+\\.?)+:(\\d+) on ${value.length} characters: ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(250);
  });
});
