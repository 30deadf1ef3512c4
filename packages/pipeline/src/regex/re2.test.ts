import { describe, expect, it } from 'vitest';
import { compileAnchoredRegexp, parseTemplate, RegexpSyntaxError } from './re2.js';

/** Whether Prometheus's anchored regex matches `s`. */
const m = (pattern: string, s: string): boolean => compileAnchoredRegexp(pattern).regex.test(s);
/** The submatches (undefined for groups that did not take part). */
const groups = (pattern: string, s: string) => {
  const r = compileAnchoredRegexp(pattern).regex.exec(s);
  return r ? [...r] : null;
};
const error = (pattern: string): string => {
  try {
    compileAnchoredRegexp(pattern);
  } catch (err) {
    expect(err).toBeInstanceOf(RegexpSyntaxError);
    return (err as Error).message;
  }
  throw new Error(`${pattern} compiled`);
};

describe('anchoring and dot', () => {
  it('is anchored at both ends', () => {
    expect(m('foo', 'foo')).toBe(true);
    expect(m('foo', 'xfoo')).toBe(false);
    expect(m('foo', 'foox')).toBe(false);
    expect(m('a|b', 'ab')).toBe(false);
  });
  it('. matches newline by default ((?s) wrapper) but not under (?-s)', () => {
    expect(m('a.b', 'a\nb')).toBe(true);
    expect(m('(?-s)a.b', 'a\nb')).toBe(false);
    expect(m('(?-s)a.b', 'a\rb')).toBe(true); // Go's . only excludes \n
    expect(m('a.b', 'a😀b')).toBe(true); // one code point
  });
  it('explicit ^ and $ inside are harmless; $ does not match before a final newline', () => {
    expect(m('^foo$', 'foo')).toBe(true);
    expect(m('foo$', 'foo\n')).toBe(false);
  });
});

describe('Go-only syntax is translated', () => {
  it('named groups (?P<n>) and (?<n>), with names JavaScript would reject', () => {
    const re = compileAnchoredRegexp('(?P<1x>a)(?<b>b)(c)');
    expect(re.numGroups).toBe(3);
    expect(re.groupNames).toEqual([undefined, '1x', 'b', undefined]);
    expect(groups('(?P<n>a)(?P<n>b)', 'ab')).toEqual(['ab', 'a', 'b']);
  });
  it('\\A, \\z, \\Q…\\E', () => {
    expect(m('\\Afoo\\z', 'foo')).toBe(true);
    expect(m('\\Qa.b*\\E', 'a.b*')).toBe(true);
    expect(m('\\Qa.b*\\E', 'axbb')).toBe(false);
  });
  it('escapes: octal, \\x41, \\x{…}, \\a \\f \\v, escaped punctuation', () => {
    expect(m('\\101\\x42\\x{43}\\x{1F600}', 'ABC😀')).toBe(true);
    expect(m('\\0', '\0')).toBe(true);
    expect(m('\\a\\f\\v', '\x07\f\v')).toBe(true);
    expect(m('\\_\\-\\:\\#', '_-:#')).toBe(true);
  });
  it('Perl classes are ASCII; Go\'s \\s excludes \\v', () => {
    expect(m('\\d', '٣')).toBe(false);
    expect(m('\\w', 'é')).toBe(false);
    expect(m('\\s', '\v')).toBe(false);
    expect(m('\\s', '\u00a0')).toBe(false);
    expect(m('[[:space:]]', '\v')).toBe(true);
    expect(m('\\S\\W\\D', 'x-x')).toBe(true);
    expect(m('[\\d\\s]+', '1 2')).toBe(true);
    expect(m('[^\\d]', '1')).toBe(false);
  });
  it('POSIX classes', () => {
    expect(m('[[:alpha:]]+[[:digit:]]', 'abc1')).toBe(true);
    expect(m('[[:^alpha:]]', 'a')).toBe(false);
    expect(m('[[:punct:]]', '@')).toBe(true);
    expect(m('[[:word:]]+', 'a_1')).toBe(true);
  });
  it('Unicode classes', () => {
    expect(m('\\pL+', 'héllo')).toBe(true);
    expect(m('\\p{Greek}+', 'αβγ')).toBe(true);
    expect(m('\\p{^Greek}', 'α')).toBe(false);
    expect(m('\\P{Greek}', 'a')).toBe(true);
    expect(m('\\p{Lu}', 'a')).toBe(false);
    expect(m('[\\p{Lu}\\d]+', 'A1B2')).toBe(true);
    expect(m('\\p{Any}', '\n')).toBe(true);
    expect(m('\\p{C}', '\u0378')).toBe(false); // Go's C has no unassigned code points
  });
  it('a { that is not a repetition is a literal', () => {
    expect(m('a{,3}', 'a{,3}')).toBe(true);
    expect(m('a{', 'a{')).toBe(true);
    expect(m('a{01}', 'a{01}')).toBe(true);
    expect(m('a{2}', 'aa')).toBe(true);
    expect(m('a{2,}', 'aaa')).toBe(true);
    expect(m('a{1,2}', 'aaa')).toBe(false);
  });
  it('quantified empty-width assertions', () => {
    expect(m('^*a', 'a')).toBe(true);
    expect(m('\\b+a', 'a')).toBe(true);
  });
  it('] first in a class is literal; - is literal at the edges', () => {
    expect(m('[]a]+', ']a')).toBe(true);
    expect(m('[^]a]', ']')).toBe(false);
    expect(m('[a-]+', 'a-')).toBe(true);
    expect(m('[a-c-e]+', 'a-e')).toBe(true);
    expect(m('[a-c-e]', 'd')).toBe(false);
  });
});

describe('inline flags', () => {
  it('(?i) for the whole regex and for part of it', () => {
    expect(m('(?i)foo', 'FoO')).toBe(true);
    expect(m('a(?i)b', 'aB')).toBe(true);
    expect(m('a(?i)b', 'AB')).toBe(false);
    expect(m('(?i:a)b', 'Ab')).toBe(true);
    expect(m('(?i:a)b', 'AB')).toBe(false);
    expect(m('(?i)a(?-i)b', 'Ab')).toBe(true);
    expect(m('(?i)a(?-i)b', 'AB')).toBe(false);
  });
  it('flags end with the enclosing group, not at |', () => {
    expect(m('(?:(?i)a)b', 'AB')).toBe(false);
    expect(m('a(?i)b|c', 'C')).toBe(true);
  });
  it('case folding uses Unicode simple folding orbits, as Go', () => {
    expect(m('(?i)k', '\u212a')).toBe(true); // Kelvin sign
    expect(m('(?i)s', 'ſ')).toBe(true);
    expect(m('(?i)σ', 'ς')).toBe(true);
    expect(m('(?i)ß', 'ẞ')).toBe(true);
    expect(m('(?i)i', 'ı')).toBe(false); // dotless i does not fold to i
    expect(m('(?i)[a-z]+', 'ABCſ')).toBe(true);
    expect(m('(?i)[^k]', 'K')).toBe(false);
    expect(m('(?i)[^k]', '\u212a')).toBe(false);
    expect(m('(?i)\\w', 'ſ')).toBe(true); // Go folds \w too
    expect(m('(?i)\\W', 'ſ')).toBe(false);
    expect(m('(?i)\\p{Lu}', 'a')).toBe(true);
    expect(m('(?i)\\P{Lu}', 'a')).toBe(false);
    expect(m('(?i)x[\\P{Lu}y]', 'Xy')).toBe(true);
  });
  it('(?m): ^ and $ at \\n only', () => {
    expect(m('(?m)a$.^b', 'a\nb')).toBe(true);
    expect(m('(?m)a$.^b', 'a\rb')).toBe(false);
    expect(m('(?m)a$.+', 'a\u2028b')).toBe(false);
  });
  it('(?U) swaps greedy and lazy', () => {
    expect(groups('(?U)(a+)(a*)', 'aaa')).toEqual(['aaa', 'a', 'aa']);
    expect(groups('(?U)(a+?)(a*)', 'aaa')).toEqual(['aaa', 'aaa', '']);
    expect(groups('(a+?)(a*)', 'aaa')).toEqual(['aaa', 'a', 'aa']);
  });
  it('a repetition after a flag group applies to the preceding item (Go parses it so)', () => {
    expect(m('a(?i)*', 'aaa')).toBe(true);
    expect(m('a(?i)*', '')).toBe(true);
  });
});

describe('leftmost-first submatches match Go', () => {
  it('alternation prefers the left branch, greedy and lazy', () => {
    expect(groups('(a|ab)(c|bcd)(d*)', 'abcd')).toEqual(['abcd', 'a', 'bcd', '']);
    expect(groups('(.*?)(\\d+)', 'abc123')).toEqual(['abc123', 'abc', '123']);
    expect(groups('(.*)(\\d+)', 'abc123')).toEqual(['abc123', 'abc12', '3']);
  });
  it('groups that did not take part are undefined', () => {
    expect(groups('(a)|(b)', 'b')).toEqual(['b', undefined, 'b']);
  });
});

describe('unstable groups (Go keeps, JavaScript resets captures across iterations)', () => {
  const unstable = (p: string) => [...compileAnchoredRegexp(p).unstableGroups];
  it('detects groups that may skip an iteration', () => {
    expect(unstable('(?:(a)|b)+')).toEqual([1]);
    expect(unstable('(?:(a)?b)*')).toEqual([1]);
    expect(unstable('(?:x(?:(a)|b))+')).toEqual([1]);
  });
  it('leaves groups that take part in every iteration alone', () => {
    expect(unstable('(?:(\\w+)\\.)+')).toEqual([]);
    expect(unstable('(a|b)+')).toEqual([]);
    expect(unstable('(?:(a)|b)?')).toEqual([]);
    expect(unstable('(?:(a)|b)')).toEqual([]);
  });
});

describe('rejected exactly as Go rejects them', () => {
  it.each([
    ['(?!a)', 'invalid or unsupported Perl syntax: `(?!`'],
    ['(?=a)', 'invalid or unsupported Perl syntax: `(?=`'],
    ['(?<=a)b', 'invalid named capture: `(?<=a)b)$`'],
    ['(?>a)', 'invalid or unsupported Perl syntax: `(?>`'],
    ['(?#comment)', 'invalid or unsupported Perl syntax: `(?#`'],
    ['(a)\\1', 'invalid escape sequence: `\\1`'],
    ['\\8', 'invalid escape sequence: `\\8`'],
    ['\\q', 'invalid escape sequence: `\\q`'],
    ['\\C', 'invalid escape sequence: `\\C`'],
    ['[\\b]', 'invalid escape sequence: `\\b`'],
    ['\\x{110000}', 'invalid escape sequence: `\\x{110000`'],
    ['\\xZZ', 'invalid escape sequence: `\\xZZ`'],
    ['a**', 'invalid nested repetition operator: `**`'],
    ['a*+', 'invalid nested repetition operator: `*+`'],
    ['a{2}{3}', 'invalid nested repetition operator: `{2}{3}`'],
    ['a{1001}', 'invalid repeat count: `{1001}`'],
    ['a{2,1}', 'invalid repeat count: `{2,1}`'],
    ['(a{100}){100}', 'invalid repeat count: `{100}`'],
    ['*a', 'missing argument to repetition operator: `*`'],
    ['a|*', 'missing argument to repetition operator: `*`'],
    ['(?i)*', 'missing argument to repetition operator: `*`'],
    ['(a', 'missing closing ): `^(?s:(a)$`'],
    ['a)', 'unexpected ): `^(?s:a))$`'],
    ['a\\', 'missing closing ): `^(?s:a\\)$`'],
    ['[a', 'missing closing ]: `[a)$`'],
    ['[z-a]', 'invalid character class range: `z-a`'],
    ['[[:foo:]]', 'invalid character class range: `[:foo:]`'],
    ['\\p{Foo}', 'invalid character class range: `\\p{Foo}`'],
    ['(?P<>a)', 'invalid named capture: `(?P<>`'],
    ['(?P<a-b>x)', 'invalid named capture: `(?P<a-b>`'],
    ['(?P=a)', 'invalid or unsupported Perl syntax: `(?P`'],
    ['(?i-)a', 'invalid or unsupported Perl syntax: `(?i-)`'],
    ['(?z)a', 'invalid or unsupported Perl syntax: `(?z`'],
  ])('%s', (pattern, message) => {
    expect(error(pattern)).toBe(`error parsing regexp: ${message}`);
  });

  it('accepts Go-valid edge cases', () => {
    expect(() => compileAnchoredRegexp('(?:a{10}){100}')).not.toThrow();
    expect(() => compileAnchoredRegexp('a{1000}')).not.toThrow();
    expect(() => compileAnchoredRegexp('(?)a')).not.toThrow();
    expect(() => compileAnchoredRegexp('(?i-s:a.)')).not.toThrow();
    expect(() => compileAnchoredRegexp('')).not.toThrow();
    expect(m('', '')).toBe(true);
    expect(m('', 'a')).toBe(false);
  });
});

describe('parseTemplate (Go Expand syntax)', () => {
  it('splits literals and references', () => {
    expect(parseTemplate('a$1b${2}c$name$$')).toEqual(['a', { name: '1b' }, { num: 2 }, 'c', { name: 'name' }, '$']);
    expect(parseTemplate('${1}x$01$0')).toEqual([{ num: 1 }, 'x', { name: '01' }, { num: 0 }]);
    expect(parseTemplate('$')).toEqual(['$']);
    expect(parseTemplate('${x')).toEqual(['${x']);
    expect(parseTemplate('$é1')).toEqual([{ name: 'é1' }]);
  });
});
